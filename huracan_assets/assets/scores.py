"""scores[date x symbol]: out-of-sample edge after costs of every recent model, per engine x horizon x regime.

The records scored are the shadow records of the models trained in the last ``shadow_days``
days (their predictions on the bars after their cut-off plus embargo, labels resolved by the
end of the day) and, for a cold-start coin, the purged walk-forward record of its first models.
"""

from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd

from huracan_assets.assets._shared import (
    CODE_VERSION,
    SINGLE_RUN,
    PartitionMetadata,
    day_of,
    keys_by_coin,
    map_by_partition,
    rows_for,
    run_keys,
    universe_for,
)
from huracan_assets.assets.features import series_of
from huracan_assets.config import HuracanSettings
from huracan_assets.core.costs import CostModel, coin_cost_model
from huracan_assets.core.regimes import classify_regimes
from huracan_assets.core.scoring import Record, empty_scores, score_records
from huracan_assets.core.shadow import SHADOW, joined_by_horizon, shadow_from_joined
from huracan_assets.partitions import Partitions
from huracan_assets.resources.compute import ComputeResource
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.resources.storage import StoredModels


def cost_model_for(universe_row: pd.Series, bar_vol_bps: float, settings: HuracanSettings) -> CostModel:
    """Round-trip costs of one coin-day: venue fees and funding, the day's spread, sqrt impact."""
    return coin_cost_model(
        taker_bps=settings.fee.taker_bps,
        spread_bps=float(universe_row["spread_bps"]),
        adv_usdt=float(universe_row["quote_volume_usdt"]),
        bar_vol_bps=bar_vol_bps,
        bars_per_day=settings.bars_per_day,
        order_notional_usdt=settings.risk.order_notional_gbp * float(universe_row["usdt_per_gbp"]),
        slippage_k=settings.training.slippage_k,
        funding_bps_per_day=settings.fee.funding_bps_per_day,
    )


def decision_table(features: pd.DataFrame) -> pd.DataFrame:
    """A coin's feature rows indexed by decision time (dataset-scan columns removed)."""
    return series_of(features).set_index("open_time") if len(features) else pd.DataFrame()


def model_records(stored: StoredModels, joined: dict[str, pd.DataFrame]) -> list[Record]:
    """Shadow records of every model of one model-day, plus its cold-start record if it has one.

    ``joined``: horizon -> the coin's decisions joined with their resolved labels.
    """
    records = []
    if stored.status != "trained":
        return records
    thresholds = stored.regime_thresholds
    regimes = {h: classify_regimes(table, thresholds) for h, table in joined.items()}
    for meta in stored.models:
        table = joined.get(meta["horizon"])
        if table is None or table.empty:
            continue
        frame = shadow_from_joined(
            stored.load_model(meta["engine"], meta["horizon"], meta["regime"]).predict,
            meta["feature_names"],
            table,
            cutoff=pd.Timestamp(meta["cutoff"]),
            embargo=pd.Timedelta(seconds=meta["embargo_s"]),
            regimes=regimes[meta["horizon"]],
        )
        records.append(Record(stored.day, meta["engine"], meta["horizon"], meta["regime"], SHADOW, frame))
    if stored.record_kind and len(stored.record):
        for (engine, horizon), frame in stored.record.groupby(["engine", "horizon"]):
            records.append(Record(stored.day, str(engine), str(horizon), "all", stored.record_kind, frame))
    return records


def score_for_day(
    coin: str,
    models: list[StoredModels],
    features: pd.DataFrame,
    labels: pd.DataFrame,
    universe_row: pd.Series,
    settings: HuracanSettings,
) -> pd.DataFrame:
    """The core call of one coin-day (shared by the asset and the plain-loop benchmark)."""
    table = decision_table(features)
    labels = labels.drop(columns=[c for c in ("date", "symbol") if c in labels]) if len(labels) else labels
    joined = joined_by_horizon(table, labels) if len(table) and len(labels) else {}
    records = [r for stored in models for r in model_records(stored, joined)]
    if not records:
        return empty_scores()
    vol = float(np.nanmedian(table["vol_24h_bps"])) if len(table) else float("nan")
    return score_records(
        coin,
        records,
        cost=cost_model_for(universe_row, vol, settings),
        horizon_bars=settings.horizon_bars,
        bar=settings.bar,
        min_edge_bps=settings.min_edge_after_cost_bps,
        usdt_per_gbp=float(universe_row["usdt_per_gbp"]),
    )


