"""Statistics on serially dependent P&L: HAC (Newey–West) t-tests, FDR control."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def newey_west_variance(x: np.ndarray, lags: int) -> float:
    """Long-run variance of ``x`` with Bartlett weights up to ``lags`` (Newey–West 1987)."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    if n < 2:
        return float("nan")
    e = x - x.mean()
    variance = float(e @ e) / n
    for lag in range(1, min(lags, n - 1) + 1):
        weight = 1.0 - lag / (lags + 1.0)
        variance += 2.0 * weight * float(e[lag:] @ e[:-lag]) / n
    return max(variance, 0.0)


def hac_mean_test(x: np.ndarray, lags: int, alternative: str = "greater") -> tuple[float, float]:
    """t statistic and p-value of H0: mean(x) = 0 with a Newey–West standard error.

    ``alternative``: "greater" (one-sided, mean > 0), "less" or "two-sided". Student t with
    n-1 degrees of freedom. Returns (nan, 1.0) when there are fewer than 3 observations or
    no variation.
    """
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n < 3:
        return float("nan"), 1.0
    variance = newey_west_variance(x, lags)
    if not variance > 0:
        return float("nan"), 1.0
    t = float(x.mean() / math.sqrt(variance / n))
    dist = stats.t(df=n - 1)
    if alternative == "greater":
        p = float(dist.sf(t))
    elif alternative == "less":
        p = float(dist.cdf(t))
    else:
        p = float(2 * dist.sf(abs(t)))
    return t, p


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values); NaN p-values are treated as 1."""
    p = np.nan_to_num(np.asarray(p_values, dtype=float), nan=1.0)
    if len(p) == 0:
        return p
    return stats.false_discovery_control(np.clip(p, 0.0, 1.0), method="bh")
