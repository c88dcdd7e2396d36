"""Sensors the daemon runs: the assets' automation conditions, and new coins with their history.

* ``huracan_automation`` evaluates every asset's ``AutomationCondition`` (see
  ``automation/conditions.py``): the universe when a day closes, then each day's per-coin steps
  and reports. It runs in the code server, so Huracan's own partition mappings are used.
* ``new_coin_sensor`` watches ``coin_universe``: when a materialised day names coins that are
  not in the ``coins`` partitions yet, it adds them and requests their missing history as one
  backfill, from the same plan ``huracan daily`` uses (``automation/plan.py``).
"""

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.events import AssetKeyPartitionKey

from huracan_assets.automation.jobs import PER_COIN_HISTORY
from huracan_assets.automation.plan import UNIVERSE, plan_for
from huracan_assets.partitions import COINS, Partitions, coin_day_key

AUTOMATION_INTERVAL_S = 15


def build_sensors(partitions: Partitions) -> list[dg.SensorDefinition]:
    automation = dg.AutomationConditionSensorDefinition(
        "huracan_automation",
        target=dg.AssetSelection.all(),
        use_user_code_server=True,
        minimum_interval_seconds=AUTOMATION_INTERVAL_S,
        description="Evaluates the assets' automation conditions: coin_universe when a day closes, then the "
        "day's per-coin steps as one run and the reports once every coin is done. Turn it on with "
        "new_coin_sensor and the deployment keeps itself up to date.",
    )

    @dg.sensor(
        name="new_coin_sensor",
        asset_selection=dg.AssetSelection.assets(*PER_COIN_HISTORY),
        minimum_interval_seconds=AUTOMATION_INTERVAL_S,
        description="When a coin_universe day names eligible coins that are not in the 'coins' partitions yet, "
        "adds them and requests the bars, features and labels of their look-back history as one backfill.",
    )
    def new_coin_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        after = int(context.cursor) if context.cursor else None
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=UNIVERSE, after_storage_id=after), limit=100, ascending=True
        ).records
        if not records:
            return dg.SensorResult(skip_reason="no new coin_universe materialization")
        cursor = str(records[-1].storage_id)
        # only the newest day matters: history is planned up to it
        day = max(str(r.partition_key) for r in records if r.partition_key)
        plan = plan_for(context.instance, partitions, day)
        wanted = {
            AssetKeyPartitionKey(dg.AssetKey(asset), str(coin_day_key(d, coin)))
            for asset, coin_days in plan.missing_history().items()
            for d, coin in coin_days
        }
        if not plan.coins_to_add and not wanted:
            return dg.SensorResult(skip_reason=f"{day}: no new coins and no missing history", cursor=cursor)
        context.log.info(
            f"event=new_coins day={day} coins={','.join(plan.coins_to_add) or '-'} "
            f"history_partitions={len(wanted)}"
        )
        run_requests = []
        if wanted:
            subset = AssetGraphSubset.from_asset_partition_set(wanted, context.repository_def.asset_graph)
            run_requests.append(
                dg.RunRequest.for_asset_graph_subset(
                    subset, tags={"huracan/new_coins": ",".join(plan.coins_to_add), "huracan/day": day}
                )
            )
        return dg.SensorResult(
            dynamic_partitions_requests=[COINS.build_add_request(list(plan.coins_to_add))]
            if plan.coins_to_add
            else [],
            run_requests=run_requests,
            cursor=cursor,
        )

    return [automation, new_coin_sensor]
