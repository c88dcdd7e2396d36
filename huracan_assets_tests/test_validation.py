"""What ``huracan validate`` counts: the truth of a champion's own trades and the thresholds."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from huracan_assets.config import load_settings
from huracan_assets.core.consensus import ActingRule
from huracan_assets.market_sim import SimulatedExchange
from huracan_assets.validation import (
    ChampionTruth,
    Thresholds,
    ValidationReport,
    champion_truth,
    forward_features,
    publishable,
)

FLOW = ["taker_ratio"]


def _truth(exchange, coin, predict, cost_bps=30.0, settings=None):
    settings = settings or load_settings()
    features = forward_features(exchange, coin, date(2025, 6, 2), date(2025, 8, 1), settings)
    rule = ActingRule(base_threshold=0.35, reference_vol_bps=float(np.median(features["vol_24h_bps"])))
    meta = {"coin": coin, "horizon": "4h", "feature_names": FLOW}
    return champion_truth(exchange, meta, predict, rule, cost_bps, features, settings, notional_usdt=25_000.0)


def test_a_model_that_reads_the_planted_signal_has_a_positive_true_edge_and_its_mirror_a_negative_one():
    exchange = SimulatedExchange(seed=4, n_coins=4, layout="validation", planted_edge_bps=40.0)
    coin = next(c.coin for c in exchange.coins if c.planted_family == "flow")
    # taker ratio = 0.5 + 0.1 x on a flow coin: a model of x in bps
    good = _truth(exchange, coin, lambda f: (f["taker_ratio"].to_numpy() - 0.5) * 1000)
    bad = _truth(exchange, coin, lambda f: -(f["taker_ratio"].to_numpy() - 0.5) * 1000)
    assert good["trades"] > 100 and good["trades"] == bad["trades"]
    assert good["net"] > 0 > bad["net"]
    # the same trades, opposite sides: the gross edges mirror, the costs are the same but the
    # spot short's borrow (5 bps a day, 4/24 of a day held), paid on the other side's shorts
    assert good["gross"] == pytest.approx(-bad["gross"])
    assert 0 < abs(good["cost"] - bad["cost"]) < 5.0 * 4 / 24
    # fees alone are 20 bps; spread and impact come on top
    assert good["cost"] > 2 * load_settings().fee.taker_bps
    # gross below the oracle's 4h edge on every bar, above what costs take
    assert good["cost"] < good["gross"] < 1.5 * exchange.planted_truth(coin, 4)


def test_any_model_on_a_random_walk_coin_has_a_true_edge_of_minus_its_costs():
    exchange = SimulatedExchange(seed=4, n_coins=4, layout="validation", planted_edge_bps=40.0)
    coin = exchange.coins[0].coin
    assert not exchange.coin(coin).planted_family
    truth = _truth(exchange, coin, lambda f: (f["taker_ratio"].to_numpy() - 0.5) * 1000)
    assert truth["trades"] > 100 and truth["gross"] == 0.0
    assert truth["net"] == pytest.approx(-truth["cost"])


def test_a_short_pays_the_spot_borrow_and_with_no_spot_shorts_a_sell_signal_is_no_trade():
    exchange = SimulatedExchange(seed=4, n_coins=4, layout="validation", planted_edge_bps=40.0)
    coin = exchange.coins[0].coin  # a random walk: gross 0, net = -cost
    spot = load_settings()
    fee = spot.fee.model_dump()
    longs = _truth(exchange, coin, lambda f: np.full(len(f), 500.0))
    shorts = _truth(exchange, coin, lambda f: np.full(len(f), -500.0))
    assert longs["trades"] == shorts["trades"] > 100
    # the same bars, so the same fees, spread and impact; a 4h short borrows for 4/24 of a day
    assert shorts["cost"] - longs["cost"] == pytest.approx(fee["short_borrow_bps_per_day"] * 4 / 24)
    no_shorts = load_settings(fees={"binance_spot": {**fee, "spot_shorts": "none"}})
    assert _truth(exchange, coin, lambda f: np.full(len(f), -500.0), settings=no_shorts)["trades"] == 0
    assert _truth(exchange, coin, lambda f: np.full(len(f), 500.0), settings=no_shorts) == longs


def test_only_days_after_one_in_the_universe_are_publishable():
    # seed 1's V005 spends about a fifth of June-July 2025 in the simulator's illiquid regime
    # (spread x4, above max_spread_bps): the days after those carry no champion of it
    exchange = SimulatedExchange(seed=1, n_coins=6, layout="validation")
    settings = load_settings()
    features = forward_features(exchange, "V005", date(2025, 6, 2), date(2025, 8, 1), settings)
    mask = publishable(exchange, "V005", features.index, settings)
    assert 0.6 < mask.mean() < 0.95
    day_before = (features.index.normalize() - pd.Timedelta(days=1)).date
    regimes = exchange.regimes(
        "V005", pd.Timestamp("2025-06-01", tz="UTC"), pd.Timestamp("2025-08-01", tz="UTC")
    )
    regime_of = {t.date(): r for t, r in regimes.items()}
    illiquid = np.array([regime_of[d] == "illiquid" for d in day_before])
    assert (mask == ~illiquid).all()


def test_a_model_that_never_trades_has_no_true_edge():
    exchange = SimulatedExchange(seed=4, n_coins=4, layout="validation")
    truth = _truth(exchange, exchange.coins[1].coin, lambda f: np.zeros(len(f)))
    assert truth["trades"] == 0 and np.isnan(truth["net"])


def _decision(coin, true_net, reported=10.0, day="2025-06-01", planted=True):
    return ChampionTruth(
        day=day,
        coin=coin,
        horizon="4h",
        engine="flow",
        model_day="2025-06-01",
        decision="promoted",
        planted=planted,
        reported_net_bps=reported,
        true_net_bps=true_net,
        true_gross_bps=float("nan"),
        true_cost_bps=float("nan"),
        trades=0 if np.isnan(true_net) else 10,
        decisions=10,
    )


def test_false_champions_detections_and_edge_error_are_counted_per_decision_on_any_coin():
    report = ValidationReport(
        seed=1,
        coins=4,
        days=["2025-06-01", "2025-06-02"],
        truth_days=60,
        thresholds=Thresholds(),
        planted_coins=["V001", "V003"],
        challengers=150,
        truths=[
            _decision("V001", 8.0),  # error 25%
            _decision("V001", 8.0, day="2025-06-02"),  # the same champion kept: a second decision
            _decision("V003", -1.0, reported=1.0),  # planted, but the champion loses: false, error 200%
            _decision("V000", float("nan"), planted=False),  # never trades: false, no error
        ],
    )
    assert report.false_champions == 2
    assert report.detected == ["V001"]
    assert report.edge_error_pct == 25.0  # median of 25, 25, 200
    failures = report.failures()
    assert failures == [
        "false_champions=2 > 1% of challengers=150 (1.50)",
        "detected=1 < 90% of planted=2 (1.8)",
    ]
    assert report.last_line() == (
        "challengers=150 false_champions=2 planted=2 detected=1 edge_error_pct=25.0 demotions=0 days=2"
    )
    loose = Thresholds(max_false_pct=2.0, min_detection_pct=50.0, max_edge_error_pct=20.0)
    report.thresholds = loose
    assert report.failures() == ["edge_error_pct=25.0 > 20"]
