"""Regime of every bar, by a documented rule on trailing percentiles (no look-ahead).

For each bar, percentiles are taken against the coin's own trailing ``window_days``:

1. ``panic``    — 24h realised volatility above its 90th percentile;
2. ``illiquid`` — 24h quote volume below its 10th percentile;
3. ``trend``    — 24h efficiency ratio |sum r| / sum |r| above 0.3;
4. ``range``    — everything else.

The first rule that matches wins. Rows without enough history are ``range``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REGIMES = ("trend", "range", "panic", "illiquid")
PANIC_PCT = 0.90
ILLIQUID_PCT = 0.10
TREND_EFFICIENCY = 0.30


def classify_regimes(features: pd.DataFrame, bars_per_day: int, window_days: int = 30) -> pd.Series:
    """Regime label per row of ``features`` (needs vol_24h_bps, quote_volume_24h, efficiency_abs_24h)."""
    window = max(bars_per_day * window_days, 10)
    min_periods = max(bars_per_day * 3, 5)
    vol_pct = features["vol_24h_bps"].rolling(window, min_periods=min_periods).rank(pct=True)
    volume_pct = features["quote_volume_24h"].rolling(window, min_periods=min_periods).rank(pct=True)
    regime = np.where(
        vol_pct > PANIC_PCT,
        "panic",
        np.where(
            volume_pct < ILLIQUID_PCT,
            "illiquid",
            np.where(features["efficiency_abs_24h"] > TREND_EFFICIENCY, "trend", "range"),
        ),
    )
    return pd.Series(regime, index=features.index, name="regime")
