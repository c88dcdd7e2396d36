"""Stored files are verified on read (issue 12, item 1) and the model-folder swap has no gap (item 3).

Real files throughout: bytes are flipped, files truncated or swapped on disk, and read back through
the IO managers; the Dagster test runs a real materialization.
"""

import json
import random
import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from huracan_assets.assets._shared import map_by_coin, unreadable_coins
from huracan_assets.partitions import coin_day_key
from huracan_assets.resources.compute import ComputeResource
from huracan_assets.resources.storage import (
    UNREADABLE,
    CorruptPartitionError,
    ModelIOManager,
    ParquetIOManager,
    _swap_steps,
)
from huracan_assets.stores.files import write_coin_models
from huracan_assets_tests.resources.test_storage import GRID, bars, instance, range_tags  # noqa: F401

FEATURES = dg.AssetKey("features")
KEY = "2025-01-02|BTC"


def _frame(coin: str = "BTC") -> pd.DataFrame:
    rng = np.random.default_rng(len(coin))
    frame = pd.DataFrame(
        {
            "open_time": pd.date_range("2025-01-02", periods=24, freq="h", tz="UTC"),
            "close": rng.normal(100, 5, 24),
            "volume": rng.integers(0, 10_000, 24),
            "vendor": ["sim"] * 23 + [None],
            "flagged": rng.random(24) > 0.8,
        }
    )
    frame.loc[3, "close"] = np.nan
    frame.attrs = {"quality": {"coin": coin, "repaired": 2, "flags": ["gap"]}}
    return frame


def _corrupt_siblings(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.corrupt-*"))


def test_single_byte_flips_never_read_back_as_different_values(tmp_path: Path) -> None:
    """Of N random single-byte flips none reads back silently changed: each is refused with an error
    naming the file and the partition (and the file is moved aside), or reads identical values."""
    store = ParquetIOManager(base_dir=str(tmp_path))
    store.write_partition(FEATURES, KEY, _frame())
    path = store.partition_path(FEATURES, KEY)
    original, expected = path.read_bytes(), store.read_partition(FEATURES, KEY)
    rng = random.Random(12)
    refused = identical = 0
    for _ in range(120):
        damaged = bytearray(original)
        at = rng.randrange(len(damaged))
        damaged[at] ^= rng.randrange(1, 256)
        for aside in _corrupt_siblings(path):
            aside.unlink()
        path.write_bytes(bytes(damaged))
        try:
            back = store.read_partition(FEATURES, KEY)
        except CorruptPartitionError as error:
            message = str(error)
            assert "\n" not in message and str(path) in message, message
            assert message.endswith(f"re-materialize features[{KEY}]"), message
            assert not store.exists(FEATURES, KEY) and len(_corrupt_siblings(path)) == 1
            refused += 1
            continue
        pd.testing.assert_frame_equal(back, expected)
        assert back.attrs == expected.attrs
        identical += 1
    assert refused + identical == 120 and refused > 100, (refused, identical)


def test_truncated_and_foreign_partition_files_are_refused(tmp_path: Path) -> None:
    store = ParquetIOManager(base_dir=str(tmp_path))
    eth = "2025-01-02|ETH"
    store.write_partition(FEATURES, KEY, _frame("BTC"))
    store.write_partition(FEATURES, eth, _frame("ETH"))
    btc_path, eth_path = store.partition_path(FEATURES, KEY), store.partition_path(FEATURES, eth)

    shutil.copyfile(eth_path, btc_path)  # a valid file of another coin put in place
    with pytest.raises(
        CorruptPartitionError,
        match=r"the file is features\[2025-01-02\|ETH\]'s, not features\[2025-01-02\|BTC\]'s",
    ):
        store.read_partition(FEATURES, KEY)
    assert not store.exists(FEATURES, KEY)
    # the same file under another asset is refused too
    other = dg.AssetKey("labels")
    store.partition_path(other, eth).parent.mkdir(parents=True)
    shutil.copyfile(eth_path, store.partition_path(other, eth))
    with pytest.raises(CorruptPartitionError, match=r"is features\[2025-01-02\|ETH\]'s, not labels"):
        store.read_partition(other, eth)

    eth_path.write_bytes(eth_path.read_bytes()[:-100])
    with pytest.raises(CorruptPartitionError, match="truncated"):
        store.read_partition(FEATURES, eth)


def test_a_window_leaves_out_an_unreadable_partition_and_names_it(tmp_path: Path) -> None:
    store = ParquetIOManager(base_dir=str(tmp_path))
    keys = [f"2025-01-0{d}|{c}" for d in (1, 2) for c in ("BTC", "ETH")]
    for key in keys:
        store.write_partition(FEATURES, key, _frame(key[-3:]))
    path = store.partition_path(FEATURES, "2025-01-02|ETH")
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 3] ^= 0x10
    path.write_bytes(bytes(damaged))

    window = store.read_window(FEATURES, keys)
    assert sorted(set(zip(window["date"], window["symbol"], strict=True))) == [
        ("2025-01-01", "BTC"),
        ("2025-01-01", "ETH"),
        ("2025-01-02", "BTC"),
    ]
    assert list(window.attrs[UNREADABLE]) == ["2025-01-02|ETH"]
    assert list(unreadable_coins(window)) == ["ETH"]
    assert "re-materialize features[2025-01-02|ETH]" in unreadable_coins(window)["ETH"]
    assert not store.exists(FEATURES, "2025-01-02|ETH")


def count_rows(rows: pd.DataFrame, coin_keys: list[str]) -> dict[str, pd.DataFrame]:
    return {k: pd.DataFrame({"rows": [len(rows)]}) for k in coin_keys}


