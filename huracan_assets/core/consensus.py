"""Consensus of engines: gated, reliability- and correlation-weighted votes with an adaptive level.

For one coin and horizon, at each decision:

* vote ``s_e = tanh(pred_e / cost)`` in [-1, 1] (a prediction equal to the round-trip cost
  votes 0.76 in its direction);
* reliability ``r_e = max(0, t_e)``: the engine's decayed out-of-sample t statistic
  (``core.gate.engine_reliability``); engines without edge do not vote;
* gate: only engines enabled in the bar's regime vote (``core.gate.regime_gate``); none
  enabled means stand aside;
* correlation cut ``w_e = r_e / (1 + sum_{f != e, r_f > 0} max(0, corr(s_e, s_f)))``: two
  identical engines share one engine's weight instead of counting twice;
* ``S = sum w_e s_e / sum w_e`` in [-1, 1]; ``confidence = |sum w s| / sum w |s|`` (how much
  of the weight agrees);
* adaptive threshold ``thr = base * clip(vol / reference vol, 0.5, 2)`` with ``base`` from the
  risk preset; level strong (|S| >= 1.5 thr), moderate (>= thr), weak (>= 0.5 thr), else
  none. Strong and moderate act (buy / sell); the rest hold.
"""

import json
import math
from dataclasses import asdict, dataclass

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
    regime: str
    votes: dict[str, float]
    weights: dict[str, float]
    kind: (
        str  # "live" (the decision at the day's close) | "simulated" (what the consensus did during the day)
    )

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
    """S and confidence per row of ``votes`` (rows x engines); ``weights`` per engine or per row x engine."""
    weights = np.broadcast_to(np.asarray(weights, dtype=float), votes.shape)
    total = weights.sum(axis=1)
    weighted = (votes * weights).sum(axis=1)
    s = np.clip(np.divide(weighted, total, out=np.zeros(len(votes)), where=total > 0), -1.0, 1.0)
    spread = (np.abs(votes) * weights).sum(axis=1)
    confidence = np.divide(np.abs(weighted), spread, out=np.zeros(len(votes)), where=spread > 0)
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


ACTING_RULE = (
    "act when |tanh(pred_bps / cost_bps)| >= base_threshold * clip(vol_24h_bps / reference_vol_bps, 0.5, 2) "
    "(the consensus's moderate level); buy when pred_bps > 0, sell when pred_bps < 0"
)


@dataclass(frozen=True)
class ActingRule:
    """The rule the consensus acts on, for one engine's prediction: the trade rule of a champion.

    A champion alone is a consensus of one engine, so S = tanh(pred / cost) and the consensus buys
    or sells when |S| reaches the volatility-adaptive threshold (``adaptive_threshold``), with
    ``base_threshold`` from the risk preset and ``reference_vol_bps`` the coin's median 24h
    volatility on the day (what ``consensus`` uses).
    """

    base_threshold: float
    reference_vol_bps: float

    def positions(
        self, pred_bps: np.ndarray, cost_bps: float | np.ndarray, vol_bps: np.ndarray
    ) -> np.ndarray:
        """+1 / -1 / 0 per decision (``pred_bps``, ``vol_bps``: bps per decision; ``cost_bps``: the
        round trip, one for all or each decision's own)."""
        s = np.tanh(np.asarray(pred_bps, dtype=float) / np.maximum(np.asarray(cost_bps, dtype=float), 1e-6))
        threshold = adaptive_threshold(
            np.asarray(vol_bps, dtype=float), self.base_threshold, self.reference_vol_bps
        )
        return np.where(np.abs(s) >= threshold, np.sign(s), 0.0)

    def describe(self, cost_bps: float) -> dict[str, object]:
        """The rule as metadata: its text, its parameters and the smallest prediction that acts (bps)."""
        base = self.base_threshold
        return {
            "rule": ACTING_RULE,
            "base_threshold": base,
            "threshold_range": [0.5 * base, 2.0 * base],
            "reference_vol_bps": self.reference_vol_bps if math.isfinite(self.reference_vol_bps) else None,
            "cost_bps": cost_bps,
            # |pred| >= cost * atanh(threshold): at the reference volatility, and at the extremes of the clip
            "min_abs_pred_bps": cost_bps * math.atanh(base) if base < 1 else None,
            "min_abs_pred_bps_range": [
                cost_bps * math.atanh(t) if t < 1 else None for t in (0.5 * base, 2.0 * base)
            ],
        }


def consensus_path(
    coin: str,
    horizon: str,
    preds: pd.DataFrame,
    regimes: pd.Series,
    vol: pd.Series,
    reliability: dict[str, float],
    gate: dict[str, set[str]],
    *,
    cost_bps: float,
    base_threshold: float,
    reference_vol: float,
    kind: str,
    correlation_votes: pd.DataFrame | None = None,
    acting_only: bool = True,
) -> list[DecisionEvent]:
    """DecisionEvents of the consensus at each row of ``preds`` (index decision_time, one column per engine).

    ``gate``: regime -> enabled engines; ``correlation_votes``: vote history used for the
    correlation cut (default: the votes of ``preds`` itself). With ``acting_only`` only buy/sell
    rows become events.
    """
    if preds.empty:
        return []
    scale = max(cost_bps, 1e-6)
    engines = list(preds.columns)
    votes = np.tanh(preds / scale)
    history = np.tanh(correlation_votes[engines] / scale) if correlation_votes is not None else votes
    base = engine_weights(history, reliability)
    row_regimes = regimes.reindex(preds.index).fillna("range").astype(str).to_numpy()
    mask = np.array([[e in gate.get(r, set()) for e in engines] for r in row_regimes], dtype=float)
    weights = mask * np.array([base[e] for e in engines])[None, :]
    s, confidence = combine(votes.to_numpy(), weights)
    threshold = adaptive_threshold(vol.reindex(preds.index).to_numpy(), base_threshold, reference_vol)
    levels = level_of(s, threshold)
    actions = np.where(np.isin(levels, ("strong", "moderate")), np.where(s > 0, "buy", "sell"), "hold")
    events = []
    for i, t in enumerate(preds.index):
        if acting_only and actions[i] == "hold":
            continue
        events.append(
            DecisionEvent(
                coin=coin,
                time=pd.Timestamp(t).isoformat(),
                horizon=horizon,
                S=round(float(s[i]), 6),
                confidence=round(float(confidence[i]), 6),
                level=str(levels[i]),
                action=str(actions[i]),
                threshold=round(float(threshold[i]), 6),
                regime=str(row_regimes[i]),
                votes={e: round(float(votes.iloc[i][e]), 6) for e in engines},
                weights={e: round(float(weights[i, j]), 6) for j, e in enumerate(engines)},
                kind=kind,
            )
        )
    return events
