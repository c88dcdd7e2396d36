"""Jobs over the asset graph. Per-coin assets share one partitions definition, so a job over them
covers a contiguous key range — all coins of a day — in one run."""

from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

PER_COIN_DAILY = ("validated_bars", "features", "labels", "models", "scores", "consensus")
PER_COIN_HISTORY = ("validated_bars", "features", "labels")
DAILY_REPORTS = ("champions", "data_integrity_report", "dropbox_export")


@dataclass(frozen=True)
class Jobs:
    universe: UnresolvedAssetJobDefinition
    coins_daily: UnresolvedAssetJobDefinition
    history: UnresolvedAssetJobDefinition
    reports: UnresolvedAssetJobDefinition

    def all(self) -> list[UnresolvedAssetJobDefinition]:
        return [self.universe, self.coins_daily, self.history, self.reports]


def build_jobs() -> Jobs:
    return Jobs(
        universe=dg.define_asset_job(
            "universe_job",
            selection=dg.AssetSelection.assets("coin_universe"),
            description="coin_universe for one day (or a range of days in one run).",
        ),
        coins_daily=dg.define_asset_job(
            "daily_coins_job",
            selection=dg.AssetSelection.assets(*PER_COIN_DAILY),
            description="Every per-coin step for a range of day x coin partitions; the daily run is one range.",
        ),
        history=dg.define_asset_job(
            "history_job",
            selection=dg.AssetSelection.assets(*PER_COIN_HISTORY),
            description="The look-back history a coin needs: bars, features and labels.",
        ),
        reports=dg.define_asset_job(
            "daily_reports_job",
            selection=dg.AssetSelection.assets(*DAILY_REPORTS),
            description="Champions, the integrity report and the export of one day.",
        ),
    )
