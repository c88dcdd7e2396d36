"""The bid/ask spread of a coin-day when no quote is available: the EDGE estimate from candles.

EDGE (Ardia, Guidotti & Kroencke, "Efficient estimation of bid-ask spreads from open, high, low,
and close prices", JFE 2024) estimates the squared effective spread from two moment conditions
on consecutive candles' open/high/low/close, combined with weights that minimise the variance.
The point estimate is the reference implementation's (``bidask.edge``). It is most accurate on
fine candles: the noise of the estimate grows with the candles' own volatility, so a 1-minute
day (1,440 candles) resolves spreads of a few bps where an hourly day (24 candles) reads tens of
bps of pure noise. The universe therefore uses the finest candles it has for the day and never
excludes a coin on a noisy estimate: only the estimate's lower bound (``EDGE_Z`` standard errors
below the point estimate) is compared with ``max_spread_bps``.

Floor: a spread is at least one price tick (``tickSize`` of the market's ``PRICE_FILTER``): a
book cannot quote tighter, and EDGE reads zero (or a negative square) for markets whose spread
is far below the candles' noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import bidask
import numpy as np
import pandas as pd

# standard errors between the estimate and the lower bound that eligibility uses: at 3, a coin
# with no spread at all is excluded by noise on about one day in 700
EDGE_Z = 3.0
MIN_CANDLES = 10  # fewer candles in the day: no estimate


@dataclass(frozen=True)
class SpreadEstimate:
    """One coin-day's estimated spread, in bps of the mid price.

    ``spread_bps``: max(EDGE point estimate, one tick); ``lower_bps``: max(the one-sided lower
    bound, one tick); both NaN when the candles do not allow an estimate. ``candles``: the
    interval of the candles used ("1m", "1h"); ``n_candles``: how many.
    """

    spread_bps: float
    lower_bps: float
    candles: str
    n_candles: int
    tick_bps: float

    @property
    def source(self) -> str:
        return f"edge:{self.candles}"


def edge_squared_spread(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray
) -> tuple[float, float]:
    """(s², standard error of s²): EDGE's signed squared spread (fraction²) and its sampling error.

    s² is ``bidask.edge(..., sign=True)`` squared with its sign. The standard error re-derives the
    estimator's two moment series (the paper's eq. 13-14, as ``bidask.edge`` computes them),
    combines them with the estimator's own weights and takes a Newey-West variance with one lag
    (consecutive terms share a candle). NaN, NaN when EDGE has no estimate.
    """
    signed = bidask.edge(open_, high, low, close, sign=True)
    if not np.isfinite(signed):
        return float("nan"), float("nan")
    o, h, lo, c = (np.log(np.asarray(a, dtype=float)) for a in (open_, high, low, close))
    m = (h + lo) / 2.0
    h1, l1, c1, m1 = h[:-1], lo[:-1], c[:-1], m[:-1]
    o, h, lo, c, m = o[1:], h[1:], lo[1:], c[1:], m[1:]
    r1, r2, r3, r4, r5 = m - o, o - m1, m - c1, c1 - m1, o - c1
    with np.errstate(invalid="ignore"):
        tau = np.where(np.isnan(h) | np.isnan(lo) | np.isnan(c1), np.nan, (h != lo) | (lo != c1))
        po = np.nanmean(tau * (o != h)) + np.nanmean(tau * (o != lo))
        pc = np.nanmean(tau * (c1 != h1)) + np.nanmean(tau * (c1 != l1))
        pt = np.nanmean(tau)
        d1 = r1 - np.nanmean(r1) / pt * tau
        d3 = r3 - np.nanmean(r3) / pt * tau
        d5 = r5 - np.nanmean(r5) / pt * tau
        x1 = -4.0 / po * d1 * r2 - 4.0 / pc * d3 * r4
        x2 = -4.0 / po * d1 * r5 - 4.0 / pc * d5 * r4
    v1, v2 = np.nanvar(x1), np.nanvar(x2)
    w1, w2 = (v2 / (v1 + v2), v1 / (v1 + v2)) if v1 + v2 > 0 else (0.5, 0.5)
    y = w1 * x1 + w2 * x2
    y = y[np.isfinite(y)] - np.nanmean(y)
    n = len(y)
    if n < 3:
        return float(signed * abs(signed)), float("nan")
    gamma0 = float(np.mean(y * y))
    gamma1 = float(np.mean(y[1:] * y[:-1]))
    variance = max(gamma0 + 2 * gamma1, gamma0 / n) / n
    return float(signed * abs(signed)), float(np.sqrt(variance))


def edge_spread(candles: pd.DataFrame, interval: str, tick_size: float = float("nan")) -> SpreadEstimate:
    """EDGE on one day's candles (``open_time``, ``open``, ``high``, ``low``, ``close``; any order).

    Invalid candles (non-positive prices, high < low) are dropped, duplicates keep the last, and
    the candles are laid on the ``interval`` grid so that a pair across a gap is not a pair.
    ``tick_size`` (quote currency, NaN: unknown) floors the estimate at one tick of the day's last price.
    """
    if candles is None or candles.empty:
        return SpreadEstimate(float("nan"), float("nan"), interval, 0, float("nan"))
    frame = candles[["open_time", "open", "high", "low", "close"]].copy()
    for column in ("open", "high", "low", "close"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    prices = frame[["open", "high", "low", "close"]]
    valid = (prices > 0).all(axis=1) & (frame["high"] >= frame["low"])
    frame = frame[valid].sort_values("open_time").drop_duplicates("open_time", keep="last")
    n = len(frame)
    last = float(frame["close"].iloc[-1]) if n else float("nan")
    tick_bps = tick_size / last * 1e4 if n and np.isfinite(tick_size) and tick_size > 0 else float("nan")
    if n < MIN_CANDLES:
        return SpreadEstimate(float("nan"), float("nan"), interval, n, tick_bps)
    step = pd.Timedelta(interval)
    times = pd.to_datetime(frame["open_time"], utc=True)
    grid = pd.date_range(times.min(), times.max(), freq=step)
    on_grid = frame.set_index(times)[["open", "high", "low", "close"]].reindex(grid)
    s2, se = edge_squared_spread(*(on_grid[c].to_numpy() for c in ("open", "high", "low", "close")))
    floor = tick_bps if np.isfinite(tick_bps) else 0.0
    if not np.isfinite(s2):
        return SpreadEstimate(float("nan"), float("nan"), interval, n, tick_bps)
    point = float(np.sqrt(max(s2, 0.0)) * 1e4)
    bound = s2 - EDGE_Z * se if np.isfinite(se) else s2
    lower = float(np.sqrt(max(bound, 0.0)) * 1e4)
    return SpreadEstimate(max(point, floor), max(lower, floor), interval, n, tick_bps)


def tick_from_prices(prices: np.ndarray) -> float:
    """A price tick read off the price grid (where no ``exchangeInfo`` is known: archives).

    The smallest positive gap between distinct prices, rounded down to a power of ten (Binance's
    ticks are powers of ten); NaN with fewer than two distinct prices.
    """
    values = np.unique(np.asarray(prices, dtype=float))
    values = values[np.isfinite(values) & (values > 0)]
    if len(values) < 2:
        return float("nan")
    gap = float(np.diff(values).min())
    return float(10.0 ** np.floor(np.log10(gap))) if gap > 0 else float("nan")
