"""The per-coin seam inside assets: one coin's failure never stops the others."""

from pathlib import Path

import dagster as dg
import pytest

from huracan_assets.assets._shared import PartitionMetadata, map_by_coin, map_by_partition, run_keys
from huracan_assets.automation.instance import INSTANCE_OVERRIDES
from huracan_assets.partitions import COINS
from huracan_assets.resources.compute import ComputeResource
from huracan_assets.resources.storage import JsonIOManager, run_started_at
from huracan_assets.steps.frames import keys_by_coin

DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-01-04", timezone="UTC")
GRID = dg.MultiPartitionsDefinition({"date": DAYS, "symbol": COINS})


def per_coin(coin: str, keys: list[str]) -> dict[str, dict]:
    if coin == "BAD":
        raise ValueError("exchange sent garbage")
    return {key: {"coin": coin, "key": key} for key in keys}


def per_key(key: str) -> dict:
    if key.endswith("|BAD"):
        raise KeyError(key)
    return {"ok": key}


@dg.asset(
    partitions_def=GRID, backfill_policy=dg.BackfillPolicy.single_run(), io_manager_key="json_io_manager"
)
def by_coin(context: dg.AssetExecutionContext, compute: ComputeResource) -> dict[str, dict]:
    groups = keys_by_coin(run_keys(context))
    args = {coin: (coin, keys) for coin, keys in groups.items()}
    out = map_by_coin(context, compute, groups, per_coin, args, lambda: {"empty": True})
    return {
        key: {**value, "failure": str(failure) if failure else None} for key, (value, failure) in out.items()
    }


@dg.asset(
    partitions_def=GRID, backfill_policy=dg.BackfillPolicy.single_run(), io_manager_key="json_io_manager"
)
def by_partition(context: dg.AssetExecutionContext, compute: ComputeResource) -> dict[str, dict]:
    args = {key: (key,) for key in run_keys(context)}
    return map_by_partition(context, compute, per_key, args, lambda: {"empty": True})


@pytest.mark.parametrize(
    "compute", [ComputeResource(), ComputeResource(mode="dask", n_workers=2)], ids=["in_process", "dask"]
)
def test_a_failing_coin_gets_empty_outputs_and_a_named_error_while_the_others_finish(
    tmp_path: Path, compute: ComputeResource
):
    home = tmp_path / "home"
    home.mkdir()
    instance = dg.DagsterInstance.local_temp(str(home), overrides=INSTANCE_OVERRIDES)
    instance.add_dynamic_partitions("coins", ["BAD", "BTC", "ETH"])
    store = JsonIOManager(base_dir=str(tmp_path / "store"))
    result = dg.materialize(
        [by_coin, by_partition],
        instance=instance,
        resources={"compute": compute, "json_io_manager": store},
        tags={
            "dagster/asset_partition_range_start": "2025-01-01|BAD",
            "dagster/asset_partition_range_end": "2025-01-02|ETH",
        },
    )
    assert result.success
    read = lambda asset, key: store.read_partition(dg.AssetKey(asset), key)  # noqa: E731
    assert read("by_coin", "2025-01-02|BTC") == {"coin": "BTC", "key": "2025-01-02|BTC", "failure": None}
    bad = read("by_coin", "2025-01-01|BAD")
    assert (
        bad["empty"] is True
        and "ValueError: exchange sent garbage" in bad["failure"]
        and "BAD" in bad["failure"]
    )
    assert read("by_partition", "2025-01-01|ETH") == {"ok": "2025-01-01|ETH"}
    assert read("by_partition", "2025-01-02|BAD") == {"empty": True}
    errors = [
        e.message
        for e in instance.all_logs(result.run_id)
        if e.level >= 40 and "event=coin_failed" in (e.message or "")  # logging.ERROR
    ]
    assert any("asset=by_coin coin=BAD" in m for m in errors)
    assert any("asset=by_partition partition=2025-01-01|BAD" in m for m in errors)
    assert not any("BTC" in m or "ETH" in m for m in errors)


