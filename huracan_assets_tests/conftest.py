"""Shared fixtures: small settings, a simulated exchange, a temporary Dagster home, and a
local HTTPS stand-in for Dropbox."""

import os
import secrets
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from huracan_assets.automation.instance import INSTANCE_OVERRIDES, MINIMAL_DAGSTER_YAML
from huracan_assets.config import HuracanSettings, load_settings
from huracan_assets.market_sim import SimulatedExchange
from huracan_assets_tests.dropbox_server import DropboxStandIn, make_tls_files, reserve_listener

# The dropbox SDK reads its hosts once, when it is first imported: point them at the stand-in now,
# before any test module imports it.
DROPBOX_LISTENER = reserve_listener()

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

DAY = date(2025, 11, 20)

# Dagster's SQLite instance commits every event; on a disk each commit waits for fsync (measured
# here: 1.9 ms against 0.12 ms on tmpfs), and an end-to-end test writes thousands of events.
# Temporary folders go to /dev/shm when it is a roomy tmpfs; elsewhere pytest's default.
SHM, SHM_FREE_MIN = Path("/dev/shm"), 4 * 2**30
_SHM_BASETEMP = pytest.StashKey[str]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if config.option.basetemp is not None or hasattr(config, "workerinput"):
        return  # chosen by the user, or an xdist worker (the controller passes its own)
    try:
        stat = os.statvfs(SHM)
    except OSError:
        return
    if stat.f_bavail * stat.f_frsize >= SHM_FREE_MIN and os.access(SHM, os.W_OK):
        config.option.basetemp = str(SHM / f"huracan-pytest-{os.getpid()}")
        config.stash[_SHM_BASETEMP] = config.option.basetemp


def pytest_unconfigure(config: pytest.Config) -> None:
    """The tmpfs is memory: leave nothing behind."""
    folder = config.stash.get(_SHM_BASETEMP, None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


def utc(day: date, hours: int = 0) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=hours)


@pytest.fixture(autouse=True)
def _clean_huracan_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never inherit HURACAN_* overrides from the developer's shell."""
    for key in list(os.environ):
        if key.startswith("HURACAN_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def exchange() -> SimulatedExchange:
    return SimulatedExchange(seed=7, n_coins=12)


@pytest.fixture
def settings() -> HuracanSettings:
    return load_settings()


def small_settings(**extra: object) -> HuracanSettings:
    """Settings for fast end-to-end runs: a short look-back and few CatBoost iterations."""
    overrides: dict = {
        "lookback_days": 20,
        "training": {"iterations": 60, "min_train_rows": 60, "thread_count": 1},
        "champions": {"min_trades": 10},
    }
    overrides.update(extra)
    return load_settings(**overrides)


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(MINIMAL_DAGSTER_YAML)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    yield home


@pytest.fixture(scope="session")
def dropbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DropboxStandIn]:
    """The Dropbox stand-in for the whole session (one port: the SDK's hosts are fixed at import)."""
    tls = make_tls_files(tmp_path_factory.mktemp("dropbox_tls"))
    server = DropboxStandIn(DROPBOX_LISTENER, tls).start()
    yield server
    server.stop()


@dataclass
class DropboxAccount:
    """A fresh, empty Dropbox on the stand-in, with refresh-token credentials in the environment."""

    server: DropboxStandIn
    ca_certs: str
    app_key: str
    app_secret: str
    refresh_token: str

    @property
    def secrets(self) -> list[str]:
        """Every secret a leak test must not find: the app secret, the refresh token, issued tokens."""
        return [self.app_secret, self.refresh_token, *self.server.issued_tokens]

    def store(self, root: str = "/huracan", **options: Any) -> Any:
        """A DropboxStore on this account with quick retries (tests wait milliseconds, not seconds)."""
        from huracan_assets.stores.dropbox_credentials import DropboxCredentials
        from huracan_assets.stores.dropbox_store import DropboxStore, RetryPolicy

        options.setdefault("retry", RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05))
        options.setdefault("timeout_s", 5.0)
        return DropboxStore(root, DropboxCredentials.from_env(), ca_certs=self.ca_certs, **options)


@pytest.fixture
def dropbox_account(dropbox_server: DropboxStandIn, monkeypatch: pytest.MonkeyPatch) -> DropboxAccount:
    dropbox_server.reset()
    account = DropboxAccount(
        server=dropbox_server,
        ca_certs=str(dropbox_server.tls.ca_cert),
        app_key="huracan-test-app",
        app_secret="SECRET-app-" + secrets.token_hex(12),
        refresh_token="SECRET-refresh-" + secrets.token_hex(16),
    )
    dropbox_server.register_app(account.app_key, account.app_secret, account.refresh_token)
    monkeypatch.setenv("HURACAN_DROPBOX_APP_KEY", account.app_key)
    monkeypatch.setenv("HURACAN_DROPBOX_APP_SECRET", account.app_secret)
    monkeypatch.setenv("HURACAN_DROPBOX_REFRESH_TOKEN", account.refresh_token)
    return account


def five_coin_instance(tmp: Path, market: Any, coins: list[str]) -> tuple[dg.Definitions, dg.DagsterInstance]:
    """Definitions over ``market`` (5 simulated coins' settings, 10-day look-back) and a fresh
    instance under ``tmp`` whose ``coins`` partitions are ``coins``."""
    from huracan_assets.definitions import build_definitions
    from huracan_assets.partitions import COINS
    from huracan_assets.resources.publisher import PublisherResource

    defs = build_definitions(
        small_settings(lookback_days=10, simulator={"n_coins": 5}),
        market_data=market,
        publisher=PublisherResource(export_root=str(tmp / "exports")),
        storage_dir=str(tmp / "storage"),
    )
    (tmp / "home").mkdir(parents=True)
    instance = dg.DagsterInstance.local_temp(str(tmp / "home"), overrides=INSTANCE_OVERRIDES)
    instance.add_dynamic_partitions(COINS.name, coins)
    return defs, instance


def _built_once(factory: pytest.TempPathFactory, worker_id: str, name: str, build) -> Path:
    """``build(root)`` once per test session, under a file lock in the folder every xdist worker
    shares; the root is marked complete only once ``build`` returned."""
    from filelock import FileLock

    base = factory.getbasetemp()
    shared = base.parent if worker_id != "master" else base
    root = shared / name
    with FileLock(str(shared / f"{name}.lock")):
        if not (root / "complete").exists():
            shutil.rmtree(root, ignore_errors=True)
            build(root)
            (root / "complete").touch()
    return root


@pytest.fixture(scope="session")
def small_first_day(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A root on which ``huracan daily`` ran FIRST_DAY with 4 simulated coins on a fresh home
    (``commands.build_small_first_day``). Made once per test session (``_built_once``); tests that
    change it work on a copy (``commands.copy_root``)."""
    from huracan_assets_tests.commands import build_small_first_day

    return _built_once(tmp_path_factory, worker_id, "small-first-day", build_small_first_day)


@pytest.fixture(scope="session")
def small_next_day(tmp_path_factory: pytest.TempPathFactory, worker_id: str, small_first_day: Path) -> Path:
    """The small first day's root with ``huracan daily`` run on the day after it (``NEXT_DAY``):
    an undamaged day two (``commands.build_small_next_day``). Made once per test session, like
    ``small_first_day``; tests that change it work on a copy."""
    from huracan_assets_tests.commands import build_small_next_day

    return _built_once(
        tmp_path_factory,
        worker_id,
        "small-next-day",
        lambda root: build_small_next_day(root, small_first_day),
    )
