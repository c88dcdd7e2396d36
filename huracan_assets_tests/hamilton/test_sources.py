"""Hamilton over both sources: a local folder and Dropbox itself (the HTTPS stand-in).

Each test runs against both; the export is published by the matching publisher, so these are
also round trips through the shared layout.
"""

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from catboost import CatBoostRegressor

from huracan_assets.core.manifest import LATEST_NAME, MANIFEST_NAME
from huracan_assets.core.publishing import LocalFolderPublisher, StorePublisher
from huracan_assets.hamilton import (
    DoNotTradeEntry,
    ExportNotFoundError,
    FeatureMismatchError,
    HamiltonInterface,
    IntegrityError,
    StaleExportWarning,
)
from huracan_assets_tests.hamilton.conftest import DAY, FEATURES, MODEL_PATH, export_files, export_plan

NEXT_DAY = "2026-04-02"
RANKING = "reports/ranking.json"
DROPBOX_ROOT = "/huracan"


@dataclass
class ExportSite:
    """One place exports live, with the few ways a test changes it behind the publisher's back."""

    kind: str
    publish: Callable[[dict[str, bytes], str], None]
    open: Callable[[], HamiltonInterface]
    read: Callable[[str], bytes]
    write: Callable[[str, bytes], None]
    remove: Callable[[str], None]

    def flip_byte(self, path: str) -> None:
        data = bytearray(self.read(path))
        data[len(data) // 2] ^= 0x01
        self.write(path, bytes(data))


def _local_site(root: Path) -> ExportSite:
    def write(path: str, data: bytes) -> None:
        (root / path).write_bytes(data)

    return ExportSite(
        kind="local",
        publish=lambda files, day: LocalFolderPublisher(root).publish(export_plan(files, day)),
        open=lambda: HamiltonInterface(model_base_path=root),
        read=lambda path: (root / path).read_bytes(),
        write=write,
        remove=lambda path: (root / path).unlink(),
    )


def _dropbox_site(account, cache: Path) -> ExportSite:
    server = account.server
    publisher = StorePublisher(account.store(DROPBOX_ROOT, chunk_size_bytes=4096))

    return ExportSite(
        kind="dropbox",
        publish=lambda files, day: publisher.publish(export_plan(files, day)),
        open=lambda: HamiltonInterface.from_dropbox(
            DROPBOX_ROOT,
            cache_dir=cache,
            ca_certs=account.ca_certs,
            timeout_s=5.0,
            max_attempts=2,
            retry_base_delay_s=0.01,
        ),
        read=lambda path: server.files()[f"{DROPBOX_ROOT}/{path}"],
        write=lambda path, data: server.put_file(f"{DROPBOX_ROOT}/{path}", data),
        remove=lambda path: server.remove(f"{DROPBOX_ROOT}/{path}"),
    )


@pytest.fixture(params=["local", "dropbox"])
def site(request, tmp_path, model_bytes) -> ExportSite:
    if request.param == "local":
        chosen = _local_site(tmp_path / "exports")
    else:
        chosen = _dropbox_site(request.getfixturevalue("dropbox_account"), tmp_path / "cache")
    chosen.publish(export_files(model_bytes), DAY)
    return chosen


def test_load_predict_ranking_and_do_not_trade(site, model_and_rows):
    trained, frame = model_and_rows
    h = site.open()

    model, metadata = h.load_model("BTC", "1h")
    assert isinstance(model, CatBoostRegressor) and metadata["feature_names"] == FEATURES
    assert h.day == DAY and h.list_champions() == [("BTC", "1h")]
    row = {name: float(frame.iloc[5][name]) for name in FEATURES}
    assert h.predict("BTC", "1h", row) == pytest.approx(float(trained.predict(frame.iloc[[5]])[0]), abs=1e-12)
    np.testing.assert_allclose(h.predict("BTC", "1h", frame.iloc[:10]), trained.predict(frame.iloc[:10]))
    assert [(e.rank, e.coin, e.net_edge) for e in h.get_ranking_table()] == [(1, "BTC", 4.2), (2, "ETH", 1.5)]
    assert h.get_do_not_trade_list() == [
        DoNotTradeEntry(coin="XYZ", reasons=("liquidity 120000 GBP < 2000000 GBP",))
    ]
    assert h.location.endswith("exports") if site.kind == "local" else h.location == f"dropbox:{DROPBOX_ROOT}"


def test_flipped_byte_in_model_is_refused_naming_the_file(site):
    site.flip_byte(f"{DAY}/{MODEL_PATH}")
    with pytest.raises(IntegrityError, match=f"{DAY}/{MODEL_PATH}") as excinfo:
        site.open()
    assert "sha256" in str(excinfo.value)


def test_export_without_latest_is_invisible(site):
    site.remove(LATEST_NAME)
    with pytest.raises(ExportNotFoundError, match=LATEST_NAME):
        site.open()


def test_missing_and_extra_features_are_refused_with_their_names(site):
    h = site.open()
    features = {name: 0.1 for name in FEATURES if name != "vol_24h"}
    features["funding_rate"] = 0.0
    with pytest.raises(FeatureMismatchError) as excinfo:
        h.predict("BTC", "1h", features)
    assert "missing ['vol_24h']" in str(excinfo.value) and "extra ['funding_rate']" in str(excinfo.value)


def test_a_broken_newer_export_is_skipped_and_the_last_good_one_served(site, model_bytes):
    h = site.open()
    zeros = dict.fromkeys(FEATURES, 0.0)
    before = h.predict("BTC", "1h", zeros)
    # The model is the same file in both days (Dropbox's cache already holds it, by SHA-256);
    # the ranking differs, and that is the file someone damaged.
    site.publish(export_files(model_bytes, day=NEXT_DAY), NEXT_DAY)
    site.flip_byte(f"{NEXT_DAY}/{RANKING}")

    with pytest.warns(StaleExportWarning, match=f"serving export {DAY}.*refusing {NEXT_DAY}/{RANKING}"):
        assert h.refresh() == DAY
    assert h.predict("BTC", "1h", zeros) == before
    # A process that starts now falls back the same way, instead of refusing to start.
    with pytest.warns(StaleExportWarning, match=f"{NEXT_DAY}/{RANKING}"):
        fresh = site.open()
    assert fresh.day == DAY and fresh.list_champions() == [("BTC", "1h")]

    # Once the new day is published whole, refresh takes it without a warning.
    site.publish(export_files(model_bytes, day=NEXT_DAY), NEXT_DAY)
    with warnings.catch_warnings():
        warnings.simplefilter("error", StaleExportWarning)
        assert h.refresh() == NEXT_DAY
    assert h.load_model("BTC", "1h")[1]["feature_names"] == FEATURES


def test_a_newer_export_without_its_manifest_is_incomplete_and_skipped(site, model_bytes):
    h = site.open()
    site.publish(export_files(model_bytes, day=NEXT_DAY), NEXT_DAY)
    site.remove(f"{NEXT_DAY}/{MANIFEST_NAME}")
    with pytest.warns(StaleExportWarning, match=f"export of {NEXT_DAY} is incomplete"):
        assert h.refresh() == DAY
    with pytest.warns(StaleExportWarning, match="incomplete"):
        assert site.open().day == DAY


@pytest.fixture
def dropbox_site(dropbox_account, tmp_path, model_bytes) -> ExportSite:
    chosen = _dropbox_site(dropbox_account, tmp_path / "cache")
    chosen.publish(export_files(model_bytes), DAY)
    return chosen


def _downloads(server) -> list[str]:
    return [r.path for r in server.requests if r.route == "/2/files/download"]


def test_dropbox_files_are_downloaded_once_into_a_cache_keyed_by_sha256(
    dropbox_site, dropbox_account, tmp_path
):
    server = dropbox_account.server
    published = len(_downloads(server))  # the publisher read LATEST
    h = dropbox_site.open()
    listed = {entry["sha256"] for entry in h.manifest["files"]}
    cached = {p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()}
    assert cached == listed
    first = _downloads(server)
    assert len(first) - published == len(listed) + 2  # LATEST, manifest.json, every listed file

    again = dropbox_site.open()
    h.load_model("BTC", "1h")
    again.get_ranking_table()
    assert _downloads(server)[len(first) :] == [
        f"{DROPBOX_ROOT}/{LATEST_NAME}",
        f"{DROPBOX_ROOT}/{DAY}/{MANIFEST_NAME}",
    ]


def test_a_damaged_cache_entry_is_dropped_and_downloaded_again(dropbox_site, dropbox_account, tmp_path):
    h = dropbox_site.open()
    sha = next(e["sha256"] for e in h.manifest["files"] if e["path"] == MODEL_PATH)
    entry = tmp_path / "cache" / sha[:2] / sha
    damaged = bytearray(entry.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    entry.write_bytes(bytes(damaged))

    fresh = dropbox_site.open()
    assert fresh.load_model("BTC", "1h")[1]["feature_names"] == FEATURES
    assert _downloads(dropbox_account.server).count(f"{DROPBOX_ROOT}/{DAY}/{MODEL_PATH}") == 2
    assert entry.read_bytes() == dropbox_site.read(f"{DAY}/{MODEL_PATH}")


def test_dropbox_unreachable_at_refresh_keeps_serving_from_the_cache(dropbox_site, dropbox_account):
    h = dropbox_site.open()
    dropbox_account.server.inject("/2/files/download", "status", status=503, times=None)
    with pytest.warns(StaleExportWarning, match=r"cannot read dropbox:/huracan/LATEST.*HTTP 503"):
        assert h.refresh() == DAY
    assert h.get_ranking_table()[0].coin == "BTC"  # every verified file is in the cache
