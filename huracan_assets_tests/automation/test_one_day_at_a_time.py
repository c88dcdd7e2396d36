"""Two days at once through Dagster (the daemon, the UI) are safe (issue 12, item 4).

* The queued run coordinator of both ``dagster.yaml`` files starts one day-flow run at a time:
  the instance is loaded from the real file and Dagster's own tag-limit counter (what its queue
  daemon uses) decides.
* A run that needs the day before's models or champions while that day is still in progress
  elsewhere refuses, naming the run: a real materialization on a real instance.
"""

import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._utils.tags import TagConcurrencyLimitsCounter

from huracan_assets.assets._shared import day_runs_in_progress, refuse_while_previous_day_runs
from huracan_assets.automation.jobs import DAY_FLOW_TAG, range_tags
from huracan_assets.definitions import build_definitions
from huracan_assets_tests.conftest import small_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_definitions(small_settings(lookback_days=10, simulator={"n_coins": 5}))


@pytest.fixture
def instance(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(home))  # the real file: its class and run coordinator
    instance.add_dynamic_partitions("coins", ["BTC", "ETH", "SOL"])
    try:
        yield instance
    finally:
        instance.dispose()


def _run(instance, defs, job: str, tags: dict, status=dg.DagsterRunStatus.NOT_STARTED) -> dg.DagsterRun:
    job_def = defs.resolve_job_def(job)
    # as the daemon and the UI create a run: the job's run tags, then the request's
    # (acceptance/test_daemon.py checks the daemon's own runs carry the tag)
    return instance.create_run_for_job(job_def=job_def, tags={**job_def.run_tags, **tags}, status=status)


def test_the_queue_starts_one_day_flow_run_at_a_time(instance, defs):
    limits = instance.run_coordinator.get_run_queue_config().tag_concurrency_limits
    assert {"key": DAY_FLOW_TAG, "limit": 1} in limits
    deploy = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    assert deploy["run_coordinator"]["config"]["tag_concurrency_limits"] == [
        {"key": DAY_FLOW_TAG, "limit": 1}
    ]

    day1 = _run(
        instance,
        defs,
        "daily_coins_job",
        range_tags("2025-11-19|BTC", "2025-11-19|SOL"),
        dg.DagsterRunStatus.STARTED,
    )
    day2 = _run(instance, defs, "daily_coins_job", range_tags("2025-11-20|BTC", "2025-11-20|SOL"))
    reports = _run(instance, defs, "daily_reports_job", {"dagster/partition": "2025-11-19"})
    history = _run(instance, defs, "history_job", range_tags("2025-11-01|BTC", "2025-11-20|BTC"))
    assert all(DAY_FLOW_TAG in r.tags for r in (day1, day2, reports)) and DAY_FLOW_TAG not in history.tags

    counter = TagConcurrencyLimitsCounter(limits, [day1])
    assert counter.is_blocked(day2) and counter.is_blocked(reports)  # wait in the queue
    assert not counter.is_blocked(history)  # history of other windows may run beside it
    assert not TagConcurrencyLimitsCounter(limits, [history]).is_blocked(day2)


@dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2025-11-01"))
def needs_yesterday(context: dg.AssetExecutionContext) -> None:
    refuse_while_previous_day_runs(context, context.partition_key, "daily_coins_job", "models")


def test_a_day_refuses_while_the_day_before_runs_elsewhere_naming_the_run(instance, defs):
    running = _run(
        instance,
        defs,
        "daily_coins_job",
        range_tags("2025-11-19|BTC", "2025-11-19|SOL"),
        dg.DagsterRunStatus.STARTED,
    )
    other_day = _run(instance, defs, "daily_coins_job", range_tags("2025-11-18|BTC", "2025-11-18|SOL"))

    result = dg.materialize(
        [needs_yesterday], instance=instance, partition_key="2025-11-20", raise_on_error=False
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert f"run {running.run_id} (daily_coins_job, STARTED)" in message and "2025-11-19" in message
    assert other_day.run_id not in message

    # once it is done, the day goes
    instance.report_run_failed(running)
    assert day_runs_in_progress_for(instance, "2025-11-19") == []
    assert dg.materialize([needs_yesterday], instance=instance, partition_key="2025-11-20").success


def day_runs_in_progress_for(instance, day: str) -> list[str]:
    context = dg.build_asset_context(instance=instance)
    return day_runs_in_progress(context, day, "daily_coins_job")
