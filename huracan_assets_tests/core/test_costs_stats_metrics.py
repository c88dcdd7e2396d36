"""Round-trip costs, HAC statistics and the out-of-fold metric bundle, checked from first principles."""

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from huracan_assets.core.costs import CostModel, coin_cost_model
from huracan_assets.core.metrics import metrics_bundle, positions
from huracan_assets.core.stats import benjamini_hochberg, hac_mean_test, newey_west_variance

BASE = CostModel(
    taker_bps=10.0,
    spread_bps=4.0,
    daily_vol_bps=300.0,
    adv_usdt=50e6,
    order_notional_usdt=25_000.0,
    slippage_k=0.5,
    funding_bps_per_day=1.5,
)
ZERO = CostModel(
    taker_bps=0.0,
    spread_bps=0.0,
    daily_vol_bps=300.0,
    adv_usdt=50e6,
    order_notional_usdt=25_000.0,
    slippage_k=0.0,
)


# ---------------------------------------------------------------------------- costs


def test_breakdown_components_sum_to_total():
    b = BASE.breakdown(holding_days=2.0)
    assert b["total_bps"] == pytest.approx(
        b["fees_bps"] + b["spread_bps"] + b["slippage_bps"] + b["funding_bps"]
    )
    assert BASE.total_bps(2.0) == pytest.approx(b["total_bps"])


def test_each_component_moves_the_total_by_its_rule():
    holding = 0.5
    base = BASE.total_bps(holding)
    # fees are paid twice (enter and exit as taker)
    assert replace(BASE, taker_bps=BASE.taker_bps + 1).total_bps(holding) - base == pytest.approx(2.0)
    # the quoted spread is crossed once per round trip (half on the way in, half on the way out)
    assert replace(BASE, spread_bps=BASE.spread_bps + 1).total_bps(holding) - base == pytest.approx(1.0)
    # funding accrues per day held
    assert replace(BASE, funding_bps_per_day=BASE.funding_bps_per_day + 2).total_bps(
        holding
    ) - base == pytest.approx(2.0 * holding)
    # square-root impact, both legs
    expected = 2 * BASE.slippage_k * BASE.daily_vol_bps * math.sqrt(BASE.order_notional_usdt / BASE.adv_usdt)
    assert BASE.slippage_bps() == pytest.approx(expected)
    assert BASE.breakdown(holding)["slippage_bps"] == pytest.approx(expected)


def test_quadrupling_notional_doubles_slippage():
    four_times = replace(BASE, order_notional_usdt=4 * BASE.order_notional_usdt)
    assert four_times.slippage_bps() == pytest.approx(2 * BASE.slippage_bps())
    assert BASE.slippage_bps(4 * BASE.order_notional_usdt) == pytest.approx(2 * BASE.slippage_bps())
    # and four times the ADV halves it
    assert replace(BASE, adv_usdt=4 * BASE.adv_usdt).slippage_bps() == pytest.approx(BASE.slippage_bps() / 2)


def test_no_volume_means_infinite_slippage():
    assert replace(BASE, adv_usdt=0.0).slippage_bps() == float("inf")


def test_capacity_makes_net_edge_exactly_min_edge():
    gross, min_edge, holding = 60.0, 2.0, 1.0
    capacity = BASE.capacity_usdt(gross, min_edge, holding)
    assert 0 < capacity < float("inf")
    at_capacity = replace(BASE, order_notional_usdt=capacity)
    assert gross - at_capacity.total_bps(holding) == pytest.approx(min_edge, abs=1e-9)
    # a bigger order nets less than the minimum, a smaller one more
    assert gross - replace(BASE, order_notional_usdt=1.1 * capacity).total_bps(holding) < min_edge
    assert gross - replace(BASE, order_notional_usdt=0.9 * capacity).total_bps(holding) > min_edge


