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


def hac_mean_test(
    x: np.ndarray, lags: int, alternative: str = "greater", df: float | None = None
) -> tuple[float, float]:
    """t statistic and p-value of H0: mean(x) = 0 with a Newey–West standard error.

    ``alternative``: "greater" (one-sided, mean > 0), "less" or "two-sided". Student t with
    ``df`` degrees of freedom (default n-1; pass fewer for overlapping observations). Returns (nan, 1.0) when there are fewer than 3 observations or
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
    dist = stats.t(df=max(df if df is not None else n - 1, 1.0))
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


def sharpe_per_observation(x: np.ndarray) -> float:
    """Mean / standard deviation of ``x`` (not annualised); NaN with fewer than 3 points or no spread."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 3 or x.std(ddof=1) == 0:
        return float("nan")
    return float(x.mean() / x.std(ddof=1))


def probabilistic_sharpe(sr: float, sr0: float, n: float, skew: float, kurtosis: float) -> float:
    """P(true Sharpe > sr0) given an estimate ``sr`` from ``n`` observations (Bailey & López de Prado 2012).

    ``kurtosis`` is the raw (non-excess) kurtosis; per-observation Sharpe ratios.
    """
    if not (np.isfinite(sr) and n > 1):
        return 0.0
    denominator = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr**2
    if denominator <= 0:
        return 0.0
    return float(stats.norm.cdf((sr - sr0) * math.sqrt(n - 1.0) / math.sqrt(denominator)))


def expected_max_sharpe(sr_variance: float, n_trials: int) -> float:
    """Expected maximum of ``n_trials`` Sharpe estimates under the null (zero true Sharpe), as used by the DSR."""
    if n_trials < 2 or not sr_variance > 0:
        return 0.0
    gamma = 0.5772156649015329  # Euler–Mascheroni
    return math.sqrt(sr_variance) * (
        (1 - gamma) * stats.norm.ppf(1 - 1.0 / n_trials)
        + gamma * stats.norm.ppf(1 - 1.0 / (n_trials * math.e))
    )


def deflated_sharpe(
    x: np.ndarray, n_trials: int, sr_variance: float, n_effective: float | None = None
) -> dict[str, float]:
    """Deflated Sharpe ratio of the returns ``x`` after ``n_trials`` tries (Bailey & López de Prado 2014).

    ``sr_variance``: the variance of the Sharpe estimates across the trials; ``n_effective``: the
    number of independent observations (overlapping trades count less), default ``len(x)``.
    """
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    sr = sharpe_per_observation(x)
    n = float(n_effective if n_effective is not None else len(x))
    sr0 = expected_max_sharpe(sr_variance, n_trials)
    if not np.isfinite(sr):
        return {"sharpe": float("nan"), "sr0": sr0, "dsr": 0.0, "n_effective": n}
    skew = float(stats.skew(x)) if len(x) > 2 else 0.0
    kurtosis = float(stats.kurtosis(x, fisher=False)) if len(x) > 3 else 3.0
    return {
        "sharpe": sr,
        "sr0": sr0,
        "dsr": probabilistic_sharpe(sr, sr0, n, skew, kurtosis),
        "n_effective": n,
    }
