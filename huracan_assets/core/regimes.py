"""Regime of every bar, by a documented rule with thresholds fitted on the training window only.

Thresholds are fitted on the bars a model was trained on (:func:`fit_regime_thresholds`) and
then applied unchanged to any later bar (:func:`classify_regimes`), so classifying an
out-of-sample bar never uses out-of-sample information. For each bar, the first rule that
matches wins:

1. ``panic``    — 24h realised volatility above the training window's 90th percentile;
2. ``illiquid`` — 24h quote volume below ``ILLIQUID_SHARE`` (30%) of the training window's median
   24h quote volume: relative to the coin's own usual volume, not to its own quantiles, so a deep
   market on a quiet day (most of its usual volume) is not illiquid, and a coin whose volume
   collapses is. A percentile rule labelled a tenth of every coin's bars illiquid, BTC's too;
3. ``trend``    — 24h efficiency ratio |sum r| / sum |r| above 0.3;
4. ``range``    — everything else (also bars without enough history).
"""

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

REGIMES = ("trend", "range", "panic", "illiquid")
PANIC_PCT = 0.90
ILLIQUID_SHARE = 0.30
TREND_EFFICIENCY = 0.30


@dataclass(frozen=True)
class RegimeThresholds:
    panic_vol_bps: float  # per-bar 24h realised vol above which a bar is "panic"
    illiquid_quote_volume: float  # 24h quote volume (quote currency) below which a bar is "illiquid"
    trend_efficiency: float = TREND_EFFICIENCY

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def fit_regime_thresholds(features: pd.DataFrame) -> RegimeThresholds:
    """Thresholds of the given (training) rows: the 90th percentile of 24h volatility (bps per
    bar), ``ILLIQUID_SHARE`` of the median 24h quote volume (quote currency)."""
    vol = features["vol_24h_bps"].dropna()
    volume = features["quote_volume_24h"].dropna()
    return RegimeThresholds(
        panic_vol_bps=float(vol.quantile(PANIC_PCT)) if len(vol) else float("inf"),
        illiquid_quote_volume=float(ILLIQUID_SHARE * volume.median()) if len(volume) else 0.0,
    )


def classify_regimes(features: pd.DataFrame, thresholds: RegimeThresholds) -> pd.Series:
    """Regime label per row (needs vol_24h_bps, quote_volume_24h, efficiency_abs_24h)."""
    vol = features["vol_24h_bps"].to_numpy(dtype=float)
    volume = features["quote_volume_24h"].to_numpy(dtype=float)
    efficiency = features["efficiency_abs_24h"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        regime = np.where(
            vol > thresholds.panic_vol_bps,
            "panic",
            np.where(
                volume < thresholds.illiquid_quote_volume,
                "illiquid",
                np.where(efficiency > thresholds.trend_efficiency, "trend", "range"),
            ),
        )
    return pd.Series(regime, index=features.index, name="regime")
