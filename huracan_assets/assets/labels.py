"""labels[date x symbol]: forward returns per horizon, stored on the day they resolve."""

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import SINGLE_RUN, day_of, keys_by_coin, rows_for, run_keys
from huracan_assets.assets.features import series_of
from huracan_assets.core.bars import day_bounds
from huracan_assets.core.labels import compute_labels, empty_labels
from huracan_assets.partitions import Partitions
from huracan_assets.resources.compute import ComputeResource, TaskFailure
from huracan_assets.resources.settings import HuracanSettingsResource


def build(partitions: Partitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        partitions_def=partitions.coin_days,
        backfill_policy=SINGLE_RUN,
        group_name="features",
        kinds={"pandas", "parquet"},
        ins={"features": dg.AssetIn(partition_mapping=partitions.window(partitions.label_lookback_days))},
        description="Forward returns per horizon (bps) from the fill (decision + execution latency, rounded up "
        "to a bar close); a label is stored on the day it resolves, so labels[D] is what is known at D's end.",
    )
    def labels(
        context: dg.AssetExecutionContext,
        features: pd.DataFrame,
        compute: ComputeResource,
        huracan_settings: HuracanSettingsResource,
    ) -> dict[str, pd.DataFrame]:
        settings = huracan_settings.get()
        groups = keys_by_coin(run_keys(context))

        def per_coin(coin: str) -> dict[str, pd.DataFrame]:
            rows = rows_for(features, symbol=coin)
            close = series_of(rows).set_index("open_time")["close"] if len(rows) else pd.Series(dtype=float)
            out = {}
            all_labels = compute_labels(
                close,
                bar=settings.bar,
                horizon_bars=settings.horizon_bars,
                fill_delay_bars=settings.fill_delay_bars,
            )
            exit_day = all_labels["exit_time"].dt.floor("D") if len(all_labels) else None
            for key in groups[coin]:
                start, _ = day_bounds(day_of(key))
                out[key] = (
                    all_labels[exit_day == start].reset_index(drop=True)
                    if len(all_labels)
                    else empty_labels()
                )
            return out

        coins = list(groups)
        results = compute.map(per_coin, coins, keys=coins)
        out: dict[str, pd.DataFrame] = {}
        for coin, result in zip(coins, results, strict=True):
            for key in groups[coin]:
                if isinstance(result, TaskFailure):
                    context.log.error(f"event=coin_failed asset=labels coin={coin} error={result}")
                    frame = empty_labels()
                else:
                    frame = result[key]
                out[key] = frame
                counts = frame["horizon"].value_counts().to_dict() if len(frame) else {}
                context.add_asset_metadata(
                    {"rows": len(frame), **{f"labels_{h}": int(counts.get(h, 0)) for h in settings.horizons}},
                    partition_key=key,
                )
        return out

    return [labels]
