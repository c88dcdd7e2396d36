"""features[date x symbol]: the feature families of the day's bars, versioned by features_hash."""

from datetime import timedelta

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import (
    SINGLE_RUN,
    PartitionMetadata,
    day_of,
    keys_by_coin,
    map_by_coin,
    rows_for,
    run_keys,
)
from huracan_assets.checks.catalog import column_schema
from huracan_assets.checks.schemas import FeaturesSchema
from huracan_assets.core.bars import day_bounds
from huracan_assets.core.features import CONTEXT_COLUMNS, FEATURE_NAMES, compute_features, features_hash
from huracan_assets.partitions import Partitions
from huracan_assets.resources.compute import ComputeResource
from huracan_assets.resources.settings import HuracanSettingsResource

FEATURE_COLUMNS = ["open_time", *FEATURE_NAMES, *CONTEXT_COLUMNS]


def empty_features() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in FEATURE_COLUMNS})
    frame["open_time"] = pd.Series(dtype="datetime64[ns, UTC]")
    return frame[FEATURE_COLUMNS]


def series_of(frame: pd.DataFrame, drop: tuple[str, ...] = ("date", "symbol")) -> pd.DataFrame:
    return (
        frame.drop(columns=[c for c in drop if c in frame])
        .sort_values("open_time")
        .drop_duplicates("open_time")
    )


def features_by_day(bars: pd.DataFrame, bar: timedelta, keys: list[str]) -> dict[str, pd.DataFrame]:
    """Features of one coin for each partition key: computed once over the whole window, then cut by day.

    The core call of one coin (shared by the asset and the plain-loop benchmark).
    """
    table = compute_features(series_of(bars), bar) if len(bars) else pd.DataFrame()
    out = {}
    for key in keys:
        start, end = day_bounds(day_of(key))
        rows = table.loc[(table.index >= start) & (table.index < end)] if len(table) else table
        out[key] = rows.reset_index() if len(rows) else empty_features()
    return out


def build(partitions: Partitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        code_version=features_hash()[:16],
        metadata={"dagster/column_schema": column_schema(FeaturesSchema)},
        partitions_def=partitions.coin_days,
        backfill_policy=SINGLE_RUN,
        group_name="features",
        kinds={"pandas", "parquet"},
        ins={
            "validated_bars": dg.AssetIn(partition_mapping=partitions.window(partitions.feature_warmup_days)),
        },
        description="Feature families (momentum, mean reversion, breakout, flow) for the bars of the day, "
        "computed with the look-back days as warm-up; versioned by features_hash.",
    )
    def features(
        context: dg.AssetExecutionContext,
        validated_bars: pd.DataFrame,
        compute: ComputeResource,
        huracan_settings: HuracanSettingsResource,
    ) -> dict[str, pd.DataFrame]:
        settings = huracan_settings.get()
        fhash = features_hash()
        groups = keys_by_coin(run_keys(context))

        def per_coin(coin: str) -> dict[str, pd.DataFrame]:
            return features_by_day(rows_for(validated_bars, symbol=coin), settings.bar, groups[coin])

        out: dict[str, pd.DataFrame] = {}
        metadata = PartitionMetadata(context, sum(len(k) for k in groups.values()))
        for key, (frame, failure) in map_by_coin(context, compute, groups, per_coin, empty_features).items():
            status = f"failed: {failure}" if failure else ("ok" if len(frame) else "no validated bars")
            frame.attrs = {"features_hash": fhash, "status": status}
            out[key] = frame
            metadata.add(key, {"rows": len(frame), "status": status}, notable=status != "ok")
        metadata.flush(
            {
                "features_hash": fhash,
                "n_features": len(FEATURE_NAMES),
                "rows_in_run": sum(len(f) for f in out.values()),
                "partitions_without_rows": sum(f.empty for f in out.values()),
            }
        )
        return out

    return [features]
