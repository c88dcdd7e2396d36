"""scores[date x symbol]: out-of-sample edge after costs of every recent model, per engine x horizon x regime.

The records scored are the shadow records of some models of the last ``longest_shadow_days``
days (their predictions on the bars after their cut-off plus embargo, labels resolved by the
end of the day; ``steps.scores.scored_model_days``: each horizon's challenger cohort among them)
and, for a cold-start coin, the purged walk-forward record of its first models. Every record is
scored under the consensus's acting rule with per-decision costs, as the champions step judges
its challengers (``steps/scores.py``).
"""

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import (
    SINGLE_RUN,
    PartitionMetadata,
    coin_frames,
    map_by_partition,
    run_keys,
    unreadable_coins,
)
from huracan_assets.core.scoring import empty_scores
from huracan_assets.partitions import Partitions
from huracan_assets.resources.compute import ComputeResource
from huracan_assets.resources.metrics import MetricsResource
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.resources.storage import CoinDayModels, CoinWindows, PartitionValues, split_key
from huracan_assets.steps.frames import CODE_VERSION, day_of, keys_by_coin, universe_for
from huracan_assets.steps.scores import score_for_day, score_summary, scored_model_days


def build(partitions: Partitions) -> list[dg.AssetsDefinition]:
    window = partitions.window(partitions.longest_shadow_days)

    @dg.asset(
        code_version=CODE_VERSION,
        partitions_def=partitions.coin_days,
        backfill_policy=SINGLE_RUN,
        group_name="training",
        kinds={"pandas", "parquet"},
        ins={
            # each coin's folders of the scored days read where its task runs (the window is 24 days)
            "models": dg.AssetIn(partition_mapping=window, metadata={"load": "lazy", "allow_missing": True}),
            # the longest shadow (23 days for 1d) can reach past a coin's history: its records are then shorter
            "features": dg.AssetIn(
                partition_mapping=window, metadata={"load": "per_coin", "allow_missing": True}
            ),
            "labels": dg.AssetIn(
                partition_mapping=window, metadata={"load": "per_coin", "allow_missing": True}
            ),
            "coin_universe": dg.AssetIn(partition_mapping=partitions.by_day),
        },
        description="Out-of-sample metrics after round-trip fees, spread, square-root slippage and funding, "
        "under the consensus's acting rule (the champions step's), for the challenger cohort of every horizon "
        "and recent models (shadow records) and cold-start walk-forward records, per engine x horizon x regime.",
    )
    def scores(
        context: dg.AssetExecutionContext,
        models: CoinDayModels,
        features: CoinWindows,
        labels: CoinWindows,
        coin_universe: pd.DataFrame,
        compute: ComputeResource,
        metrics: MetricsResource,
        huracan_settings: HuracanSettingsResource,
    ) -> dict[str, pd.DataFrame]:
        settings = huracan_settings.get()
        keys = run_keys(context)
        groups = keys_by_coin(keys)

        features_of, labels_of = coin_frames(features, list(groups)), coin_frames(labels, list(groups))
        args: dict[str, tuple] = {}
        for coin, coin_keys in groups.items():
            for key in coin_keys:
                day = day_of(key)
                universe = universe_for(coin_universe, day)
                row = universe[universe["coin"] == coin] if len(universe) else universe
                if row.empty:  # not in the day's universe: no scores
                    continue
                wanted = scored_model_days(day, settings)
                # score_for_day's arguments: the coin's models and its own window, read where it runs
                args[key] = (
                    coin,
                    models.part(coin, wanted),
                    features_of[coin],
                    labels_of[coin],
                    row.iloc[0],
                    settings,
                    day.isoformat(),
                )

        ordered = [k for coin_keys in groups.values() for k in coin_keys]
        # a refused stored partition (moved aside) of a coin's window fails that coin by name; model
        # days this run does not score do not count
        scored_days = set().union(*(scored_model_days(day_of(k), settings) for k in keys))
        refused = unreadable_coins(features, labels, _refused_on_days(models, scored_days))
        scored = map_by_partition(
            context, compute, score_for_day, args, empty_scores, metrics, unreadable=refused
        )
        out = {key: scored[key] if key in scored else empty_scores() for key in ordered}
        metadata = PartitionMetadata(context, len(ordered))
        for key, result in out.items():
            metadata.add(key, score_summary(result, day_of(key).isoformat(), settings), notable=result.empty)
        metadata.flush({"rows_in_run": sum(len(f) for f in out.values())})
        return out

    return [scores]


def _refused_on_days(models: CoinDayModels, days: set[str]) -> PartitionValues:
    """The model partitions of ``days`` an earlier read refused (the others are read, and checked,
    where their coin's task runs)."""
    out = PartitionValues()
    out.unreadable = {k: e for k, e in models.unreadable.items() if split_key(k)[0] in days}
    return out
