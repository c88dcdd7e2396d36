"""Shadow records: a trained model's predictions on the bars that arrived after it was trained.

A model's record counts only decisions at or after its cut-off plus its embargo (horizon +
execution latency), and only labels that have resolved by the evaluation day's end. Regime
labels of those bars use the thresholds fitted on the model's own training window.
"""

from collections.abc import Callable

import numpy as np
import pandas as pd

from huracan_assets.core.regimes import RegimeThresholds, classify_regimes

SHADOW = "shadow"
RECORD_COLUMNS = [
    "decision_time",
    "pred_bps",
    "label_bps",
    "vol_24h_bps",
    "regime",
    "quote_volume_24h",
    "spread_bps",
]


def shadow_record(
    predict: Callable[[pd.DataFrame], np.ndarray],
    feature_names: list[str],
    features: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    horizon: str,
    cutoff: pd.Timestamp,
    embargo: pd.Timedelta,
    thresholds: RegimeThresholds,
) -> pd.DataFrame:
    """decision_time, pred_bps, label_bps, vol_24h_bps, regime, quote_volume_24h, spread_bps for the
    model's out-of-sample decisions.

    ``features``: indexed by decision time; ``labels``: long labels that resolved by the day's end.
    """
    joined = joined_by_horizon(features, labels[labels["horizon"] == horizon]).get(horizon)
    if joined is None:
        return pd.DataFrame(columns=RECORD_COLUMNS)
    return shadow_from_joined(
        predict,
        feature_names,
        joined,
        cutoff=cutoff,
        embargo=embargo,
        regimes=classify_regimes(joined, thresholds),
    )


def joined_by_horizon(features: pd.DataFrame, labels: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Feature rows joined with each horizon's resolved label, once for every model that will be scored."""
    out = {}
    for horizon, lab in labels.groupby("horizon"):
        rows = features.join(lab.set_index("decision_time")[["fwd_return_bps"]], how="inner")
        out[str(horizon)] = rows.sort_index()
    return out


def shadow_from_joined(
    predict: Callable[[pd.DataFrame], np.ndarray],
    feature_names: list[str],
    joined: pd.DataFrame,
    *,
    cutoff: pd.Timestamp,
    embargo: pd.Timedelta,
    regimes: pd.Series,
) -> pd.DataFrame:
    """:func:`shadow_record` on a pre-joined table with the regimes already classified (same output)."""
    rows = joined.loc[joined.index >= cutoff + embargo]
    if rows.empty:
        return pd.DataFrame(columns=RECORD_COLUMNS)
    return pd.DataFrame(
        {
            "decision_time": rows.index,
            "pred_bps": predict(rows[feature_names]),
            "label_bps": rows["fwd_return_bps"].to_numpy(),
            "vol_24h_bps": rows["vol_24h_bps"].to_numpy(),
            "regime": regimes.reindex(rows.index).to_numpy(),
            # the decision's own cost inputs (core/costs.py, DecisionCosts)
            "quote_volume_24h": _column(rows, "quote_volume_24h"),
            "spread_bps": _column(rows, "spread_bps"),
        }
    )


def _column(rows: pd.DataFrame, name: str) -> np.ndarray:
    return rows[name].to_numpy(dtype=float) if name in rows else np.full(len(rows), np.nan)
