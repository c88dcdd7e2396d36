"""Sensors the daemon runs. Turned on together, they keep the deployment up to date by itself,
following the same plan as ``huracan daily`` (``automation/plan.py`` -> ``core/day_plan.py``):

* ``huracan_automation`` evaluates ``coin_universe``'s ``AutomationCondition``: the universe of
  the latest day as soon as the day closes (``automation/conditions.py``).
* ``new_coin_sensor``: when the latest day's universe names coins that are not in the ``coins``
  partitions yet, it adds them; while the day's plan misses history, it runs ``history_job``
  for it, one asset level at a time (bars, then features, then labels), one range run per block
  of coins that miss the same days: new coins' whole windows are one run per asset.
* ``daily_flow_sensor`` launches the rest of the latest day once the plan says its history is
  complete: ``daily_coins_job`` over every coin of the day still missing (one range run per
  contiguous block of coins), then ``daily_reports_job`` once every coin is done. It reads the
  assets' state, never another sensor's tags; run keys make each request happen once.
"""

import dagster as dg

from huracan_assets.automation.jobs import ACTIVE, Jobs, coins_range_tags, range_tags
from huracan_assets.automation.plan import UNIVERSE, materialized_coin_days, plan_for, universe_record
from huracan_assets.core.day_plan import missing_blocks
from huracan_assets.partitions import COINS, Partitions, coin_day_key
from huracan_assets.resources.storage import ModelIOManager, ParquetIOManager

AUTOMATION_INTERVAL_S = 10


def _active_run(instance: dg.DagsterInstance, job_names: list[str]) -> dg.DagsterRun | None:
    """A queued or running run of one of ``job_names``: the plan must not be read while its
    partitions are still being written (a range run materialises them one after another)."""
    for name in job_names:
        runs = instance.get_runs(filters=dg.RunsFilter(job_name=name, statuses=ACTIVE), limit=1)
        if runs:
            return runs[0]
    return None


