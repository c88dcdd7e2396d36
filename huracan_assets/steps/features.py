"""The per-day work behind the ``features`` asset module, without Dagster: the asset and the
benchmark's plain loop both call it."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from huracan_assets.core.bars import day_bounds
from huracan_assets.core.features import CONTEXT_COLUMNS, FEATURE_NAMES, compute_features
from huracan_assets.steps.frames import day_of

FEATURE_COLUMNS = ["open_time", *FEATURE_NAMES, *CONTEXT_COLUMNS]


def empty_features() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in FEATURE_COLUMNS})
    frame["open_time"] = pd.Series(dtype="datetime64[ns, UTC]")
    return frame[FEATURE_COLUMNS]


def features_attrs(frame: pd.DataFrame, features_hash: str, failure: object = None) -> dict[str, str]:
    """What the ``features`` asset stores with each partition: the features' hash and its status."""
    status = f"failed: {failure}" if failure else ("ok" if len(frame) else "no validated bars")
    return {"features_hash": features_hash, "status": status}


def series_of(frame: pd.DataFrame, drop: tuple[str, ...] = ("date", "symbol")) -> pd.DataFrame:
    return (
        frame.drop(columns=[c for c in drop if c in frame])
        .sort_values("open_time")
        .drop_duplicates("open_time")
    )


def features_by_day(bars: pd.DataFrame, bar: timedelta, keys: list[str]) -> dict[str, pd.DataFrame]:
    """Features of one coin for each partition key: computed once over the whole window, then cut by day.

    The core call of one coin (shared by the asset and the plain-loop benchmark).
    """
    table = compute_features(series_of(bars), bar) if len(bars) else pd.DataFrame()
    out = {}
    for key in keys:
        start, end = day_bounds(day_of(key))
        rows = table.loc[(table.index >= start) & (table.index < end)] if len(table) else table
        out[key] = rows.reset_index() if len(rows) else empty_features()
    return out
