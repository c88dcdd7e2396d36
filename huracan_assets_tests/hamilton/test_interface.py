import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from catboost import CatBoostRegressor

from huracan_assets.core.manifest import LATEST_NAME
from huracan_assets.hamilton import (
    ChampionNotFoundError,
    DoNotTradeEntry,
    ExportNotFoundError,
    FeatureMismatchError,
    HamiltonError,
    HamiltonInterface,
    IntegrityError,
    RankingEntry,
)
from huracan_assets_tests.hamilton.conftest import DAY, FEATURES, MODEL_PATH, export_files, publish_local


@pytest.fixture
def export_root(tmp_path, model_bytes) -> Path:
    root = tmp_path / "exports"
    publish_local(root, export_files(model_bytes))
    return root


def test_round_trip_prediction_equals_the_in_memory_model(export_root, model_and_rows):
    trained, frame = model_and_rows
    h = HamiltonInterface(model_base_path=str(export_root))

    model, metadata = h.load_model("BTC", "1h")
    assert isinstance(model, CatBoostRegressor)
    assert metadata["feature_names"] == FEATURES and metadata["engine"] == "flow"
    assert h.day == DAY and h.manifest["day"] == DAY
    assert h.list_champions() == [("BTC", "1h")]

    row = frame.iloc[3]
    expected = float(trained.predict(frame.iloc[[3]])[0])
    shuffled = {name: float(row[name]) for name in reversed(FEATURES)}
    assert h.predict("BTC", "1h", shuffled) == pytest.approx(expected, rel=1e-12, abs=1e-12)

    batch = frame.iloc[:25][list(reversed(FEATURES))]
    np.testing.assert_allclose(h.predict("BTC", "1h", batch), trained.predict(frame.iloc[:25]), rtol=1e-12)
    assert h.predict("BTC", "1h", frame.iloc[:0]).shape == (0,)


def test_models_are_cached_and_refresh_follows_latest(export_root, model_bytes):
    h = HamiltonInterface(export_root)
    first, _ = h.load_model("BTC", "1h")
    assert h.load_model("BTC", "1h")[0] is first

    publish_local(export_root, export_files(model_bytes), day="2026-04-02")
    assert h.day == DAY  # a new day is picked up only on refresh
    assert h.refresh() == "2026-04-02"
    assert h.load_model("BTC", "1h")[0] is not first


def test_ranking_and_do_not_trade_are_parsed(export_root):
    h = HamiltonInterface(export_root)
    assert h.get_ranking_table() == [
        RankingEntry(
            coin="BTC",
            regime="trend",
            net_edge=4.2,
            confidence=0.7,
            capacity=150000.0,
            horizon="1h",
            engine="flow",
            rank=1,
        ),
        RankingEntry(
            coin="ETH",
            regime="range",
            net_edge=1.5,
            confidence=0.4,
            capacity=80000.0,
            horizon="4h",
            engine="trend",
            rank=2,
        ),
    ]
    assert h.get_do_not_trade_list() == [
        DoNotTradeEntry(coin="XYZ", reasons=("liquidity 120000 GBP < 2000000 GBP",))
    ]


def test_reports_are_verified_and_jsonl_gives_dicts(export_root):
    h = HamiltonInterface(export_root)
    assert h.get_report("metrics.json") == {"BTC": {"1h": {"sharpe": 1.1}}}
    assert h.get_report("decision_log.jsonl") == [
        {"action": "long", "coin": "BTC", "score": 0.4},
        {"action": "none", "coin": "ETH", "score": 0.0},
    ]
    # On disk but not in the manifest: refused.
    (export_root / DAY / "reports" / "extra.json").write_text("{}")
    with pytest.raises(IntegrityError, match="reports/extra.json"):
        h.get_report("extra.json")


def test_a_file_changed_after_the_export_was_taken_into_use_is_refused_at_load(export_root):
    h = HamiltonInterface(export_root)
    path = export_root / DAY / MODEL_PATH
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    with pytest.raises(IntegrityError, match=MODEL_PATH) as excinfo:
        h.load_model("BTC", "1h")
    assert "sha256" in str(excinfo.value)
    with pytest.raises(IntegrityError, match=MODEL_PATH):
        h.predict("BTC", "1h", dict.fromkeys(FEATURES, 0.0))


def test_tampered_metadata_is_refused(export_root):
    path = export_root / DAY / "champions/BTC/1h/metadata.json"
    path.write_bytes(path.read_bytes().replace(b'"flow"', b'"flaw"'))
    with pytest.raises(IntegrityError, match="champions/BTC/1h/metadata.json"):
        HamiltonInterface(export_root).load_model("BTC", "1h")


def test_file_missing_from_disk_is_refused_naming_it(export_root):
    h = HamiltonInterface(export_root)
    (export_root / DAY / "reports" / "ranking.json").unlink()
    with pytest.raises(IntegrityError, match="reports/ranking.json.*missing"):
        h.get_ranking_table()
    # A new interface checks every file before it takes the export into use.
    with pytest.raises(IntegrityError, match="reports/ranking.json.*missing"):
        HamiltonInterface(export_root)