def build_sensors(
    partitions: Partitions,
    jobs: Jobs,
    storage: ParquetIOManager | None = None,
    models: ModelIOManager | None = None,
) -> list[dg.SensorDefinition]:
    """``storage``: where the look-back history is stored; the plan then also rebuilds recorded
    partitions whose file is gone or cut short (see ``automation/plan.py``); ``models``: where the
    models are stored, and earlier days' model folders the day reads that are gone are rebuilt."""
    automation = dg.AutomationConditionSensorDefinition(
        "huracan_automation",
        target=dg.AssetSelection.assets(UNIVERSE),
        use_user_code_server=True,
        minimum_interval_seconds=AUTOMATION_INTERVAL_S,
        description="Evaluates coin_universe's automation condition: the latest day's universe as soon as the "
        "day closes. Turn it on with new_coin_sensor and daily_flow_sensor and the deployment keeps itself "
        "up to date.",
    )

    @dg.sensor(
        name="new_coin_sensor",
        jobs=[jobs.history],
        minimum_interval_seconds=AUTOMATION_INTERVAL_S,
        description="When the latest day's universe names coins that are not in the 'coins' partitions yet, adds "
        "them; while the day's plan misses history (new coins: their whole look-back window), runs history_job "
        "for it, one asset at a time, one range run per block of coins.",
    )
    def new_coin_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        day = partitions.days.get_last_partition_key()
        if day is None or universe_record(context.instance, day) is None:
            return dg.SensorResult(
                skip_reason=f"{day}: waiting for coin_universe[{day}] (huracan_automation)"
            )
        running = _active_run(context.instance, [jobs.history.name, jobs.coins_daily.name])
        if running is not None:
            return dg.SensorResult(skip_reason=f"{day}: waiting for {running.job_name} run {running.run_id}")
        plan = plan_for(context.instance, partitions, day, storage)
        if not plan.coins_to_add and not plan.history:
            return dg.SensorResult(skip_reason=f"{day}: no new coins and no missing history")
        # one asset level at a time: the next level's runs are requested once this one is done
        level = (
            [block for block in plan.history if block.asset == plan.history[0].asset] if plan.history else []
        )
        if plan.coins_to_add:
            context.log.info(f"event=new_coins day={day} coins={','.join(plan.coins_to_add)}")
        return dg.SensorResult(
            dynamic_partitions_requests=[COINS.build_add_request(list(plan.coins_to_add))]
            if plan.coins_to_add
            else [],
            run_requests=[
                dg.RunRequest(
                    job_name=jobs.history.name,
                    run_key=f"history-{day}-{block.asset}-{coin_day_key(*block.start)}-{coin_day_key(*block.end)}",
                    asset_selection=[dg.AssetKey(block.asset)],
                    # history_job runs no checks (see automation/jobs.py): left unset, Dagster would
                    # add every check of the asset
                    asset_check_keys=[],
                    tags={
                        **range_tags(str(coin_day_key(*block.start)), str(coin_day_key(*block.end))),
                        "huracan/day": day,
                        "huracan/coins": ",".join(block.coins),
                    },
                )
                for block in level
            ],
        )

    @dg.sensor(
        name="daily_flow_sensor",
        jobs=[jobs.coins_daily, jobs.reports],
        minimum_interval_seconds=AUTOMATION_INTERVAL_S,
        description="Once the latest day's universe exists and the plan's history is complete, runs "
        "daily_coins_job over every coin of the day still missing (one range run), then daily_reports_job.",
    )
    def daily_flow_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        instance = context.instance
        day = partitions.days.get_last_partition_key()
        if day is None or universe_record(instance, day) is None:
            return dg.SensorResult(
                skip_reason=f"{day}: waiting for coin_universe[{day}] (huracan_automation)"
            )
        running = _active_run(instance, [jobs.history.name, jobs.coins_daily.name, jobs.reports.name])
        if running is not None:
            return dg.SensorResult(skip_reason=f"{day}: waiting for {running.job_name} run {running.run_id}")
        plan = plan_for(instance, partitions, day, storage, models)
        if plan.coins_to_add:
            return dg.SensorResult(
                skip_reason=f"{day}: waiting for new_coin_sensor to add {', '.join(plan.coins_to_add)}"
            )
        if plan.history:
            missing = sum(block.partitions for block in plan.history)
            return dg.SensorResult(
                skip_reason=f"{day}: waiting for {missing} history partitions (new_coin_sensor)"
            )
        if plan.models:
            # earlier days' models the day reads, lost: rebuilt first, oldest day first
            model_day, block = plan.models[0]
            start, end = str(coin_day_key(model_day, block[0])), str(coin_day_key(model_day, block[-1]))
            return dg.SensorResult(
                run_requests=[
                    dg.RunRequest(
                        job_name=jobs.coins_daily.name,
                        run_key=f"models-{day}-{start}-{end}-{len(plan.damaged)}",
                        asset_selection=[dg.AssetKey("models")],
                        tags={**range_tags(start, end), "huracan/day": day},
                    )
                ]
            )
        done = {coin for d, coin in materialized_coin_days(instance, "consensus") if d == day}
        blocks = missing_blocks(plan.coins, done)
        if blocks:
            return dg.SensorResult(
                run_requests=[
                    dg.RunRequest(
                        job_name=jobs.coins_daily.name,
                        run_key=f"coins-{day}-{block[0]}-{block[-1]}",
                        tags={
                            **coins_range_tags(day, block),
                            "huracan/day": day,
                        },
                    )
                    for block in blocks
                ]
            )
        newest = instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey("consensus"),
                asset_partitions=[str(coin_day_key(day, c)) for c in plan.coins],
            ),
            limit=1,
        ).records[0]
        exported = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("dropbox_export"), asset_partitions=[day]), limit=1
        ).records
        if exported and exported[0].storage_id > newest.storage_id:
            return dg.SensorResult(skip_reason=f"{day}: every coin and the reports are done")
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    job_name=jobs.reports.name,
                    partition_key=day,
                    run_key=f"reports-{day}-{newest.storage_id}",
                )
            ]
        )

    return [automation, new_coin_sensor, daily_flow_sensor]
