"""Out-of-fold trading metrics for one engine x horizon (x regime), after costs.

Trade rule (the same everywhere): at each decision, go long if the predicted return
exceeds the round-trip cost, short if it is below minus the cost, else stay out. A trade's
net return is ``sign * label - cost`` (bps).

Daily P&L: each decision commits ``1/h`` of capital (``h`` = horizon in bars), so overlapping
trades never exceed full exposure; P&L is booked on the decision's UTC day. Sharpe and
Sortino are annualised from that daily series with sqrt(365) (crypto trades every day).
The t-test on per-trade net returns is the HAC test for overlapping h-bar labels
(``core/stats.hac_mean_test``) because trades of one horizon overlap.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from huracan_assets.core.consensus import ActingRule
from huracan_assets.core.costs import CostModel, DecisionCosts
from huracan_assets.core.stats import hac_mean_test

DAYS_PER_YEAR = 365.0


def positions(pred_bps: np.ndarray, cost_bps: float) -> np.ndarray:
    """+1 / -1 / 0 per decision: trade only when the predicted move beats the round-trip cost."""
    pred = np.asarray(pred_bps, dtype=float)
    return np.where(pred > cost_bps, 1.0, np.where(pred < -cost_bps, -1.0, 0.0))


def independent_trades(traded: np.ndarray, horizon_bars: int) -> int:
    """Trades whose holding periods do not overlap, in a record of consecutive decisions (one per bar).

    Scanning in time, a trade counts when it starts at least ``horizon_bars`` decisions after the
    last counted one: the largest set of trades that share no bar return.
    """
    count, free_from = 0, 0
    for i in np.flatnonzero(np.asarray(traded, dtype=bool)):
        if i >= free_from:
            count, free_from = count + 1, i + max(int(horizon_bars), 1)
    return count


def decision_returns(
    pred_bps: np.ndarray,
    label_bps: np.ndarray,
    cost_bps: float,
    pos: np.ndarray | None = None,
    costs: DecisionCosts | None = None,
) -> np.ndarray:
    """Net return of every decision in bps (0 where the rule stays out): the series the tests use.

    ``pos``: the positions of another trade rule (``ActingRule.positions``); default :func:`positions`.
    ``costs``: per-decision costs (``core.costs.DecisionCosts``, aligned with ``pred_bps``); then
    ``cost_bps`` is unused, each decision pays its own and shorts follow ``costs.shorts``.
    """
    if costs is not None:
        pred = np.asarray(pred_bps, dtype=float)
        pos = costs.allowed(positions(pred, costs.rule_bps_for(pred)) if pos is None else pos)
        return pos * np.asarray(label_bps, dtype=float) - costs.charged_bps(pos)
    pos = positions(pred_bps, cost_bps) if pos is None else np.asarray(pos, dtype=float)
    return pos * np.asarray(label_bps, dtype=float) - np.abs(pos) * cost_bps


def metrics_bundle(
    oof: pd.DataFrame,
    *,
    cost: CostModel,
    horizon_bars: int,
    holding_days: float,
    min_edge_bps: float,
    usdt_per_gbp: float,
    pred_column: str = "pred_bps",
    rule: ActingRule | None = None,
    costs: DecisionCosts | None = None,
) -> dict[str, Any]:
    """Metrics of one engine x horizon on out-of-fold rows (decision_time, pred, label_bps).

    ``rule``: trade by the consensus's acting rule (needs ``vol_24h_bps``); default: trade when
    the predicted move beats the cost (:func:`positions`). ``costs``: each decision's own costs
    (aligned with ``oof``'s rows); without them every decision pays ``cost`` (the day's).
    """
    frame = oof
    if not oof["decision_time"].is_monotonic_increasing:
        order = np.argsort(oof["decision_time"].to_numpy(), kind="stable")
        frame = oof.iloc[order]
        costs = costs.subset(order) if costs is not None else None
    label = frame["label_bps"].to_numpy(dtype=float)
    pred = frame[pred_column].to_numpy(dtype=float)
    days = frame["decision_time"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    if costs is None:
        breakdown = cost.breakdown(holding_days)
        rule_cost: float | np.ndarray = breakdown["total_bps"]
    else:
        rule_cost = costs.rule_bps_for(pred)
    pos = (
        positions(pred, rule_cost)
        if rule is None
        else rule.positions(pred, rule_cost, frame["vol_24h_bps"].to_numpy(dtype=float))
    )
    if costs is not None:
        pos = costs.allowed(pos)
        breakdown = costs.breakdown(pos)
        returns = pos * label - costs.charged_bps(pos)
    else:
        returns = pos * label - np.abs(pos) * rule_cost
    traded = pos != 0
    n_trades = int(traded.sum())
    gross = pos[traded] * label[traded]
    net = returns[traded]
    days_covered = max(len(np.unique(days)), 1)
    out: dict[str, Any] = {
        "n_decisions": len(frame),
        "n_trades": n_trades,
        "trade_rate": n_trades / len(frame) if len(frame) else 0.0,
        "turnover_per_day": n_trades / days_covered,
        "cost": breakdown,
        "gross_edge_bps": float(gross.mean()) if n_trades else float("nan"),
        "net_edge_bps": float(net.mean()) if n_trades else float("nan"),
        "net_std_bps": float(net.std(ddof=1)) if n_trades > 1 else float("nan"),
        "hit_rate": float((net > 0).mean()) if n_trades else float("nan"),
        # diagnostics: the raw predictive content, trading every decision in the predicted direction
        "all_decisions_gross_bps": float(np.mean(np.sign(pred) * label)) if len(frame) else float("nan"),
        "ic_spearman": _spearman(pred, label),
    }
    t_stat, p_value = hac_mean_test(net, horizon_bars, alternative="greater")
    out["t_stat"], out["p_value"] = t_stat, p_value
    daily = _daily_pnl(days, returns, horizon_bars)
    out.update(_daily_metrics(daily))
    wins, losses = net[net > 0].sum(), -net[net < 0].sum()
    out["profit_factor"] = (
        float(wins / losses) if losses > 0 else (float("inf") if wins > 0 else float("nan"))
    )
    gross_mean = out["gross_edge_bps"]
    if not n_trades:
        capacity = 0.0
    elif costs is None:
        capacity = cost.capacity_usdt(gross_mean, min_edge_bps, holding_days)
    else:
        capacity = costs.capacity_usdt(pos, gross_mean, min_edge_bps, cost.order_notional_usdt)
    out["capacity_gbp"] = capacity / usdt_per_gbp if math.isfinite(capacity) else capacity
    return out


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 10 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan")
    from scipy.stats import rankdata  # here: scipy.stats costs every process that loads the code location

    return float(np.corrcoef(rankdata(a[ok]), rankdata(b[ok]))[0, 1])


def _daily_pnl(days: np.ndarray, trade_bps: np.ndarray, horizon_bars: int) -> np.ndarray:
    """P&L per UTC day (``days``: datetime64[D] of each decision), each decision sized 1/h."""
    _, index = np.unique(days, return_inverse=True)
    return np.bincount(index, weights=trade_bps / max(horizon_bars, 1))


def _daily_metrics(daily: np.ndarray) -> dict[str, float]:
    if len(daily) < 2 or np.std(daily, ddof=1) == 0:
        return {"sharpe": float("nan"), "sortino": float("nan"), "max_drawdown_bps": 0.0, "days": len(daily)}
    mean, std = float(np.mean(daily)), float(np.std(daily, ddof=1))
    downside = np.sqrt(np.mean(np.minimum(daily, 0.0) ** 2))
    equity = np.cumsum(daily)
    drawdown = float(np.max(np.maximum(np.maximum.accumulate(equity), 0.0) - equity))
    return {
        "sharpe": float(mean / std * math.sqrt(DAYS_PER_YEAR)),
        "sortino": float(mean / downside * math.sqrt(DAYS_PER_YEAR)) if downside > 0 else float("nan"),
        "max_drawdown_bps": drawdown,
        "days": len(daily),
    }