@dg.asset(partitions_def=GRID, backfill_policy=dg.BackfillPolicy.single_run(), ins={"bars": dg.AssetIn()})
def bar_counts(context: dg.AssetExecutionContext, bars: pd.DataFrame, compute: ComputeResource) -> dict:
    """As the coin steps do: one task per coin through map_by_coin, unreadable coins failed."""
    groups = {str(key).split("|")[1]: [str(key)] for key in context.partition_keys}
    args = {coin: (bars[bars["symbol"] == coin], keys) for coin, keys in groups.items()}
    empty = lambda: pd.DataFrame({"rows": [-1]})  # noqa: E731
    mapped = map_by_coin(context, compute, groups, count_rows, args, empty, None, unreadable_coins(bars))
    return {key: frame for key, (frame, _) in mapped.items()}


def test_through_dagster_a_corrupt_upstream_partition_fails_its_coin_only(tmp_path: Path, instance) -> None:  # noqa: F811
    base = tmp_path / "store"
    resources = {"io_manager": ParquetIOManager(base_dir=str(base)), "compute": ComputeResource()}
    tags = range_tags("2025-01-02|BTC", "2025-01-02|ETH")
    dg.materialize([bars], instance=instance, resources=resources, tags=tags)
    store = resources["io_manager"]
    path = store.partition_path(dg.AssetKey("bars"), "2025-01-02|ETH")
    path.write_bytes(path.read_bytes()[:-40] + bytes(40))

    result = dg.materialize(
        [bars.to_source_asset(), bar_counts],
        instance=instance,
        resources=resources,
        selection=[bar_counts],
        tags=tags,
    )
    assert result.success
    counts = dg.AssetKey("bar_counts")
    assert store.read_partition(counts, "2025-01-02|BTC")["rows"].tolist() == [2]
    assert store.read_partition(counts, "2025-01-02|ETH")["rows"].tolist() == [-1]
    errors = [e.user_message for e in instance.all_logs(result.run_id) if "coin_failed" in e.user_message]
    assert len(errors) == 1 and "coin=ETH" in errors[0] and "re-materialize bars[2025-01-02|ETH]" in errors[0]
    assert not store.exists(dg.AssetKey("bars"), "2025-01-02|ETH")  # moved aside: a re-run rebuilds it


# -- model folders --------------------------------------------------------------------------------
def _models_store(tmp_path: Path):
    from huracan_assets_tests.resources.test_storage import _tiny_models

    manager = ModelIOManager(base_dir=str(tmp_path))
    key = str(coin_day_key("2025-01-30", "BTC"))
    manager.write_partition(dg.AssetKey("models"), key, _tiny_models())
    return manager, key, _tiny_models


def test_a_truncated_cbm_is_refused_at_load_naming_the_file(tmp_path: Path) -> None:
    manager, key, _ = _models_store(tmp_path)
    models = dg.AssetKey("models")
    stored = manager.read_partition(models, key)
    path = stored.model_path("flow", "4h")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptPartitionError) as caught:
        stored.load_model("flow", "4h")
    message = str(caught.value)
    assert str(path) in message and "content hash mismatch" in message
    assert message.endswith(f"re-materialize models[{key}]") and "\n" not in message
    assert not manager.exists(models, key)  # moved aside: the partition reads as missing


def test_a_changed_bundle_or_another_coins_folder_is_unreadable(tmp_path: Path) -> None:
    manager, key, tiny = _models_store(tmp_path)
    models = dg.AssetKey("models")
    bundle = manager.partition_path(models, key) / "bundle.json"
    bundle.write_text(bundle.read_text().replace('"fits": 4', '"fits": 5'))
    stored = manager.read_partition(models, key)
    assert stored.status == "unreadable" and "content hash mismatch" in stored.reason
    assert f"re-materialize models[{key}]" in stored.reason and not manager.exists(models, key)

    eth = str(coin_day_key("2025-01-30", "ETH"))
    manager.write_partition(models, eth, tiny("ETH"))
    target = manager.partition_path(models, key)
    shutil.copytree(manager.partition_path(models, eth), target)
    stored = manager.read_partition(models, key)
    assert stored.status == "unreadable" and "models of 2025-01-30|ETH, not 2025-01-30|BTC" in stored.reason


def test_every_step_of_the_model_swap_leaves_a_complete_folder(tmp_path: Path) -> None:
    manager, key, tiny = _models_store(tmp_path)
    models = dg.AssetKey("models")
    target = manager.partition_path(models, key)
    before = manager.read_partition(models, key).bundle["sha256"]
    staging = target.with_name(".staging-for-test")
    staging.mkdir()
    new = tiny(cold_start=False)
    write_coin_models(staging, new)
    after = json.loads((staging / "bundle.json").read_text())["sha256"]
    assert before != after
    seen = []
    for step in _swap_steps(staging, target):
        step()  # a crash after any step leaves what the reader sees here
        stored = manager.read_partition(models, key)
        assert manager.exists(models, key) and stored.status == "trained"
        assert stored.bundle["sha256"] in (before, after)
        stored.load_model("flow", "4h")  # every file the bundle lists checks out
        seen.append(stored.bundle["sha256"])
    assert seen[0] == before and seen[-1] == after
    leftovers = [p.name for p in target.parent.iterdir() if p.name != target.name]
    assert len(leftovers) == 1 and leftovers[0].endswith(".version")  # the old version is gone
    assert target.is_symlink() and target.resolve().name == leftovers[0]