def scored_model_days(day: date, shadow_days: int) -> set[str]:
    """The model days whose records are scored: today (a cold-start record), yesterday (the freshest
    shadow record), the middle of the shadow window and the challenger cohort (the longest record).

    Enough for the gate and the reliability weights (which decay with age) at a quarter of the
    cost of scoring every day of the window.
    """
    back = {0, 1, max(1, shadow_days // 2), shadow_days}
    return {(day - timedelta(days=b)).isoformat() for b in back}


def build(partitions: Partitions) -> list[dg.AssetsDefinition]:
    window = partitions.window(partitions.shadow_days)

    @dg.asset(
        code_version=CODE_VERSION,
        partitions_def=partitions.coin_days,
        backfill_policy=SINGLE_RUN,
        group_name="training",
        kinds={"pandas", "parquet"},
        ins={
            "models": dg.AssetIn(
                partition_mapping=window, metadata={"load": "by_partition", "allow_missing": True}
            ),
            "features": dg.AssetIn(partition_mapping=window),
            "labels": dg.AssetIn(partition_mapping=window),
            "coin_universe": dg.AssetIn(partition_mapping=partitions.by_day),
        },
        description="Out-of-sample metrics after round-trip fees, spread, square-root slippage and funding, "
        "for every model of the last shadow_days days (shadow records) and cold-start walk-forward records, "
        "per engine x horizon x regime.",
    )
    def scores(
        context: dg.AssetExecutionContext,
        models: dict[str, StoredModels],
        features: pd.DataFrame,
        labels: pd.DataFrame,
        coin_universe: pd.DataFrame,
        compute: ComputeResource,
        huracan_settings: HuracanSettingsResource,
    ) -> dict[str, pd.DataFrame]:
        settings = huracan_settings.get()
        keys = run_keys(context)
        groups = keys_by_coin(keys)

        def per_key(key: str) -> pd.DataFrame:
            day = day_of(key)
            coin = key.split("|")[1]
            universe = universe_for(coin_universe, day)
            row = universe[universe["coin"] == coin]
            if row.empty:
                return empty_scores()
            wanted = scored_model_days(day, partitions.shadow_days)
            mine = [m for m in models.values() if m.coin == coin and m.day in wanted]
            return score_for_day(
                coin,
                mine,
                rows_for(features, symbol=coin),
                rows_for(labels, symbol=coin),
                row.iloc[0],
                settings,
            )

        ordered = [k for coin_keys in groups.values() for k in coin_keys]
        out = map_by_partition(context, compute, ordered, per_key, empty_scores)
        metadata = PartitionMetadata(context, len(ordered))
        for key, result in out.items():
            pooled = (
                result[(result["regime"] == "all") & (result["model_regime"] == "all")]
                if len(result)
                else result
            )
            best = pooled.sort_values("net_edge_bps", ascending=False).head(1)
            metadata.add(
                key,
                {
                    "rows": len(result),
                    "records": int(
                        pooled[["model_day", "engine", "horizon", "record_kind"]].drop_duplicates().shape[0]
                    )
                    if len(pooled)
                    else 0,
                    "best_net_edge_bps": float(best["net_edge_bps"].iloc[0]) if len(best) else float("nan"),
                    "best": f"{best['engine'].iloc[0]}/{best['horizon'].iloc[0]} of {best['model_day'].iloc[0]}"
                    if len(best)
                    else "",
                    "round_trip_cost_bps": float(pooled["cost_bps"].median())
                    if len(pooled)
                    else float("nan"),
                },
                notable=result.empty,
            )
        metadata.flush({"rows_in_run": sum(len(f) for f in out.values())})
        return out

    return [scores]
