"""Benchmark script (not collected by pytest): null size of the HAC test, before and after issue 10.

    python -m huracan_assets_tests.benchmarks.bench_hac_size [--series 50000] [--seeds 1 2 3]

For each horizon at the pipeline's shadow and cold-start record lengths, simulates ``--series``
null records of overlapping labels (sums of h i.i.d. Gaussian bar returns) per seed and prints the
one-sided rejection rate at alpha = 0.05 / 0.01 / 0.001 of the old test (Newey–West, Bartlett
weights with bandwidth h, t with n / h - 1 degrees of freedom) and of today's ``hac_mean_tests``.
Monte Carlo standard error of a rate near alpha: sqrt(alpha / series) (0.0001 at 0.001, 50,000 series).
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import stats

from huracan_assets.config import load_settings
from huracan_assets.core.stats import hac_mean_tests
from huracan_assets_tests.core.overlap_null import overlapping_labels, record_lengths

ALPHAS = (0.05, 0.01, 0.001)


def old_bartlett_p(x: np.ndarray, h: int) -> np.ndarray:
    """The test before issue 10: Bartlett weights 1 - k / (h + 1) on lags 1..h, t(n / h - 1)."""
    n = x.shape[1]
    e = x - x.mean(axis=1, keepdims=True)
    variance = np.einsum("ij,ij->i", e, e) / n
    for lag in range(1, min(h, n - 1) + 1):
        variance += 2 * (1 - lag / (h + 1)) * np.einsum("ij,ij->i", e[:, lag:], e[:, :-lag]) / n
    t = x.mean(axis=1) / np.sqrt(np.maximum(variance, 1e-300) / n)
    return stats.t(df=max(n / h - 1, 1.0)).sf(t)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=50_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    settings = load_settings()
    lengths = record_lengths(settings)
    print(
        "| horizon | record | n | seed | old 0.05 | old 0.01 | old 0.001 | new 0.05 | new 0.01 | new 0.001 |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for horizon, h in settings.horizon_bars.items():
        for kind, n in lengths[horizon].items():
            for seed in args.seeds:
                rng = np.random.default_rng(seed)
                old, new = [], []
                for start in range(0, args.series, 5000):
                    x = overlapping_labels(rng, min(5000, args.series - start), n, h)
                    old.append(old_bartlett_p(x, h))
                    new.append(hac_mean_tests(x, h, alternative="greater")[1])
                rates = [np.mean(np.concatenate(p) < a) for p in (old, new) for a in ALPHAS]
                print(
                    f"| {horizon} | {kind} | {n} | {seed} | " + " | ".join(f"{r:.4f}" for r in rates) + " |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
