"""Training of CatBoost engines on a simulated coin: pooled fits up to the cut-off, regime
refinements, the purged cold-start record, determinism, skips, and the shadow record."""

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from huracan_assets.core.engines import ENGINES
from huracan_assets.core.features import compute_features, features_hash
from huracan_assets.core.labels import compute_labels
from huracan_assets.core.regimes import (
    ILLIQUID_SHARE,
    REGIMES,
    RegimeThresholds,
    classify_regimes,
    fit_regime_thresholds,
)
from huracan_assets.core.shadow import shadow_record
from huracan_assets.core.training import (
    COLD_START,
    LATEST_COLUMNS,
    RECORD_COLUMNS,
    TrainingParams,
    compact,
    train_coin,
    training_table,
)
from huracan_assets.market_sim import SECONDARY_VENDOR, SimulatedExchange
from huracan_assets.resources.storage import save_reproducible
from huracan_assets_tests.conftest import utc

HOUR = timedelta(hours=1)
START = date(2024, 3, 1)
N_DAYS = 40
CUTOFF = pd.Timestamp(utc(START, 24 * N_DAYS))  # end of the last day
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
    cold_start_folds=3,
    cold_start_fraction=0.5,
    min_regime_samples=150,
    regime_iterations=10,
)
E, H = len(ENGINES), len(HORIZONS)


@pytest.fixture(scope="module")
def inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    ex = SimulatedExchange(seed=7, n_coins=12)
    bars = ex.ohlcv("XRP", utc(START), utc(START, 24 * N_DAYS), vendor=SECONDARY_VENDOR)
    features = compute_features(bars, HOUR)
    labels = compute_labels(
        features["close"], bar=HOUR, horizon_bars=HORIZON_BARS, fill_delay_bars=FILL_DELAY
    )
    assert (labels["exit_time"] < CUTOFF).all()
    return features, labels


def _train(
    features,
    labels,
    params=PARAMS,
    *,
    cold_start=False,
    engines=ENGINES,
    horizons=HORIZONS,
    cutoff=CUTOFF,
    **kw,
):
    return train_coin(
        "XRP",
        "2024-04-09",
        features,
        labels,
        engines=engines,
        horizons=horizons,
        embargo_extra=EMBARGO_EXTRA,
        params=params,
        features_hash=features_hash(),
        cutoff=cutoff,
        cold_start=cold_start,
        **kw,
    )


@pytest.fixture(scope="module")
def warm(inputs):
    return _train(*inputs)


@pytest.fixture(scope="module")
def warm_again(inputs):
    return _train(*inputs)


@pytest.fixture(scope="module")
def cold(inputs):
    return _train(*inputs, cold_start=True)


def _pooled(result, engine, horizon):
    (m,) = [m for m in result.models if (m.engine, m.horizon, m.regime) == (engine, horizon, "all")]
    return m


def _file_bytes(model, path) -> bytes:
    save_reproducible(model, path)
    return path.read_bytes()


def _learned_bytes(model, path) -> bytes:
    """The .cbm bytes without any per-fit stamp, including those a refined model inherits from
    its ``init_model`` ("initModel:model_guid", "initModel:train_finish_time")."""
    model = model.copy()  # never touch the trained object itself
    metadata = model.get_metadata()
    for key in list(metadata.keys()):
        if key.endswith(("model_guid", "train_finish_time")):
            del metadata[key]
    model.save_model(str(path), format="cbm")
    return path.read_bytes()


