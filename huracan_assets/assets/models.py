"""models[date x symbol]: CatBoost per engine x horizon (x regime) on the look-back window.

One pooled fit per engine x horizon on the whole window (cut-off: the end of the day); a coin
with no record yet (no trained models yesterday) also gets its purged walk-forward cold-start
record. See ``core/training.py``.
"""

from typing import Any

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import (
    SINGLE_RUN,
    PartitionMetadata,
    coin_failed,
    coin_frames,
    refuse_while_previous_day_runs,
    run_keys,
    unreadable_coins,
)
from huracan_assets.core.features import features_hash
from huracan_assets.core.training import CoinModels, StagedModels
from huracan_assets.partitions import Partitions
from huracan_assets.resources.compute import ComputeResource, TaskFailure
from huracan_assets.resources.metrics import MetricsResource
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.resources.storage import (
    UNREADABLE,
    CoinWindows,
    ModelIOManager,
    StoredModels,
    loading,
    split_key,
)
from huracan_assets.steps.frames import CODE_VERSION, day_of, keys_by_coin, universe_for
from huracan_assets.steps.models import eligible, not_eligible, train_and_stage


def build(partitions: Partitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        code_version=CODE_VERSION,
        partitions_def=partitions.coin_days,
        backfill_policy=SINGLE_RUN,
        group_name="training",
        kinds={"catboost"},
        io_manager_key="model_io_manager",
        ins={
            # each coin's window is read when its training runs (one coin's at a time in memory)
            "features": dg.AssetIn(
                partition_mapping=partitions.window(partitions.lookback_days), metadata={"load": "per_coin"}
            ),
            "labels": dg.AssetIn(
                partition_mapping=partitions.window(partitions.lookback_days), metadata={"load": "per_coin"}
            ),
            "coin_universe": dg.AssetIn(partition_mapping=partitions.by_day),
            "yesterday": dg.AssetIn(
                key="models",
                partition_mapping=partitions.previous_day(),
                metadata={"load": "by_partition", "allow_missing": True},
            ),
        },
        description="One CatBoost model per engine x horizon on the look-back window up to the day's end "
        "(purged early-stopping tail), regime refinements where a regime has enough rows, and — for a "
        "coin with no record yet — purged walk-forward cold-start folds as its first record.",
    )
    def models(
        context: dg.AssetExecutionContext,
        features: CoinWindows,
        labels: CoinWindows,
        coin_universe: pd.DataFrame,
        yesterday: dict[str, StoredModels],
        compute: ComputeResource,
        metrics: MetricsResource,
        huracan_settings: HuracanSettingsResource,
        model_io_manager: dg.ResourceParam[ModelIOManager],
    ) -> dict[str, Any]:  # partition key -> CoinModels (skipped) or StagedModels (trained)
        settings = huracan_settings.get()
        refused_universe = coin_universe.attrs.get(UNREADABLE, {})
        if refused_universe:
            # every coin of the day would be taken for one the universe does not list ("not in
            # the universe") and stored as skipped: the day's universe is not a per-coin input
            raise dg.Failure("; ".join(sorted(refused_universe.values())))
        fhash = features_hash()
        keys = run_keys(context)
        had_models = {split_key(k)[1] for k, m in yesterday.items() if m.status == "trained"}
        stored_yesterday = {split_key(k)[1] for k in [*yesterday, *getattr(yesterday, "unreadable", {})]}
        days = sorted({day_of(k).isoformat() for k in keys})
        if any(split_key(k)[1] not in stored_yesterday for k in keys):
            # a coin without yesterday's models would train as a cold start: not while that day runs
            for day in days:
                refuse_while_previous_day_runs(context, day, "daily_coins_job", "models")
        tasks = []
        out: dict[str, CoinModels | StagedModels] = {}
        groups = keys_by_coin(keys)
        features_of, labels_of = coin_frames(features, list(groups)), coin_frames(labels, list(groups))
        # a refused stored partition (moved aside) fails its coin by name; yesterday's models too:
        # without them the coin would be trained as a cold start, unlike a run over intact storage
        unreadable = unreadable_coins(features, labels, yesterday)
        for coin, coin_keys in groups.items():
            coin_features, coin_labels = features_of[coin], labels_of[coin]
            if coin in unreadable:
                coin_failed(context, metrics, f"coin={coin} error={unreadable[coin]}")
            for key in coin_keys:
                if coin in unreadable:
                    reason = f"training failed: {unreadable[coin]}"
                    out[key] = CoinModels(
                        coin=coin,
                        day=day_of(key).isoformat(),
                        features_hash=fhash,
                        status="skipped",
                        reason=reason,
                    )
                    continue
                day = day_of(key)
                universe = universe_for(coin_universe, day)
                row = universe[universe["coin"] == coin] if len(universe) else universe
                if not eligible(row):
                    out[key] = not_eligible(coin, day.isoformat(), fhash, row)
                    continue
                # train_and_stage's arguments: where to write, the coin's own window only
                args = (
                    str(model_io_manager.staging_path(context.asset_key, key)),
                    coin,
                    day.isoformat(),
                    coin_features,
                    coin_labels,
                    settings,
                    fhash,
                    coin not in had_models,
                )
                tasks.append((key, args))

        # cold starts first (a coin's walk-forward folds cost about 3-5 warm days): on a cluster
        # the longest tasks start first and no worker is left alone with one at the end (a 10-coin
        # day with one new coin on 2 workers: 2.93 -> 2.70 s); results come back in task order
        order = sorted(range(len(tasks)), key=lambda i: not tasks[i][1][-1])
        mapped = compute.map_timed(
            loading(train_and_stage), [tasks[i][1] for i in order], keys=[tasks[i][0] for i in order]
        )
        results = [result for _, result in sorted(zip(order, mapped, strict=True), key=lambda pair: pair[0])]
        for (key, (_, coin, day, *_)), (result, seconds) in zip(tasks, results, strict=True):
            if isinstance(result, TaskFailure):
                coin_failed(context, metrics, f"coin={coin} error={result}")
                result = CoinModels(
                    coin=coin,
                    day=day,
                    features_hash=fhash,
                    status="skipped",
                    reason=f"training failed: {result}",
                )
            else:
                metrics.run.train_seconds.observe(seconds)
            out[key] = result
        metadata = PartitionMetadata(context, len(out))
        for key, result in out.items():
            metadata.add(
                key,
                {
                    "status": result.status,
                    "reason": result.reason,
                    "models": len(result.models),
                    "fits": result.fits,
                    "record": result.record_kind or "none (shadow record starts tomorrow)",
                    "regime_models": ", ".join("/".join(m) for m in _model_keys(result) if m[2] != "all"),
                    "training_window": dg.MetadataValue.json(result.training_window),
                },
                notable=result.status != "trained",
            )
        summary = {
            "features_hash": fhash,
            "trained_in_run": sum(r.status == "trained" for r in out.values()),
            "cold_starts_in_run": sum(bool(r.record_kind) for r in out.values()),
            "fits_in_run": sum(r.fits for r in out.values()),
        }
        metadata.flush(summary)
        context.log.info("event=models " + " ".join(f"{k}={v}" for k, v in summary.items()))
        return out

    return [models]


def _model_keys(result: CoinModels | StagedModels) -> list[tuple[str, str, str]]:
    if isinstance(result, StagedModels):
        return list(result.models)
    return [(m.engine, m.horizon, m.regime) for m in result.models]
