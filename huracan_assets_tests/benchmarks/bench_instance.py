"""Benchmark script (not collected by pytest): the instance's write cost, SQLite against PostgreSQL.

    python -m huracan_assets_tests.benchmarks.bench_instance [--coins 4] [--lookback-days 10] [--dir /tmp]

Runs the same ``huracan daily`` (small training settings, as the acceptance tests) on a fresh
SQLite instance (``dagster_home/dagster.yaml``) and on a fresh PostgreSQL instance
(``deploy/dagster.yaml``, a throw-away server with its default durability), both under ``--dir``
(one filesystem for both). For each it prints the command's wall time, the events and partitions
written, the bytes the instance grew by (the SQLite files; ``pg_database_size`` less the empty
database), and the cost of one event write measured alone (``report_runless_asset_event``).
"""

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from huracan_assets.automation.local_daemon import BIN, REPO, environment
from huracan_assets_tests.commands import SMALL
from huracan_assets_tests.postgres_server import PostgresServer, start_postgres

DAY = "2025-11-20"
WRITES = 300


def sqlite_bytes(home: Path) -> int:
    return sum(p.stat().st_size for folder in ("history", "schedules") for p in (home / folder).rglob("*"))


@contextmanager
def instance_env(variables: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def measure(kind: str, root: Path, coins: int, lookback: int, server: PostgresServer | None) -> dict:
    home = root / kind / "dagster_home"
    home.mkdir(parents=True)
    source = REPO / ("deploy" if server else "dagster_home") / "dagster.yaml"
    shutil.copy(source, home / "dagster.yaml")
    pg = server.environment() if server else {}
    with instance_env({**pg, "DAGSTER_HOME": str(home)}), dg.DagsterInstance.from_config(str(home)):
        empty = server.database_bytes() if server else sqlite_bytes(home)
    sessions = server.sessions() if server else 0
    env = {**environment(home, **SMALL, PUBLISHER__EXPORT_ROOT=str(root / kind / "exports")), **pg}
    command = ["daily", "--date", DAY, "--coins", str(coins), "--lookback-days", str(lookback)]
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "huracan"), *command], cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{kind}: huracan daily failed\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    grown = (server.database_bytes() if server else sqlite_bytes(home)) - empty
    connections = server.sessions() - sessions if server else 0
    with (
        instance_env({**pg, "DAGSTER_HOME": str(home)}),
        dg.DagsterInstance.from_config(str(home)) as instance,
    ):
        logs = [event for run in instance.get_runs() for event in instance.all_logs(run.run_id)]
        partitions = sum(1 for e in logs if e.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION)
        sessions = server.sessions() if server else 0
        started = time.perf_counter()
        for i in range(WRITES):
            instance.report_runless_asset_event(dg.AssetMaterialization("bench_write", partition=f"p{i}"))
        write_ms = (time.perf_counter() - started) / WRITES * 1000
        write_connections = (server.sessions() - sessions) / WRITES if server else 0
    return {
        "kind": kind,
        "wall_s": wall,
        "events": len(logs),
        "partitions": partitions,
        "events_per_partition": len(logs) / partitions,
        "bytes_per_partition": grown / partitions,
        "connections": connections,
        "ms_per_event_write": write_ms,
        "connections_per_write": write_connections,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--coins", type=int, default=4)
    parser.add_argument("--lookback-days", type=int, default=10)
    parser.add_argument("--dir", default=None, help="where both instances live (default: the temp folder)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="huracan-bench-instance-", dir=args.dir))
    root.chmod(0o755)  # the PostgreSQL server's user keeps its data here too
    server = start_postgres(root / "postgres", durable=True)
    try:
        results = [
            measure("sqlite", root, args.coins, args.lookback_days, None),
            measure("postgres", root, args.coins, args.lookback_days, server),
        ]
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"huracan daily --date {DAY} --coins {args.coins} --lookback-days {args.lookback_days}, small training"
    )
    print(
        "| instance | wall s | events | partitions | events/partition | bytes/partition "
        "| connections | ms per event write | connections per write |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['kind']} | {r['wall_s']:.1f} | {r['events']} | {r['partitions']} | "
            f"{r['events_per_partition']:.1f} | {r['bytes_per_partition']:,.0f} | {r['connections']} | "
            f"{r['ms_per_event_write']:.1f} | {r['connections_per_write']:.1f} |"
        )
    sqlite, postgres = results
    print(
        f"sqlite_s={sqlite['wall_s']:.1f} postgres_s={postgres['wall_s']:.1f} "
        f"sqlite_bytes_per_partition={sqlite['bytes_per_partition']:.0f} "
        f"postgres_bytes_per_partition={postgres['bytes_per_partition']:.0f} "
        f"sqlite_ms_per_event={sqlite['ms_per_event_write']:.1f} "
        f"postgres_ms_per_event={postgres['ms_per_event_write']:.1f}"
    )


if __name__ == "__main__":
    main()