# -- the daily (warm) fit -----------------------------------------------------------------------
def test_warm_day_fits_each_engine_and_horizon_once_and_has_no_record(warm):
    assert warm.status == "trained" and warm.reason == ""
    pooled = [m for m in warm.models if m.regime == "all"]
    assert sorted((m.engine, m.horizon) for m in pooled) == sorted(
        (e.name, h) for e in ENGINES for h in HORIZONS
    )
    regime_models = [m for m in warm.models if m.regime != "all"]
    assert regime_models, "with min_regime_samples=150 some regimes have their own model"
    assert warm.fits == E * H + len(regime_models)
    assert warm.record.empty and list(warm.record.columns) == RECORD_COLUMNS and warm.record_kind == ""
    assert list(warm.latest.columns) == LATEST_COLUMNS and len(warm.latest) == E * H
    for m in warm.models:
        engine = next(e for e in ENGINES if e.name == m.engine)
        assert m.feature_names == list(engine.features)
        assert m.cutoff == CUTOFF.isoformat()
        assert m.embargo_s == (HORIZONS[m.horizon] + EMBARGO_EXTRA).total_seconds()
        assert m.n_train >= PARAMS.min_train_rows
        assert pd.Timestamp(m.train_start) < pd.Timestamp(m.train_end) < CUTOFF
        lo, hi = m.label_clip_bps
        assert lo < hi
        if m.regime == "all":
            assert m.warm_start_from is None and m.n_purged > 0
            assert m.model.tree_count_ <= PARAMS.iterations
        else:
            assert m.warm_start_from == "all"
    assert warm.training_window == {
        "start": min(m.train_start for m in warm.models),
        "end": max(m.train_end for m in warm.models),
        "cutoff": CUTOFF.isoformat(),
    }


def test_regime_models_exist_only_where_the_regime_has_enough_training_rows(inputs, warm):
    features, labels = inputs
    thresholds = RegimeThresholds(**warm.regime_thresholds)
    built = {(m.engine, m.horizon, m.regime): m for m in warm.models if m.regime != "all"}
    fallbacks = {f.split(":")[0]: f for f in warm.regime_fallbacks}
    assert len(built) + len(fallbacks) == E * H * len(REGIMES)
    for engine in ENGINES:
        for horizon in HORIZONS:
            pooled = _pooled(warm, engine.name, horizon)
            table = training_table(features, labels, horizon)
            # the pooled fit rows are the labelled rows of its training window (a purged prefix)
            rows = table[(table.index >= pooled.train_start) & (table.index <= pooled.train_end)]
            assert len(rows) == pooled.n_train
            counts = classify_regimes(rows, thresholds).value_counts()
            for regime in REGIMES:
                n = int(counts.get(regime, 0))
                key = (engine.name, horizon, regime)
                if n >= PARAMS.min_regime_samples:
                    assert key in built and built[key].n_train == n
                    assert f"{horizon}/{engine.name}/{regime}" not in fallbacks
                    assert (
                        pooled.train_start
                        <= built[key].train_start
                        <= built[key].train_end
                        <= pooled.train_end
                    )
                else:
                    assert key not in built
                    assert fallbacks[f"{horizon}/{engine.name}/{regime}"] == (
                        f"{horizon}/{engine.name}/{regime}: {n} rows < min_regime_samples=150, uses pooled"
                    )
    assert fallbacks, "some regimes of this coin are too rare for their own model"


def test_regime_models_are_refined_from_the_pooled_model(inputs, warm):
    features, labels = inputs
    thresholds = RegimeThresholds(**warm.regime_thresholds)
    for m in (m for m in warm.models if m.regime != "all"):
        pooled = _pooled(warm, m.engine, m.horizon)
        # init_model: the pooled trees plus regime_iterations new ones
        assert m.model.tree_count_ == pooled.model.tree_count_ + PARAMS.regime_iterations
        assert m.label_clip_bps == pooled.label_clip_bps
        table = training_table(features, labels, m.horizon)
        rows = table[(table.index >= m.train_start) & (table.index <= m.train_end)]
        rows = rows[classify_regimes(rows, thresholds) == m.regime]
        assert len(rows) == m.n_train
        y = np.clip(rows["fwd_return_bps"].to_numpy(), *m.label_clip_bps)
        x = rows[m.feature_names]
        refined_mse = np.mean((m.model.predict(x) - y) ** 2)
        pooled_mse = np.mean((pooled.model.predict(x) - y) ** 2)
        assert refined_mse < pooled_mse  # the extra trees fit the regime's own rows


