"""The UI's partition-status query at the partition budget: 400 coins x ``history_days`` days.

    python -m huracan_assets_tests.benchmarks.bench_partitions [--coins 400] [--days 200] [--materialized 2000]

Builds a temporary instance whose ``coins`` partitions hold N coins, records ``--materialized``
materializations of ``features`` (the newest days, every coin), starts ``dagster-webserver`` on
the repository's workspace with ``HURACAN_HISTORY_DAYS`` set, and times the GraphQL queries the
asset page sends for partition status (``partitionStats`` and ``assetPartitionStatuses``), cold
and warm. Prints one line per query and a last line
``partitions=<n> stats_s=<cold>/<warm> statuses_s=<cold>/<warm>``.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import httpx

from huracan_assets.automation.instance import MINIMAL_DAGSTER_YAML
from huracan_assets_tests.commands import free_port

REPO = Path(__file__).resolve().parents[2]
CLOCK = "2026-12-01T00:00:00Z"

STATS = """query($key: AssetKeyInput!) { assetNodes(assetKeys: [$key]) {
  partitionStats { numMaterialized numPartitions numFailed numMaterializing } } }"""
STATUSES = """query($key: AssetKeyInput!) { assetNodes(assetKeys: [$key]) {
  assetPartitionStatuses { __typename ... on MultiPartitionStatuses { primaryDimensionName
    ranges { primaryDimStartKey primaryDimEndKey secondaryDim { __typename
      ... on DefaultPartitionStatuses { materializedPartitions } } } } } } }"""


def _timed(port: int, query: str) -> tuple[float, dict]:
    started = time.perf_counter()
    response = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": query, "variables": {"key": {"path": ["features"]}}},
        timeout=600,
    )
    seconds = time.perf_counter() - started
    response.raise_for_status()
    body = response.json()
    if "errors" in body:
        raise RuntimeError(body["errors"])
    return seconds, body["data"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--coins", type=int, default=400)
    parser.add_argument("--days", type=int, default=200)
    parser.add_argument("--materialized", type=int, default=2000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="huracan-partitions-"))
    (home / "dagster.yaml").write_text(MINIMAL_DAGSTER_YAML)
    coins = [f"C{i:03d}" for i in range(args.coins)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HURACAN_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(home),
        HURACAN_CLOCK=CLOCK,
        HURACAN_HISTORY_DAYS=str(args.days),
        HURACAN_LOOKBACK_DAYS=str(min(150, args.days - 40)),
    )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("coins", coins)
        started = time.perf_counter()
        last = date(2026, 11, 30)  # the last day CLOCK has closed
        newest = [(last - timedelta(days=i), coin) for i in range(args.days) for coin in coins]
        for day, coin in newest[: args.materialized]:
            key = dg.MultiPartitionKey({"date": day.isoformat(), "symbol": coin})
            instance.report_runless_asset_event(dg.AssetMaterialization("features", partition=key))
        made = min(args.materialized, len(newest))
        print(f"recorded {made} materializations in {time.perf_counter() - started:.1f}s", flush=True)
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-webserver"),
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the webserver did not start")
            time.sleep(0.5)
        # the code location loads lazily: a first query waits for it
        _timed(port, "{ version }")
        stats = [_timed(port, STATS) for _ in range(2)]
        statuses = [_timed(port, STATUSES) for _ in range(2)]
        numbers = stats[0][1]["assetNodes"][0]["partitionStats"]
        print(f"partitionStats: {numbers} cold {stats[0][0]:.2f}s warm {stats[1][0]:.2f}s")
        print(f"assetPartitionStatuses: cold {statuses[0][0]:.2f}s warm {statuses[1][0]:.2f}s")
        print(
            f"partitions={numbers['numPartitions']} stats_s={stats[0][0]:.2f}/{stats[1][0]:.2f} "
            f"statuses_s={statuses[0][0]:.2f}/{statuses[1][0]:.2f}"
        )
        return 0
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    raise SystemExit(main())
