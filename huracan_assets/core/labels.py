"""Forward-return labels, measured from the fill, not from the signal's close.

A decision is taken at the close of bar ``t``. The order can be filled no earlier than
``close + execution_latency``; the first price we can observe at or after that instant is the
close of bar ``t + m`` with ``m = max(1, ceil(latency / bar))`` (``fill_delay_bars``). The
position is closed ``h`` bars later:

    label_h(t) = ln(close[t + m + h] / close[t + m]) * 1e4      (bps)

Point in time: a label belongs to the UTC day in which it *resolves*, the day of the bar whose
close is the exit price. ``labels[D]`` therefore holds exactly the labels known by the end
of D, and a model trained at the end of D can use every row of ``labels[..D]`` with no
look-ahead. Labels are computed from the ``close`` carried with ``features``, so their
decision times are exactly the feature rows.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from huracan_assets.core.bars import day_bounds

LABEL_COLUMNS = ["decision_time", "horizon", "fill_time", "exit_time", "fwd_return_bps"]


def compute_labels(
    close: pd.Series,
    *,
    bar: timedelta,
    horizon_bars: dict[str, int],
    fill_delay_bars: int,
    resolve_day: date | None = None,
) -> pd.DataFrame:
    """Labels for one coin from its closes (``close`` indexed by bar open_time, UTC).

    Returns ``LABEL_COLUMNS`` in long format (one row per decision and horizon, bps).
    ``fill_time``/``exit_time`` are the open times of the bars whose closes are the fill and
    exit prices. Decisions whose fill or exit bar is missing (a dropped day) are left out.
    With ``resolve_day`` only labels whose exit bar lies on that UTC day are returned.
    """
    close = close.dropna().sort_index()
    if close.empty:
        return empty_labels()
    grid = pd.date_range(close.index[0], close.index[-1], freq=bar)
    prices = close.reindex(grid).to_numpy(dtype=float)
    present = np.isfinite(prices)
    times = grid.asi8
    frames = []
    for horizon, h in horizon_bars.items():
        n = len(grid) - fill_delay_bars - h
        if n <= 0:
            continue
        decision = np.arange(n)
        fill = decision + fill_delay_bars
        exit_ = fill + h
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.log(prices[exit_] / prices[fill]) * 1e4
        ok = present[decision] & np.isfinite(value)
        frames.append(
            pd.DataFrame(
                {
                    "decision_time": pd.to_datetime(times[decision[ok]], utc=True),
                    "horizon": horizon,
                    "fill_time": pd.to_datetime(times[fill[ok]], utc=True),
                    "exit_time": pd.to_datetime(times[exit_[ok]], utc=True),
                    "fwd_return_bps": value[ok],
                }
            )
        )
    if not frames:
        return empty_labels()
    labels = pd.concat(frames, ignore_index=True)
    if resolve_day is not None:
        start, end = day_bounds(resolve_day)
        labels = labels[(labels["exit_time"] >= start) & (labels["exit_time"] < end)]
    return labels.sort_values(["horizon", "decision_time"]).reset_index(drop=True)


def empty_labels() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "decision_time": pd.Series(dtype="datetime64[ns, UTC]"),
            "horizon": pd.Series(dtype="object"),
            "fill_time": pd.Series(dtype="datetime64[ns, UTC]"),
            "exit_time": pd.Series(dtype="datetime64[ns, UTC]"),
            "fwd_return_bps": pd.Series(dtype="float64"),
        }
    )