def test_regime_thresholds_come_from_the_training_window(inputs, warm):
    features, _ = inputs
    t = warm.regime_thresholds
    vol, volume = features["vol_24h_bps"].dropna(), features["quote_volume_24h"].dropna()
    assert (vol > t["panic_vol_bps"]).mean() == pytest.approx(0.10, abs=0.01)
    # illiquid: below a share of the coin's own median volume, not a fixed tenth of its bars
    assert t["illiquid_quote_volume"] == pytest.approx(ILLIQUID_SHARE * volume.median())


@pytest.mark.parametrize("coin", ["BTC", "ETH", "SOL"])
def test_a_deep_market_on_a_quiet_day_is_not_illiquid_and_a_collapse_in_volume_is(coin):
    """A year of a large coin: its days are labelled illiquid where the simulator's own regime
    is illiquid (volume x0.15), and not on its ordinary (trend, range) days. The old rule (the
    window's 10th percentile of volume) labelled 3.1% of ETH's and 7.4% of SOL's ordinary days
    illiquid."""
    ex = SimulatedExchange(seed=7, n_coins=6)
    start, end = utc(date(2024, 6, 1)), utc(date(2025, 6, 1))
    features = compute_features(ex.ohlcv(coin, start, end, vendor=SECONDARY_VENDOR), HOUR)
    # a day's regime shows in the 24h windows once they lie inside it: the last bar of each day
    last_bars = features.index[features.index.hour == 23]
    truth = ex.regimes(coin, start, end).reindex(features.index).loc[last_bars]
    labels = classify_regimes(features.loc[last_bars], fit_regime_thresholds(features))
    assert (truth == "illiquid").sum() >= 10
    assert (labels[truth.isin(["trend", "range"])] == "illiquid").mean() < 0.02
    assert (labels[truth == "illiquid"] == "illiquid").mean() > 0.9


def test_min_regime_samples_above_every_regime_falls_back_to_the_pooled_model(inputs):
    result = _train(*inputs, replace(PARAMS, min_regime_samples=10**6), engines=ENGINES[:1])
    assert [m.regime for m in result.models] == ["all"] * H
    assert result.fits == H
    assert len(result.regime_fallbacks) == H * len(REGIMES)
    assert all(f.endswith("< min_regime_samples=1000000, uses pooled") for f in result.regime_fallbacks)
    assert (result.latest["model_regime"] == "all").all()
    np.testing.assert_array_equal(result.latest["pred_regime_bps"], result.latest["pred_bps"])


# -- the live prediction -------------------------------------------------------------------------
def _check_latest(result, features, at):
    thresholds = RegimeThresholds(**result.regime_thresholds)
    live = str(classify_regimes(features.loc[[at]], thresholds).iloc[0])
    for row in result.latest.itertuples():
        pooled = _pooled(result, row.engine, row.horizon)
        x = features.loc[[at], pooled.feature_names]
        assert row.decision_time == at and row.regime == live
        assert row.pred_bps == pytest.approx(pooled.model.predict(x)[0])
        regime_model = [
            m for m in result.models if (m.engine, m.horizon, m.regime) == (row.engine, row.horizon, live)
        ]
        if regime_model:
            assert row.model_regime == live
            assert row.pred_regime_bps == pytest.approx(regime_model[0].model.predict(x)[0])
            assert row.pred_regime_bps != pytest.approx(row.pred_bps)
        else:
            assert row.model_regime == "all" and row.pred_regime_bps == row.pred_bps
    return live


def test_latest_prediction_at_the_last_row_falls_back_when_its_regime_has_no_model(inputs, warm):
    features, _ = inputs
    live = _check_latest(warm, features, features.index.max())
    assert live in {"panic", "illiquid"}  # this coin's last bar is in a rare regime
    assert (warm.latest["model_regime"] == "all").all()


def test_latest_prediction_uses_the_live_regimes_own_model_when_there_is_one(inputs, warm):
    features, labels = inputs
    thresholds = RegimeThresholds(**warm.regime_thresholds)
    regimes = classify_regimes(features, thresholds)
    at = regimes[regimes == "range"].index[-1]
    result = _train(features, labels, engines=ENGINES[:1], latest_time=at)
    assert _check_latest(result, features, at) == "range"
    assert (result.latest["model_regime"] == "range").all() and len(result.latest) == H


