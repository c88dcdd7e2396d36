"""Scores of one coin-day: metrics after costs per engine x horizon x regime."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from huracan_assets.core.costs import CostModel
from huracan_assets.core.metrics import metrics_bundle

MIN_REGIME_ROWS = 50
SCORE_COLUMNS = [
    "coin",
    "horizon",
    "engine",
    "regime",
    "n_decisions",
    "n_trades",
    "trade_rate",
    "turnover_per_day",
    "gross_edge_bps",
    "fees_bps",
    "spread_bps",
    "slippage_bps",
    "funding_bps",
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


def empty_scores() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in SCORE_COLUMNS})
    for column in ("coin", "horizon", "engine", "regime"):
        frame[column] = pd.Series(dtype="object")
    for column in ("n_decisions", "n_trades"):
        frame[column] = pd.Series(dtype="int64")
    return frame[SCORE_COLUMNS]


def score_coin(
    coin: str,
    oof: pd.DataFrame,
    *,
    cost: CostModel,
    horizon_bars: dict[str, int],
    bar: timedelta,
    min_edge_bps: float,
    usdt_per_gbp: float,
) -> pd.DataFrame:
    """One row per engine x horizon for regime "all" and per regime with enough rows."""
    rows = []
    for (horizon, engine), group in oof.groupby(["horizon", "engine"], sort=True):
        h_bars = horizon_bars[horizon]
        holding_days = h_bars * bar / timedelta(days=1)
        subsets = [("all", group)]
        subsets += [(str(r), g) for r, g in group.groupby("regime") if len(g) >= MIN_REGIME_ROWS]
        for regime, subset in subsets:
            m = metrics_bundle(
                subset,
                cost=cost,
                horizon_bars=h_bars,
                holding_days=holding_days,
                min_edge_bps=min_edge_bps,
                usdt_per_gbp=usdt_per_gbp,
            )
            c = m.pop("cost")
            m.pop("days", None)
            rows.append(
                {
                    "coin": coin,
                    "horizon": horizon,
                    "engine": engine,
                    "regime": regime,
                    **m,
                    "fees_bps": c["fees_bps"],
                    "spread_bps": c["spread_bps"],
                    "slippage_bps": c["slippage_bps"],
                    "funding_bps": c["funding_bps"],
                    "cost_bps": c["total_bps"],
                }
            )
    if not rows:
        return empty_scores()
    frame = pd.DataFrame(rows)
    return frame[SCORE_COLUMNS].astype({"n_decisions": "int64", "n_trades": "int64"})
