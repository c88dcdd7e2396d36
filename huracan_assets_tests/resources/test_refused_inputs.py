"""A refused stored partition (damaged, foreign: moved aside) fails its coin by name in every step
that reads it, through ``by_partition`` inputs and windows alike, in the step that refused it and
in every later step and run until it is rebuilt (issue 12, items 1 and 3). Real files, a real
materialization."""

import os
from pathlib import Path

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import map_by_partition, unreadable_coins
from huracan_assets.resources.compute import ComputeResource
from huracan_assets.resources.storage import (
    UNREADABLE,
    ParquetIOManager,
    PartitionValues,
    remove_write_leftovers,
)
from huracan_assets_tests.resources.test_storage import GRID, bars, instance, range_tags  # noqa: F401

BARS = dg.AssetKey("bars")


def _rows(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"rows": [len(frame)]})


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"rows": [-1]})


@dg.asset(
    partitions_def=GRID,
    backfill_policy=dg.BackfillPolicy.single_run(),
    ins={"bars": dg.AssetIn(metadata={"load": "by_partition"})},
)
def first_reader(context: dg.AssetExecutionContext, bars: dict, compute: ComputeResource) -> dict:
    """As scores and consensus do: ``by_partition`` input, one task per partition, refused coins failed."""
    args = {str(k): (bars.get(str(k), pd.DataFrame()),) for k in context.partition_keys}
    return map_by_partition(context, compute, _rows, args, _empty, None, unreadable=unreadable_coins(bars))


@dg.asset(
    partitions_def=GRID,
    backfill_policy=dg.BackfillPolicy.single_run(),
    ins={"bars": dg.AssetIn(metadata={"allow_missing": True}), "first_reader": dg.AssetIn()},
    deps=[],
)
def later_reader(
    context: dg.AssetExecutionContext,
    bars: pd.DataFrame,
    first_reader: pd.DataFrame,
    compute: ComputeResource,
) -> dict:
    """A later step of the same run reading the same partitions as a window (allow_missing, as
    champions does): the partition its predecessor moved aside is named, not taken as absent."""
    args = {}
    for key in context.partition_keys:
        coin = str(key).split("|")[1]
        args[str(key)] = (bars[bars["symbol"] == coin] if len(bars) else bars,)
    return map_by_partition(context, compute, _rows, args, _empty, None, unreadable=unreadable_coins(bars))


def test_a_refused_by_partition_input_fails_its_coin_in_this_step_and_the_later_ones(
    tmp_path: Path,
    instance,  # noqa: F811
) -> None:
    store = ParquetIOManager(base_dir=str(tmp_path / "store"))
    resources = {"io_manager": store, "compute": ComputeResource()}
    tags = range_tags("2025-01-02|BTC", "2025-01-02|ETH")
    dg.materialize([bars], instance=instance, resources=resources, tags=tags)
    path = store.partition_path(BARS, "2025-01-02|ETH")
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    path.write_bytes(bytes(damaged))

    result = dg.materialize(
        [bars.to_source_asset(), first_reader, later_reader],
        instance=instance,
        resources=resources,
        selection=[first_reader, later_reader],
        tags=tags,
    )
    assert result.success  # a damaged input fails its coin, never the step
    for asset in ("first_reader", "later_reader"):
        key = dg.AssetKey(asset)
        assert store.read_partition(key, "2025-01-02|BTC")["rows"].tolist() == [2]
        assert store.read_partition(key, "2025-01-02|ETH")["rows"].tolist() == [-1]
    errors = [e.user_message for e in instance.all_logs(result.run_id) if "coin_failed" in e.user_message]
    assert len(errors) == 2, errors
    assert all("partition=2025-01-02|ETH" in e and "re-materialize bars[2025-01-02|ETH]" in e for e in errors)
    assert all("moved aside to data.parquet.corrupt-" in e for e in errors)
    assert "refused when read" not in errors[0]  # the step that refused it says what was wrong
    assert str(path) in errors[1] and "refused when read" in errors[1]  # a later step names the same file
    assert not store.exists(BARS, "2025-01-02|ETH")


def test_a_window_names_a_partition_moved_aside_by_an_earlier_read(tmp_path: Path) -> None:
    store = ParquetIOManager(base_dir=str(tmp_path))
    keys = ["2025-01-02|BTC", "2025-01-02|ETH"]
    for key in keys:
        store.write_partition(BARS, key, pd.DataFrame({"value": [1.0]}))
    path = store.partition_path(BARS, keys[1])
    path.write_bytes(path.read_bytes()[:-30])
    first = store.read_by_partition(BARS, keys)
    assert isinstance(first, PartitionValues) and list(first) == [keys[0]]
    assert list(first.unreadable) == [keys[1]] and "truncated" in first.unreadable[keys[1]]
    assert unreadable_coins(first) == {"ETH": first.unreadable[keys[1]]}

    # the file is gone now; the next reader is told why, not "never materialised"
    error = store.refused_earlier(BARS, keys[1])
    assert error is not None and str(path) in error and error.endswith("re-materialize bars[2025-01-02|ETH]")
    assert store.refused_earlier(BARS, keys[0]) is None
    window = store.read_window(BARS, [keys[0]])
    assert UNREADABLE not in window.attrs  # read_window itself only knows what it was given


def test_rewriting_a_partition_removes_killed_writes_and_its_refused_copy(
    tmp_path: Path,
    instance,  # noqa: F811
) -> None:
    store = ParquetIOManager(base_dir=str(tmp_path / "store"))
    resources = {"io_manager": store}
    tags = range_tags("2025-01-02|BTC", "2025-01-02|ETH")
    dg.materialize([bars], instance=instance, resources=resources, tags=tags)
    path = store.partition_path(BARS, "2025-01-02|ETH")
    killed = path.with_name(f".{path.name}.{'ab' * 16}.tmp")  # a write killed before its rename
    killed.write_bytes(b"PAR1 half")
    os.utime(killed, (1_000_000_000, 1_000_000_000))
    path.write_bytes(path.read_bytes()[:-10])
    assert store.read_by_partition(BARS, ["2025-01-02|ETH"]).unreadable  # refused: moved aside
    (refused,) = path.parent.glob("data.parquet.corrupt-*")
    other = path.parent / "notes.txt"  # not a leftover: untouched
    other.write_text("keep")

    result = dg.materialize([bars], instance=instance, resources=resources, tags=tags)
    assert result.success and store.exists(BARS, "2025-01-02|ETH")
    assert not killed.exists() and not refused.exists() and other.exists()
    warnings = [
        e.user_message for e in instance.all_logs(result.run_id) if "write_leftover_removed" in e.user_message
    ]
    assert sorted(w.rsplit("/", 1)[1] for w in warnings) == sorted([killed.name, refused.name])
    # a temporary file newer than the run's start is a write running now: kept
    running = path.with_name(f".{path.name}.{'cd' * 16}.tmp")
    running.write_bytes(b"")
    assert remove_write_leftovers(path, before=running.stat().st_mtime - 60) == [] and running.exists()
    assert remove_write_leftovers(path, before=running.stat().st_mtime + 1) == [running]
