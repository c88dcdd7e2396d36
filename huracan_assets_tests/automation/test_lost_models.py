"""The day's plan finds earlier days' model partitions that are recorded but gone (issue 12,
item 3): deleted, moved aside as corrupt, or outside the window the day reads. A real instance
with recorded materializations and real model folders."""

from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from huracan_assets.automation.instance import INSTANCE_OVERRIDES
from huracan_assets.automation.plan import lost_models
from huracan_assets.core.training import CoinModels
from huracan_assets.partitions import COINS, build_partitions, coin_day_key
from huracan_assets.resources.storage import ModelIOManager
from huracan_assets.stores.files import move_aside
from huracan_assets_tests.conftest import small_settings

MODELS = dg.AssetKey("models")
DAY = "2025-11-20"
COIN_ORDER = ["BTC", "ETH", "SOL", "XRP"]


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
