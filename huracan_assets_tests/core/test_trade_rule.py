"""One trade rule: a champion's record, edge and test are those of the rule the consensus acts on."""

import math

import numpy as np
import pandas as pd
import pytest

from huracan_assets.core.champions import challenger_from_record
from huracan_assets.core.consensus import ActingRule, consensus_path
from huracan_assets.core.costs import CostModel
from huracan_assets.core.metrics import positions
from huracan_assets.core.regimes import REGIMES

COST = CostModel(
    taker_bps=5.0, spread_bps=4.0, daily_vol_bps=300.0, adv_usdt=5e8, order_notional_usdt=2e4, slippage_k=0.1
)
HOLD_DAYS = 1 / 24
BASE = 0.35


def record(seed: int, n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pred = rng.normal(scale=15.0, size=n)
    return pd.DataFrame(
        {
            "decision_time": pd.date_range("2025-03-01", periods=n, freq="h", tz="UTC"),
            "pred_bps": pred,
            "label_bps": 0.8 * pred + rng.normal(scale=40.0, size=n),
            "vol_24h_bps": rng.uniform(100.0, 600.0, size=n),
            "regime": "range",
        }
    )


def test_the_rule_acts_exactly_where_a_one_engine_consensus_buys_or_sells():
    frame = record(1)
    cost = COST.total_bps(HOLD_DAYS)
    reference = float(frame["vol_24h_bps"].median())
    rule = ActingRule(base_threshold=BASE, reference_vol_bps=reference)
    preds = pd.DataFrame({"flow": frame["pred_bps"].to_numpy()}, index=frame["decision_time"])
    events = consensus_path(
        "BTC",
        "1h",
        preds,
        pd.Series("range", index=preds.index),
        pd.Series(frame["vol_24h_bps"].to_numpy(), index=preds.index),
        {"flow": 1.0},
        dict.fromkeys(REGIMES, {"flow"}),
        cost_bps=cost,
        base_threshold=BASE,
        reference_vol=reference,
        kind="simulated",
    )
    consensus = pd.Series(0.0, index=preds.index.map(lambda t: t.isoformat()))
    for e in events:
        consensus[e.time] = 1.0 if e.action == "buy" else -1.0
    ours = rule.positions(frame["pred_bps"].to_numpy(), cost, frame["vol_24h_bps"].to_numpy())
    assert 0 < np.abs(ours).sum() < len(frame)
    np.testing.assert_array_equal(ours, consensus.to_numpy())
    # and it is not the old "|pred| > cost" rule: it acts on smaller predictions too
    assert np.abs(ours).sum() > np.abs(positions(frame["pred_bps"].to_numpy(), cost)).sum()


def test_a_challengers_trades_and_edge_are_the_acting_rules():
    frame = record(2)
    cost = COST.total_bps(HOLD_DAYS)
    rule = ActingRule(base_threshold=BASE, reference_vol_bps=float(frame["vol_24h_bps"].median()))
    c = challenger_from_record(
        "BTC",
        "1h",
        "flow",
        "2025-03-01",
        "shadow",
        frame,
        cost=COST,
        horizon_bars=1,
        holding_days=HOLD_DAYS,
        min_edge_bps=2.0,
        usdt_per_gbp=1.25,
        rule=rule,
    )
    pos = rule.positions(frame["pred_bps"].to_numpy(), cost, frame["vol_24h_bps"].to_numpy())
    traded = pos != 0
    assert c.n_trades == int(traded.sum())
    net = pos[traded] * frame["label_bps"].to_numpy()[traded] - cost
    assert c.net_edge_bps == pytest.approx(float(net.mean()))
    np.testing.assert_allclose(c.returns[traded], net)
    assert c.trade_rule["base_threshold"] == BASE and c.trade_rule["cost_bps"] == pytest.approx(cost)
    assert c.trade_rule["min_abs_pred_bps"] == pytest.approx(cost * math.atanh(BASE))
    # the stated threshold is where the rule starts acting, at the reference volatility
    edge = c.trade_rule["min_abs_pred_bps"]
    at_reference = np.full(3, rule.reference_vol_bps)
    acts = rule.positions(np.array([edge * 1.001, -edge * 1.001, edge * 0.999]), cost, at_reference)
    assert acts.tolist() == [1.0, -1.0, 0.0]
