"""Benchmark script (not collected by pytest): one day for 10 and 40 simulated coins.

    python -m huracan_assets_tests.benchmarks.bench_daily [--lookback-days 60]

Runs ``huracan bench --coins N`` for N = 10 and 40 and prints each result's figures.
"""

import argparse
import subprocess
import sys

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--lookback-days", default="60")
    args = parser.parse_args()
    for n in (10, 40):
        print(f"== huracan bench --coins {n}", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "huracan_assets.cli",
                "bench",
                "--coins",
                str(n),
                "--lookback-days",
                args.lookback_days,
            ],
            check=True,
        )
