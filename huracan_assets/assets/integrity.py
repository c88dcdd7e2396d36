"""data_integrity_report[date]: gaps, drops, outliers, vendor mismatches and check outcomes per coin.

The day itself comes from its validated_bars partitions (loaded through the partition
mapping). The heat-map's look-back columns come from the recorded materialization metadata
of validated_bars for the earlier days (Dagster's own event log, not files read behind its
back): a daily report does not depend on every earlier day's bars through a partition mapping
(there is no day -> day x coin window mapping), and a coin-day built without per-partition
detail was a clean one (see ``PartitionMetadata``).
"""

from datetime import date, timedelta
from typing import Any

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import CODE_VERSION, ONE_DAY_PER_RUN, run_keys
from huracan_assets.core.integrity import (
    heatmap_markdown,
    heatmap_png,
    integrity_history,
    integrity_markdown,
    integrity_report,
)
from huracan_assets.partitions import Partitions, coin_day_key
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.resources.storage import split_key

HISTORY_FIELDS = (
    "status",
    "reason",
    "gaps_repaired",
    "outliers",
    "duplicates_resolved",
    "invalid_bars",
    "vendor_mismatches",
    "raw_schema_failures",
)

CHECKED = {
    "validated_bars": ("validated_bars_schema", "validated_bars_raw_schema", "validated_bars_source_quality"),
    "features": ("features_schema",),
    "labels": ("labels_schema",),
}


def check_outcomes_for_day(
    instance: dg.DagsterInstance, day: str, limit: int = 50
) -> dict[str, dict[str, str]]:
    """coin -> {check -> pass|fail} from the latest check evaluations in the event log covering ``day``."""
    outcomes: dict[str, dict[str, str]] = {}
    for asset, names in CHECKED.items():
        for name in names:
            key = dg.AssetCheckKey(dg.AssetKey(asset), name)
            for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=limit):
                evaluation = _evaluation(record)
                if evaluation is None:
                    continue
                per_coin = evaluation.metadata.get("per_coin")
                values = getattr(per_coin, "value", None) or getattr(per_coin, "data", None) or {}
                for partition, outcome in values.items():
                    p_day, coin = split_key(partition)
                    if p_day == day and coin is not None:
                        outcomes.setdefault(coin, {}).setdefault(name, outcome)
    return outcomes


def recorded_qualities(
    instance: dg.DagsterInstance, days: list[str], coins: list[str]
) -> dict[tuple[str, str], dict | None]:
    """(day, coin) -> quality fields from the latest validated_bars materialization, None if never built."""
    key = dg.AssetKey("validated_bars")
    wanted = {str(coin_day_key(d, c)): (d, c) for d in days for c in coins}
    built = {str(k) for k in instance.get_materialized_partitions(key)} & set(wanted)
    cells: dict[tuple[str, str], dict | None] = dict.fromkeys(wanted.values())
    keys = sorted(built)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        result = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=chunk), limit=len(chunk) * 4
        )
        for record in reversed(result.records):  # newest last, so the newest wins
            materialization = record.event_log_entry.asset_materialization
            if materialization is None or materialization.partition not in wanted:
                continue
            metadata = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
            # a run summary without per-partition detail: the partition had nothing notable
            cells[wanted[materialization.partition]] = (
                {k: metadata[k] for k in HISTORY_FIELDS if k in metadata}
                if "status" in metadata
                else {"status": "ok"}
            )
    for partition in built:
        cells[wanted[partition]] = cells[wanted[partition]] or {"status": "ok"}
    return cells


def _evaluation(record: Any) -> Any:
    event = getattr(record, "event", None)
    data = getattr(getattr(event, "dagster_event", None), "event_specific_data", None)
    return data if hasattr(data, "metadata") else None


def build(partitions: Partitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        code_version=CODE_VERSION,
        partitions_def=partitions.days,
        backfill_policy=ONE_DAY_PER_RUN,
        group_name="publishing",
        io_manager_key="json_io_manager",
        kinds={"json"},
        ins={
            "validated_bars": dg.AssetIn(
                partition_mapping=partitions.by_day, metadata={"load": "by_partition"}
            ),
            "coin_universe": dg.AssetIn(),
        },
        deps=[
            dg.AssetDep("features", partition_mapping=partitions.by_day),
            dg.AssetDep("labels", partition_mapping=partitions.by_day),
        ],
        description="Per coin: gaps repaired, days dropped and why, outliers, duplicates, vendor mismatches, "
        "stale data and the outcomes of the Pandera checks of the day.",
    )
    def data_integrity_report(
        context: dg.AssetExecutionContext,
        validated_bars: dict[str, pd.DataFrame],
        coin_universe: pd.DataFrame,
        huracan_settings: HuracanSettingsResource,
    ) -> dict[str, dict]:
        lookback_days = huracan_settings.get().lookback_days
        out = {}
        for day in run_keys(context):
            qualities = [
                f.attrs["quality"]
                for k, f in validated_bars.items()
                if split_key(k)[0] == day and "quality" in f.attrs
            ]
            universe = coin_universe[coin_universe["date"] == day]
            eligible = set(universe.loc[universe["eligible"], "coin"])
            report = integrity_report(day, qualities, check_outcomes_for_day(context.instance, day), eligible)
            coins = sorted({q["coin"] for q in qualities})
            first = date.fromisoformat(day) - timedelta(days=lookback_days - 1)
            earlier = [(first + timedelta(days=i)).isoformat() for i in range(lookback_days - 1)]
            cells = recorded_qualities(context.instance, earlier, coins)
            cells.update({(day, q["coin"]): q for q in qualities})
            report["history"] = integrity_history([*earlier, day], coins, cells)
            png = heatmap_png(report["history"])
            out[day] = report
            context.add_asset_metadata(
                {
                    **{k: int(v) for k, v in report["totals"].items()},
                    "history_days": len(report["history"]["days"]),
                    "history_coin_days_with_problems": len(report["history"]["problems"]),
                    "report": dg.MetadataValue.md(integrity_markdown(report)),
                    "heatmap": dg.MetadataValue.md(heatmap_markdown(png)),
                },
                partition_key=day,
            )
        return out

    return [data_integrity_report]
