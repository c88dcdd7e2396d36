"""Training of CatBoost engines on a simulated coin: determinism, a clean out-of-fold split, skips."""

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from huracan_assets.core.engines import ENGINES
from huracan_assets.core.features import compute_features, features_hash
from huracan_assets.core.labels import compute_labels
from huracan_assets.core.regimes import classify_regimes
from huracan_assets.core.training import LATEST_COLUMNS, OOF_COLUMNS, TrainingParams, train_coin
from huracan_assets.market_sim import SECONDARY_VENDOR, SimulatedExchange
from huracan_assets_tests.conftest import utc

HOUR = timedelta(hours=1)
START = date(2024, 3, 1)
N_DAYS = 40
FILL_DELAY = 1
HORIZON_BARS = {"1h": 1, "4h": 4}
HORIZONS = {h: pd.Timedelta(HOUR * b) for h, b in HORIZON_BARS.items()}
EMBARGO_EXTRA = pd.Timedelta(HOUR * FILL_DELAY)
PARAMS = TrainingParams(
    iterations=30,
    depth=4,
    learning_rate=0.1,
    l2_leaf_reg=3.0,
    early_stopping_rounds=10,
    test_fraction=0.25,
    min_train_rows=100,
    thread_count=1,
    seed=20260101,
)


@pytest.fixture(scope="module")
def inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    ex = SimulatedExchange(seed=7, n_coins=12)
    bars = ex.ohlcv("XRP", utc(START), utc(START, 24 * N_DAYS), vendor=SECONDARY_VENDOR)
    features = compute_features(bars, HOUR)
    features["regime"] = classify_regimes(features, bars_per_day=24)
    labels = compute_labels(
        features["close"], bar=HOUR, horizon_bars=HORIZON_BARS, fill_delay_bars=FILL_DELAY
    )
    return features, labels


def _train(features, labels, params=PARAMS):
    return train_coin(
        "XRP",
        "2024-04-09",
        features,
        labels,
        engines=ENGINES,
        horizons=HORIZONS,
        embargo_extra=EMBARGO_EXTRA,
        params=params,
        features_hash=features_hash(),
    )


@pytest.fixture(scope="module")
def trained(inputs):
    return _train(*inputs)


def test_trains_every_engine_and_horizon(trained):
    assert trained.status == "trained" and trained.reason == ""
    assert {(m.engine, m.horizon) for m in trained.models} == {(e.name, h) for e in ENGINES for h in HORIZONS}
    for m in trained.models:
        engine = next(e for e in ENGINES if e.name == m.engine)
        assert m.feature_names == list(engine.features)
        assert m.model.tree_count_ <= PARAMS.iterations
        assert m.n_train >= PARAMS.min_train_rows and m.n_test > 0 and m.n_purged > 0
        lo, hi = m.label_clip_bps
        assert lo < hi
    assert list(trained.oof.columns) == OOF_COLUMNS
    assert list(trained.latest.columns) == LATEST_COLUMNS


# CatBoost stamps every fit with a random ``model_guid`` and a ``train_finish_time``
PER_FIT_METADATA = ("model_guid", "train_finish_time")


def _cbm_bytes(model, path, strip: bool = False) -> bytes:
    if strip:
        model = model.copy()  # never touch the trained object itself
        metadata = model.get_metadata()
        for key in PER_FIT_METADATA:
            if key in metadata:
                del metadata[key]
    model.save_model(str(path), format="cbm")
    return path.read_bytes()


@pytest.fixture(scope="module")
def retrained(inputs):
    return _train(*inputs)


def test_saving_a_model_twice_gives_identical_files(trained, tmp_path):
    for m in trained.models:
        first = _cbm_bytes(m.model, tmp_path / "first.cbm")
        second = _cbm_bytes(m.model, tmp_path / "second.cbm")
        assert first == second


def test_retraining_gives_the_same_trees_and_record(trained, retrained, tmp_path):
    """Everything the fit learns is deterministic; only CatBoost's per-fit stamps differ."""
    assert len(retrained.models) == len(trained.models)
    for first, second in zip(trained.models, retrained.models, strict=True):
        assert (first.engine, first.horizon) == (second.engine, second.horizon)
        assert first.metadata() == second.metadata()
        a = _cbm_bytes(first.model, tmp_path / "a.cbm", strip=True)
        b = _cbm_bytes(second.model, tmp_path / "b.cbm", strip=True)
        assert a == b
    pd.testing.assert_frame_equal(trained.oof, retrained.oof)
    pd.testing.assert_frame_equal(trained.latest, retrained.latest)


