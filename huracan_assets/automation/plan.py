"""Reads what a day needs off the instance and hands it to the one plan (``core/day_plan.py``).

Used by ``new_coin_sensor`` (under the daemon) and by ``huracan daily`` (orchestration.py).
"""

from dataclasses import replace
from datetime import date, timedelta

import dagster as dg

from huracan_assets.automation.jobs import PER_COIN_HISTORY
from huracan_assets.core.day_plan import DayPlan, missing_blocks, plan_day
from huracan_assets.partitions import COINS, Partitions, coin_day_key
from huracan_assets.resources.storage import ModelIOManager, ParquetIOManager, split_key
from huracan_assets.stores.files import partition_label

UNIVERSE = dg.AssetKey("coin_universe")


def eligible_from_metadata(metadata: dict) -> list[str]:
    value = metadata.get("eligible_coins")
    text = getattr(value, "value", value) or ""
    return [c.strip() for c in str(text).split(",") if c.strip()]


def universe_record(instance: dg.DagsterInstance, day: str) -> dg.EventLogRecord | None:
    """The newest materialization of ``coin_universe[day]``, or None."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=UNIVERSE, asset_partitions=[day]), limit=1
    ).records
    return records[0] if records else None


def universe_is_current(instance: dg.DagsterInstance, day: str, code_version: str | None) -> bool:
    """``coin_universe[day]`` exists and was built by this code version (this market, these rules).

    A universe built for another market (``--coins 10`` on an instance built with 8) is stale:
    rebuilding it is how the new coins are found.
    """
    record = universe_record(instance, day)
    if record is None:
        return False
    if code_version is None:
        return True
    materialization = record.event_log_entry.asset_materialization
    tags = (materialization.tags or {}) if materialization else {}
    return tags.get("dagster/code_version") == code_version


def eligible_on(instance: dg.DagsterInstance, day: str) -> list[str]:
    record = universe_record(instance, day)
    if record is None or record.event_log_entry.asset_materialization is None:
        raise LookupError(f"coin_universe[{day}] was never materialised")
    return eligible_from_metadata(dict(record.event_log_entry.asset_materialization.metadata))


def materialized_coin_days(instance: dg.DagsterInstance, asset: str) -> set[tuple[str, str]]:
    out = set()
    for key in instance.get_materialized_partitions(dg.AssetKey(asset)):
        day, coin = split_key(str(key))
        out.add((day, str(coin)))
    return out


def stored_coin_days(
    instance: dg.DagsterInstance, asset: str, days: list[str], storage: ParquetIOManager | None
) -> tuple[set[tuple[str, str]], list[str]]:
    """The (day, coin) partitions of ``asset`` materialised on the instance, less those of
    ``days`` whose stored file is not whole (gone, moved aside as corrupt, cut short); and the
    labels of those. Without ``storage`` the instance's records are taken as they are."""
    recorded = materialized_coin_days(instance, asset)
    if storage is None:
        return recorded, []
    needed = set(days)
    key = dg.AssetKey(asset)
    lost = sorted(
        (d, c) for d, c in recorded if d in needed and not storage.stored_whole(key, str(coin_day_key(d, c)))
    )
    return recorded - set(lost), [partition_label(asset, f"{d}|{c}") for d, c in lost]


def lost_models(
    instance: dg.DagsterInstance,
    partitions: Partitions,
    day: str,
    models: ModelIOManager | None,
    coins: list[str],
) -> tuple[list[tuple[str, tuple[str, ...]]], list[str]]:
    """The recorded ``models`` partitions of the days before ``day`` that the day reads (up to
    ``max_champion_age_days`` back) whose folder has no ``bundle.json`` (deleted, moved aside as
    corrupt, lost in a crash): as ``(day, coin block)`` to rebuild, oldest first, and their labels.
    One ``stat`` per recorded partition of the window."""
    if models is None:
        return [], []
    when = date.fromisoformat(day)
    days = {
        (when - timedelta(days=back)).isoformat() for back in range(1, partitions.max_champion_age_days + 1)
    }
    key = dg.AssetKey("models")
    lost: dict[str, set[str]] = {}
    for d, coin in materialized_coin_days(instance, "models"):
        if d in days and not models.exists(key, str(coin_day_key(d, coin))):
            lost.setdefault(d, set()).add(coin)
    order = list(coins) + sorted({c for cs in lost.values() for c in cs} - set(coins))
    blocks = [(d, block) for d in sorted(lost) for block in missing_blocks(order, set(order) - lost[d])]
    labels = [partition_label("models", f"{d}|{c}") for d, block in blocks for c in block]
    return blocks, labels


def plan_for(
    instance: dg.DagsterInstance,
    partitions: Partitions,
    day: str,
    storage: ParquetIOManager | None = None,
    models: ModelIOManager | None = None,
) -> DayPlan:
    """The plan of ``day`` from the instance's state: ``coin_universe[day]`` must exist.

    With ``storage`` (the Parquet IO manager the history lives in), every recorded partition of
    the look-back window is also checked to be stored whole (existence, size and the Parquet
    tail; no hash): one that is not is planned again, as if never materialised. With ``models``
    (the model IO manager), the earlier days' model partitions the day reads are checked too
    (:func:`lost_models`).
    """
    windows = partitions.history_windows(date.fromisoformat(day))
    materialized, damaged = {}, []
    for asset in PER_COIN_HISTORY:
        materialized[asset], lost = stored_coin_days(instance, asset, windows[asset], storage)
        damaged += lost
    plan = plan_day(
        day,
        eligible=eligible_on(instance, day),
        known_coins=list(instance.get_dynamic_partitions(COINS.name)),
        windows={asset: windows[asset] for asset in PER_COIN_HISTORY},
        materialized=materialized,
    )
    blocks, lost = lost_models(instance, partitions, day, models, list(plan.coins))
    return replace(plan, damaged=tuple(damaged + lost), models=tuple(blocks))
