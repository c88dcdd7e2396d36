"""consensus[date x symbol]: reliability- and correlation-weighted engine votes; DecisionEvents."""

import json

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import SINGLE_RUN, PartitionMetadata, run_keys
from huracan_assets.config import HuracanSettings
from huracan_assets.core.consensus import DecisionEvent, coin_consensus
from huracan_assets.partitions import Partitions
from huracan_assets.resources.compute import ComputeResource, TaskFailure
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.resources.storage import StoredModels

EVENT_COLUMNS = [
    "coin",
    "time",
    "horizon",
    "S",
    "confidence",
    "level",
    "action",
    "threshold",
    "votes",
    "weights",
    "kind",
]


def empty_events() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in EVENT_COLUMNS})
    for column in ("S", "confidence", "threshold"):
        frame[column] = pd.Series(dtype="float64")
    return frame[EVENT_COLUMNS]


def consensus_for_day(stored: StoredModels, scores: pd.DataFrame, settings: HuracanSettings) -> pd.DataFrame:
    """The core call of one coin-day (shared by the asset and the plain-loop benchmark)."""
    if stored.status != "trained" or stored.oof.empty or scores.empty:
        return empty_events()
    events: list[DecisionEvent] = []
    pooled = scores[scores["regime"] == "all"]
    for horizon, oof in stored.oof.groupby("horizon"):
        rows = pooled[pooled["horizon"] == horizon]
        reliability = dict(zip(rows["engine"], rows["t_stat"].fillna(0.0), strict=True))
        cost = float(rows["cost_bps"].median()) if len(rows) else 0.0
        latest = stored.latest[stored.latest["horizon"] == horizon]
        horizon_events, _ = coin_consensus(
            stored.coin,
            str(horizon),
            oof,
            latest,
            reliability,
            cost_bps=cost,
            base_threshold=settings.risk.signal_threshold,
        )
        events.extend(horizon_events)
    frame = pd.DataFrame([e.__dict__ for e in events])
    if frame.empty:
        return empty_events()
    frame["votes"] = frame["votes"].map(lambda v: json.dumps(v, sort_keys=True))
    frame["weights"] = frame["weights"].map(lambda v: json.dumps(v, sort_keys=True))
    return frame[EVENT_COLUMNS]


def build(partitions: Partitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        partitions_def=partitions.coin_days,
        backfill_policy=SINGLE_RUN,
        group_name="training",
        kinds={"pandas", "parquet"},
        ins={
            "models": dg.AssetIn(metadata={"load": "by_partition"}),
            "scores": dg.AssetIn(metadata={"load": "by_partition"}),
        },
        description="Consensus score S in [-1, 1] per horizon with confidence and level; every simulated action "
        "on the out-of-fold bars and the live decision at the day's close as DecisionEvents.",
    )
    def consensus(
        context: dg.AssetExecutionContext,
        models: dict[str, StoredModels],
        scores: dict[str, pd.DataFrame],
        compute: ComputeResource,
        huracan_settings: HuracanSettingsResource,
    ) -> dict[str, pd.DataFrame]:
        settings = huracan_settings.get()
        keys = run_keys(context)
        results = compute.map(lambda k: consensus_for_day(models[k], scores[k], settings), keys, keys=keys)
        out = {}
        metadata = PartitionMetadata(context, len(keys))
        for key, result in zip(keys, results, strict=True):
            if isinstance(result, TaskFailure):
                context.log.error(f"event=coin_failed asset=consensus partition={key} error={result}")
                result = empty_events()
            out[key] = result
            live = result[result["kind"] == "live"] if len(result) else result
            metadata.add(
                key,
                {
                    "events": len(result),
                    "live": dg.MetadataValue.md(
                        "\n".join(
                            f"- {r.horizon}: S={r.S:+.3f} {r.level} → {r.action}" for r in live.itertuples()
                        )
                        or "_no live decision_"
                    ),
                },
                notable=live.empty,
            )
        metadata.flush({"events_in_run": sum(len(f) for f in out.values())})
        return out

    return [consensus]
