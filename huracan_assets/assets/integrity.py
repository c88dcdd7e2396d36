"""data_integrity_report[date]: gaps, drops, outliers, vendor mismatches and check outcomes per coin.

Everything comes from the stored data: the report reads each validated_bars partition's quality
record (kept in its Parquet footer, :mod:`huracan_assets.checks.loading`) for every coin over the
look-back window, through a day -> every coin of D-(lookback-1)..D mapping. The day's rows come
from the day's partitions, the heat-map from the window. Only the check outcomes come from the
event log, which is where Dagster keeps them.
"""

from typing import Any

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import ONE_DAY_PER_RUN, run_keys
from huracan_assets.checks.loading import STORED_ATTRS_LOADER
from huracan_assets.core.integrity import heatmap_markdown, integrity_markdown
from huracan_assets.partitions import Partitions
from huracan_assets.resources.storage import split_key
from huracan_assets.steps.frames import CODE_VERSION
from huracan_assets.steps.integrity import integrity_for_day, window_days

CHECKED = {
    "validated_bars": ("validated_bars_schema", "validated_bars_raw_schema", "validated_bars_source_quality"),
    "features": ("features_schema",),
    "labels": ("labels_schema",),
}


def check_outcomes_for_days(
    instance: dg.DagsterInstance, days: list[str], limit: int = 50
) -> dict[str, dict[str, dict[str, str]]]:
    """day -> coin -> {check -> pass|fail} from the latest check evaluations in the event log
    covering ``days`` (the newest evaluation of a coin-day wins)."""
    wanted = set(days)
    outcomes: dict[str, dict[str, dict[str, str]]] = {}
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
                    if p_day in wanted and coin is not None:
                        outcomes.setdefault(p_day, {}).setdefault(coin, {}).setdefault(name, outcome)
    return outcomes


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
            # the quality record of every coin-day of the look-back window (Parquet footers only)
            "validated_bars": dg.AssetIn(
                # the window the day's models trained on: D-lookback_days..D (models' own mapping)
                partition_mapping=partitions.days_all_coins(partitions.lookback_days),
                input_manager_key=STORED_ATTRS_LOADER,
                metadata={"allow_missing": True},
            ),
            # the universe of every day of the window that has one: look-back days without an
            # eligible coin are reported here (only the run day blocks, in coin_universe_not_empty)
            "coin_universe": dg.AssetIn(
                partition_mapping=dg.TimeWindowPartitionMapping(
                    start_offset=-partitions.lookback_days,
                    end_offset=0,
                    allow_nonexistent_upstream_partitions=True,
                ),
                metadata={"allow_missing": True},
            ),
        },
        deps=[
            dg.AssetDep("features", partition_mapping=partitions.by_day),
            dg.AssetDep("labels", partition_mapping=partitions.by_day),
        ],
        description="Totals over every coin-day of the look-back window the day's models trained on "
        "(repaired, dropped, quarantined, stale, missing, vendor mismatches, checks failed), the day's "
        "own totals, per coin: gaps repaired, days dropped and why, outliers, duplicates, vendor "
        "mismatches, stale or missing data and the outcomes of the Pandera checks of the day; look-back "
        "days without an eligible coin.",
    )
    def data_integrity_report(
        context: dg.AssetExecutionContext,
        validated_bars: dict[str, dict | None],
        coin_universe: pd.DataFrame,
    ) -> dict[str, dict]:
        out = {}
        if coin_universe is None:
            coin_universe = pd.DataFrame(columns=["date", "coin", "eligible"])
        elif "date" not in coin_universe:  # one partition read on its own carries no date column
            coin_universe = coin_universe.assign(date=context.partition_key)
        for day in run_keys(context):
            days = window_days(day, partitions.lookback_days)
            outcomes = check_outcomes_for_days(context.instance, days, limit=max(50, 2 * len(days)))
            report = integrity_for_day(day, days, validated_bars, outcomes, coin_universe)
            out[day] = report
            context.add_asset_metadata(
                {
                    **{k: int(v) for k, v in report["totals"].items()},
                    **{f"day_{k}": int(v) for k, v in report["day_totals"].items()},
                    "history_days": len(report["history"]["days"]),
                    "history_coin_days_with_problems": len(report["history"]["problems"]),
                    "report": dg.MetadataValue.md(integrity_markdown(report)),
                    "heatmap": dg.MetadataValue.md(heatmap_markdown(report["history"])),
                },
                partition_key=day,
            )
        return out

    return [data_integrity_report]