def test_capacity_zero_when_fixed_costs_eat_the_edge_and_infinite_without_impact():
    fixed = 2 * BASE.taker_bps + BASE.spread_bps + BASE.funding_bps_per_day * 1.0
    assert BASE.capacity_usdt(fixed + 2.0, 2.0, 1.0) == 0.0
    assert replace(BASE, slippage_k=0.0).capacity_usdt(fixed + 10.0, 2.0, 1.0) == float("inf")


def test_coin_cost_model_scales_bar_vol_to_daily():
    cost = coin_cost_model(
        taker_bps=7.5,
        spread_bps=3.0,
        adv_usdt=1e7,
        bar_vol_bps=50.0,
        bars_per_day=24,
        order_notional_usdt=1e4,
        slippage_k=0.5,
    )
    assert cost.daily_vol_bps == pytest.approx(50.0 * math.sqrt(24))
    assert cost.breakdown(1.0)["fees_bps"] == pytest.approx(15.0)
    assert cost.breakdown(1.0)["funding_bps"] == 0.0


# ---------------------------------------------------------------------------- stats


def test_newey_west_with_no_lags_is_the_population_variance():
    x = np.random.default_rng(0).normal(3.0, 2.0, 500)
    assert newey_west_variance(x, lags=0) == pytest.approx(np.var(x, ddof=0), rel=1e-12)


def test_newey_west_one_lag_by_hand():
    x = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 6.0])
    e = x - x.mean()
    n = len(x)
    gamma0 = np.sum(e * e) / n
    gamma1 = np.sum(e[1:] * e[:-1]) / n
    assert newey_west_variance(x, lags=1) == pytest.approx(gamma0 + 2 * 0.5 * gamma1, rel=1e-12)


def test_hac_t_on_non_overlapping_labels_is_the_classical_t():
    x = np.random.default_rng(1).normal(0.2, 1.0, 60)
    t, p = hac_mean_test(x, 1)
    classical = scipy_stats.ttest_1samp(x, 0.0, alternative="greater")
    assert t == pytest.approx(classical.statistic, rel=1e-10)
    assert p == pytest.approx(classical.pvalue, rel=1e-10)


def test_hac_variance_uses_uniform_weights_to_lag_h_minus_1_with_the_overlap_correction():
    """By hand on a 4-bar overlap: t = mean / sqrt(V / (share n)), V = gamma_0 + 2 (gamma_1 + gamma_2 + gamma_3),
    share = E[V] / (n Var(mean)) under the overlap model, computed densely here."""
    from scipy.linalg import toeplitz

    n, h = 40, 4
    x = np.random.default_rng(8).normal(0.3, 1.0, n + h).cumsum()
    x = x[h:] - x[:-h]
    e = x - x.mean()
    v = (e @ e + 2 * sum(e[k:] @ e[:-k] for k in range(1, h))) / n
    sigma = toeplitz(np.clip((h - np.arange(n)) / h, 0, None))
    weights = toeplitz((np.arange(n) < h).astype(float))
    p_mat = np.eye(n) - 1.0 / n
    a = p_mat @ weights @ p_mat @ sigma
    expected, spread = np.trace(a) / n, 2 * np.trace(a @ a) / n**2
    share, df = expected / (sigma.sum() / n), 2 * expected**2 / spread
    t, p = hac_mean_test(x, h)
    assert t == pytest.approx(x.mean() / np.sqrt(v / share / n), rel=1e-10)
    assert p == pytest.approx(scipy_stats.t(df=df).sf(t), rel=1e-10)


def test_hac_test_rarely_rejects_on_zero_mean_noise():
    rng = np.random.default_rng(2024)
    rejects = sum(hac_mean_test(rng.normal(0.0, 1.0, 250), 4)[1] < 0.05 for _ in range(200))
    assert 0.01 <= rejects / 200 <= 0.10


def test_hac_test_finds_a_clear_positive_mean():
    x = np.random.default_rng(3).normal(0.5, 1.0, 300)
    t, p = hac_mean_test(x, 4)
    assert t > 0 and p < 0.01
    # the same series tested for a negative mean is nowhere near significant
    assert hac_mean_test(x, 4, alternative="less")[1] > 0.99