# -- the cold-start record -----------------------------------------------------------------------
def test_cold_start_adds_walk_forward_folds_and_leaves_the_daily_models_unchanged(warm, cold, tmp_path):
    assert cold.record_kind == COLD_START and list(cold.record.columns) == RECORD_COLUMNS
    folds_run = cold.record.groupby(["horizon", "engine"])["fold"].nunique()
    assert (folds_run == PARAMS.cold_start_folds).all() and len(folds_run) == E * H
    assert cold.fits == warm.fits + PARAMS.cold_start_folds * E * H
    assert len(cold.models) == len(warm.models)
    for a, b in zip(warm.models, cold.models, strict=True):
        assert a.metadata() == b.metadata()
        assert _learned_bytes(a.model, tmp_path / "a.cbm") == _learned_bytes(b.model, tmp_path / "b.cbm")
    pd.testing.assert_frame_equal(warm.latest, cold.latest)


def test_cold_start_folds_tile_the_last_part_of_history_with_true_labels(inputs, cold):
    features, labels = inputs
    for (horizon, _engine), rec in cold.record.groupby(["horizon", "engine"]):
        table = training_table(features, labels, horizon)
        n_test = len(table) - int(np.floor(len(table) * (1 - PARAMS.cold_start_fraction)))
        assert list(rec["decision_time"]) == list(table.index[-n_test:])
        spans = rec.groupby("fold")["decision_time"].agg(["min", "max"]).sort_index()
        assert list(spans.index) == list(range(PARAMS.cold_start_folds))
        assert (spans["min"].iloc[1:].to_numpy() > spans["max"].iloc[:-1].to_numpy()).all()
        np.testing.assert_allclose(rec["label_bps"], table.loc[rec["decision_time"], "fwd_return_bps"])
        np.testing.assert_allclose(rec["vol_24h_bps"], features.loc[rec["decision_time"], "vol_24h_bps"])
        assert np.isfinite(rec["pred_bps"]).all()
        # each fold's regimes use thresholds fitted on that fold's training rows only
        for fold, rows in rec.groupby("fold"):
            t0 = spans.loc[fold, "min"]
            thresholds = fit_regime_thresholds(table[table["exit_time"] < t0])
            expected = classify_regimes(features.loc[rows["decision_time"]], thresholds)
            assert list(rows["regime"]) == list(expected)


def _cold_record(features, labels, purge=True):
    return _train(
        features, labels, cold_start=True, engines=ENGINES[3:], horizons={"4h": HORIZONS["4h"]}, purge=purge
    ).record


def test_cold_start_folds_never_see_a_label_unresolved_at_their_start(inputs):
    """Scrambling every label that resolves at or after fold k's start leaves folds <= k unchanged;
    the same scrambling does reach the later fold, so the comparison can see a leak."""
    features, labels = inputs
    base = _cold_record(features, labels)
    t1 = base.loc[base["fold"] == 1, "decision_time"].min()
    scrambled = labels.copy()
    late = scrambled["exit_time"] >= t1
    scrambled.loc[late, "fwd_return_bps"] = np.random.default_rng(0).normal(0, 500, int(late.sum()))
    after = _cold_record(features, scrambled)
    for fold in (0, 1):
        np.testing.assert_array_equal(
            after.loc[after["fold"] == fold, "pred_bps"], base.loc[base["fold"] == fold, "pred_bps"]
        )
    assert not np.array_equal(
        after.loc[after["fold"] == 2, "pred_bps"], base.loc[base["fold"] == 2, "pred_bps"]
    )


def test_switching_the_purge_off_lets_overlapping_labels_into_a_fold(inputs):
    """The guard matters: only the labels still open at fold 1's start are changed."""
    features, labels = inputs
    base = _cold_record(features, labels)
    t1 = base.loc[base["fold"] == 1, "decision_time"].min()
    overlap = (labels["decision_time"] < t1) & (labels["exit_time"] >= t1)
    assert 0 < overlap.sum() <= sum(HORIZON_BARS.values()) + 2 * FILL_DELAY
    shifted = labels.copy()
    shifted.loc[overlap, "fwd_return_bps"] = 3000.0

    def fold1(record):
        return record.loc[record["fold"] == 1, "pred_bps"].to_numpy()

    np.testing.assert_array_equal(fold1(_cold_record(features, shifted)), fold1(base))
    unpurged = _cold_record(features, labels, purge=False)
    assert not np.array_equal(fold1(_cold_record(features, shifted, purge=False)), fold1(unpurged))


