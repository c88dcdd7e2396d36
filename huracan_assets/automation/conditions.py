"""When the daemon materialises ``coin_universe`` (declarative automation, ``AutomationCondition``).

The universe runs as soon as its latest day is missing, i.e. when a UTC day closes (the clock,
``HURACAN_CLOCK`` in simulations, decides which day that is). A failed day is not retried by
the condition: the run's own retries handle it, and a person re-executes it.

The rest of the day is launched by ``daily_flow_sensor`` from the one plan, not by conditions on
each asset: in Dagster 1.13 an automation condition sensor requests either one run per
partition (``emit_backfills=False``: a run per coin-day and per step) or a backfill, which
launches a chain with look-back mappings one asset level at a time (a run per level and a
daemon iteration between levels; measured: six levels, about 30 s each, for one day). The
day's per-coin steps belong in one range run, as ``huracan daily`` runs them.
"""

import dagster as dg

AC = dg.AutomationCondition


def day_closed() -> dg.AutomationCondition:
    return (
        AC.in_latest_time_window() & AC.missing() & ~AC.in_progress() & ~AC.execution_failed()
    ).with_label("latest day missing")