def test_alternatives_are_consistent():
    x = np.random.default_rng(4).normal(-0.1, 1.0, 80)
    _, greater = hac_mean_test(x, 3, alternative="greater")
    _, less = hac_mean_test(x, 3, alternative="less")
    _, both = hac_mean_test(x, 3, alternative="two-sided")
    assert greater + less == pytest.approx(1.0)
    assert both == pytest.approx(2 * min(greater, less))


def test_positive_autocorrelation_shrinks_the_hac_t():
    rng = np.random.default_rng(5)
    eps = rng.normal(0.0, 1.0, 2000)
    x = np.empty_like(eps)
    x[0] = eps[0]
    for i in range(1, len(x)):
        x[i] = 0.8 * x[i - 1] + eps[i]
    x += 0.3
    naive_t, _ = hac_mean_test(x, 1)
    hac_t, _ = hac_mean_test(x, 21)
    assert 0 < hac_t < naive_t
    assert newey_west_variance(x, lags=20) > newey_west_variance(x, lags=0)


def test_a_non_positive_uniform_estimate_falls_back_to_bartlett_at_twice_h():
    # alternating signs: the uniform-weight sum of autocovariances to lag 1 is negative
    x = np.tile([1.0, -1.0], 20) + 0.05
    t, p = hac_mean_test(x, 2)
    assert math.isfinite(t) and t > 0 and 0 < p < 1


def test_degenerate_samples_are_not_significant():
    assert hac_mean_test(np.array([1.0, 2.0]), 1)[1] == 1.0
    t, p = hac_mean_test(np.full(10, 3.0), 3)
    assert math.isnan(t) and p == 1.0
    # non-finite observations are ignored, not propagated
    t, p = hac_mean_test(np.array([1.0, np.nan, 2.0, np.inf, 3.0]), 1)
    assert math.isfinite(t) and 0 <= p <= 1


def test_benjamini_hochberg_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.20])
    # sorted: 0.01, 0.03, 0.04, 0.20; m/k scaling: 4, 2, 4/3, 1 -> 0.04, 0.06, 0.0533.., 0.20
    # then a running minimum from the largest: 0.04, 0.0533.., 0.0533.., 0.20
    expected = np.array([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.20])
    np.testing.assert_allclose(benjamini_hochberg(p), expected, rtol=1e-12)


def test_benjamini_hochberg_treats_nan_as_one_and_keeps_empty():
    q = benjamini_hochberg(np.array([0.01, np.nan]))
    np.testing.assert_allclose(q, [0.02, 1.0])
    assert len(benjamini_hochberg(np.array([]))) == 0


# ---------------------------------------------------------------------------- metrics


def _oof(pred: np.ndarray, label: np.ndarray, days: int = 10) -> pd.DataFrame:
    times = pd.date_range("2025-02-01", periods=len(pred), freq=pd.Timedelta(days=days) / len(pred), tz="UTC")
    return pd.DataFrame({"decision_time": times, "pred_bps": pred, "label_bps": label})


def _bundle(oof: pd.DataFrame, cost: CostModel, horizon_bars: int = 1) -> dict:
    return metrics_bundle(
        oof,
        cost=cost,
        horizon_bars=horizon_bars,
        holding_days=horizon_bars / 24,
        min_edge_bps=2.0,
        usdt_per_gbp=1.25,
    )


def test_positions_trade_only_beyond_the_cost():
    pred = np.array([-30.0, -20.0, -19.9, 0.0, 19.9, 20.0, 20.1, 50.0])
    np.testing.assert_array_equal(positions(pred, 20.0), [-1, 0, 0, 0, 0, 0, 1, 1])


