"""The per-day work behind the ``data_integrity_report`` asset, without Dagster: the asset and
the benchmark's plain loop both call it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd

from huracan_assets.core.integrity import (
    integrity_history,
    integrity_report,
    look_back_universe,
    window_totals,
)
from huracan_assets.resources.storage import split_key


def window_days(day: str, lookback_days: int) -> list[str]:
    """The look-back window the day's models trained on: D-lookback_days..D, oldest first."""
    first = date.fromisoformat(day) - timedelta(days=lookback_days)
    return [(first + timedelta(days=i)).isoformat() for i in range(lookback_days + 1)]


def integrity_for_day(
    day: str,
    days: list[str],
    stored_attrs: dict[str, dict | None],
    outcomes: dict[str, dict[str, dict[str, str]]],
    coin_universe: pd.DataFrame,
) -> dict[str, Any]:
    """The day's data-integrity report: the day's rows, the window's totals and heat-map grid.

    ``days``: the window, :func:`window_days`; ``stored_attrs``: ``date|coin`` partition key -> the attrs stored with its validated bars
    (None: never built) over the window; ``outcomes``: day -> coin -> {check -> pass|fail};
    ``coin_universe``: the stored universe rows of the window's days (``date`` column).
    """
    window = set(days)
    cells: dict[tuple[str, str], dict | None] = {}
    for key, attrs in stored_attrs.items():
        p_day, coin = split_key(key)
        if p_day in window and coin is not None:
            # a partition without a quality record had nothing notable
            cells[(p_day, coin)] = None if attrs is None else attrs.get("quality") or {"status": "ok"}
    qualities = [
        {"coin": coin, **q} for (p_day, coin), q in sorted(cells.items()) if p_day == day and q is not None
    ]
    universe = coin_universe[coin_universe["date"] == day]
    eligible = set(universe.loc[universe["eligible"], "coin"])
    report = integrity_report(day, qualities, outcomes.get(day, {}), eligible)
    coins = sorted({q["coin"] for q in qualities})
    report["history"] = integrity_history(days, coins, cells)
    # the totals cover every coin-day the day's models trained on; the day's own stay beside them
    report["window"] = [days[0], days[-1]]
    report["day_totals"] = report["totals"]
    report["totals"] = window_totals(days, coins, cells, outcomes)
    report["look_back_universe"] = look_back_universe(
        day, days, coin_universe[coin_universe["date"].astype(str).isin(window)]
    )
    report["totals"]["look_back_days_without_eligible"] = len(
        report["look_back_universe"]["days_without_eligible"]
    )
    return report
