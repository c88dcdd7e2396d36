"""features[date x symbol]: the feature families of the day's bars, versioned by features_hash."""

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import (
    SINGLE_RUN,
    PartitionMetadata,
    coin_frames,
    map_by_coin,
    run_keys,
    unreadable_coins,
)
from huracan_assets.checks.catalog import column_schema
from huracan_assets.checks.schemas import FeaturesSchema
from huracan_assets.core.features import FEATURE_NAMES, features_hash
from huracan_assets.partitions import Partitions
from huracan_assets.resources.compute import ComputeResource
from huracan_assets.resources.metrics import MetricsResource
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.resources.storage import CoinWindows
from huracan_assets.steps.features import empty_features, features_attrs, features_by_day
from huracan_assets.steps.frames import keys_by_coin


def build(partitions: Partitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        code_version=features_hash()[:16],
        metadata={"dagster/column_schema": column_schema(FeaturesSchema)},
        partitions_def=partitions.coin_days,
        backfill_policy=SINGLE_RUN,
        group_name="features",
        kinds={"pandas", "parquet"},
        ins={
            "validated_bars": dg.AssetIn(
                partition_mapping=partitions.window(partitions.feature_warmup_days),
                metadata={"load": "per_coin"},
            ),
        },
        description="Feature families (momentum, mean reversion, breakout, flow) for the bars of the day, "
        "computed with the look-back days as warm-up; versioned by features_hash.",
    )
    def features(
        context: dg.AssetExecutionContext,
        validated_bars: CoinWindows,
        compute: ComputeResource,
        metrics: MetricsResource,
        huracan_settings: HuracanSettingsResource,
    ) -> dict[str, pd.DataFrame]:
        settings = huracan_settings.get()
        fhash = features_hash()
        groups = keys_by_coin(run_keys(context))

        bars = coin_frames(validated_bars, list(groups))
        args = {coin: (bars[coin], settings.bar, keys) for coin, keys in groups.items()}
        out: dict[str, pd.DataFrame] = {}
        metadata = PartitionMetadata(context, sum(len(k) for k in groups.values()))
        mapped = map_by_coin(
            context,
            compute,
            groups,
            features_by_day,
            args,
            empty_features,
            metrics,
            unreadable_coins(validated_bars),
        )
        for key, (frame, failure) in mapped.items():
            frame.attrs = features_attrs(frame, fhash, failure)
            status = frame.attrs["status"]
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
