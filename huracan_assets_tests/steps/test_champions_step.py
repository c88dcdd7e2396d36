"""The champions step on real models: a 1d challenger promoted from its shadow record (its
horizon's shadow lasts until it holds min_effective_samples independent trades), the same edge
refused on a 7-day record, a coin skipped by name when a partition its window reads is missing,
and the scores step reporting the same net edge as the champions step for the same record.

Real parts only: the simulator's candles, the real features, labels, CatBoost training and model
storage, and ``champions_for_day``. One coin with a strong planted edge, the 1d horizon only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from huracan_assets.config import load_settings
from huracan_assets.core.features import features_hash
from huracan_assets.core.training import CoinModels
from huracan_assets.market_sim.exchange import SimulatedExchange
from huracan_assets.steps.champions import champions_for_day
from huracan_assets.steps.features import features_by_day
from huracan_assets.steps.labels import labels_by_day
from huracan_assets.steps.models import train_for_day
from huracan_assets.steps.scores import score_for_day, score_summary, scored_model_days
from huracan_assets.stores.files import read_coin_models, write_coin_models

DAY = "2025-04-30"
COIN = "V001"  # the validation market's first planted coin


def settings_for(max_shadow_days: int):
    return load_settings(
        horizons=["1d"],
        lookback_days=40,
        training={"iterations": 60, "thread_count": 1, "cold_start_folds": 2},
        champions={"shadow_days": 7, "max_shadow_days": max_shadow_days, "max_age_days": 30},
    )


def _day_keys(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [f"{(start + timedelta(days=i)).isoformat()}|{COIN}" for i in range((end - start).days + 1)]


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    """Features and labels of 90 days, and stored models trained at the two cohort days and today."""
    settings = settings_for(30)
    exchange = SimulatedExchange(seed=11, n_coins=2, layout="validation", planted_edge_bps=60.0)
    first, last = "2025-02-01", DAY
    bars = exchange.ohlcv(
        COIN,
        datetime.fromisoformat(first).replace(tzinfo=UTC),
        datetime.fromisoformat(last).replace(tzinfo=UTC) + timedelta(days=1),
    )
    keys = _day_keys(first, last)
    features = features_by_day(bars, settings.bar, keys)
    all_features = pd.concat(
        [f.assign(date=k[:10], symbol=COIN) for k, f in features.items()], ignore_index=True
    )
    labels = labels_by_day(all_features, settings, keys)
    all_labels = pd.concat([f.assign(date=k[:10], symbol=COIN) for k, f in labels.items()], ignore_index=True)
    root = tmp_path_factory.mktemp("models")
    stored = {}
    for model_day in ("2025-04-07", "2025-04-23"):  # DAY - 23 (the 1d cohort), DAY - 7
        window = all_features[all_features["date"] <= model_day]
        trained = train_for_day(
            COIN,
            model_day,
            window,
            all_labels[all_labels["date"] <= model_day],
            settings,
            features_hash(),
            False,
        )
        stored[(COIN, model_day)] = _store(root, trained)
    today = CoinModels(coin=COIN, day=DAY, features_hash=features_hash(), status="trained")
    stored[(COIN, DAY)] = _store(root, today)
    return exchange, all_features, all_labels, stored


def _store(root, value: CoinModels):
    folder = root / f"date={value.day}" / f"symbol={value.coin}"
    folder.mkdir(parents=True)
    write_coin_models(folder, value)
    return read_coin_models(folder)


def _universe() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "coin": COIN,
                "eligible": True,
                "reason": "eligible",
                "spread_bps": 5.0,
                "quote_volume_usdt": 4e8,
                "usdt_per_gbp": 1.27,
                "funding_bps_per_day": np.nan,
            }
        ]
    )


def _run(market, max_shadow_days: int, *, drop: tuple[str, ...] = (), previous: dict | None = None):
    _, features, labels, stored = market
    settings = settings_for(max_shadow_days)
    first = (date.fromisoformat(DAY) - timedelta(days=settings.longest_shadow_days)).isoformat()
    f = features[(features["date"] >= first) & ~features["date"].isin(drop)]
    lab = labels[(labels["date"] >= first) & ~labels["date"].isin(drop)]
    missing = {COIN: {(a, d) for d in drop for a in ("features", "labels")}} if drop else None
    # the coin's cold start was tested on its listing: today it is judged on its shadow record
    previous = previous or {
        "day": "2025-04-29",
        "champions": [],
        "cold_starts": {COIN: "2025-02-15"},
        "trials": {},
    }
    return settings, champions_for_day(
        DAY, previous, stored, f, lab, pd.DataFrame(), _universe(), settings, missing=missing
    )


def test_a_1d_challenger_with_a_real_edge_is_promoted_from_its_shadow_record(market):
    settings, doc = _run(market, 30)
    assert settings.shadow_days_for("1d") == 23
    tests = [t for t in doc["tests"] if t["horizon"] == "1d"]
    assert tests and {t["model_day"] for t in tests} == {"2025-04-07"}
    assert all(t["record_kind"] == "shadow" for t in tests)
    promoted = [c for c in doc["champions"] if c["horizon"] == "1d"]
    assert promoted, doc["no_champion"]
    assert promoted[0]["shadow_test"]["n_independent_trades"] >= settings.champions.min_effective_samples
    assert promoted[0]["shadow_test"]["decision"] == "promoted"


def test_the_same_edge_on_a_7_day_record_has_too_few_independent_trades(market):
    settings, doc = _run(market, 7)
    assert settings.shadow_days_for("1d") == 7
    tests = [t for t in doc["tests"] if t["horizon"] == "1d"]
    assert tests and {t["model_day"] for t in tests} == {"2025-04-23"}
    assert max(t["n_independent_trades"] for t in tests) < settings.champions.min_effective_samples
    assert not doc["champions"]
    assert "min_effective_samples" in doc["no_champion"][COIN]


def test_a_missing_partition_in_the_shadow_window_skips_the_coin_by_name(market):
    _, doc = _run(market, 30, drop=("2025-04-12",))
    reason = doc["no_champion"][COIN]
    assert reason.startswith("skipped: 2 partition(s)")
    assert "features[2025-04-12|V001]" in reason and "labels[2025-04-12|V001]" in reason
    assert not doc["tests"] and not doc["champions"]


def test_the_trial_count_carries_over_a_day_whose_champions_partition_is_missing(market):
    """Yesterday's champions partition is missing: the newest earlier one (two days back) still
    gives each key its trial count (and the coin its cold start); its champions are not carried."""
    key = f"{COIN}|flow|1d"
    before = {
        "tests": 9,
        "effective": 4.5,
        "covered_until": "2025-04-20T00:00:00+00:00",
        "first_day": "2025-03-01",
    }
    older = {
        "day": "2025-04-28",
        "champions": [{"coin": COIN, "horizon": "1d", "engine": "flow", "model_day": "2025-04-01"}],
        "cold_starts": {COIN: "2025-02-15"},
        "trials": {key: before, "GONE|flow|1d": dict(before)},
    }
    _, doc = _run(market, 30, previous=older)
    test = next(t for t in doc["tests"] if t["engine"] == "flow")
    assert test["trials_tested_before"] == 9
    assert test["trials_effective"] > 4.5
    assert doc["trials"][key]["tests"] == 10
    # a key whose coin is not in today's universe keeps its count
    assert doc["trials"]["GONE|flow|1d"] == before
    assert doc["cold_starts"] == {COIN: "2025-02-15"}
    assert not any(e["kind"] == "demotion" for e in doc["events"])


def test_the_scores_step_reports_the_edge_the_champions_step_judges(market):
    """The scores of the day (what the UI shows) score each horizon's challenger cohort under the
    champions step's rule and costs: the 1d cohort of 23 days back, the consensus's acting rule,
    each decision's own costs. Its pooled row's net edge and trades are the challenger's."""
    _, features, labels, stored = market
    settings, doc = _run(market, 30)
    cohort = "2025-04-07"
    assert cohort in scored_model_days(date.fromisoformat(DAY), settings)
    first = (date.fromisoformat(DAY) - timedelta(days=settings.longest_shadow_days)).isoformat()
    scores = score_for_day(
        COIN,
        [m for (_, d), m in sorted(stored.items()) if d != DAY],  # today's is a stand-in without models
        features[features["date"] >= first],
        labels[labels["date"] >= first],
        _universe().iloc[0],
        settings,
        DAY,
    )
    pooled = scores[(scores["regime"] == "all") & (scores["model_regime"] == "all")]
    tests = [t for t in doc["tests"] if t["model_day"] == cohort]
    assert tests
    for test in tests:
        row = pooled[(pooled["model_day"] == cohort) & (pooled["engine"] == test["engine"])]
        assert len(row) == 1, test["engine"]
        assert int(row["n_trades"].iloc[0]) == test["n_trades"] > 0
        assert float(row["net_edge_bps"].iloc[0]) == pytest.approx(test["net_edge_bps"], rel=1e-9)
    summary = score_summary(scores, DAY, settings)
    assert summary["best_net_edge_bps"] == pytest.approx(max(t["net_edge_bps"] for t in tests), rel=1e-9)
    assert summary["best"].endswith(f"/1d of {cohort}")