# -- determinism -----------------------------------------------------------------------------------
def test_a_compacted_model_saves_and_predicts_as_the_fitted_model(inputs, tmp_path):
    """``compact`` (what ``train_coin`` keeps of every model, reloaded from its own serialization)
    saves the same bytes and predicts the same values as the fitted model, refined regime models
    included; what it saves in memory shows in the benchmark's peak RSS, not here."""
    from catboost import CatBoostRegressor

    features, labels = inputs
    table = training_table(features, labels, "1h")
    columns = list(ENGINES[0].features)
    x, y = table[columns], table["fwd_return_bps"].to_numpy()
    fitted = CatBoostRegressor(**PARAMS.catboost(ENGINES[0].params))
    fitted.fit(x.iloc[:600], y[:600], eval_set=(x.iloc[600:800], y[600:800]), use_best_model=True)
    refined = CatBoostRegressor(**PARAMS.catboost({**ENGINES[0].params, "iterations": 10}))
    refined.fit(x.iloc[:300], y[:300], init_model=fitted)
    for model in (fitted, refined):
        slim = compact(model)
        assert _file_bytes(slim, tmp_path / "slim.cbm") == _file_bytes(model, tmp_path / "fitted.cbm")
        np.testing.assert_array_equal(slim.predict(x), model.predict(x))
        assert slim.tree_count_ == model.tree_count_ and dict(slim.get_metadata()) == dict(
            model.get_metadata()
        )


def test_saving_a_model_twice_gives_identical_files(warm, tmp_path):
    for m in warm.models:
        assert _file_bytes(m.model, tmp_path / "first.cbm") == _file_bytes(m.model, tmp_path / "second.cbm")


def test_retraining_learns_the_same_trees_and_predictions(warm, warm_again, tmp_path):
    assert len(warm_again.models) == len(warm.models)
    for first, second in zip(warm.models, warm_again.models, strict=True):
        assert first.metadata() == second.metadata()
        assert _learned_bytes(first.model, tmp_path / "a.cbm") == _learned_bytes(
            second.model, tmp_path / "b.cbm"
        )
    pd.testing.assert_frame_equal(warm.latest, warm_again.latest)
    assert (warm.fits, warm.regime_fallbacks, warm.regime_thresholds) == (
        warm_again.fits,
        warm_again.regime_fallbacks,
        warm_again.regime_thresholds,
    )


def _raw_and_stored(first, second, tmp_path) -> tuple[bool, bool]:
    first.model.save_model(str(tmp_path / "raw_a.cbm"), format="cbm")
    second.model.save_model(str(tmp_path / "raw_b.cbm"), format="cbm")
    raw_equal = (tmp_path / "raw_a.cbm").read_bytes() == (tmp_path / "raw_b.cbm").read_bytes()
    stored_equal = _file_bytes(first.model, tmp_path / "a.cbm") == _file_bytes(
        second.model, tmp_path / "b.cbm"
    )
    return raw_equal, stored_equal


def test_retrained_pooled_models_are_byte_identical_files(warm, warm_again, tmp_path):
    """CatBoost stamps a random GUID and a finish time; the storage writer strips them."""
    pairs = [(a, b) for a, b in zip(warm.models, warm_again.models, strict=True) if a.regime == "all"]
    assert len(pairs) == E * H
    for first, second in pairs:
        assert _raw_and_stored(first, second, tmp_path) == (False, True)


def test_retrained_regime_models_are_byte_identical_files(warm, warm_again, tmp_path):
    pairs = [(a, b) for a, b in zip(warm.models, warm_again.models, strict=True) if a.regime != "all"]
    assert pairs
    for first, second in pairs:
        assert _raw_and_stored(first, second, tmp_path) == (False, True)


