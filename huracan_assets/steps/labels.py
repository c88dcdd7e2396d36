"""The per-day work behind the ``labels`` asset module, without Dagster: the asset and the
benchmark's plain loop both call it."""

from __future__ import annotations

import pandas as pd

from huracan_assets.config import HuracanSettings
from huracan_assets.core.bars import day_bounds
from huracan_assets.core.labels import compute_labels, empty_labels
from huracan_assets.steps.features import series_of
from huracan_assets.steps.frames import day_of


def labels_by_day(
    features: pd.DataFrame, settings: HuracanSettings, keys: list[str]
) -> dict[str, pd.DataFrame]:
    """Labels of one coin for each partition key: the labels that resolve on that day.

    The core call of one coin (shared by the asset and the plain-loop benchmark).
    """
    close = series_of(features).set_index("open_time")["close"] if len(features) else pd.Series(dtype=float)
    all_labels = compute_labels(
        close, bar=settings.bar, horizon_bars=settings.horizon_bars, fill_delay_bars=settings.fill_delay_bars
    )
    if all_labels.empty:
        return {key: empty_labels() for key in keys}
    exit_day = all_labels["exit_time"].dt.floor("D")
    return {key: all_labels[exit_day == day_bounds(day_of(key))[0]].reset_index(drop=True) for key in keys}
