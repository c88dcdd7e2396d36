"""champions[date]: shadow-tested promotion per coin x horizon, the ranking table and the do-not-trade list.

Yesterday's champions (a self-dependency) are the incumbents; each is re-tested on its record
since promotion (features and labels of up to ``max_age_days`` back) and demoted when it fails. The day's challengers are the
models trained ``shadow_days_for(horizon)`` ago, scored on the bars that arrived since (or, for a coin with no
record yet, today's models with their walk-forward cold-start record). See ``core/champions.py``.
"""

from datetime import date, timedelta

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import (
    ONE_DAY_PER_RUN,
    coin_failed,
    refuse_while_previous_day_runs,
    run_keys,
    unreadable_coins,
)
from huracan_assets.partitions import Partitions
from huracan_assets.resources.metrics import MetricsResource
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.resources.storage import CoinDayModels, CoinWindows
from huracan_assets.steps.champions import champions_for_day, event_line, missing_by_coin
from huracan_assets.steps.frames import CODE_VERSION, markdown_table


def build(partitions: Partitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        code_version=CODE_VERSION,
        partitions_def=partitions.days,
        backfill_policy=ONE_DAY_PER_RUN,
        group_name="publishing",
        io_manager_key="json_io_manager",
        kinds={"json"},
        ins={
            # the newest champions partition of the last max_age_days: yesterday's, or the last day
            # that has one (the trial counts and cold starts carry over a missing day)
            "previous": dg.AssetIn(
                key="champions",
                partition_mapping=dg.TimeWindowPartitionMapping(
                    start_offset=-partitions.max_champion_age_days,
                    end_offset=-1,
                    allow_nonexistent_upstream_partitions=True,
                ),
                metadata={"allow_missing": True, "load": "latest"},
            ),
            # each folder read when used (today's, the cohorts', the champions'), not all 30 days'
            "models": dg.AssetIn(
                partition_mapping=partitions.days_all_coins(partitions.max_champion_age_days),
                metadata={"load": "lazy", "allow_missing": True},
            ),
            # the challengers read the last shadow_days; the champions' re-test reads their record
            # since promotion, up to max_age_days back (days before a coin's history are absent)
            # (read coin by coin: one coin's window in memory at a time)
            "features": dg.AssetIn(
                partition_mapping=partitions.days_all_coins(partitions.max_champion_age_days),
                metadata={"allow_missing": True, "load": "per_coin"},
            ),
            "labels": dg.AssetIn(
                partition_mapping=partitions.days_all_coins(partitions.max_champion_age_days),
                metadata={"allow_missing": True, "load": "per_coin"},
            ),
            "consensus": dg.AssetIn(partition_mapping=partitions.by_day),
            "coin_universe": dg.AssetIn(),
        },
        description="Per coin x horizon: the challenger trained shadow_days ago is promoted only if it beats "
        "the current champion (or 'no trade') on the same out-of-sample bars after costs: HAC paired t-test, "
        "Benjamini-Hochberg across the day, deflated Sharpe. Otherwise the champion persists. Every active coin "
        "left without one gets a written reason.",
    )
    def champions(
        context: dg.AssetExecutionContext,
        previous: dict | None,
        models: CoinDayModels,
        features: CoinWindows,
        labels: CoinWindows,
        consensus: pd.DataFrame,
        coin_universe: pd.DataFrame,
        metrics: MetricsResource,
        huracan_settings: HuracanSettingsResource,
    ) -> dict[str, dict]:
        settings = huracan_settings.get()
        out = {}
        keys = run_keys(context)
        if len(keys) != 1:
            raise dg.Failure(
                f"champions carries yesterday's champions forward: one day per run, got {len(keys)} days"
            )
        # a refused stored partition (moved aside) of a coin's window: that coin is not tested
        # today and is reported with the error; the others go on
        refused = unreadable_coins(models, features, labels)
        for coin, error in sorted(refused.items()):
            coin_failed(context, metrics, f"coin={coin} error={error}")
        # yesterday's champions are the incumbents: not while that day runs (``previous`` is the
        # newest champions document of the window, older than yesterday's when that one is missing)
        yesterday = (date.fromisoformat(keys[0]) - timedelta(days=1)).isoformat()
        if previous is None or previous.get("day") != yesterday:
            refuse_while_previous_day_runs(context, keys[0], "daily_reports_job", "champions")
        for day in keys:
            doc = champions_for_day(
                day,
                previous,
                models,
                features,
                labels,
                consensus,
                coin_universe,
                settings,
                unreadable=refused,
                missing=missing_by_coin(_gaps(features, "features") + _gaps(labels, "labels")),
            )
            out[day] = doc
            for coin, reason in sorted(doc["no_champion"].items()):
                if coin not in refused and reason.startswith("stored input unreadable"):
                    coin_failed(context, metrics, f"coin={coin} error={reason}")
            for event in doc["events"]:
                context.log.info(event_line(day, event))
                metrics.run.decisions.labels(kind=event["kind"]).inc()
            context.add_asset_metadata(
                {
                    "champions": len(doc["champions"]),
                    "champions_promoted": doc["promoted"],
                    "champions_demoted": doc["demoted"],
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


def _gaps(window: CoinWindows, asset: str) -> list[str]:
    """The window's partitions never materialised or refused on read (moved aside), as ``asset[key]``."""
    return list(window.missing) + [f"{asset}[{k}]" for k in window.unreadable]
