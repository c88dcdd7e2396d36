"""Statistics on serially dependent P&L: HAC t-tests for overlapping labels, FDR control.

Overlapping labels. A label of horizon ``h`` bars is the sum of ``h`` consecutive bar returns, so
labels (and the per-decision P&L built on them) that start fewer than ``h`` bars apart share
returns: under the null of no edge the series is a moving average of order ``h - 1`` and every
autocovariance beyond lag ``h - 1`` is zero. :func:`hac_mean_test` therefore estimates the
long-run variance with uniform (Hansen–Hodrick 1980) weights on lags ``0 .. h - 1`` — all of the
autocovariance an MA(h-1) has, where Newey–West's Bartlett weights with bandwidth ``h`` keep only
about 70 % of it for overlapping sums.

Small samples. A shadow record of a 1d label holds about 5 independent labels (118 decisions,
h = 24), so the estimate is both biased (it is computed around the sample mean) and noisy. Both
are taken from the exact first two moments of the estimator, a quadratic form in the data, under
the working model "labels are sums of h i.i.d. Gaussian returns" (autocovariance (h - |k|) / h):
the estimate is divided by its expected share of the true variance of the mean (unbiased under
that model), and the t statistic is referred to Student t with Satterthwaite's degrees of freedom
2 E[V]^2 / Var[V]. With h = 1 this is exactly the classical one-sample t-test (s^2 with n - 1,
t(n - 1)). A truncated uniform kernel can give a non-positive estimate; then the test falls back
to Bartlett weights with bandwidth 2h (positive by construction), with its own moments.
Measured sizes at the pipeline's record lengths: README "Statistics", and
``huracan_assets_tests/benchmarks/bench_hac_size.py``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy import sparse

# scipy is imported where it is used: scipy.stats costs every process that loads the code
# location (the daemon, the code server, each run's worker) over a second, and most never test.


def newey_west_variance(x: np.ndarray, lags: int) -> float:
    """Long-run variance of ``x`` with Bartlett weights up to ``lags`` (Newey–West 1987), no small-sample correction."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    if n < 2:
        return float("nan")
    weights = 1.0 - np.arange(1, min(lags, n - 1) + 1) / (lags + 1.0)
    return max(float(_kernel_variance_rows(x[None, :], weights)[0]), 0.0)


