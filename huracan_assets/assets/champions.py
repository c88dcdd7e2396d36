"""champions[date]: the statistically tested winners per coin x horizon, ranking and do-not-trade list."""

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import SINGLE_RUN, markdown_table, run_keys
from huracan_assets.config import HuracanSettings
from huracan_assets.core.champions import choose_champions
from huracan_assets.partitions import Partitions
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.resources.storage import StoredModels, split_key


def champions_for_day(
    day: str,
    scores: pd.DataFrame,
    consensus: pd.DataFrame,
    day_models: dict[str, StoredModels],
    coin_universe: pd.DataFrame,
    settings: HuracanSettings,
) -> dict:
    """The champion document of one day (shared by the asset and the plain-loop benchmark)."""
    universe = coin_universe[coin_universe["date"] == day] if "date" in coin_universe else coin_universe
    eligible = set(universe.loc[universe["eligible"], "coin"])
    active = sorted(eligible & set(day_models))
    coin_status = {
        c: f"not trained: {day_models[c].reason}" for c in active if day_models[c].status != "trained"
    }
    for coin in sorted(eligible - set(day_models)):
        coin_status[coin] = "newly eligible: not yet in the coins partitions (history backfill pending)"
        active.append(coin)
    regimes = {
        c: str(m.latest["regime"].iloc[0])
        for c, m in day_models.items()
        if m.status == "trained" and len(m.latest)
    }
    day_scores = scores[scores["date"] == day] if len(scores) and "date" in scores else scores
    live = consensus[consensus["kind"] == "live"] if len(consensus) else consensus
    if len(live) and "date" in live:
        live = live[live["date"] == day]
    decision = choose_champions(
        day,
        day_scores,
        active_coins=active,
        coin_status=coin_status,
        consensus=live[["coin", "horizon", "S", "confidence", "level"]] if len(live) else pd.DataFrame(),
        regimes=regimes,
        universe=universe,
        alpha=settings.risk.alpha,
        min_trades=settings.champions.min_trades,
        min_edge_bps=settings.min_edge_after_cost_bps,
    )
    doc = decision.to_dict()
    doc["active_coins"] = sorted(active)
    doc["trained_coins"] = sorted(c for c in active if c not in coin_status)
    doc["regimes"] = regimes
    doc["markets"] = len(universe)
    return doc


def build(partitions: Partitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        partitions_def=partitions.days,
        backfill_policy=SINGLE_RUN,
        group_name="publishing",
        io_manager_key="json_io_manager",
        kinds={"json"},
        ins={
            "scores": dg.AssetIn(partition_mapping=partitions.by_day),
            "consensus": dg.AssetIn(partition_mapping=partitions.by_day),
            "models": dg.AssetIn(partition_mapping=partitions.by_day, metadata={"load": "by_partition"}),
            "coin_universe": dg.AssetIn(),
        },
        description="Per coin x horizon the challenger that beats 'no trade' after costs (HAC t-test, "
        "Benjamini-Hochberg across the day), with a written reason for every active coin left without one.",
    )
    def champions(
        context: dg.AssetExecutionContext,
        scores: pd.DataFrame,
        consensus: pd.DataFrame,
        models: dict[str, StoredModels],
        coin_universe: pd.DataFrame,
        huracan_settings: HuracanSettingsResource,
    ) -> dict[str, dict]:
        settings = huracan_settings.get()
        out = {}
        for day in run_keys(context):
            day_models = {m.coin: m for k, m in models.items() if split_key(k)[0] == day}
            doc = champions_for_day(day, scores, consensus, day_models, coin_universe, settings)
            out[day] = doc
            context.add_asset_metadata(
                {
                    "champions_promoted": len(doc["champions"]),
                    "challengers": doc["challengers"],
                    "active_coins": len(doc["active_coins"]),
                    "coins_without_champion": len(doc["no_champion"]),
                    "do_not_trade": len(doc["do_not_trade"]),
                    "ranking": dg.MetadataValue.md(
                        markdown_table(
                            doc["ranking"],
                            ["rank", "coin", "horizon", "engine", "regime", "net_edge_bps", "confidence"],
                        )
                    ),
                    "no_champion": dg.MetadataValue.md(
                        markdown_table(
                            [{"coin": c, "reason": r} for c, r in doc["no_champion"].items()],
                            ["coin", "reason"],
                        )
                    ),
                },
                partition_key=day,
            )
        return out

    return [champions]
