"""scores[date x symbol]: edge after fees, spread and slippage per engine x horizon x regime."""

import dagster as dg
import numpy as np
import pandas as pd

from huracan_assets.assets._shared import SINGLE_RUN, PartitionMetadata, day_of, run_keys, universe_for
from huracan_assets.config import HuracanSettings
from huracan_assets.core.costs import CostModel, coin_cost_model
from huracan_assets.core.scoring import empty_scores, score_coin
from huracan_assets.partitions import Partitions
from huracan_assets.resources.compute import ComputeResource, TaskFailure
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.resources.storage import StoredModels


def cost_model_for(universe_row: pd.Series, oof: pd.DataFrame, settings: HuracanSettings) -> CostModel:
    return coin_cost_model(
        taker_bps=settings.fee.taker_bps,
        spread_bps=float(universe_row["spread_bps"]),
        adv_usdt=float(universe_row["quote_volume_usdt"]),
        bar_vol_bps=float(np.nanmedian(oof["vol_24h_bps"])) if len(oof) else float("nan"),
        bars_per_day=settings.bars_per_day,
        order_notional_usdt=settings.risk.order_notional_gbp * float(universe_row["usdt_per_gbp"]),
        slippage_k=settings.training.slippage_k,
    )


def score_for_day(stored: StoredModels, universe_row: pd.Series, settings: HuracanSettings) -> pd.DataFrame:
    """The core call of one coin-day (shared by the asset and the plain-loop benchmark)."""
    if stored.status != "trained" or stored.oof.empty:
        return empty_scores()
    cost = cost_model_for(universe_row, stored.oof, settings)
    return score_coin(
        stored.coin,
        stored.oof,
        cost=cost,
        horizon_bars=settings.horizon_bars,
        bar=settings.bar,
        min_edge_bps=settings.min_edge_after_cost_bps,
        usdt_per_gbp=float(universe_row["usdt_per_gbp"]),
    )


def build(partitions: Partitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        partitions_def=partitions.coin_days,
        backfill_policy=SINGLE_RUN,
        group_name="training",
        kinds={"pandas", "parquet"},
        ins={
            "models": dg.AssetIn(metadata={"load": "by_partition"}),
            "coin_universe": dg.AssetIn(partition_mapping=partitions.by_day),
        },
        description="Out-of-fold metrics after round-trip fees, spread and square-root slippage, per engine x "
        "horizon, pooled ('all') and per regime.",
    )
    def scores(
        context: dg.AssetExecutionContext,
        models: dict[str, StoredModels],
        coin_universe: pd.DataFrame,
        compute: ComputeResource,
        huracan_settings: HuracanSettingsResource,
    ) -> dict[str, pd.DataFrame]:
        settings = huracan_settings.get()
        keys = run_keys(context)

        def per_key(key: str) -> pd.DataFrame:
            stored = models[key]
            universe = universe_for(coin_universe, day_of(key))
            row = universe[universe["coin"] == stored.coin]
            if row.empty:
                return empty_scores()
            return score_for_day(stored, row.iloc[0], settings)

        results = compute.map(per_key, keys, keys=keys)
        out = {}
        metadata = PartitionMetadata(context, len(keys))
        for key, result in zip(keys, results, strict=True):
            if isinstance(result, TaskFailure):
                context.log.error(f"event=coin_failed asset=scores partition={key} error={result}")
                result = empty_scores()
            out[key] = result
            pooled = result[result["regime"] == "all"] if len(result) else result
            best = pooled.sort_values("net_edge_bps", ascending=False).head(1)
            metadata.add(
                key,
                {
                    "rows": len(result),
                    "best_net_edge_bps": float(best["net_edge_bps"].iloc[0]) if len(best) else float("nan"),
                    "best": f"{best['engine'].iloc[0]}/{best['horizon'].iloc[0]}" if len(best) else "",
                    "round_trip_cost_bps": float(pooled["cost_bps"].median())
                    if len(pooled)
                    else float("nan"),
                },
                notable=result.empty,
            )
        metadata.flush({"rows_in_run": sum(len(f) for f in out.values())})
        return out

    return [scores]
