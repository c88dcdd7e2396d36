"""The production instance (``deploy/dagster.yaml``) on a real PostgreSQL server: ``huracan daily``
runs one small day on it, and its runs, materializations and checks are in the database, with
no SQLite file under ``DAGSTER_HOME``."""

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from huracan_assets.automation.local_daemon import BIN, REPO, environment
from huracan_assets_tests.commands import SMALL
from huracan_assets_tests.postgres_server import PostgresServer, throwaway_postgres

pytestmark = pytest.mark.acceptance

DAY = "2025-11-20"
COINS = ["BTC", "ETH", "SOL", "BNB"]  # the simulator's first four
SQLITE_MAGIC = b"SQLite format 3\x00"
JOBS = {"universe_job", "history_job", "daily_coins_job", "daily_reports_job"}
COMMAND = ["daily", "--date", DAY, "--coins", str(len(COINS)), "--lookback-days", "10"]


@dataclass
class PostgresDay:
    home: Path
    server: PostgresServer
    output: str
    instance: dg.DagsterInstance


@pytest.fixture(scope="module")
def postgres_day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresDay]:
    root = tmp_path_factory.mktemp("postgres")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    with throwaway_postgres(root) as server, pytest.MonkeyPatch.context() as patch:
        env = environment(home, **SMALL, PUBLISHER__EXPORT_ROOT=str(root / "exports"))
        done = subprocess.run(
            [str(BIN / "huracan"), *COMMAND],
            cwd=REPO,
            env={**env, **server.environment()},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        # this process reads the same instance: the credentials come from the environment only
        for key, value in server.environment().items():
            patch.setenv(key, value)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            yield PostgresDay(home, server, done.stdout, instance)


def test_the_instance_is_postgres(postgres_day: PostgresDay):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage
    from sqlalchemy.pool import QueuePool

    from huracan_assets.automation.postgres_storage import (
        PooledPostgresEventLogStorage,
        PooledPostgresRunStorage,
        PooledPostgresScheduleStorage,
    )

    instance = postgres_day.instance
    assert isinstance(instance.run_storage, PooledPostgresRunStorage)
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PooledPostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PooledPostgresScheduleStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    # one pool per storage instead of a connection per call
    assert isinstance(instance.event_log_storage._engine.pool, QueuePool)
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert instance.run_monitoring_enabled and instance.run_retries_enabled
    assert type(instance.run_launcher).__name__ == "LocalRunLauncher"


def test_the_days_runs_are_in_postgres_and_succeeded(postgres_day: PostgresDay):
    runs = postgres_day.instance.get_runs()
    lines = postgres_day.output.splitlines()
    printed = {line.split("run_id=")[1].split()[0] for line in lines if "run_id=" in line}
    assert {r.run_id for r in runs} == printed
    assert [r for r in runs if r.status != dg.DagsterRunStatus.SUCCESS] == []
    assert {r.job_name for r in runs} == JOBS
    # and they are rows of the server's own tables, not something this process made up
    connection = postgres_day.server.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT run_id, status FROM runs")
            rows = dict(cursor.fetchall())
    finally:
        connection.close()
    assert rows == {r.run_id: "SUCCESS" for r in runs}


def test_the_days_materializations_and_checks_are_in_postgres(postgres_day: PostgresDay):
    instance = postgres_day.instance
    models = instance.get_materialized_partitions(dg.AssetKey("models"))
    assert {f"{DAY}|{coin}" for coin in COINS} <= models
    for daily in ("champions", "dropbox_export", "data_integrity_report"):
        assert DAY in instance.get_materialized_partitions(dg.AssetKey(daily)), daily
    champions = instance.get_latest_materialization_event(dg.AssetKey("champions"))
    assert champions is not None and champions.asset_materialization.partition == DAY
    connection = postgres_day.server.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' "
                "AND asset_key = %s AND partition = %s",
                (dg.AssetKey("models").to_string(), f"{DAY}|BTC"),
            )
            assert cursor.fetchone()[0] == 1
            cursor.execute("SELECT count(*) FROM asset_check_executions WHERE execution_status = 'SUCCEEDED'")
            assert cursor.fetchone()[0] > 0
    finally:
        connection.close()


def test_no_sqlite_file_under_dagster_home(postgres_day: PostgresDay):
    files = [p for p in postgres_day.home.rglob("*") if p.is_file()]
    assert any(p.name == "bundle.json" for p in files)  # the day's models are under storage/huracan
    assert [str(p) for p in files if p.read_bytes()[:16] == SQLITE_MAGIC] == []
    assert not (postgres_day.home / "history").exists() and not (postgres_day.home / "schedules").exists()
