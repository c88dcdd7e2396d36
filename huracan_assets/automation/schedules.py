"""Daily schedules: the universe first, then every coin of yesterday in ONE run."""

from datetime import datetime, timedelta

import dagster as dg

from huracan_assets.automation.jobs import Jobs
from huracan_assets.partitions import COINS, coin_day_key

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def day_range_tags(day: str, coins: list[str]) -> dict[str, str]:
    """Run tags for the contiguous range day|first coin .. day|last coin (coins in partition order)."""
    return {
        RANGE_START: str(coin_day_key(day, coins[0])),
        RANGE_END: str(coin_day_key(day, coins[-1])),
        "huracan/day": day,
    }


def yesterday(scheduled: datetime) -> str:
    return (scheduled - timedelta(days=1)).date().isoformat()


def build_schedules(jobs: Jobs) -> list[dg.ScheduleDefinition]:
    universe_schedule = dg.build_schedule_from_partitioned_job(
        jobs.universe, name="daily_universe_schedule", hour_of_day=0, minute_of_hour=10
    )

    @dg.schedule(
        job=jobs.coins_daily,
        cron_schedule="40 0 * * *",
        execution_timezone="UTC",
        name="daily_coins_schedule",
        description="Yesterday's date partition for every coin, as one run (a contiguous key range).",
    )
    def daily_coins_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        day = yesterday(context.scheduled_execution_time)
        coins = list(context.instance.get_dynamic_partitions(COINS.name))
        if not coins:
            return dg.SkipReason("no coins in the 'coins' partitions yet: coin_universe has not named any")
        return dg.RunRequest(run_key=f"coins-{day}", tags=day_range_tags(day, coins))

    return [universe_schedule, daily_coins_schedule]
