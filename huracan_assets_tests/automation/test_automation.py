"""Automation as declared: every asset has a condition, the sensors declare their targets, and
new_coin_sensor turns a universe day into coin partitions plus one history backfill. The daemon
running them is proven in acceptance/test_daemon.py."""

from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from huracan_assets.automation.instance import INSTANCE_OVERRIDES
from huracan_assets.definitions import build_definitions
from huracan_assets.partitions import build_partitions
from huracan_assets.resources.market_data import MarketDataResource
from huracan_assets.resources.publisher import PublisherResource
from huracan_assets_tests.conftest import small_settings

DAY = "2025-11-20"


@pytest.fixture
def setup(tmp_path: Path):
    settings = small_settings(lookback_days=10, simulator={"n_coins": 6}, clock="2025-11-21T00:00:00Z")
    defs = build_definitions(
        settings,
        market_data=MarketDataResource(sim_coins=6),
        publisher=PublisherResource(export_root=str(tmp_path / "exports")),
        storage_dir=str(tmp_path / "storage"),
    )
    home = tmp_path / "home"
    home.mkdir()
    instance = dg.DagsterInstance.local_temp(str(home), overrides=INSTANCE_OVERRIDES)
    return defs, instance, settings


def test_the_universe_is_automated_and_the_clock_sets_the_latest_day(setup):
    defs, _, _ = setup
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("coin_universe")).automation_condition is not None
    universe = defs.resolve_assets_def("coin_universe")
    assert universe.partitions_def.get_last_partition_key() == DAY
    assert universe.code_versions_by_key[dg.AssetKey("coin_universe")].startswith("universe-")
    assert not defs.schedules, "the daily flow is declarative automation, not schedules"
    assert {s.name for s in defs.sensors} == {"huracan_automation", "new_coin_sensor", "daily_flow_sensor"}


def test_new_coin_sensor_adds_coins_and_runs_their_history_one_level_at_a_time(setup):
    defs, instance, settings = setup
    sensor = defs.resolve_sensor_def("new_coin_sensor")

    def tick():  # noqa: ANN202 - SensorExecutionData is not public
        return sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))

    assert "waiting for coin_universe" in tick().skip_message
    assert (
        defs.resolve_job_def("universe_job").execute_in_process(instance=instance, partition_key=DAY).success
    )
    instance.add_dynamic_partitions("coins", ["BTC"])  # already known: not added again
    result = tick()
    (add,) = result.dynamic_partitions_requests
    assert "BTC" not in add.partition_keys and len(add.partition_keys) >= 3
    # BTC misses the same history as the new coins and sits next to them: one range run over all
    (request,) = result.run_requests
    assert request.job_name == "history_job" and request.asset_selection == [dg.AssetKey("validated_bars")]
    # history runs execute no asset checks (automation/jobs.py): left unset, Dagster would add them all
    assert request.asset_check_keys == []
    first_day = min(build_partitions(settings).history_windows(date.fromisoformat(DAY))["validated_bars"])
    assert request.tags["dagster/asset_partition_range_start"] == f"{first_day}|BTC"
    assert request.tags["dagster/asset_partition_range_end"] == f"2025-11-19|{add.partition_keys[-1]}"
    assert request.run_key, "a run key makes the request happen once"


def test_daily_flow_sensor_waits_for_the_plan_then_runs_every_missing_coin_as_one_range(setup):
    defs, instance, _ = setup
    sensor = defs.resolve_sensor_def("daily_flow_sensor")

    def tick():  # noqa: ANN202 - SensorExecutionData is not public
        return sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))

    assert "waiting for coin_universe[2025-11-20]" in tick().skip_message
    assert (
        defs.resolve_job_def("universe_job").execute_in_process(instance=instance, partition_key=DAY).success
    )
    assert "waiting for new_coin_sensor to add" in tick().skip_message
    coin_sensor = defs.resolve_sensor_def("new_coin_sensor")
    added = coin_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
    instance.add_dynamic_partitions("coins", list(added.dynamic_partitions_requests[0].partition_keys))
    assert "history partitions" in tick().skip_message
