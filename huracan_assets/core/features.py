"""Feature families, computed per coin on a continuous bar grid.

Windows are declared in hours and converted to bars, so 1h and 5m bars compute the same
quantities. Every feature at bar ``t`` uses only candles that closed at or before ``t``'s
close. Rows of a dropped day are NaN (CatBoost treats NaN as missing); a feature that needs
more history than exists is NaN until it has it.

``features_hash`` = SHA-256 of the feature specification (names, families, windows) and of the
source of this module, so any change to what or how we compute changes the hash.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from huracan_assets.core.hashing import json_hash, source_hash

FAMILIES = ("momentum", "mean_reversion", "breakout", "flow")


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    family: str
    window_h: float  # look-back in hours (0 = the current bar only)
    description: str


def _spec() -> list[FeatureSpec]:
    out = []
    for w in (1, 4, 12, 24):
        out.append(FeatureSpec(f"mom_{w}h", "momentum", w, f"log return over {w}h / (vol_24h * sqrt(bars))"))
    out.append(
        FeatureSpec("efficiency_24h", "momentum", 24, "|sum r| / sum |r| over 24h, signed by direction")
    )
    for w in (12, 48):
        out.append(
            FeatureSpec(f"ema_gap_{w}h", "mean_reversion", w, f"(log close - EMA{w}h(log close)) / vol_24h")
        )
    out.append(FeatureSpec("rsi_14", "mean_reversion", 14, "Wilder RSI over 14 bars, centred: (RSI-50)/50"))
    out.append(FeatureSpec("bollinger_24h", "mean_reversion", 24, "(close - SMA24h) / std24h"))
    out.append(FeatureSpec("wick_imbalance", "breakout", 0, "(lower wick - upper wick) / (high - low)"))
    out.append(FeatureSpec("wick_imbalance_4h", "breakout", 4, "mean wick imbalance over 4h"))
    out.append(
        FeatureSpec("range_pos_24h", "breakout", 24, "(close - min low) / (max high - min low) over 24h")
    )
    out.append(FeatureSpec("vol_ratio_4h_24h", "breakout", 24, "realised vol 4h / realised vol 24h"))
    out.append(FeatureSpec("parkinson_ratio_24h", "breakout", 24, "Parkinson high-low vol / close-close vol"))
    out.append(FeatureSpec("taker_ratio", "flow", 0, "taker-buy base volume / volume of the bar"))
    out.append(FeatureSpec("taker_ratio_4h", "flow", 4, "taker-buy ratio over 4h"))
    out.append(FeatureSpec("taker_ratio_z_24h", "flow", 24, "z-score of the bar's taker-buy ratio vs 24h"))
    out.append(FeatureSpec("volume_z_24h", "flow", 24, "z-score of log volume vs 24h"))
    out.append(FeatureSpec("quote_volume_ratio_4h_24h", "flow", 24, "quote volume 4h / (24h / 6)"))
    return out


FEATURE_SPEC: tuple[FeatureSpec, ...] = tuple(_spec())
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURE_SPEC)
# helper columns carried with the features (not model inputs): used by labels, costs, regimes
CONTEXT_COLUMNS = ("close", "vol_24h_bps", "quote_volume_24h", "efficiency_abs_24h", "spread_bps")


def family_features(family: str) -> list[str]:
    names = [f.name for f in FEATURE_SPEC if f.family == family]
    if not names:
        raise KeyError(f"unknown feature family {family!r}; known: {FAMILIES}")
    return names


def features_hash() -> str:
    spec = [(f.name, f.family, f.window_h) for f in FEATURE_SPEC]
    return json_hash({"spec": spec, "code": source_hash([sys.modules[__name__]])})


def max_window_hours() -> float:
    return max(f.window_h for f in FEATURE_SPEC) * 1.5  # EMA tails and warm-up


def compute_features(bars: pd.DataFrame, bar: timedelta) -> pd.DataFrame:
    """Features for every bar of ``bars`` (one coin, columns of validated bars, any order).

    The frame is reindexed to the full grid between its first and last bar so windows span
    wall-clock time. Returns a frame indexed by ``open_time`` (UTC) with ``FEATURE_NAMES`` and
    ``CONTEXT_COLUMNS``; rows exist only for bars present in the input.
    """
    if bars.empty:
        return pd.DataFrame(columns=[*FEATURE_NAMES, *CONTEXT_COLUMNS], index=pd.DatetimeIndex([], tz="UTC"))
    present = pd.DatetimeIndex(bars["open_time"]).sort_values()
    frame = bars.set_index("open_time").sort_index()
    frame = frame.reindex(pd.date_range(present[0], present[-1], freq=bar))
    bars_per_hour = timedelta(hours=1) / bar

    def n(hours: float) -> int:
        return max(1, int(round(hours * bars_per_hour)))

    close = frame["close"]
    log_close = np.log(close)
    ret = log_close.diff()
    vol_24 = ret.rolling(n(24), min_periods=n(12)).std()
    out: dict[str, pd.Series] = {}
    for w in (1, 4, 12, 24):
        out[f"mom_{w}h"] = (log_close - log_close.shift(n(w))) / (vol_24 * np.sqrt(n(w)))
    abs_sum = ret.abs().rolling(n(24), min_periods=n(12)).sum()
    signed_sum = ret.rolling(n(24), min_periods=n(12)).sum()
    out["efficiency_24h"] = signed_sum / abs_sum
    for w in (12, 48):
        ema = log_close.ewm(span=n(w), min_periods=n(w), adjust=False).mean()
        out[f"ema_gap_{w}h"] = (log_close - ema) / vol_24
    out["rsi_14"] = _rsi(close, 14)
    sma = close.rolling(n(24), min_periods=n(12)).mean()
    std = close.rolling(n(24), min_periods=n(12)).std()
    out["bollinger_24h"] = (close - sma) / std

    high, low, open_ = frame["high"], frame["low"], frame["open"]
    span = (high - low).where(lambda s: s > 0)
    lower_wick = np.minimum(open_, close) - low
    upper_wick = high - np.maximum(open_, close)
    imbalance = (lower_wick - upper_wick) / span
    out["wick_imbalance"] = imbalance
    out["wick_imbalance_4h"] = imbalance.rolling(n(4), min_periods=1).mean()
    hh = high.rolling(n(24), min_periods=n(12)).max()
    ll = low.rolling(n(24), min_periods=n(12)).min()
    out["range_pos_24h"] = (close - ll) / (hh - ll).where(lambda s: s > 0)
    vol_4 = ret.rolling(n(4), min_periods=max(2, n(4) // 2)).std()
    out["vol_ratio_4h_24h"] = vol_4 / vol_24
    parkinson = np.sqrt((np.log(high / low) ** 2).rolling(n(24), min_periods=n(12)).mean() / (4 * np.log(2)))
    out["parkinson_ratio_24h"] = parkinson / vol_24

    volume = frame["volume"]
    taker = (frame["taker_buy_base"] / volume.where(volume > 0)).clip(0, 1)
    out["taker_ratio"] = taker
    out["taker_ratio_4h"] = frame["taker_buy_base"].rolling(n(4), min_periods=1).sum() / volume.rolling(
        n(4), min_periods=1
    ).sum().where(lambda s: s > 0)
    out["taker_ratio_z_24h"] = (taker - taker.rolling(n(24), min_periods=n(12)).mean()) / taker.rolling(
        n(24), min_periods=n(12)
    ).std()
    log_vol = np.log(volume.where(volume > 0))
    out["volume_z_24h"] = (log_vol - log_vol.rolling(n(24), min_periods=n(12)).mean()) / log_vol.rolling(
        n(24), min_periods=n(12)
    ).std()
    qv = frame["quote_volume"]
    qv_24 = qv.rolling(n(24), min_periods=n(12)).sum()
    out["quote_volume_ratio_4h_24h"] = qv.rolling(n(4), min_periods=1).sum() / (qv_24 / 6).where(
        lambda s: s > 0
    )

    out["close"] = close
    out["vol_24h_bps"] = vol_24 * 1e4
    out["quote_volume_24h"] = qv_24
    out["efficiency_abs_24h"] = out["efficiency_24h"].abs()
    # the bar's own day's spread (bps), as the bars carry it: what a decision at this bar pays
    out["spread_bps"] = frame["spread_bps"] if "spread_bps" in frame else pd.Series(np.nan, index=frame.index)
    features = pd.DataFrame(out).replace([np.inf, -np.inf], np.nan)
    features = features.loc[features.index.isin(present)]
    features.index.name = "open_time"
    return features[[*FEATURE_NAMES, *CONTEXT_COLUMNS]].astype("float64")


def _rsi(close: pd.Series, length: int) -> pd.Series:
    delta = close.diff()
    gain = delta.clip(lower=0).ewm(alpha=1 / length, min_periods=length, adjust=False).mean()
    loss = (-delta.clip(upper=0)).ewm(alpha=1 / length, min_periods=length, adjust=False).mean()
    rs = gain / loss.where(loss > 0)
    rsi = 100 - 100 / (1 + rs)
    return (rsi.fillna(100.0).where(gain.notna()) - 50) / 50


FeatureFunction = Callable[[pd.DataFrame, timedelta], pd.DataFrame]
