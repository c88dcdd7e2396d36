"""Schedules and sensors, tested by building their contexts and asserting on what they return."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from huracan_assets.automation.schedules import RANGE_END, RANGE_START
from huracan_assets.definitions import build_definitions
from huracan_assets.resources.market_data import MarketDataResource
from huracan_assets.resources.publisher import PublisherResource
from huracan_assets_tests.conftest import small_settings

DAY = "2025-11-20"


@pytest.fixture
def setup(tmp_path: Path):
    settings = small_settings(lookback_days=10, simulator={"n_coins": 6})
    defs = build_definitions(
        settings,
        market_data=MarketDataResource(sim_coins=6),
        publisher=PublisherResource(export_root=str(tmp_path / "exports")),
        storage_dir=str(tmp_path / "storage"),
    )
    home = tmp_path / "home"
    home.mkdir()
    instance = dg.DagsterInstance.local_temp(str(home), overrides={"telemetry": {"enabled": False}})
    return defs, instance, settings


def test_daily_schedule_requests_yesterday_for_every_coin_as_one_range(setup):
    defs, instance, _ = setup
    schedule = defs.resolve_schedule_def("daily_coins_schedule")
    instance.add_dynamic_partitions("coins", ["BTC", "ETH", "SOL"])
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2025, 11, 21, 0, 40, tzinfo=UTC)
    )
    request = schedule.evaluate_tick(context).run_requests[0]
    assert request.tags[RANGE_START] == f"{DAY}|BTC"
    assert request.tags[RANGE_END] == f"{DAY}|SOL"
    assert request.run_key == f"coins-{DAY}"
    assert schedule.job_name == "daily_coins_job"


def test_daily_schedule_skips_until_the_universe_names_coins(setup):
    defs, instance, _ = setup
    schedule = defs.resolve_schedule_def("daily_coins_schedule")
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2025, 11, 21, 0, 40, tzinfo=UTC)
    )
    result = schedule.evaluate_tick(context)
    assert not result.run_requests and "no coins" in result.skip_message


def test_universe_schedule_targets_yesterday(setup):
    defs, instance, _ = setup
    schedule = defs.resolve_schedule_def("daily_universe_schedule")
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2025, 11, 21, 0, 10, tzinfo=UTC)
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == DAY


def evaluate(sensor: dg.SensorDefinition, context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Call an asset sensor directly (it yields what it returns) and give back its one result."""
    (outcome,) = list(sensor(context))
    return outcome


def test_new_coin_sensor_adds_coins_and_requests_their_history_backfill(setup):
    defs, instance, settings = setup
    result = defs.resolve_job_def("universe_job").execute_in_process(instance=instance, partition_key=DAY)
    assert result.success
    sensor = defs.resolve_sensor_def("new_coin_sensor")
    instance.add_dynamic_partitions("coins", ["BTC"])  # already known: not added again
    outcome = evaluate(sensor, dg.build_sensor_context(instance=instance, definitions=defs))
    assert isinstance(outcome, dg.SensorResult)
    (add,) = outcome.dynamic_partitions_requests
    eligible = (
        result.asset_materializations_for_node("coin_universe")[0]
        .metadata["eligible_coins"]
        .value.split(", ")
    )
    assert set(add.partition_keys) == set(eligible) - {"BTC"} and "BTC" not in add.partition_keys
    (request,) = outcome.run_requests
    subset = request.asset_graph_subset
    assert subset is not None, "history must be requested as an asset backfill"
    requested = {
        (ap.asset_key.to_user_string(), ap.partition_key) for ap in subset.iterate_asset_partitions()
    }
    assets = {a for a, _ in requested}
    assert assets == {"validated_bars", "features", "labels"}
    coins = {p.split("|")[1] for _, p in requested}
    assert coins == set(add.partition_keys)
    first_bars_day = min(p.split("|")[0] for a, p in requested if a == "validated_bars")
    first_label_day = min(p.split("|")[0] for a, p in requested if a == "labels")
    assert first_bars_day < first_label_day < DAY  # bars reach further back: the feature and label warm-up


def test_new_coin_sensor_skips_when_every_eligible_coin_is_known(setup):
    defs, instance, _ = setup
    result = defs.resolve_job_def("universe_job").execute_in_process(instance=instance, partition_key=DAY)
    eligible = (
        result.asset_materializations_for_node("coin_universe")[0]
        .metadata["eligible_coins"]
        .value.split(", ")
    )
    instance.add_dynamic_partitions("coins", eligible)
    outcome = evaluate(
        defs.resolve_sensor_def("new_coin_sensor"),
        dg.build_sensor_context(instance=instance, definitions=defs),
    )
    assert not outcome.run_requests and not outcome.dynamic_partitions_requests
    assert "no new coins" in outcome.skip_reason.skip_message


def _status_context(instance: dg.DagsterInstance, tags: dict[str, str]) -> dg.RunStatusSensorContext:
    run = instance.create_run_for_job(dg.GraphDefinition(name="daily_coins_job").to_job(), tags=tags)
    event = dg.DagsterEvent(event_type_value="PIPELINE_SUCCESS", job_name="daily_coins_job")
    return dg.build_run_status_sensor_context(
        sensor_name="daily_reports_sensor", dagster_event=event, dagster_instance=instance, dagster_run=run
    )


def test_reports_sensor_runs_the_day_reports_after_a_whole_day_run(setup):
    defs, instance, _ = setup
    sensor = defs.resolve_sensor_def("daily_reports_sensor")
    context = _status_context(instance, {RANGE_START: f"{DAY}|BTC", RANGE_END: f"{DAY}|SOL"})
    request = sensor(context)
    assert isinstance(request, dg.RunRequest) and request.partition_key == DAY


def test_reports_sensor_ignores_history_ranges(setup):
    defs, instance, _ = setup
    sensor = defs.resolve_sensor_def("daily_reports_sensor")
    skipped = sensor(_status_context(instance, {RANGE_START: "2025-11-01|BTC", RANGE_END: f"{DAY}|SOL"}))
    assert isinstance(skipped, dg.SkipReason) and "several days" in skipped.skip_message
