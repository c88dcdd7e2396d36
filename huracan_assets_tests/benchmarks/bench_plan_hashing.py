"""Benchmark script (not collected by pytest): what the day's plan would pay to hash its window.

    python -m huracan_assets_tests.benchmarks.bench_plan_hashing STORAGE [--passes 2]

``STORAGE`` is an instance's ``storage/huracan`` folder (a default day's: 27 coins x 155 days).
Over every ``validated_bars``, ``features`` and ``labels`` partition file it times the plan's
check today (``looks_whole``: one ``stat`` and an 8-byte read) and a full check (read the file
and verify it as a read does: digest, partition, footer). The later passes run on a warm page
cache, as a daily run's plan would.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from huracan_assets.stores.files import CorruptPartitionError, looks_whole, verified_partition_file

ASSETS = ("validated_bars", "features", "labels")


def files(root: Path) -> list[tuple[str, str, Path]]:
    out = []
    for asset in ASSETS:
        for path in sorted((root / asset).glob("date=*/symbol=*/data.parquet")):
            day, coin = (
                path.parent.parent.name.removeprefix("date="),
                path.parent.name.removeprefix("symbol="),
            )
            out.append((asset, f"{day}|{coin}", path))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("storage", type=Path)
    parser.add_argument("--passes", type=int, default=2)
    args = parser.parse_args()
    found = files(args.storage)
    for number in range(1, args.passes + 1):
        started = time.perf_counter()
        whole = sum(looks_whole(path) for _, _, path in found)
        tail_s = time.perf_counter() - started
        started, size, refused = time.perf_counter(), 0, 0
        for asset, partition, path in found:
            data = path.read_bytes()
            size += len(data)
            try:
                verified_partition_file(data, path, asset, partition)
            except CorruptPartitionError:
                refused += 1
        full_s = time.perf_counter() - started
        print(
            f"pass={number} files={len(found)} bytes={size} whole={whole} tail_check_s={tail_s:.2f} "
            f"full_check_s={full_s:.2f} refused={refused}"
        )


if __name__ == "__main__":
    main()