# -- the cut-off ----------------------------------------------------------------------------------
DAY35_CUTOFF = pd.Timestamp(utc(START, 24 * 35))


def _models_bytes(result, tmp_path, to_bytes=_file_bytes) -> list[bytes]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return [to_bytes(m.model, tmp_path / f"{i}.cbm") for i, m in enumerate(result.models)]


def test_train_coin_ignores_labels_that_resolve_after_the_cutoff(inputs, tmp_path):
    features, labels = inputs
    before = features[features.index < DAY35_CUTOFF]
    resolved = labels[labels["exit_time"] < DAY35_CUTOFF]
    with_late = labels[labels["decision_time"] < DAY35_CUTOFF]
    assert len(with_late) > len(resolved)  # some labels of the day's last decisions resolve tomorrow
    kw = dict(engines=ENGINES[:1], horizons={"4h": HORIZONS["4h"]}, cutoff=DAY35_CUTOFF)
    clean = _train(before, resolved, **kw)
    late = _train(before, with_late, **kw)
    assert [m.metadata() for m in late.models] == [m.metadata() for m in clean.models]
    assert _models_bytes(late, tmp_path / "late") == _models_bytes(clean, tmp_path / "clean")


def test_daily_training_ignores_labels_and_features_after_the_cutoff(inputs, tmp_path):
    from huracan_assets.config import load_settings
    from huracan_assets.steps.models import train_for_day

    features, labels = inputs
    settings = load_settings(
        lookback_days=N_DAYS,
        horizons=["4h"],
        training={
            "iterations": 30,
            "min_train_rows": 100,
            "thread_count": 1,
            "min_regime_samples": 150,
            "regime_iterations": 10,
        },
    )
    assert settings.fill_delay_bars == FILL_DELAY and settings.bar == HOUR
    day = (DAY35_CUTOFF - pd.Timedelta(days=1)).date().isoformat()
    frame = features.rename_axis("open_time").reset_index()

    def run(f, lab):
        return train_for_day("XRP", day, f, lab, settings, features_hash(), cold_start=False)

    everything = run(frame, labels)  # 40 days of features and labels, 5 of them after the cut-off
    known = run(frame[frame["open_time"] < DAY35_CUTOFF], labels[labels["exit_time"] < DAY35_CUTOFF])
    assert everything.status == known.status == "trained"
    assert all(m.cutoff == DAY35_CUTOFF.isoformat() for m in everything.models)
    assert all(pd.Timestamp(m.train_end) < DAY35_CUTOFF for m in everything.models)
    assert [m.metadata() for m in everything.models] == [m.metadata() for m in known.models]
    assert _models_bytes(everything, tmp_path / "all", _learned_bytes) == _models_bytes(
        known, tmp_path / "known", _learned_bytes
    )
    pd.testing.assert_frame_equal(everything.latest, known.latest)
    assert everything.latest["decision_time"].max() < DAY35_CUTOFF


# -- skips ---------------------------------------------------------------------------------------
def test_too_few_rows_skips_with_a_reason_naming_min_train_rows(inputs):
    result = _train(*inputs, replace(PARAMS, min_train_rows=100_000), cold_start=True)
    assert result.status == "skipped"
    assert result.models == [] and result.fits == 0
    assert "min_train_rows=100000" in result.reason
    assert "1h:" in result.reason and "4h:" in result.reason
    assert result.record.empty and result.record_kind == "" and result.latest.empty


def test_one_horizon_short_of_rows_is_reported_while_the_other_trains(inputs):
    features, labels = inputs
    result = _train(features, labels[labels["horizon"] == "1h"], engines=ENGINES[:1])
    assert result.status == "trained"
    assert {m.horizon for m in result.models} == {"1h"}
    assert "4h: 0 labelled rows < min_train_rows=100" in result.reason
    assert set(result.latest["horizon"]) == {"1h"}


# -- the shadow record ----------------------------------------------------------------------------
DAY30_CUTOFF = pd.Timestamp(utc(START, 24 * 30))


