"""The instance of ``dagster_home/`` (``HuracanInstance``: batched, pooled SQLite event writes)
stores what Dagster's stock SQLite instance stores, for a single-run range of partitions: the
materializations, the run's planned events (written as one batch) and its check executions."""

import shutil
import sqlite3
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from dagster._core.storage.event_log import SqliteEventLogStorage

from huracan_assets.automation.instance import MINIMAL_DAGSTER_YAML, HuracanInstance
from huracan_assets.automation.sqlite_storage import BatchedSqliteEventLogStorage

REPO = Path(__file__).resolve().parents[2]
DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-03-01")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def daily_thing(context: dg.AssetExecutionContext) -> None:
    for key in context.partition_keys:
        context.add_asset_metadata({"rows": int(key[-2:])}, partition_key=key)


@dg.asset_check(asset=daily_thing, partitions_def=DAYS, blocking=False)
def even_rows(
    context: dg.AssetCheckExecutionContext,
) -> Iterator[dg.AssetCheckResult | dg.AssetCheckEvaluation]:
    """Evaluates the partitions of days up to the 20th only: the others keep their planned rows."""
    yield dg.AssetCheckResult(passed=True, description="the run's summary")  # the step's output
    for key in context.partition_keys:
        if int(key[-2:]) <= 20:
            yield dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey("daily_thing"),
                check_name="even_rows",
                passed=int(key[-2:]) % 2 == 0,
                partition=key,
            )


def _run(instance: dg.DagsterInstance, first: str, last: str) -> None:
    job = dg.Definitions(
        assets=[daily_thing], asset_checks=[even_rows]
    ).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance,
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
    )
    assert result.success


def _stored(instance: dg.DagsterInstance) -> dict[str, object]:
    key = dg.AssetKey("daily_thing")
    records = instance.fetch_materializations(key, limit=1000).records
    by_partition = {r.partition_key: r.asset_materialization.metadata["rows"].value for r in records}
    run_events = [
        e
        for run in instance.get_runs()
        for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    ]
    latest = instance.get_latest_materialization_event(key)
    runs = [run.run_id for run in instance.get_runs()]  # newest first
    planned = instance.fetch_planned_materializations(key, limit=1000).records
    planned_in_runs = [
        e
        for run_id in runs
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
    ]
    check_key = dg.AssetCheckKey(key, "even_rows")
    executions = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=1000)
    (asset_record,) = instance.get_asset_records([key])
    return {
        "planned": sorted(Counter(r.event_log_entry.dagster_event.partition for r in planned).items()),
        "planned_in_runs": sorted(Counter(e.dagster_event.partition for e in planned_in_runs).items()),
        "last_run_is_newest": asset_record.asset_entry.last_run_id == runs[0],
        "check_executions": sorted(
            Counter((e.partition or "", runs.index(e.run_id), e.status.value) for e in executions).items()
        ),
        "partitions": sorted(instance.get_materialized_partitions(key)),
        "metadata": by_partition,
        "run_events": sorted(e.dagster_event.partition for e in run_events),
        "latest": latest.dagster_event.partition if latest else None,
        "per_partition": sorted(Counter(r.partition_key for r in records).items()),
    }


def test_huracan_instance_stores_what_the_stock_instance_stores(tmp_path: Path) -> None:
    stock_home, ours_home = tmp_path / "stock", tmp_path / "ours"
    stock_home.mkdir()
    ours_home.mkdir()
    (stock_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (ours_home / "dagster.yaml").write_text(MINIMAL_DAGSTER_YAML)
    keys = DAYS.get_partition_keys()
    with (
        dg.DagsterInstance.from_config(str(stock_home)) as stock,
        dg.DagsterInstance.from_config(str(ours_home)) as ours,
    ):
        assert type(stock.event_log_storage) is SqliteEventLogStorage
        assert isinstance(ours, HuracanInstance)
        assert isinstance(ours.event_log_storage, BatchedSqliteEventLogStorage)
        assert ours._get_event_batch_size() > 1
        for instance in (stock, ours):
            _run(instance, keys[0], keys[39])  # 40 partitions in one run
            _run(instance, keys[30], keys[-1])  # overlaps: 10 partitions twice
        assert _stored(ours) == _stored(stock)
        assert len(_stored(ours)["partitions"]) == len(keys)
        assert _stored(ours)["latest"] == keys[-1]
        # each run planned its partitions (10 of them twice), and the check ran on each of them
        assert dict(_stored(ours)["planned"])[keys[35]] == 2
        assert (
            len(_stored(ours)["check_executions"]) == len(keys[:40]) + len(keys[30:]) + 2
        )  # + the summaries
        statuses = Counter(status for (_, _, status), _ in _stored(ours)["check_executions"])
        assert set(statuses) == {"SUCCEEDED", "FAILED", "PLANNED"}  # planned, never evaluated
        assert _stored(ours)["last_run_is_newest"]
        # the tables and files are Dagster's: the stock storage reads what ours wrote
        shutil.copytree(ours_home / "history", tmp_path / "reread" / "history")
        (tmp_path / "reread" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        with dg.DagsterInstance.from_config(str(tmp_path / "reread")) as reread:
            assert type(reread.event_log_storage) is SqliteEventLogStorage
            assert _stored(reread) == _stored(stock)


def test_dagster_home_names_the_huracan_instance(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance, HuracanInstance)
        assert isinstance(instance.event_log_storage, BatchedSqliteEventLogStorage)
        # the storage lives under this instance's folder, wherever $DAGSTER_HOME points
        assert Path(instance.event_log_storage._base_dir).resolve() == (home / "history" / "runs").resolve()


def _shard_layout(path: Path) -> tuple[object, ...]:
    connection = sqlite3.connect(path)
    try:
        return (
            sorted(connection.execute("SELECT type, name, sql FROM sqlite_master").fetchall(), key=str),
            connection.execute("SELECT version_num FROM alembic_version").fetchall(),
            connection.execute("PRAGMA journal_mode").fetchall(),
        )
    finally:
        connection.close()


def test_a_new_run_shard_is_the_one_dagster_initialises(tmp_path: Path) -> None:
    """New run shards are copied from an empty one made once per process: the same tables,
    indexes, revision stamp and WAL journal as Dagster's own ``_initdb`` gives a new file."""
    stock = SqliteEventLogStorage(str(tmp_path / "stock"))
    ours = BatchedSqliteEventLogStorage(str(tmp_path / "ours"))
    for storage in (stock, ours):
        for run_id in ("first", "second"):
            with storage.run_connection(run_id):
                pass
    expected = _shard_layout(tmp_path / "stock" / "first.db")
    assert expected[1] and expected[2] == [("wal",)]
    assert _shard_layout(tmp_path / "ours" / "first.db") == expected
    assert _shard_layout(tmp_path / "ours" / "second.db") == expected
    # no scratch copy is left beside the shards
    assert not list((tmp_path / "ours").glob("*.new"))
