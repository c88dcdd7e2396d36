"""The day's plan finds earlier days' model partitions that are recorded but gone (issue 12,
item 3): deleted, moved aside as corrupt, or outside the window the day reads. A real instance
with recorded materializations and real model folders."""

import hashlib
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from huracan_assets.automation.instance import INSTANCE_OVERRIDES
from huracan_assets.automation.jobs import RANGE_END, RANGE_START, REQUEST_TAG
from huracan_assets.automation.plan import lost_models
from huracan_assets.core.training import CoinModels
from huracan_assets.definitions import build_definitions
from huracan_assets.orchestration import InProcessLauncher
from huracan_assets.partitions import COINS, build_partitions, coin_day_key
from huracan_assets.resources.publisher import PublisherResource
from huracan_assets.resources.storage import ModelIOManager
from huracan_assets.stores.files import move_aside
from huracan_assets_tests.commands import FIRST_DAY, FIRST_DAY_COINS, copy_root
from huracan_assets_tests.conftest import small_settings

MODELS = dg.AssetKey("models")
DAY = "2025-11-20"
COIN_ORDER = ["BTC", "ETH", "SOL", "XRP"]
NEXT, NEXT_CLOCK = "2025-11-21", "2025-11-22T00:00:00Z"  # the day after the small first day


def test_lost_model_partitions_of_the_window_are_planned_oldest_day_first_in_coin_blocks(tmp_path: Path):
    partitions = build_partitions(small_settings())
    home = tmp_path / "home"
    home.mkdir()
    instance = dg.DagsterInstance.local_temp(str(home), overrides=INSTANCE_OVERRIDES)
    instance.add_dynamic_partitions(COINS.name, COIN_ORDER)
    store = ModelIOManager(base_dir=str(tmp_path / "storage"))
    too_old = (date.fromisoformat(DAY) - timedelta(days=partitions.max_champion_age_days + 1)).isoformat()
    days = ["2025-11-18", "2025-11-19", too_old]
    for day in days:
        for coin in COIN_ORDER:
            key = str(coin_day_key(day, coin))
            store.write_partition(
                MODELS, key, CoinModels(coin=coin, day=day, features_hash="h", status="skipped")
            )
            instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=MODELS, partition=key))

    def folder(day: str, coin: str) -> Path:
        return store.partition_path(MODELS, str(coin_day_key(day, coin)))

    (folder("2025-11-19", "ETH") / "bundle.json").unlink()  # lost in a crash
    move_aside(folder("2025-11-19", "SOL"))  # refused on read earlier
    move_aside(folder("2025-11-18", "XRP"))
    move_aside(folder(too_old, "BTC"))  # older than any day the day reads: left alone

    assert lost_models(instance, partitions, DAY, store, COIN_ORDER) == (
        [("2025-11-18", ("XRP",)), ("2025-11-19", ("ETH", "SOL"))],
        ["models[2025-11-18|XRP]", "models[2025-11-19|ETH]", "models[2025-11-19|SOL]"],
    )
    assert lost_models(instance, partitions, DAY, None, COIN_ORDER) == (
        [],
        [],
    )  # no storage: records as they are


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.cbm"))}


def test_a_failing_models_rebuild_is_not_requested_again_until_a_fix_is_materialized(
    tmp_path: Path, small_first_day: Path
):
    """``daily_flow_sensor``'s rebuild of a lost model folder whose run fails (here: the day's
    universe it reads is damaged) is requested once: later ticks skip, naming the partition, the
    failed run and its cause, and request nothing, until what the run reads is materialized again
    (the universe, re-materialized as a user would); then the rebuild runs and gives the models
    the folder held. A real instance (a copy of the session's small first day) and real runs; the
    daemon running these sensors is proven in ``acceptance/test_daemon_repair.py``."""
    root = copy_root(small_first_day, tmp_path / "root")
    home = root / "home"
    settings = small_settings(lookback_days=10, simulator={"n_coins": int(FIRST_DAY_COINS)}, clock=NEXT_CLOCK)
    defs = build_definitions(
        settings,
        publisher=PublisherResource(export_root=str(root / "exports")),
        storage_dir=str(home / "storage" / "huracan"),
    )
    sensor = defs.resolve_sensor_def("daily_flow_sensor")
    storage = home / "storage" / "huracan"
    lost = storage / "models" / f"date={FIRST_DAY}" / "symbol=SOL"
    before = _digests(lost)
    (lost / "bundle.json").unlink()  # lost in a crash
    universe = storage / "coin_universe" / f"date={FIRST_DAY}" / "data.parquet"
    data = bytearray(universe.read_bytes())
    data[len(data) // 2] ^= 0x01
    universe.write_bytes(bytes(data))

    with dg.DagsterInstance.from_config(str(home)) as instance:

        def tick():  # noqa: ANN202 - SensorExecutionData is not public
            return sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))

        def execute(request: dg.RunRequest) -> str:
            """The request's run, as the daemon would make it (its tags, the run key among them)."""
            tags = {**request.tags, "dagster/run_key": request.run_key or ""}
            assets = [key.to_user_string() for key in request.asset_selection or []]
            return InProcessLauncher(defs).execute(instance, request.job_name, tags, assets)[0]

        universe_job = defs.resolve_job_def("universe_job")
        assert universe_job.execute_in_process(instance=instance, partition_key=NEXT).success
        (first,) = tick().run_requests
        assert first.asset_selection == [MODELS]
        assert first.tags[RANGE_START] == first.tags[RANGE_END] == f"{FIRST_DAY}|SOL"
        failed = execute(first)
        assert instance.get_run_by_id(failed).status == dg.DagsterRunStatus.FAILURE

        for _ in range(2):  # not again, tick after tick
            result = tick()
            assert not result.run_requests
            reason = result.skip_message or ""
            assert f"models[{FIRST_DAY}|SOL]" in reason and failed in reason, reason
            assert f"coin_universe[{FIRST_DAY}]" in reason, reason  # the cause

        # the fix: the damaged universe is materialized again; the rebuild is requested once more
        assert universe_job.execute_in_process(instance=instance, partition_key=FIRST_DAY).success
        (again,) = tick().run_requests
        assert again.run_key != first.run_key and again.tags[REQUEST_TAG] == first.tags[REQUEST_TAG]
        assert instance.get_run_by_id(execute(again)).status == dg.DagsterRunStatus.SUCCESS
        assert _digests(lost) == before  # the models the folder held
        # and the day goes on: all its coins in one run
        (coins,) = tick().run_requests
        assert coins.job_name == "daily_coins_job" and coins.tags[RANGE_START].startswith(f"{NEXT}|")
