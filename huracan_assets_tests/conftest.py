"""Shared fixtures: small settings, a simulated exchange, and a temporary Dagster home."""

import os
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from huracan_assets.config import HuracanSettings, load_settings
from huracan_assets.market_sim import SimulatedExchange

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

DAY = date(2025, 11, 20)


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
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    yield home