def _kernel_variance_rows(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """gamma_0 + 2 sum_k weights[k-1] gamma_k of each row of ``x`` (autocovariances around the row mean, / n)."""
    n = x.shape[1]
    e = x - x.mean(axis=1, keepdims=True)
    variance = np.einsum("ij,ij->i", e, e) / n
    for lag, weight in enumerate(weights, start=1):
        variance += 2.0 * weight * np.einsum("ij,ij->i", e[:, lag:], e[:, :-lag]) / n
    return variance


def _toeplitz_band(n: int, values: np.ndarray) -> sparse.csr_matrix:
    from scipy import sparse

    offsets = range(-(len(values) - 1), len(values))
    return sparse.diags(
        [np.full(n - abs(o), values[abs(o)]) for o in offsets], list(offsets), shape=(n, n), format="csr"
    )


@lru_cache(maxsize=256)
def _overlap_moments(n: int, horizon_bars: int, weights: tuple[float, ...]) -> tuple[float, float]:
    """(share, df) of the kernel estimate with ``weights`` on ``n`` overlapping ``horizon_bars`` labels.

    Under Gaussian labels with autocovariance (h - |k|) / h the estimate V = e'We / n (e the demeaned
    data, W the Toeplitz weight matrix) is a quadratic form: E[V] = tr(PWP S) / n and
    Var[V] = 2 tr((PWP S)^2) / n^2 with P = I - 11'/n and S the labels' covariance. ``share`` is
    E[V] / (1'S1 / n), the expected fraction of n Var(mean) the estimate recovers; ``df`` is
    Satterthwaite's 2 E[V]^2 / Var[V]. W and S are banded and P is a rank-one change of I, so both
    traces cost O(n h bandwidth) instead of O(n^3).
    """
    h = min(horizon_bars, n)
    w = _toeplitz_band(n, np.concatenate([[1.0], weights])[:n])
    s = _toeplitz_band(n, (h - np.arange(h)) / h)
    one = np.ones(n)
    s1, w1 = s @ one, w @ one
    sigma, omega = float(s1.sum()), float(w1.sum())
    ws = (w @ s).tocsr()
    expected = (ws.diagonal().sum() - 2.0 * float(w1 @ s1) / n + sigma * omega / n**2) / n
    # PWP S = WS + U V' with the two rank-one corrections below
    u = np.column_stack([w1, one])
    v = np.column_stack([-s1 / n, -(s @ w1) / n + omega * s1 / n**2])
    vu = v.T @ u
    trace_sq = ws.multiply(ws.T).sum() + 2.0 * np.trace(v.T @ (ws @ u)) + np.trace(vu @ vu)
    variance = 2.0 * float(trace_sq) / n**2
    if not (variance > 0 and expected > 0):
        # a record no longer than its horizon: the demeaned estimate recovers nothing (no test: p = 1)
        return float("nan"), float("nan")
    return expected / (sigma / n), 2.0 * expected**2 / variance


def _uniform_weights(horizon_bars: int, n: int) -> tuple[float, ...]:
    return (1.0,) * min(max(horizon_bars - 1, 0), n - 1)


def _bartlett_weights(bandwidth: int, n: int) -> tuple[float, ...]:
    return tuple(1.0 - lag / (bandwidth + 1.0) for lag in range(1, min(bandwidth, n - 1) + 1))


def hac_mean_tests(
    x: np.ndarray, horizon_bars: int, alternative: str = "greater"
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`hac_mean_test` on every row of ``x`` (shape (series, n), all finite) at once.

    Returns (t, p), each of shape (series,); rows with no variation get (nan, 1.0).
    """
    from scipy import stats

    x = np.atleast_2d(np.asarray(x, dtype=float))
    n = x.shape[1]
    h = max(int(horizon_bars), 1)
    if n < 3:
        return np.full(len(x), np.nan), np.ones(len(x))
    uniform, bartlett = _uniform_weights(h, n), _bartlett_weights(2 * h, n)
    variance = _kernel_variance_rows(x, np.array(uniform))
    share, df = np.full(len(x), np.nan), np.full(len(x), np.nan)
    ok = variance > 1e-12 * np.einsum("ij,ij->i", x, x) / n
    share[ok], df[ok] = _overlap_moments(n, h, uniform)
    if not ok.all():  # the truncated uniform kernel is not positive definite: Bartlett at 2h is
        fallback = ~ok
        variance[fallback] = _kernel_variance_rows(x[fallback], np.array(bartlett))
        share[fallback], df[fallback] = _overlap_moments(n, h, bartlett)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = x.mean(axis=1) / np.sqrt(variance / share / n)
    valid = np.isfinite(t) & (variance > 0)
    t = np.where(valid, t, np.nan)
    dist = stats.t(df=np.maximum(np.nan_to_num(df, nan=1.0), 1.0))
    if alternative == "greater":
        p = dist.sf(t)
    elif alternative == "less":
        p = dist.cdf(t)
    else:
        p = 2 * dist.sf(np.abs(t))
    return t, np.where(valid, p, 1.0)


def hac_mean_test(x: np.ndarray, horizon_bars: int, alternative: str = "greater") -> tuple[float, float]:
    """t statistic and p-value of H0: mean(x) = 0 for a series of overlapping ``horizon_bars``-bar labels.

    Uniform weights on lags 0 .. h-1, unbiased and referred to Student t with Satterthwaite's
    degrees of freedom under the overlap model (module docstring); Bartlett at 2h when the uniform
    estimate is not positive. ``horizon_bars`` = 1 is the classical one-sample t-test.
    ``alternative``: "greater" (one-sided, mean > 0), "less" or "two-sided". Non-finite values are
    dropped. Returns (nan, 1.0) with fewer than 3 observations or no variation.
    """
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 3:
        return float("nan"), 1.0
    t, p = hac_mean_tests(x[None, :], horizon_bars, alternative)
    return float(t[0]), float(p[0])


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values); NaN p-values are treated as 1."""
    from scipy import stats

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
    from scipy import stats

    if not (np.isfinite(sr) and n > 1):
        return 0.0
    denominator = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr**2
    if denominator <= 0:
        return 0.0
    return float(stats.norm.cdf((sr - sr0) * math.sqrt(n - 1.0) / math.sqrt(denominator)))


def expected_max_sharpe(sr_variance: float, n_trials: int) -> float:
    """Expected maximum of ``n_trials`` Sharpe estimates under the null (zero true Sharpe), as used by the DSR."""
    from scipy import stats

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
    from scipy import stats

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