WIDE_DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-03-01", timezone="UTC")
WIDE = dg.MultiPartitionsDefinition({"date": WIDE_DAYS, "symbol": COINS})


@dg.asset(partitions_def=WIDE, backfill_policy=dg.BackfillPolicy.single_run())
def noted(context: dg.AssetExecutionContext) -> None:
    keys = run_keys(context)
    metadata = PartitionMetadata(context, len(keys), detail_limit=8)
    for i, key in enumerate(keys):
        metadata.add(key, {"rows": i, "coin": key.split("|")[1]}, notable=key.endswith("|BAD"))
    metadata.flush({"partitions_in_run": len(keys)})


def test_partition_metadata_lands_on_its_own_partitions_in_a_range_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    instance = dg.DagsterInstance.local_temp(str(home), overrides=INSTANCE_OVERRIDES)
    instance.add_dynamic_partitions(COINS.name, ["BAD", "ETH"])
    job = dg.Definitions(assets=[noted]).resolve_implicit_global_asset_job_def()
    first, last = "2025-01-01|BAD", "2025-02-28|ETH"
    result = job.execute_in_process(
        instance=instance,
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
    )
    assert result.success
    records = instance.fetch_materializations(dg.AssetKey("noted"), limit=1000).records
    by_key = {r.partition_key: r.asset_materialization.metadata for r in records}
    assert len(by_key) == 59 * 2
    for key, metadata in by_key.items():
        assert metadata["partitions_in_run"].value == 118
        assert metadata["notable_partitions"].value == 59
        # more partitions than detail_limit: detail on the notable (BAD) ones only, each its own
        if key.endswith("|BAD"):
            assert metadata["coin"].value == "BAD"
            assert metadata["per_partition_detail"].value == "notable only (59 partitions)"
        else:
            assert "coin" not in metadata and "rows" not in metadata
    rows = sorted(by_key[k]["rows"].value for k in by_key if k.endswith("|BAD"))
    assert len(set(rows)) == 59


@dg.asset(
    partitions_def=GRID, backfill_policy=dg.BackfillPolicy.single_run(), io_manager_key="json_io_manager"
)
def keyed(context: dg.AssetExecutionContext) -> dict[str, dict]:
    first = run_keys(context)
    first.clear()  # a caller's list is its own: the step's remembered keys are untouched
    keys = run_keys(context)
    return {key: {"keys": keys} for key in keys}


def test_run_keys_are_each_steps_own_across_runs_in_one_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    instance = dg.DagsterInstance.local_temp(str(home), overrides=INSTANCE_OVERRIDES)
    instance.add_dynamic_partitions("coins", ["BTC", "ETH"])
    store = JsonIOManager(base_dir=str(tmp_path / "store"))
    ranges = [("2025-01-01|BTC", "2025-01-01|ETH"), ("2025-01-02|BTC", "2025-01-03|ETH")]
    for start, end in ranges:
        result = dg.materialize(
            [keyed],
            instance=instance,
            resources={"json_io_manager": store},
            tags={"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end},
        )
        assert result.success
    first = store.read_partition(dg.AssetKey("keyed"), "2025-01-01|ETH")["keys"]
    second = store.read_partition(dg.AssetKey("keyed"), "2025-01-03|BTC")["keys"]
    assert first == ["2025-01-01|BTC", "2025-01-01|ETH"]
    assert second == [f"2025-01-0{d}|{c}" for d in (2, 3) for c in ("BTC", "ETH")]


@dg.asset
def plain() -> int:
    return 1


def test_a_runs_start_is_read_once_it_has_started() -> None:
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([plain], instance=instance)
    record = instance.get_run_record_by_id(result.run_id)
    assert record is not None and record.start_time is not None
    assert run_started_at(instance, result.run_id) == record.start_time
    instance.delete_run(result.run_id)  # the start, once read, is not asked of run storage again
    assert run_started_at(instance, result.run_id) == record.start_time
    assert run_started_at(instance, "0" * 36) is None
