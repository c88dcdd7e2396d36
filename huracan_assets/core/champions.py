"""Champion choice, ranking table and do-not-trade list for one day.

A challenger (coin x horizon x engine) qualifies when, on its out-of-fold record after all
costs:

* it traded at least ``min_trades`` times,
* its mean net edge is at least ``min_edge_after_cost_bps``, and
* its one-sided HAC t-test against "no trade" (net edge > 0) survives Benjamini–Hochberg
  across every challenger of the day at level ``alpha``.

The qualifying challenger with the highest net edge becomes the coin x horizon champion.
Every active coin without any champion gets a written reason naming the closest miss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from huracan_assets.core.stats import benjamini_hochberg

TEST_NAME = (
    "one-sided Newey-West t-test of out-of-fold net edge vs no trade, Benjamini-Hochberg across the day"
)


@dataclass
class ChampionDecision:
    day: str
    champions: list[dict[str, Any]] = field(default_factory=list)
    no_champion: dict[str, str] = field(default_factory=dict)
    ranking: list[dict[str, Any]] = field(default_factory=list)
    do_not_trade: list[dict[str, Any]] = field(default_factory=list)
    challengers: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "champions": self.champions,
            "no_champion": self.no_champion,
            "ranking": self.ranking,
            "do_not_trade": self.do_not_trade,
            "challengers": self.challengers,
        }


def choose_champions(
    day: str,
    scores: pd.DataFrame,
    *,
    active_coins: list[str],
    coin_status: dict[str, str],
    consensus: pd.DataFrame,
    regimes: dict[str, str],
    universe: pd.DataFrame,
    alpha: float,
    min_trades: int,
    min_edge_bps: float,
) -> ChampionDecision:
    """Pick champions from the day's pooled-regime scores of all coins.

    ``scores``: one row per coin x horizon x engine x regime with n_trades, net_edge_bps,
    gross_edge_bps, cost_bps, p_value, t_stat, capacity_gbp. Only ``regime == "all"`` rows are
    challengers. ``coin_status``: coin -> reason for coins that could not be trained.
    ``consensus``: coin, horizon, S, confidence, level. ``universe``: coin, eligible, reason.
    """
    decision = ChampionDecision(day=day)
    pool = scores[scores["regime"] == "all"].copy() if len(scores) else scores.copy()
    pool = pool[pool["coin"].isin(active_coins)]
    decision.challengers = len(pool)
    if len(pool):
        pool["q_value"] = benjamini_hochberg(pool["p_value"].to_numpy(dtype=float))
        pool["qualifies"] = (
            (pool["n_trades"] >= min_trades)
            & (pool["net_edge_bps"] >= min_edge_bps)
            & (pool["q_value"] < alpha)
        )
    conf = consensus.set_index(["coin", "horizon"]) if len(consensus) else None
    for coin in sorted(active_coins):
        if coin in coin_status:
            decision.no_champion[coin] = coin_status[coin]
            continue
        rows = pool[pool["coin"] == coin] if len(pool) else pool
        if rows.empty:
            decision.no_champion[coin] = "no challengers were scored"
            continue
        winners = rows[rows["qualifies"]]
        if winners.empty:
            decision.no_champion[coin] = _closest_miss(
                rows, alpha=alpha, min_trades=min_trades, min_edge_bps=min_edge_bps
            )
            continue
        for horizon, group in winners.groupby("horizon"):
            best = group.sort_values(["net_edge_bps", "q_value"], ascending=[False, True]).iloc[0]
            confidence = (
                float(conf.loc[(coin, horizon), "confidence"])
                if conf is not None and (coin, horizon) in conf.index
                else float("nan")
            )
            decision.champions.append(
                {
                    "coin": coin,
                    "horizon": str(horizon),
                    "engine": str(best["engine"]),
                    "regime": regimes.get(coin, "range"),
                    "model_regime": str(best["regime"]),
                    "net_edge_bps": float(best["net_edge_bps"]),
                    "gross_edge_bps": float(best["gross_edge_bps"]),
                    "cost_bps": float(best["cost_bps"]),
                    "n_trades": int(best["n_trades"]),
                    "capacity_gbp": float(best["capacity_gbp"]),
                    "confidence": confidence,
                    "model_day": day,
                    "shadow_test": {
                        "test": TEST_NAME,
                        "baseline": "no trade",
                        "t_stat": float(best["t_stat"]),
                        "p_value": float(best["p_value"]),
                        "q_value": float(best["q_value"]),
                        "alpha": alpha,
                        "n_trades": int(best["n_trades"]),
                        "decision": "promoted",
                    },
                }
            )
    decision.champions.sort(key=lambda c: (c["coin"], c["horizon"]))
    ranked = sorted(decision.champions, key=lambda c: (-c["net_edge_bps"], c["shadow_test"]["q_value"]))
    decision.ranking = [
        {
            "rank": i + 1,
            "coin": c["coin"],
            "horizon": c["horizon"],
            "engine": c["engine"],
            "regime": c["regime"],
            "net_edge_bps": round(c["net_edge_bps"], 4),
            "confidence": None if math.isnan(c["confidence"]) else round(c["confidence"], 4),
            "capacity_gbp": round(c["capacity_gbp"], 2) if math.isfinite(c["capacity_gbp"]) else None,
        }
        for i, c in enumerate(ranked)
    ]
    decision.do_not_trade = _do_not_trade(universe, coin_status, pool, active_coins)
    return decision


def _closest_miss(rows: pd.DataFrame, *, alpha: float, min_trades: int, min_edge_bps: float) -> str:
    traded = rows[rows["n_trades"] > 0]
    if traded.empty:
        best_pred = rows.sort_values("all_decisions_gross_bps", ascending=False).iloc[0]
        return (
            f"no engine's prediction ever beat the round-trip cost of {best_pred['cost_bps']:.1f} bps "
            f"({len(rows)} challengers, 0 trades)"
        )
    best = traded.sort_values("net_edge_bps", ascending=False).iloc[0]
    where = f"{best['engine']}/{best['horizon']}"
    if best["n_trades"] < min_trades:
        return f"best challenger {where} made {int(best['n_trades'])} trades < min_trades={min_trades}"
    if best["net_edge_bps"] < min_edge_bps:
        return (
            f"best challenger {where} nets {best['net_edge_bps']:.2f} bps after {best['cost_bps']:.1f} bps of costs "
            f"< min_edge_after_cost_bps={min_edge_bps}"
        )
    return (
        f"best challenger {where} nets {best['net_edge_bps']:.2f} bps but is not significant: "
        f"p={best['p_value']:.3g}, BH q={best['q_value']:.3g} >= alpha={alpha}"
    )


def _do_not_trade(
    universe: pd.DataFrame, coin_status: dict[str, str], pool: pd.DataFrame, active: list[str]
) -> list[dict[str, Any]]:
    entries: dict[str, list[str]] = {}
    for row in universe.itertuples():
        if not row.eligible:
            entries.setdefault(row.coin, []).append(str(row.reason))
    for coin, reason in coin_status.items():
        entries.setdefault(coin, []).append(reason)
    if len(pool):
        for coin, rows in pool.groupby("coin"):
            if coin not in active or coin in coin_status:
                continue
            gross = rows["all_decisions_gross_bps"].abs()
            cost = float(rows["cost_bps"].min())
            if np.nanmax(gross.to_numpy(dtype=float), initial=0.0) < cost and rows["n_trades"].sum() == 0:
                entries.setdefault(coin, []).append(
                    f"costs: round trip {cost:.1f} bps exceeds every engine's predicted move"
                )
    return [{"coin": coin, "reasons": reasons} for coin, reasons in sorted(entries.items())]
