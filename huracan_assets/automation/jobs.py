"""Jobs over the asset graph. Per-coin assets share one partitions definition, so a job over them
covers a contiguous key range — all coins of a day, or one block of coins over many days — in
one run. These are the jobs ``huracan daily`` launches; the daemon's automation targets the same
assets. Every job runs its steps in one process (``Definitions(executor=in_process_executor)``):
parallelism lives inside steps, behind the compute seam."""

from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from huracan_assets.partitions import coin_day_key

# a run not finished yet: queued, or starting, or running (the sensors wait for these; a day's
# step refuses while the day before has one)
ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]

PER_COIN_DAILY = ("validated_bars", "features", "labels", "models", "scores", "consensus")
PER_COIN_HISTORY = ("validated_bars", "features", "labels")
DAILY_REPORTS = ("champions", "data_integrity_report", "dropbox_export")

# shown on every job's page and launchpad: runs from the UI wait in the queue until a daemon runs
QUEUED_NOTE = (
    " Runs launched from the UI are queued: they start only while `dagster-daemon run` (or `dagster dev`, "
    "which starts it) is running; Deployment > Daemons shows whether it is."
)

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
# a run whose process died is retried by the daemon (run_retries in dagster.yaml)
RUN_RETRIES = {"dagster/max_retries": "2", "dagster/retry_strategy": "FROM_FAILURE"}
# The day's own runs (per-coin steps, reports) read the day before's models and champions: the
# queued run coordinator starts one run with this tag at a time (tag_concurrency_limits in
# dagster_home/dagster.yaml and deploy/dagster.yaml), so two days launched from the UI or by the
# daemon never run at once; the runs themselves refuse a day whose previous day is still in
# progress elsewhere (a run of `huracan daily`, which does not go through the queue).
DAY_FLOW_TAG = "huracan/day_flow"
DAY_FLOW = {DAY_FLOW_TAG: "one_day_at_a_time"}
# what a sensor's request is (the same for its retries and re-executions, which copy the tags)
REQUEST_TAG = "huracan/request"
# a run of a day's coins again, after the stored partitions the named run refused were rebuilt
# (the daemon's daily_flow_sensor and huracan daily): what fails again is not run again
RERUN_OF_TAG = "huracan/rerun_of"


def job_checks(job: dg.JobDefinition, assets: set[dg.AssetKey] | None) -> set[dg.AssetCheckKey]:
    """The asset checks a run of ``job`` over ``assets`` executes: the job's own checks on them.

    Dagster subsets an asset job from the whole repository's asset graph, so a run that names
    its assets and leaves the checks unset gets every check of those assets, including checks
    the job was defined without (``history_job``); runs name their checks with this.
    """
    return {
        key
        for key in job.asset_layer.asset_graph.asset_check_keys
        if assets is None or key.asset_key in assets
    }


def range_tags(start: str, end: str) -> dict[str, str]:
    return {RANGE_START: start, RANGE_END: end}


def coins_range_tags(day: str, coins: list[str]) -> dict[str, str]:
    """The range day|first coin .. day|last coin (coins in partition order, a contiguous block)."""
    return range_tags(str(coin_day_key(day, coins[0])), str(coin_day_key(day, coins[-1])))


def day_range_tags(day: str, coins: list[str]) -> dict[str, str]:
    """Run tags for the range day|first coin .. day|last coin, and the day's own tag."""
    return {**coins_range_tags(day, coins), "huracan/day": day}


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
            tags=RUN_RETRIES,
            description="coin_universe for one day (or a range of days in one run)." + QUEUED_NOTE,
        ),
        coins_daily=dg.define_asset_job(
            "daily_coins_job",
            selection=dg.AssetSelection.assets(*PER_COIN_DAILY),
            tags={**RUN_RETRIES, **DAY_FLOW},
            description="Every per-coin step for a range of day x coin partitions; the daily run is one range."
            + QUEUED_NOTE,
        ),
        history=dg.define_asset_job(
            "history_job",
            # Without asset checks. Dagster plans one asset_check_executions row per partition of a
            # run, each holding the planned event with the run's whole partition subset, so a check
            # in a range run writes (partitions)^2 bytes: 77 KB x 4,185 rows per check for a fresh
            # instance's 27 coins x 155 days. History quality stays in each partition's stored
            # quality record, which the integrity report reads over the whole look-back window.
            selection=dg.AssetSelection.assets(*PER_COIN_HISTORY).without_checks(),
            tags=RUN_RETRIES,
            description="The look-back history a coin needs: bars, features and labels. Runs without the "
            "asset checks (history quality is in the integrity report)." + QUEUED_NOTE,
        ),
        reports=dg.define_asset_job(
            "daily_reports_job",
            selection=dg.AssetSelection.assets(*DAILY_REPORTS),
            tags={**RUN_RETRIES, **DAY_FLOW},
            description="Champions, the integrity report and the export of one day." + QUEUED_NOTE,
        ),
    )
