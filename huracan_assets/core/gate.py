"""Regime gate and engine reliability from recent out-of-sample records, decayed by age.

* Decay: a record of the model trained ``a`` days before the evaluation day weighs
  ``0.5 ** (a / half_life_days)``; records also weigh by their number of trades.
* Reliability of an engine (per horizon): the decayed mean of its records' HAC t statistics of
  net edge (pooled model, all regimes); the consensus weights engines by it.
* Gate: an engine is enabled in a regime when its decayed, trade-weighted net edge in that
  regime is at least ``min_edge_bps`` over at least ``min_trades`` trades. The regime-specific
  model's record is used when there is one, else the pooled model's record on that regime's
  bars. When no engine qualifies in a regime the documented default applies: **stand aside**
  (no engine votes, S = 0, level "none").
"""

from datetime import date

import numpy as np
import pandas as pd

from huracan_assets.core.regimes import REGIMES


def age_weights(model_days: pd.Series, day: str, half_life_days: float) -> np.ndarray:
    ages = (pd.Timestamp(day) - pd.to_datetime(model_days)).dt.days.to_numpy(dtype=float)
    return 0.5 ** (np.clip(ages, 0, None) / half_life_days)


def engine_reliability(scores: pd.DataFrame, day: str, half_life_days: float) -> dict[tuple[str, str], float]:
    """(horizon, engine) -> decayed mean t statistic of the pooled model's records (0 without any)."""
    out: dict[tuple[str, str], float] = {}
    if scores.empty:
        return out
    pooled = scores[(scores["model_regime"] == "all") & (scores["regime"] == "all")]
    for (horizon, engine), rows in pooled.groupby(["horizon", "engine"]):
        t = rows["t_stat"].fillna(0.0).to_numpy(dtype=float)
        w = age_weights(rows["model_day"], day, half_life_days)
        out[(str(horizon), str(engine))] = float(np.sum(w * t) / np.sum(w)) if np.sum(w) > 0 else 0.0
    return out


def regime_gate(
    scores: pd.DataFrame, day: date | str, *, min_edge_bps: float, min_trades: int, half_life_days: float
) -> dict[tuple[str, str], set[str]]:
    """(horizon, regime) -> engines enabled in that regime; every regime key is present."""
    day = str(day)
    gate: dict[tuple[str, str], set[str]] = {}
    horizons = sorted(scores["horizon"].unique()) if len(scores) else []
    for horizon in horizons:
        for regime in REGIMES:
            gate[(horizon, regime)] = set()
    if scores.empty:
        return gate
    traded = scores[(scores["n_trades"] > 0) & (scores["regime"] != "all")]
    weights = age_weights(traded["model_day"], day, half_life_days) * traded["n_trades"].to_numpy(dtype=float)
    traded = traded.assign(_w=weights)
    for (horizon, engine, regime), rows in traded.groupby(["horizon", "engine", "regime"]):
        specific = rows[rows["model_regime"] == regime]
        rows = specific if len(specific) else rows[rows["model_regime"] == "all"]
        if rows.empty:
            continue
        n = rows["n_trades"].to_numpy(dtype=float)
        w = rows["_w"].to_numpy()
        edge = float(np.sum(w * rows["net_edge_bps"].to_numpy(dtype=float)) / np.sum(w))
        if n.sum() >= min_trades and edge >= min_edge_bps:
            gate[(str(horizon), str(regime))].add(str(engine))
    return gate
