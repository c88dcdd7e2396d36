"""Scores of one coin-day: metrics after costs for every model record in the shadow window.

A record is a model's predictions on out-of-sample decisions: the shadow bars after its
cut-off plus embargo, or — for a cold-start coin — the purged walk-forward folds over its
history. Rows are per model day x engine x horizon x model regime x regime slice ("all" plus
every regime with at least ``MIN_REGIME_ROWS`` decisions) x record kind.
"""

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

from huracan_assets.core.consensus import ActingRule
from huracan_assets.core.costs import CostContext, CostModel
from huracan_assets.core.metrics import metrics_bundle

MIN_REGIME_ROWS = 50
KEY_COLUMNS = ["coin", "model_day", "record_kind", "horizon", "engine", "model_regime", "regime"]
METRIC_COLUMNS = [
    "n_decisions",
    "n_trades",
    "trade_rate",
    "turnover_per_day",
    "gross_edge_bps",
    "fees_bps",
    "spread_bps",
    "slippage_bps",
    "funding_bps",
    "borrow_bps",
    "cost_bps",
    "net_edge_bps",
    "net_std_bps",
    "hit_rate",
    "t_stat",
    "p_value",
    "sharpe",
    "sortino",
    "max_drawdown_bps",
    "profit_factor",
    "capacity_gbp",
    "ic_spearman",
    "all_decisions_gross_bps",
]
SCORE_COLUMNS = KEY_COLUMNS + METRIC_COLUMNS


@dataclass(frozen=True)
class Record:
    """One model's out-of-sample predictions: decision_time, pred_bps, label_bps, regime (+ vol)."""

    model_day: str
    engine: str
    horizon: str
    model_regime: str
    kind: str
    frame: pd.DataFrame


def empty_scores() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in SCORE_COLUMNS})
    for column in KEY_COLUMNS:
        frame[column] = pd.Series(dtype="object")
    for column in ("n_decisions", "n_trades"):
        frame[column] = pd.Series(dtype="int64")
    return frame[SCORE_COLUMNS]


def score_records(
    coin: str,
    records: list[Record],
    *,
    cost: CostModel,
    horizon_bars: dict[str, int],
    bar: timedelta,
    min_edge_bps: float,
    usdt_per_gbp: float,
    context: CostContext | None = None,
    rule: ActingRule | None = None,
) -> pd.DataFrame:
    """Score rows of every record; ``context``: each decision pays its own costs (the cost columns
    are then means per trade); without it every decision pays ``cost``. ``rule``: trades, edge
    and tests are the consensus's acting rule's (``core.consensus.ActingRule``, as the champions
    step judges a challenger); without it: trade when the predicted move beats the cost."""
    rows = []
    for record in records:
        if record.frame.empty:
            continue
        h_bars = horizon_bars[record.horizon]
        holding_days = h_bars * bar / timedelta(days=1)
        if record.model_regime == "all":
            slices = [("all", record.frame)]
            slices += [(str(r), g) for r, g in record.frame.groupby("regime") if len(g) >= MIN_REGIME_ROWS]
        else:
            slices = [(record.model_regime, record.frame[record.frame["regime"] == record.model_regime])]
        for regime, subset in slices:
            if subset.empty:
                continue
            m = metrics_bundle(
                subset,
                cost=cost,
                horizon_bars=h_bars,
                holding_days=holding_days,
                min_edge_bps=min_edge_bps,
                usdt_per_gbp=usdt_per_gbp,
                costs=context.for_record(subset, h_bars) if context is not None else None,
                rule=rule,
            )
            c = m.pop("cost")
            m.pop("days", None)
            rows.append(
                {
                    "coin": coin,
                    "model_day": record.model_day,
                    "record_kind": record.kind,
                    "horizon": record.horizon,
                    "engine": record.engine,
                    "model_regime": record.model_regime,
                    "regime": regime,
                    **m,
                    "fees_bps": c["fees_bps"],
                    "spread_bps": c["spread_bps"],
                    "slippage_bps": c["slippage_bps"],
                    "funding_bps": c["funding_bps"],
                    "borrow_bps": c.get("borrow_bps", 0.0),
                    "cost_bps": c["total_bps"],
                }
            )
    if not rows:
        return empty_scores()
    return pd.DataFrame(rows)[SCORE_COLUMNS].astype({"n_decisions": "int64", "n_trades": "int64"})