def test_retrained_models_are_byte_identical_files(trained, retrained, tmp_path):
    """CatBoost stamps a random GUID and a finish time; the storage writer strips them."""
    from huracan_assets.resources.storage import save_reproducible

    for first, second in zip(trained.models, retrained.models, strict=True):
        assert _cbm_bytes(first.model, tmp_path / "raw_a.cbm") != _cbm_bytes(
            second.model, tmp_path / "raw_b.cbm"
        )
        save_reproducible(first.model, tmp_path / "a.cbm")
        save_reproducible(second.model, tmp_path / "b.cbm")
        assert (tmp_path / "a.cbm").read_bytes() == (tmp_path / "b.cbm").read_bytes()


def test_out_of_fold_rows_are_after_the_split_and_training_labels_resolve_before_it(inputs, trained):
    features, labels = inputs
    for m in trained.models:
        test_start = pd.Timestamp(m.test_start)
        train_end = pd.Timestamp(m.train_end)
        h = HORIZON_BARS[m.horizon]
        oof = trained.oof[(trained.oof["engine"] == m.engine) & (trained.oof["horizon"] == m.horizon)]
        assert len(oof) == m.n_test
        assert (oof["decision_time"] >= test_start).all()
        assert oof["decision_time"].min() == test_start
        assert oof["decision_time"].max() == pd.Timestamp(m.test_end)
        # the last training decision's label (fill + h bars) closed before the first test decision,
        # and the embargo (horizon + latency) separates them
        exit_of_last_train = train_end + (FILL_DELAY + h) * HOUR
        assert exit_of_last_train < test_start
        assert train_end <= test_start - HORIZONS[m.horizon] - EMBARGO_EXTRA
        last_label = labels[(labels["horizon"] == m.horizon) & (labels["decision_time"] == train_end)]
        assert len(last_label) == 1 and last_label["exit_time"].iloc[0] < test_start
        assert pd.Timestamp(m.train_start) < train_end


def test_out_of_fold_labels_are_the_labels_of_those_decisions(inputs, trained):
    _, labels = inputs
    merged = trained.oof.merge(labels, on=["decision_time", "horizon"], how="left")
    assert merged["fwd_return_bps"].notna().all()
    np.testing.assert_allclose(merged["label_bps"], merged["fwd_return_bps"])
    assert np.isfinite(trained.oof["pred_bps"]).all()


def test_latest_prediction_is_at_the_last_feature_row(inputs, trained):
    features, _ = inputs
    assert len(trained.latest) == len(ENGINES) * len(HORIZONS)
    assert (trained.latest["decision_time"] == features.index.max()).all()
    assert (trained.latest["regime"] == features["regime"].iloc[-1]).all()
    window = trained.training_window
    assert window["start"] == min(m.train_start for m in trained.models)
    assert window["end"] == max(m.test_end for m in trained.models)


def test_too_few_rows_skips_with_a_reason_naming_min_train_rows(inputs):
    features, labels = inputs
    result = _train(features, labels, replace(PARAMS, min_train_rows=100_000))
    assert result.status == "skipped"
    assert result.models == []
    assert "min_train_rows=100000" in result.reason
    assert "1h:" in result.reason and "4h:" in result.reason
    assert result.oof.empty


def test_one_horizon_short_of_rows_is_reported_while_the_other_trains(inputs):
    features, labels = inputs
    result = train_coin(
        "XRP",
        "2024-04-09",
        features,
        labels[labels["horizon"] == "1h"],
        engines=ENGINES[:1],
        horizons=HORIZONS,
        embargo_extra=EMBARGO_EXTRA,
        params=PARAMS,
        features_hash=features_hash(),
    )
    assert result.status == "trained"
    assert {m.horizon for m in result.models} == {"1h"}
    assert "4h: 0 labelled rows < min_train_rows=100" in result.reason