def test_metrics_bundle_by_hand():
    rng = np.random.default_rng(6)
    label = rng.normal(0.0, 60.0, 240)
    pred = 0.6 * label + rng.normal(0.0, 40.0, 240)
    oof = _oof(pred, label)
    cost = BASE.total_bps(1 / 24)
    m = _bundle(oof, BASE)
    pos = np.where(pred > cost, 1.0, np.where(pred < -cost, -1.0, 0.0))
    traded = pos != 0
    net = pos[traded] * label[traded] - cost
    assert m["n_decisions"] == 240
    assert m["n_trades"] == int(traded.sum()) > 0
    assert m["trade_rate"] == pytest.approx(traded.mean())
    assert m["gross_edge_bps"] == pytest.approx(np.mean(pos[traded] * label[traded]))
    assert m["net_edge_bps"] == pytest.approx(net.mean())
    assert m["net_edge_bps"] == pytest.approx(m["gross_edge_bps"] - cost)
    assert m["hit_rate"] == pytest.approx(np.mean(net > 0))
    assert m["cost"]["total_bps"] == pytest.approx(cost)
    capacity = BASE.capacity_usdt(m["gross_edge_bps"], 2.0, 1 / 24)
    assert m["capacity_gbp"] == pytest.approx(capacity / 1.25)


def test_sharpe_by_hand_and_its_sign_follows_the_skill():
    rng = np.random.default_rng(7)
    label = rng.normal(0.0, 60.0, 240)
    pred = label + rng.normal(0.0, 20.0, 240)
    h = 2
    skilled = metrics_bundle(
        _oof(pred, label), cost=ZERO, horizon_bars=h, holding_days=h / 24, min_edge_bps=0.0, usdt_per_gbp=1.0
    )
    pnl = np.sign(pred) * label / h
    daily = pd.Series(pnl, index=_oof(pred, label)["decision_time"]).groupby(lambda t: t.floor("D")).sum()
    assert skilled["sharpe"] == pytest.approx(daily.mean() / daily.std(ddof=1) * math.sqrt(365))
    assert skilled["sharpe"] > 0 and skilled["t_stat"] > 0 and skilled["p_value"] < 0.01
    contrarian = metrics_bundle(
        _oof(-pred, label), cost=ZERO, horizon_bars=h, holding_days=h / 24, min_edge_bps=0.0, usdt_per_gbp=1.0
    )
    assert contrarian["sharpe"] < 0 and contrarian["net_edge_bps"] < 0 and contrarian["p_value"] > 0.99


def test_zero_costs_give_net_equal_to_gross():
    rng = np.random.default_rng(8)
    label = rng.normal(0.0, 50.0, 200)
    pred = rng.normal(0.0, 50.0, 200)
    m = _bundle(_oof(pred, label), ZERO)
    assert m["cost"]["total_bps"] == 0.0
    assert m["n_trades"] == int((pred != 0).sum())
    assert m["net_edge_bps"] == pytest.approx(m["gross_edge_bps"])
    assert m["all_decisions_gross_bps"] == pytest.approx(m["gross_edge_bps"])


def test_no_trades_gives_nan_edges_not_zero():
    oof = _oof(np.full(50, 1.0), np.random.default_rng(9).normal(0, 10, 50))
    m = _bundle(oof, BASE)
    assert m["n_trades"] == 0
    assert math.isnan(m["net_edge_bps"]) and math.isnan(m["hit_rate"])
    assert m["capacity_gbp"] == 0.0


def test_funding_per_day_sums_each_settlements_absolute_rate_over_the_window():
    from huracan_assets.core.costs import funding_bps_per_day

    rates = [0.0001, -0.0002, 0.0003, float("nan")]  # three settlements in a day, one unreadable
    assert funding_bps_per_day(rates, 1.0) == pytest.approx((0.0001 + 0.0002 + 0.0003) * 1e4)
    assert funding_bps_per_day(rates, 2.0) == pytest.approx(3.0)
    assert np.isnan(funding_bps_per_day([], 10.0))
