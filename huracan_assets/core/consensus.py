"""Consensus of engines: reliability- and correlation-weighted votes, an adaptive level.

For one coin and horizon:

* vote ``s_e = tanh(pred_e / cost)`` in [-1, 1]: a prediction equal to the round-trip cost
  votes 0.76 in its direction;
* reliability ``r_e = max(0, t_e)``, the engine's out-of-fold HAC t statistic of net edge
  (engines with no trades or no edge do not vote);
* correlation cut ``w_e = r_e / (1 + sum_{f != e, r_f > 0} max(0, corr(s_e, s_f)))``: two
  identical engines share one engine's weight instead of counting twice;
* ``S = sum w_e s_e / sum w_e`` (in [-1, 1]); ``confidence = |sum w s| / sum w |s|`` (how much
  of the weight agrees);
* adaptive threshold ``thr = base * clip(vol / median vol, 0.5, 2)``; level strong
  (|S| >= 1.5 thr), moderate (>= thr), weak (>= 0.5 thr), else none. Strong and moderate
  signals act (buy / sell); the rest hold.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

LEVELS = ("none", "weak", "moderate", "strong")


@dataclass(frozen=True)
class DecisionEvent:
    coin: str
    time: str
    horizon: str
    S: float
    confidence: float
    level: str
    action: str
    threshold: float
    votes: dict[str, float]
    weights: dict[str, float]
    kind: str  # "live" (the decision at the end of the day) | "oof" (simulated on the out-of-fold bars)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def engine_weights(votes: pd.DataFrame, reliability: dict[str, float]) -> dict[str, float]:
    """Weights per engine (columns of ``votes``) from reliability and vote correlation."""
    r = {e: max(0.0, float(reliability.get(e, 0.0) or 0.0)) for e in votes.columns}
    r = {e: (v if np.isfinite(v) else 0.0) for e, v in r.items()}
    active = [e for e, v in r.items() if v > 0]
    if not active:
        return dict.fromkeys(votes.columns, 0.0)
    corr = (
        votes[active].corr().fillna(0.0)
        if len(votes) > 2
        else pd.DataFrame(0.0, index=active, columns=active)
    )
    weights = {}
    for e in votes.columns:
        if r[e] <= 0:
            weights[e] = 0.0
            continue
        overlap = sum(max(0.0, float(corr.loc[e, f])) for f in active if f != e)
        weights[e] = r[e] / (1.0 + overlap)
    return weights


def combine(votes: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """S and confidence per row of ``votes`` (rows x engines) for fixed engine ``weights``."""
    total = weights.sum()
    if total <= 0:
        zeros = np.zeros(len(votes))
        return zeros, zeros
    weighted = votes @ weights
    s = np.clip(weighted / total, -1.0, 1.0)
    spread = np.abs(votes) @ weights
    confidence = np.divide(np.abs(weighted), spread, out=np.zeros_like(weighted), where=spread > 0)
    return s, confidence


def level_of(s: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    a = np.abs(s)
    return np.where(
        a >= 1.5 * threshold,
        "strong",
        np.where(a >= threshold, "moderate", np.where(a >= 0.5 * threshold, "weak", "none")),
    )


def adaptive_threshold(vol: np.ndarray, base: float, reference_vol: float) -> np.ndarray:
    if not np.isfinite(reference_vol) or reference_vol <= 0:
        return np.full(len(vol), base)
    ratio = np.nan_to_num(np.asarray(vol, dtype=float) / reference_vol, nan=1.0)
    return base * np.clip(ratio, 0.5, 2.0)


def coin_consensus(
    coin: str,
    horizon: str,
    oof: pd.DataFrame,
    latest: pd.DataFrame,
    reliability: dict[str, float],
    *,
    cost_bps: float,
    base_threshold: float,
) -> tuple[list[DecisionEvent], dict[str, Any]]:
    """Consensus over the out-of-fold bars (simulated actions) and at the latest bar (live).

    ``oof``: rows of one horizon with decision_time, engine, pred_bps, label_bps, vol_24h_bps.
    ``latest``: rows of one horizon with decision_time, engine, pred_bps.
    Returns the action events (oof actions + the live decision) and a summary with the
    out-of-fold net edge of acting on the consensus.
    """
    scale = max(cost_bps, 1e-6)
    wide = oof.pivot_table(index="decision_time", columns="engine", values="pred_bps").sort_index()
    votes = np.tanh(wide / scale)
    weights = engine_weights(votes, reliability)
    engines = list(votes.columns)
    w = np.array([weights[e] for e in engines])
    s, confidence = combine(votes.to_numpy(), w)
    vol = oof.drop_duplicates("decision_time").set_index("decision_time")["vol_24h_bps"].reindex(wide.index)
    reference_vol = float(np.nanmedian(vol)) if len(vol) else float("nan")
    threshold = adaptive_threshold(vol.to_numpy(), base_threshold, reference_vol)
    levels = level_of(s, threshold)
    acting = np.isin(levels, ("strong", "moderate"))
    action = np.where(acting, np.where(s > 0, "buy", "sell"), "hold")
    labels = oof.drop_duplicates("decision_time").set_index("decision_time")["label_bps"].reindex(wide.index)
    signed = np.where(action == "buy", 1.0, np.where(action == "sell", -1.0, 0.0))
    net = signed[acting] * labels.to_numpy()[acting] - cost_bps
    events = [
        DecisionEvent(
            coin=coin,
            time=t.isoformat(),
            horizon=horizon,
            S=round(float(s[i]), 6),
            confidence=round(float(confidence[i]), 6),
            level=str(levels[i]),
            action=str(action[i]),
            threshold=round(float(threshold[i]), 6),
            votes={e: round(float(votes.iloc[i][e]), 6) for e in engines},
            weights={e: round(float(weights[e]), 6) for e in engines},
            kind="oof",
        )
        for i, t in enumerate(wide.index)
        if acting[i]
    ]
    live = latest.set_index("engine")["pred_bps"].reindex(engines).fillna(0.0)
    live_votes = np.tanh(live.to_numpy() / scale)[None, :]
    live_s, live_conf = combine(live_votes, w)
    live_vol = vol.iloc[-1:].to_numpy() if len(vol) else np.array([np.nan])
    live_thr = adaptive_threshold(live_vol, base_threshold, reference_vol)
    live_level = level_of(live_s, live_thr)[0]
    live_action = "hold" if live_level in ("none", "weak") else ("buy" if live_s[0] > 0 else "sell")
    live_time = pd.Timestamp(latest["decision_time"].iloc[0]) if len(latest) else wide.index[-1]
    events.append(
        DecisionEvent(
            coin=coin,
            time=live_time.isoformat(),
            horizon=horizon,
            S=round(float(live_s[0]), 6),
            confidence=round(float(live_conf[0]), 6),
            level=str(live_level),
            action=live_action,
            threshold=round(float(live_thr[0]), 6),
            votes={e: round(float(v), 6) for e, v in zip(engines, live_votes[0], strict=True)},
            weights={e: round(float(weights[e]), 6) for e in engines},
            kind="live",
        )
    )
    summary = {
        "coin": coin,
        "horizon": horizon,
        "S": float(live_s[0]),
        "confidence": float(live_conf[0]),
        "level": str(live_level),
        "action": live_action,
        "threshold": float(live_thr[0]),
        "weights": {e: float(weights[e]) for e in engines},
        "oof_actions": int(acting.sum()),
        "oof_net_edge_bps": float(net.mean()) if len(net) else float("nan"),
    }
    return events, summary
