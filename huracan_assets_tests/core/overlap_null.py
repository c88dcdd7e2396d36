"""Null records of overlapping labels, built the way the pipeline builds them, at its record lengths.

Shared by the size test (``test_hac_size.py``) and the size benchmark (``benchmarks/bench_hac_size.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from huracan_assets.config import HuracanSettings


def record_lengths(settings: HuracanSettings) -> dict[str, dict[str, int]]:
    """Decisions in a shadow record and in a cold-start record, per horizon (1h bars by default).

    Shadow (``steps/champions.py``, ``core/shadow.py``): the features of the last ``shadow_days`` days;
    a decision counts from the cut-off plus the embargo (h + fill delay bars) and only once its label
    has resolved by the day's end (h + fill delay bars later): days x bars/day - 2 (h + fill delay).
    Cold start (``core/training.py``): ``cold_start_fraction`` of the look-back window's labelled rows
    (window bars - h - fill delay), as ``purged_walk_forward`` cuts it.
    """
    out: dict[str, dict[str, int]] = {}
    delay = settings.fill_delay_bars
    for horizon, h in settings.horizon_bars.items():
        shadow = settings.champions.shadow_days * settings.bars_per_day - 2 * (h + delay)
        labelled = settings.lookback_days * settings.bars_per_day - h - delay
        cold = labelled - math.floor(labelled * (1 - settings.training.cold_start_fraction))
        out[horizon] = {"shadow": shadow, "cold_start": cold}
    return out


def overlapping_labels(
    rng: np.random.Generator, n_series: int, n: int, h: int, returns: str = "gaussian"
) -> np.ndarray:
    """(n_series, n) labels, each the sum of ``h`` consecutive i.i.d. bar returns (zero mean, unit variance).

    ``returns``: "gaussian", or "laplace" (mildly heavy-tailed: excess kurtosis 3).
    """
    draw: dict[str, Callable[[], np.ndarray]] = {
        "gaussian": lambda: rng.standard_normal((n_series, n + h - 1)),
        "laplace": lambda: rng.laplace(0.0, 1.0 / math.sqrt(2.0), (n_series, n + h - 1)),
    }
    path = np.cumsum(draw[returns](), axis=1)
    path = np.concatenate([np.zeros((n_series, 1)), path], axis=1)
    return path[:, h : h + n] - path[:, :n]


def rejection_rates(
    test: Callable[[np.ndarray, int], np.ndarray],
    *,
    n: int,
    h: int,
    n_series: int,
    seed: int,
    returns: str = "gaussian",
    alphas: tuple[float, ...] = (0.05, 0.01, 0.001),
    chunk: int = 5000,
) -> dict[float, float]:
    """Share of ``n_series`` null records whose one-sided p-value (``test(x, h)`` per row) is below each alpha."""
    rng = np.random.default_rng(seed)
    p_values = []
    for start in range(0, n_series, chunk):
        x = overlapping_labels(rng, min(chunk, n_series - start), n, h, returns)
        p_values.append(test(x, h))
    p = np.concatenate(p_values)
    return {alpha: float(np.mean(p < alpha)) for alpha in alphas}
