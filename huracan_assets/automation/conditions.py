"""When the daemon materialises each asset (declarative automation, ``AutomationCondition``).

* ``coin_universe``: as soon as its latest day is missing, i.e. when a UTC day closes (the
  clock, ``HURACAN_CLOCK`` in simulations, decides which day that is). A failed day is not
  retried by the condition: the run's own retries handle it, and a person re-executes it.
* every other asset: ``eager`` on the latest day — when an upstream partition of that day
  updates, once nothing it needs is missing or in progress. Per-coin steps of one day are
  requested together and run as one range run (single-run backfill policy).
* Some inputs are optional by design (yesterday's models and champions, older models of the
  shadow window: a new coin has none). For those only the latest day's partition must exist;
  older ones may be missing, as the IO manager's ``allow_missing`` lets the step read them.
"""

from collections.abc import Sequence

import dagster as dg

AC = dg.AutomationCondition


def day_closed() -> dg.AutomationCondition:
    return (
        AC.in_latest_time_window() & AC.missing() & ~AC.in_progress() & ~AC.execution_failed()
    ).with_label("latest day missing")


def latest_day(optional_deps: Sequence[str] = (), after: Sequence[str] = ()) -> dg.AutomationCondition:
    """``eager`` on the latest day, with ``optional_deps`` required only on that day.

    ``after``: only updates of these upstream assets trigger it. The cross-coin reports wait for
    the per-coin steps of the day: a universe update alone (when no coin of the day exists yet,
    "every coin of the day" is empty and nothing looks missing) must not start them.
    """
    missing = AC.missing() & ~AC.will_be_requested()
    updated = (
        AC.any_deps_updated().allow(dg.AssetSelection.assets(*after)) if after else AC.any_deps_updated()
    )
    condition = (
        AC.in_latest_time_window()
        & (AC.newly_missing() | updated).since_last_handled()
        & ~AC.any_deps_in_progress()
        & ~AC.in_progress()
    )
    if not optional_deps:
        return (condition & ~AC.any_deps_missing()).with_label("eager")
    optional = dg.AssetSelection.assets(*optional_deps)
    return (
        condition
        & ~AC.any_deps_match(missing).ignore(optional).with_label("any required deps missing")
        & ~AC.any_deps_match(missing & AC.in_latest_time_window())
        .allow(optional)
        .with_label("any optional deps missing on the day")
    ).with_label("eager, older optional inputs may be missing")
