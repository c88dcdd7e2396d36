"""Costs per decision: each decision pays the spread of its own day and the impact of its own
volume and volatility, a perpetual pays the 8 h settlements its position spans (signed), and a
spot short pays its borrow or is not taken. Checked by hand on small records."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from huracan_assets.core.costs import CostContext, CostModel, FundingHistory, decision_costs
from huracan_assets.core.metrics import decision_returns, metrics_bundle

DAY_COST = CostModel(
    taker_bps=10.0,
    spread_bps=4.0,  # the run day's: what every decision paid before
    daily_vol_bps=240.0,
    adv_usdt=100e6,
    order_notional_usdt=25_000.0,
    slippage_k=0.5,
)
HOUR = timedelta(hours=1)


def context(**kw) -> CostContext:
    return CostContext(cost=DAY_COST, bars_per_day=24, bar=HOUR, fill_delay_bars=1, **kw)


def record(times: list[str], **columns) -> pd.DataFrame:
    n = len(times)
    frame = pd.DataFrame(
        {
            "decision_time": pd.to_datetime(times, utc=True),
            "pred_bps": columns.pop("pred_bps", np.full(n, 100.0)),
            "label_bps": columns.pop("label_bps", np.full(n, 50.0)),
            "vol_24h_bps": columns.pop("vol_24h_bps", np.full(n, 50.0)),
        }
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


def test_each_decision_pays_the_spread_and_impact_of_its_own_time():
    rec = record(
        ["2025-03-01T10:00", "2025-03-02T10:00", "2025-03-03T10:00"],
        spread_bps=[18.0, 25.0, np.nan],  # the third day's spread is unknown: the run day's stands in
        quote_volume_24h=[25e6, 100e6, 400e6],
        vol_24h_bps=[50.0, 50.0, 100.0],
    )
    costs = context().for_record(rec, horizon_bars=4)
    assert list(costs.spread_bps) == [18.0, 25.0, 4.0]
    # 2 k sigma_daily sqrt(notional / ADV): sigma_daily = per-bar vol x sqrt(24)
    daily = np.array([50.0, 50.0, 100.0]) * np.sqrt(24)
    expected = 2 * 0.5 * daily * np.sqrt(25_000 / np.array([25e6, 100e6, 400e6]))
    assert costs.slippage_bps == pytest.approx(expected)
    assert costs.charged_bps(np.array([1, -1, 0])) == pytest.approx(
        [20 + 18 + expected[0], 20 + 25 + expected[1], 0.0]
    )


def test_a_record_without_its_cost_inputs_pays_the_run_days_costs():
    rec = record(["2025-03-01T10:00", "2025-03-01T11:00"]).drop(columns="vol_24h_bps")
    costs = context().for_record(rec, horizon_bars=1)
    assert costs.rule_bps() == pytest.approx(np.full(2, DAY_COST.total_bps(1 / 24)))


def test_a_perpetual_pays_the_settlements_its_position_spans_signed():
    # settlements at 00:00, 08:00, 16:00; a long pays the rate, a short receives it
    times = pd.to_datetime(["2025-03-01T00:00", "2025-03-01T08:00", "2025-03-01T16:00", "2025-03-02T00:00"])
    rates = np.array([0.0001, 0.0003, -0.0002, 0.0005])
    funding = FundingHistory(times.to_numpy(), rates)
    assert FundingHistory.from_json(funding.to_json()).rates == pytest.approx(rates)
    # decisions at the close of the 06:00 bar (open 06:00): fill at 08:00, exit 4 h later at 12:00
    # -> spans 08:00 only; open 05:00 -> fill 07:00, exit 11:00 -> 08:00; open 22:00 (1d):
    # fill 2025-03-02T00:00, exit 03-03T00:00 -> 03-02T00:00 only (03-03 is not in the history)
    rec = record(["2025-03-01T06:00", "2025-03-01T05:00", "2025-03-01T02:00"])
    costs = context(funding=funding).for_record(rec, horizon_bars=4)
    assert costs.funding_long_bps == pytest.approx([3.0, 3.0, 0.0])  # 02:00 -> 04:00..08:00: none
    long_day = context(funding=funding).for_record(record(["2025-03-01T22:00"]), horizon_bars=24)
    assert long_day.funding_long_bps == pytest.approx([5.0])
    # a 1d position from 2025-03-01T01:00's close (fill 02:00, exit 03-02T02:00) spans three
    three = context(funding=funding).for_record(record(["2025-03-01T00:00"]), horizon_bars=24)
    assert three.funding_long_bps == pytest.approx([(0.0003 - 0.0002 + 0.0005) * 1e4])
    pos = np.array([1.0, -1.0, 0.0])
    base = costs.fees_bps + costs.spread_bps + costs.slippage_bps
    assert costs.charged_bps(pos) == pytest.approx([base[0] + 3.0, base[1] - 3.0, 0.0])
    # the rule cannot know the settlements to come: it expects |last settled rate| per settlement
    # (the decision at 06:00's close knows 00:00's 1 bp)
    assert costs.funding_ante_bps[0] == pytest.approx(1.0)


def test_a_spot_short_pays_its_borrow_or_is_not_taken():
    rec = record(["2025-03-01T10:00", "2025-03-01T11:00"], pred_bps=[120.0, -120.0], label_bps=[60.0, -60.0])
    borrow = context(borrow_bps_per_day=24.0).for_record(rec, horizon_bars=4)  # 1 bp per hour held
    returns = decision_returns(rec["pred_bps"], rec["label_bps"], float("nan"), None, borrow)
    fixed = borrow.fees_bps + borrow.spread_bps + borrow.slippage_bps
    assert returns == pytest.approx([60.0 - fixed[0], 60.0 - fixed[1] - 4.0])
    none = context(shorts=False).for_record(rec, horizon_bars=4)
    returns = decision_returns(rec["pred_bps"], rec["label_bps"], float("nan"), None, none)
    assert returns[1] == 0.0 and returns[0] == pytest.approx(60.0 - fixed[0])


def test_metrics_report_the_mean_cost_charged_per_trade():
    rec = record(
        ["2025-03-01T10:00", "2025-03-02T10:00", "2025-03-03T10:00"],
        pred_bps=[100.0, 100.0, 1.0],  # the third does not beat its cost: no trade
        spread_bps=[10.0, 30.0, 50.0],
    )
    costs = context().for_record(rec, horizon_bars=1)
    m = metrics_bundle(
        rec,
        cost=DAY_COST,
        horizon_bars=1,
        holding_days=1 / 24,
        min_edge_bps=2.0,
        usdt_per_gbp=1.27,
        costs=costs,
    )
    assert m["n_trades"] == 2
    assert m["cost"]["spread_bps"] == pytest.approx(20.0)
    assert m["net_edge_bps"] == pytest.approx(
        50.0 - float(np.mean(costs.charged_bps(np.array([1, 1, 0]))[:2]))
    )


def test_decision_costs_fall_back_per_decision_not_per_record():
    costs = decision_costs(
        DAY_COST,
        decision_time=pd.to_datetime(["2025-03-01T10:00", "2025-03-01T11:00"]).to_numpy(),
        spread_bps=np.array([np.nan, 7.0]),
        quote_volume_24h=np.array([0.0, np.nan]),
        bar_vol_bps=None,
        bars_per_day=24,
        bar=np.timedelta64(3600, "s"),
        fill_delay_bars=1,
        horizon_bars=1,
    )
    assert list(costs.spread_bps) == [4.0, 7.0]
    assert costs.slippage_bps == pytest.approx(np.full(2, DAY_COST.slippage_bps()))
