"""Sensors: new coins get their partitions and their history; a finished day gets its reports."""

from datetime import date

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.events import AssetKeyPartitionKey

from huracan_assets.automation.jobs import PER_COIN_HISTORY, Jobs
from huracan_assets.automation.schedules import RANGE_END, RANGE_START
from huracan_assets.partitions import COINS, Partitions, coin_day_key
from huracan_assets.resources.storage import split_key


def eligible_from_metadata(metadata: dict) -> list[str]:
    value = metadata.get("eligible_coins")
    text = getattr(value, "value", value) or ""
    return [c.strip() for c in str(text).split(",") if c.strip()]


def build_sensors(jobs: Jobs, partitions: Partitions) -> list[dg.SensorDefinition]:
    @dg.asset_sensor(
        asset_key=dg.AssetKey("coin_universe"),
        name="new_coin_sensor",
        minimum_interval_seconds=60,
        description="When coin_universe names an eligible coin that is not in the 'coins' partitions yet, adds it "
        "and requests (as an asset backfill) the bars, features and labels of its look-back history.",
    )
    def new_coin_sensor(
        context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
    ) -> dg.SensorResult:
        materialization = asset_event.asset_materialization
        day = materialization.partition if materialization else None
        if not day:
            return dg.SensorResult(skip_reason="coin_universe materialization without a partition")
        eligible = eligible_from_metadata(dict(materialization.metadata))
        known = set(context.instance.get_dynamic_partitions(COINS.name))
        new = sorted(c for c in eligible if c not in known)
        if not new:
            return dg.SensorResult(skip_reason=f"{day}: no new coins ({len(eligible)} eligible, all known)")
        windows = partitions.history_windows(date.fromisoformat(day))
        wanted = {
            AssetKeyPartitionKey(dg.AssetKey(asset), str(coin_day_key(d, coin)))
            for asset in PER_COIN_HISTORY
            for coin in new
            for d in windows[asset]
        }
        subset = AssetGraphSubset.from_asset_partition_set(wanted, context.repository_def.asset_graph)
        context.log.info(f"event=new_coins day={day} coins={','.join(new)} history_partitions={len(wanted)}")
        return dg.SensorResult(
            dynamic_partitions_requests=[COINS.build_add_request(new)],
            run_requests=[
                dg.RunRequest.for_asset_graph_subset(
                    subset, tags={"huracan/new_coins": ",".join(new), "huracan/day": day}
                )
            ],
        )

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[jobs.coins_daily],
        request_job=jobs.reports,
        name="daily_reports_sensor",
        description="After the per-coin run of a whole day succeeds, runs champions, the integrity report and the export.",
    )
    def daily_reports_sensor(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
        tags = context.dagster_run.tags
        start, end = tags.get(RANGE_START), tags.get(RANGE_END)
        if not start or not end:
            return dg.SkipReason("not a day-wide range run")
        day, _ = split_key(start)
        if split_key(end)[0] != day:
            return dg.SkipReason(f"range {start}..{end} spans several days: a history run")
        return dg.RunRequest(run_key=f"reports-{day}-{context.dagster_run.run_id}", partition_key=day)

    return [new_coin_sensor, daily_reports_sensor]