def test_metadata_feature_order_must_match_the_model(tmp_path, model_bytes):
    root = tmp_path / "exports"
    publish_local(root, export_files(model_bytes, feature_names=list(reversed(FEATURES))))
    with pytest.raises(IntegrityError, match="feature names"):
        HamiltonInterface(root).load_model("BTC", "1h")


def test_export_without_latest_is_invisible(export_root):
    (export_root / LATEST_NAME).unlink()
    assert (export_root / DAY / "manifest.json").is_file()
    with pytest.raises(ExportNotFoundError, match=LATEST_NAME):
        HamiltonInterface(export_root)


def test_staged_unfinished_day_is_not_visible(export_root, model_bytes):
    # A publish of the next day that died while staging: files present, no manifest, LATEST unchanged.
    staging = export_root / ".staging-2026-04-02-0badc0ffee00"
    (staging / "champions/BTC/1h").mkdir(parents=True)
    (staging / MODEL_PATH).write_bytes(model_bytes)
    assert HamiltonInterface(export_root).day == DAY

    (export_root / LATEST_NAME).unlink()
    with pytest.raises(ExportNotFoundError):
        HamiltonInterface(export_root)


def test_unknown_champion_lists_the_available_ones(export_root):
    h = HamiltonInterface(export_root)
    with pytest.raises(ChampionNotFoundError, match=r"coin='DOGE'.*horizon='1h'.*available: BTC/1h"):
        h.load_model("DOGE", "1h")
    with pytest.raises(ChampionNotFoundError, match="horizon='4h'"):
        h.predict("BTC", "4h", dict.fromkeys(FEATURES, 0.0))


def test_missing_and_extra_features_are_named(export_root):
    h = HamiltonInterface(export_root)
    features = {name: 0.1 for name in FEATURES if name != "vol_24h"}
    features["funding_rate"] = 0.0
    with pytest.raises(FeatureMismatchError) as excinfo:
        h.predict("BTC", "1h", features)
    message = str(excinfo.value)
    assert "missing ['vol_24h']" in message and "extra ['funding_rate']" in message

    frame = pd.DataFrame([features])
    with pytest.raises(FeatureMismatchError, match=r"missing \['vol_24h'\], extra \['funding_rate'\]"):
        h.predict("BTC", "1h", frame)


@pytest.mark.parametrize("bad", [math.nan, math.inf, "1.0", None, True])
def test_non_finite_or_non_numeric_values_are_named(export_root, bad):
    h = HamiltonInterface(export_root)
    features = dict.fromkeys(FEATURES, 0.0)
    features["spread_bps"] = bad
    with pytest.raises(FeatureMismatchError, match="spread_bps"):
        h.predict("BTC", "1h", features)


def test_dataframe_with_non_finite_or_text_column_is_refused(export_root):
    h = HamiltonInterface(export_root)
    frame = pd.DataFrame({name: [0.0, 1.0] for name in FEATURES})
    frame.loc[1, "ret_1h"] = np.nan
    with pytest.raises(FeatureMismatchError, match=r"\['ret_1h'\].*1 row"):
        h.predict("BTC", "1h", frame)
    frame["ret_1h"] = ["a", "b"]
    with pytest.raises(FeatureMismatchError, match="ret_1h.*numeric"):
        h.predict("BTC", "1h", frame)


def test_errors_share_one_base():
    for error in (ExportNotFoundError, IntegrityError, FeatureMismatchError, ChampionNotFoundError):
        assert issubclass(error, HamiltonError)


def test_importing_hamilton_and_the_dropbox_store_does_not_import_dagster_or_assets():
    code = (
        "import sys, huracan_assets.hamilton, huracan_assets.stores.dropbox_store; "
        "bad = [m for m in sys.modules if m == 'dagster' or m.startswith(('dagster.', "
        "'huracan_assets.assets', 'huracan_assets.resources'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    repo_root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(repo_root), os.environ.get("PYTHONPATH")])),
    }
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=repo_root, env=env
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_a_link_out_of_the_export_root_is_refused_and_its_target_never_shown(export_root, tmp_path):
    h = HamiltonInterface(export_root)
    outside = tmp_path / "elsewhere" / "secret.cbm"
    outside.parent.mkdir()
    outside.write_bytes(b"outside bytes " * 100)
    model = export_root / DAY / MODEL_PATH
    model.unlink()
    model.symlink_to(outside)
    with pytest.raises(HamiltonError) as excinfo:
        h.load_model("BTC", "1h")
    message = str(excinfo.value)
    assert "leads out of the export root" in message and MODEL_PATH in message
    assert "elsewhere" not in message and "secret" not in message and "1400" not in message
    # a link that stays inside the root is an ordinary file
    inside = export_root / "inside-copy.cbm"
    inside.write_bytes(outside.read_bytes())
    model.unlink()
    model.symlink_to(inside)
    with pytest.raises(IntegrityError, match="sha256"):
        h.load_model("BTC", "1h")
