"""data_integrity_report[date]: gaps, drops, outliers, vendor mismatches and check outcomes per coin."""

from typing import Any

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import SINGLE_RUN, run_keys
from huracan_assets.core.integrity import integrity_markdown, integrity_report
from huracan_assets.partitions import Partitions
from huracan_assets.resources.storage import split_key

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


def _evaluation(record: Any) -> Any:
    event = getattr(record, "event", None)
    data = getattr(getattr(event, "dagster_event", None), "event_specific_data", None)
    return data if hasattr(data, "metadata") else None


def build(partitions: Partitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        partitions_def=partitions.days,
        backfill_policy=SINGLE_RUN,
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
    ) -> dict[str, dict]:
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
            out[day] = report
            context.add_asset_metadata(
                {
                    **{k: int(v) for k, v in report["totals"].items()},
                    "report": dg.MetadataValue.md(integrity_markdown(report)),
                },
                partition_key=day,
            )
        return out

    return [data_integrity_report]