@pytest.fixture(scope="module")
def day30(inputs):
    features, labels = inputs
    return _train(
        features[features.index < DAY30_CUTOFF],
        labels[labels["exit_time"] < DAY30_CUTOFF],
        engines=ENGINES[:1],
        cutoff=DAY30_CUTOFF,
    )


def _shadow(result, features, labels, horizon, thresholds=None):
    m = _pooled(result, ENGINES[0].name, horizon)
    return shadow_record(
        m.model.predict,
        m.feature_names,
        features,
        labels,
        horizon=horizon,
        cutoff=pd.Timestamp(m.cutoff),
        embargo=pd.Timedelta(seconds=m.embargo_s),
        thresholds=thresholds or RegimeThresholds(**result.regime_thresholds),
    )


@pytest.mark.parametrize("horizon", list(HORIZONS))
def test_shadow_record_holds_only_decisions_after_cutoff_plus_embargo(inputs, day30, horizon):
    features, labels = inputs
    embargo = HORIZONS[horizon] + EMBARGO_EXTRA
    record = _shadow(day30, features, labels, horizon)
    lab = labels[labels["horizon"] == horizon].set_index("decision_time")
    # labels exist for decisions inside the embargo, yet none of them enters the record
    assert ((lab.index >= DAY30_CUTOFF) & (lab.index < DAY30_CUTOFF + embargo)).sum() > 0
    expected_times = lab.index[lab.index >= DAY30_CUTOFF + embargo].intersection(features.index)
    assert list(record["decision_time"]) == list(expected_times)
    assert record["decision_time"].min() == DAY30_CUTOFF + embargo
    m = _pooled(day30, ENGINES[0].name, horizon)
    x = features.loc[record["decision_time"], m.feature_names]
    np.testing.assert_allclose(record["pred_bps"], m.model.predict(x))
    np.testing.assert_allclose(record["label_bps"], lab.loc[record["decision_time"], "fwd_return_bps"])
    np.testing.assert_allclose(record["vol_24h_bps"], features.loc[record["decision_time"], "vol_24h_bps"])


def test_shadow_regimes_use_the_models_training_thresholds(inputs, day30):
    features, labels = inputs
    record = _shadow(day30, features, labels, "1h")
    thresholds = RegimeThresholds(**day30.regime_thresholds)
    assert thresholds == fit_regime_thresholds(features[features.index < DAY30_CUTOFF])
    expected = classify_regimes(features.loc[record["decision_time"]], thresholds)
    assert list(record["regime"]) == list(expected)
    # the thresholds passed in decide: with a zero panic level every bar is "panic"
    everything_panics = RegimeThresholds(panic_vol_bps=0.0, illiquid_quote_volume=0.0)
    assert set(_shadow(day30, features, labels, "1h", everything_panics)["regime"]) == {"panic"}


def test_shadow_record_is_empty_before_any_bar_passes_the_embargo(inputs, day30):
    features, labels = inputs
    early = features.index < DAY30_CUTOFF + pd.Timedelta(hours=2)
    record = _shadow(day30, features[early], labels, "4h")
    assert record.empty
    assert list(record.columns) == [
        "decision_time",
        "pred_bps",
        "label_bps",
        "vol_24h_bps",
        "regime",
        "quote_volume_24h",
        "spread_bps",
    ]


def test_test_fraction_is_the_held_out_early_stopping_tail(inputs):
    """``training.test_fraction`` is the share of the window held out (purged) from each pooled fit:
    rows fitted + rows purged = int(rows x (1 - test_fraction))."""
    before = {}
    for fraction in (0.1, 0.4):
        result = _train(*inputs, replace(PARAMS, test_fraction=fraction), cold_start=False)
        before[fraction] = {
            (m.engine, m.horizon): m.n_train + m.n_purged for m in result.models if m.regime == "all"
        }
    assert before[0.1] and before[0.1].keys() == before[0.4].keys()
    for key, n_before_tail in before[0.1].items():
        rows = n_before_tail / 0.9
        assert abs(before[0.4][key] - rows * 0.6) <= 2, (key, before[0.4][key], rows)
