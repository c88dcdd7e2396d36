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

Repair, as ``huracan daily`` does it (``DayRunner.run_day``): a stored partition the day's run
refused on read (damaged, foreign: moved aside, its coin failed) is lost to the next tick's plan,
which rebuilds it (history: ``new_coin_sensor``; earlier days' models: ``daily_flow_sensor``);
then the coins that failed because of it run again (``huracan/rerun_of``: once per refusing run),
and only then the day's reports. A request whose run failed (after the daemon's retries) is not
made again tick after tick: the sensor skips, naming what it rebuilds and the failed run with its
cause, until something the run reads is materialized again or the run is re-executed
(:func:`_request`).
"""

from collections.abc import Callable

import dagster as dg
from dagster._core.storage.tags import AUTO_RETRY_RUN_ID_TAG, WILL_RETRY_TAG

from huracan_assets.automation.jobs import (
    ACTIVE,
    PER_COIN_DAILY,
    REQUEST_TAG,
    RERUN_OF_TAG,
    Jobs,
    coins_range_tags,
    range_tags,
)
from huracan_assets.automation.plan import UNIVERSE, materialized_coin_days, plan_for, universe_record
from huracan_assets.automation.runs import coin_of, refused_partitions, run_failures
from huracan_assets.core.day_plan import missing_blocks
from huracan_assets.partitions import COINS, Partitions, coin_day_key
from huracan_assets.resources.storage import ModelIOManager, ParquetIOManager

AUTOMATION_INTERVAL_S = 10

# what the sensors' runs read: one of these materialized after a request's run failed (a fix)
# lets the sensor make the request once more
REQUEST_INPUTS = (UNIVERSE, *(dg.AssetKey(a) for a in PER_COIN_DAILY))
CONSENSUS = dg.AssetKey("consensus")


def _request(
    instance: dg.DagsterInstance, name: str, make: Callable[[str], dg.RunRequest], what: str
) -> dg.RunRequest | str:
    """The run request called ``name`` made by ``make(run key)``, tagged ``huracan/request=name``
    here, or a skip reason.

    The first time its run key is ``name``. Once its newest run (a retry or a re-execution
    included) has succeeded and the need is back, or has failed and one of
    :data:`REQUEST_INPUTS` has been materialized since (someone fixed the cause), it is
    requested again under ``name`` and that run's id. Without a change since a failure it is
    not: a run that keeps failing is not launched tick after tick, and the skip reason names
    ``what`` it does, the failed run and its cause.
    """

    def tagged(key: str) -> dg.RunRequest:
        request = make(key)
        return request.with_replaced_attrs(tags={**request.tags, REQUEST_TAG: name})

    runs = instance.get_runs(filters=dg.RunsFilter(tags={REQUEST_TAG: name}), limit=1)
    if not runs:
        return tagged(name)
    last = runs[0]
    again = f"{name}-after-{last.run_id[:8]}"
    if last.status == dg.DagsterRunStatus.SUCCESS:
        return tagged(again)
    if last.tags.get(WILL_RETRY_TAG) == "true" and AUTO_RETRY_RUN_ID_TAG not in last.tags:
        return f"{what}: waiting for the daemon's retry of run {last.run_id} ({last.status.value})"
    record = instance.get_run_record_by_id(last.run_id)
    ended = (record.end_time or record.start_time or 0.0) if record is not None else 0.0
    changed = any(
        instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, after_timestamp=ended), limit=1
        ).records
        for key in REQUEST_INPUTS
    )
    if changed:
        return tagged(again)
    cause = "; ".join(run_failures(instance, last.run_id)) or last.status.value
    return (
        f"{what} {'failed' if last.status == dg.DagsterRunStatus.FAILURE else 'was canceled'} in run "
        f"{last.run_id} ({cause[:400]}); not requested again "
        f"until what it reads is materialized again: fix the cause, then re-execute run {last.run_id} "
        "or materialize what it names"
    )


def _refused_coins(instance: dg.DagsterInstance, day: str, coins: list[str]) -> dict[str, list[str]]:
    """``{run id: coins}``: the day's coins whose newest ``consensus`` came from a run that refused
    a stored partition of theirs on read (its ``coin_failed`` lines), that run not being itself
    a re-run (:data:`RERUN_OF_TAG`: what fails again stays failed, named, as in ``huracan daily``)."""
    keys = [str(coin_day_key(day, c)) for c in coins]
    newest: dict[str, str] = {}
    cursor = None
    while len(newest) < len(keys):
        found = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=CONSENSUS, asset_partitions=keys),
            limit=4 * len(keys),
            cursor=cursor,
        )
        for record in found.records:
            if record.partition_key is not None:
                newest.setdefault(record.partition_key, record.run_id)
        if not found.has_more:
            break
        cursor = found.cursor
    out: dict[str, list[str]] = {}
    for run_id in sorted(set(newest.values())):
        run = instance.get_run_by_id(run_id)
        if run is None or RERUN_OF_TAG in run.tags:
            continue
        refused = {coin_of(label) for label in refused_partitions(instance, run_id)}
        again = [c for c in coins if c in refused and newest.get(str(coin_day_key(day, c))) == run_id]
        if again:
            out[run_id] = again
    return out


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
        requests, skipped = [], []
        for block in level:
            start, end = str(coin_day_key(*block.start)), str(coin_day_key(*block.end))
            request = _request(
                context.instance,
                f"history-{day}-{block.asset}-{start}-{end}",
                lambda key, block=block, start=start, end=end: dg.RunRequest(
                    job_name=jobs.history.name,
                    run_key=key,
                    asset_selection=[dg.AssetKey(block.asset)],
                    # history_job runs no checks (see automation/jobs.py): left unset, Dagster would
                    # add every check of the asset
                    asset_check_keys=[],
                    tags={
                        **range_tags(start, end),
                        "huracan/day": day,
                        "huracan/coins": ",".join(block.coins),
                    },
                ),
                f"{day}: the history {block.label()}",
            )
            if isinstance(request, str):
                skipped.append(request)
            else:
                requests.append(request)
        return dg.SensorResult(
            dynamic_partitions_requests=[COINS.build_add_request(list(plan.coins_to_add))]
            if plan.coins_to_add
            else [],
            run_requests=requests,
            skip_reason="; ".join(skipped) if skipped and not requests and not plan.coins_to_add else None,
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
            labels = ", ".join(f"models[{model_day}|{coin}]" for coin in block)
            return _result(
                _request(
                    instance,
                    f"models-{day}-{start}-{end}",
                    lambda key: dg.RunRequest(
                        job_name=jobs.coins_daily.name,
                        run_key=key,
                        asset_selection=[dg.AssetKey("models")],
                        tags={**range_tags(start, end), "huracan/day": day},
                    ),
                    f"{day}: the rebuild of {labels}",
                )
            )
        done = {coin for d, coin in materialized_coin_days(instance, "consensus") if d == day}
        blocks = missing_blocks(plan.coins, done)
        if blocks:
            return _result(
                *(
                    _request(
                        instance,
                        f"coins-{day}-{block[0]}-{block[-1]}",
                        lambda key, block=block: dg.RunRequest(
                            job_name=jobs.coins_daily.name,
                            run_key=key,
                            tags={**coins_range_tags(day, block), "huracan/day": day},
                        ),
                        f"{day}: the coins {','.join(block)}",
                    )
                    for block in blocks
                )
            )
        newest = instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=CONSENSUS,
                asset_partitions=[str(coin_day_key(day, c)) for c in plan.coins],
            ),
            limit=1,
        ).records[0]
        exported = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("dropbox_export"), asset_partitions=[day]), limit=1
        ).records
        if exported and exported[0].storage_id > newest.storage_id:
            return dg.SensorResult(skip_reason=f"{day}: every coin and the reports are done")
        # coins that failed on a stored partition the run refused (now rebuilt: the plan above is
        # whole) run again before the reports, so the day ends as an undamaged day would
        refused = _refused_coins(instance, day, list(plan.coins))
        if refused:
            requests = []
            for run_id, coins in refused.items():
                context.log.info(f"event=coins_again day={day} coins={','.join(coins)} refused_in={run_id}")
                for block in missing_blocks(list(plan.coins), set(plan.coins) - set(coins)):
                    requests.append(
                        _request(
                            instance,
                            f"again-{day}-{block[0]}-{block[-1]}-{run_id[:8]}",
                            lambda key, block=block, run_id=run_id: dg.RunRequest(
                                job_name=jobs.coins_daily.name,
                                run_key=key,
                                tags={
                                    **coins_range_tags(day, block),
                                    "huracan/day": day,
                                    RERUN_OF_TAG: run_id,
                                },
                            ),
                            f"{day}: the coins {','.join(block)} again after the rebuild of what run "
                            f"{run_id} refused",
                        )
                    )
            return _result(*requests)
        return _result(
            _request(
                instance,
                f"reports-{day}-{newest.storage_id}",
                lambda key: dg.RunRequest(job_name=jobs.reports.name, partition_key=day, run_key=key),
                f"{day}: the reports",
            )
        )

    return [automation, new_coin_sensor, daily_flow_sensor]


def _result(*requests: dg.RunRequest | str) -> dg.SensorResult:
    """The requests that are made, or the skip reasons of those that are not (:func:`_request`)."""
    made = [r for r in requests if isinstance(r, dg.RunRequest)]
    if made:
        return dg.SensorResult(run_requests=made)
    return dg.SensorResult(skip_reason="; ".join(r for r in requests if isinstance(r, str)))
