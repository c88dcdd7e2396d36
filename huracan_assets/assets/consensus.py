"""consensus[date x symbol]: gated, reliability- and correlation-weighted engine votes; DecisionEvents.

* ``simulated`` events: what the consensus of yesterday's models (trained at the end of D-1)
  did on the bars of D, each buy/sell a DecisionEvent;
* ``live`` events: the decision at the close of D with today's models (the regime model of the
  current regime where there is one), one per horizon.
Weights come from the engines' decayed out-of-sample records in ``scores``; the regime gate
decides which engines vote in each regime (stand aside when none qualifies).
"""

from datetime import timedelta

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import (
    SINGLE_RUN,
    PartitionMetadata,
    map_by_partition,
    run_keys,
    unreadable_coins,
)
from huracan_assets.partitions import Partitions
from huracan_assets.resources.compute import ComputeResource
from huracan_assets.resources.metrics import MetricsResource
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.resources.storage import CoinDayModels, CoinWindows
from huracan_assets.steps.consensus import consensus_for_day, empty_events
from huracan_assets.steps.frames import CODE_VERSION, day_of


def build(partitions: Partitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        code_version=CODE_VERSION,
        partitions_def=partitions.coin_days,
        backfill_policy=SINGLE_RUN,
        group_name="training",
        kinds={"pandas", "parquet"},
        ins={
            # each coin's two folders read where its task runs
            "models": dg.AssetIn(
                partition_mapping=partitions.window(1),
                metadata={"load": "lazy", "allow_missing": True},
            ),
            "features": dg.AssetIn(metadata={"load": "per_coin"}),
            "scores": dg.AssetIn(metadata={"load": "by_partition"}),
        },
        description="Consensus score S in [-1, 1] per horizon with confidence and level; gated by regime, "
        "weighted by decayed out-of-sample reliability with a correlation cut; every simulated action on the "
        "day's bars and the live decision at the close are DecisionEvents.",
    )
    def consensus(
        context: dg.AssetExecutionContext,
        models: CoinDayModels,
        features: CoinWindows,
        scores: dict[str, pd.DataFrame],
        compute: ComputeResource,
        metrics: MetricsResource,
        huracan_settings: HuracanSettingsResource,
    ) -> dict[str, pd.DataFrame]:
        settings = huracan_settings.get()
        keys = run_keys(context)

        # each task reads its coin-day's rows only
        args = {}
        for key in keys:
            day = day_of(key)
            coin = key.split("|")[1]
            # consensus_for_day's arguments: the coin-day's models (paths), features and scores
            args[key] = (
                models.part(coin, [day.isoformat()], single=True),
                models.part(coin, [(day - timedelta(days=1)).isoformat()], single=True),
                features.partition(key),
                scores.get(key, pd.DataFrame()),
                day.isoformat(),
                settings,
            )

        # a refused stored partition (moved aside) of a coin's inputs fails that coin by name
        refused = unreadable_coins(models, features, scores)
        out = map_by_partition(
            context, compute, consensus_for_day, args, empty_events, metrics, unreadable=refused
        )
        metadata = PartitionMetadata(context, len(keys))
        for key, result in out.items():
            live = result[result["kind"] == "live"] if len(result) else result
            metadata.add(
                key,
                {
                    "events": len(result),
                    "live": dg.MetadataValue.md(
                        "\n".join(
                            f"- {r.horizon} ({r.regime}): S={r.S:+.3f} {r.level} → {r.action}"
                            for r in live.itertuples()
                        )
                        or "_no live decision_"
                    ),
                },
                notable=live.empty,
            )
        metadata.flush({"events_in_run": sum(len(f) for f in out.values())})
        return out

    return [consensus]
