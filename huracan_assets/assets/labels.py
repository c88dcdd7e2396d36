"""labels[date x symbol]: forward returns per horizon, stored on the day they resolve."""

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
from huracan_assets.checks.schemas import LabelsSchema
from huracan_assets.core.labels import empty_labels
from huracan_assets.partitions import Partitions
from huracan_assets.resources.compute import ComputeResource
from huracan_assets.resources.metrics import MetricsResource
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.resources.storage import CoinWindows
from huracan_assets.steps.frames import CODE_VERSION, keys_by_coin
from huracan_assets.steps.labels import labels_by_day


def build(partitions: Partitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        code_version=CODE_VERSION,
        metadata={"dagster/column_schema": column_schema(LabelsSchema)},
        partitions_def=partitions.coin_days,
        backfill_policy=SINGLE_RUN,
        group_name="features",
        kinds={"pandas", "parquet"},
        ins={
            "features": dg.AssetIn(
                partition_mapping=partitions.window(partitions.label_lookback_days),
                metadata={"load": "per_coin"},
            )
        },
        description="Forward returns per horizon (bps) from the fill (decision + execution latency, rounded up "
        "to a bar close); a label is stored on the day it resolves, so labels[D] is what is known at D's end.",
    )
    def labels(
        context: dg.AssetExecutionContext,
        features: CoinWindows,
        compute: ComputeResource,
        metrics: MetricsResource,
        huracan_settings: HuracanSettingsResource,
    ) -> dict[str, pd.DataFrame]:
        settings = huracan_settings.get()
        groups = keys_by_coin(run_keys(context))

        frames = coin_frames(features, list(groups))
        args = {coin: (frames[coin], settings, keys) for coin, keys in groups.items()}
        out: dict[str, pd.DataFrame] = {}
        metadata = PartitionMetadata(context, sum(len(k) for k in groups.values()))
        for key, (frame, _) in map_by_coin(
            context, compute, groups, labels_by_day, args, empty_labels, metrics, unreadable_coins(features)
        ).items():
            out[key] = frame
            counts = frame["horizon"].value_counts().to_dict() if len(frame) else {}
            metadata.add(
                key,
                {"rows": len(frame), **{f"labels_{h}": int(counts.get(h, 0)) for h in settings.horizons}},
                notable=frame.empty,
            )
        metadata.flush(
            {
                "rows_in_run": sum(len(f) for f in out.values()),
                "horizons": ", ".join(settings.horizons),
                "fill_delay_bars": settings.fill_delay_bars,
            }
        )
        return out

    return [labels]
