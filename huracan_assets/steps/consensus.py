"""The per-day work behind the ``consensus`` asset module, without Dagster: the asset and the
benchmark's plain loop both call it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from huracan_assets.config import HuracanSettings
from huracan_assets.core.consensus import DecisionEvent, consensus_path
from huracan_assets.core.gate import engine_reliability, regime_gate
from huracan_assets.core.regimes import classify_regimes
from huracan_assets.steps.scores import decision_table
from huracan_assets.stores.files import StoredModels

EVENT_COLUMNS = [
    "coin",
    "time",
    "horizon",
    "S",
    "confidence",
    "level",
    "action",
    "threshold",
    "regime",
    "votes",
    "weights",
    "kind",
]


def empty_events() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in EVENT_COLUMNS})
    for column in ("S", "confidence", "threshold"):
        frame[column] = pd.Series(dtype="float64")
    return frame[EVENT_COLUMNS]


def consensus_for_day(
    today: StoredModels | None,
    yesterday: StoredModels | None,
    features: pd.DataFrame,
    scores: pd.DataFrame,
    day: str,
    settings: HuracanSettings,
) -> pd.DataFrame:
    """The core call of one coin-day (shared by the asset and the plain-loop benchmark)."""
    if today is None or today.status != "trained" or today.latest.empty:
        return empty_events()
    half_life = settings.champions.reliability_half_life_days
    reliability = engine_reliability(scores, day, half_life)
    gate = regime_gate(
        scores,
        day,
        min_edge_bps=settings.min_edge_after_cost_bps,
        min_trades=settings.champions.gate_min_trades,
        half_life_days=half_life,
    )
    pooled_scores = (
        scores[(scores["regime"] == "all") & (scores["model_regime"] == "all")] if len(scores) else scores
    )
    table = decision_table(features)
    reference_vol = float(np.nanmedian(table["vol_24h_bps"])) if len(table) else float("nan")
    events: list[DecisionEvent] = []
    for horizon, latest in today.latest.groupby("horizon"):
        horizon = str(horizon)
        rows = pooled_scores[pooled_scores["horizon"] == horizon] if len(pooled_scores) else pooled_scores
        cost = float(rows["cost_bps"].median()) if len(rows) else float("inf")
        weights_in = {e: reliability.get((horizon, e), 0.0) for e in latest["engine"]}
        gate_h = {regime: engines for (h, regime), engines in gate.items() if h == horizon}
        history = None
        if yesterday is not None and yesterday.status == "trained" and len(table):
            preds = {}
            for meta in yesterday.pooled():
                if meta["horizon"] == horizon:
                    preds[meta["engine"]] = yesterday.load_model(meta["engine"], horizon).predict(
                        table[meta["feature_names"]]
                    )
            if preds:
                history = pd.DataFrame(preds, index=table.index)
                regimes = classify_regimes(table, yesterday.regime_thresholds)
                events += consensus_path(
                    today.coin,
                    horizon,
                    history,
                    regimes,
                    table["vol_24h_bps"],
                    weights_in,
                    gate_h,
                    cost_bps=cost,
                    base_threshold=settings.risk.signal_threshold,
                    reference_vol=reference_vol,
                    kind="simulated",
                )
        live = latest.set_index("engine")["pred_regime_bps"].to_frame().T
        live.index = pd.DatetimeIndex([pd.Timestamp(latest["decision_time"].iloc[0])])
        live_regime = pd.Series(latest["regime"].iloc[0], index=live.index)
        live_vol = (
            table["vol_24h_bps"].reindex(live.index) if len(table) else pd.Series(np.nan, index=live.index)
        )
        events += consensus_path(
            today.coin,
            horizon,
            live,
            live_regime,
            live_vol,
            weights_in,
            gate_h,
            cost_bps=cost,
            base_threshold=settings.risk.signal_threshold,
            reference_vol=reference_vol,
            kind="live",
            correlation_votes=history,
            acting_only=False,
        )
    frame = pd.DataFrame([e.__dict__ for e in events])
    if frame.empty:
        return empty_events()
    frame["votes"] = frame["votes"].map(lambda v: json.dumps(v, sort_keys=True))
    frame["weights"] = frame["weights"].map(lambda v: json.dumps(v, sort_keys=True))
    return frame[EVENT_COLUMNS]
