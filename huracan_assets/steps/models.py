"""The per-day work behind the ``models`` asset module, without Dagster: the asset and the
benchmark's plain loop both call it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from huracan_assets.config import HuracanSettings
from huracan_assets.core.engines import ENGINES
from huracan_assets.core.training import CoinModels, StagedModels, TrainingParams, train_coin
from huracan_assets.steps.features import series_of
from huracan_assets.steps.frames import end_of_day


def training_params(settings: HuracanSettings) -> TrainingParams:
    t = settings.training
    return TrainingParams(
        iterations=t.iterations,
        depth=t.depth,
        learning_rate=t.learning_rate,
        l2_leaf_reg=t.l2_leaf_reg,
        early_stopping_rounds=t.early_stopping_rounds,
        test_fraction=t.test_fraction,
        min_train_rows=t.min_train_rows,
        thread_count=t.thread_count,
        seed=t.seed,
        cold_start_folds=t.cold_start_folds,
        cold_start_fraction=t.cold_start_fraction,
        min_regime_samples=t.min_regime_samples,
        regime_iterations=t.regime_iterations,
    )


def eligible(row: pd.DataFrame) -> bool:
    """``row``: the coin's row of the day's universe (empty when the universe does not list it)."""
    return not row.empty and bool(row["eligible"].iloc[0])


def not_eligible(coin: str, day: str, features_hash: str, row: pd.DataFrame) -> CoinModels:
    """What the day stores for a coin it does not train (not listed, or listed and not eligible)."""
    why = "not in the universe" if row.empty else str(row["reason"].iloc[0])
    return CoinModels(
        coin=coin,
        day=day,
        features_hash=features_hash,
        status="skipped",
        reason=f"not eligible on {day}: {why}",
    )


def embargo_extra(settings: HuracanSettings) -> pd.Timedelta:
    """The execution latency rounded up to whole bars: added to every horizon's embargo."""
    return pd.Timedelta(settings.bar * settings.fill_delay_bars)


def train_for_day(
    coin: str,
    day: str,
    features: pd.DataFrame,
    labels: pd.DataFrame,
    settings: HuracanSettings,
    fhash: str,
    cold_start: bool,
) -> CoinModels:
    """The core call of one coin-day (shared by the asset and the plain-loop benchmark)."""
    table = series_of(features).set_index("open_time")
    if table.empty:
        return CoinModels(
            coin=coin, day=day, features_hash=fhash, status="skipped", reason="no features in the window"
        )
    cutoff = pd.Timestamp(end_of_day(pd.Timestamp(day).date()))
    window_start = cutoff - pd.Timedelta(days=settings.lookback_days)
    table = table[(table.index >= window_start) & (table.index < cutoff)]
    labels = labels.drop(columns=[c for c in ("date", "symbol") if c in labels])
    labels = labels[(labels["decision_time"] >= window_start) & (labels["exit_time"] < cutoff)]
    return train_coin(
        coin,
        day,
        table,
        labels,
        engines=ENGINES,
        horizons={h: pd.Timedelta(h) for h in settings.horizons},
        embargo_extra=embargo_extra(settings),
        params=training_params(settings),
        features_hash=fhash,
        cutoff=cutoff,
        cold_start=cold_start,
        latest_time=table.index.max(),
    )


def train_and_stage(folder: str, *train_args: Any) -> StagedModels:
    """:func:`train_for_day` of ``train_args``, its models written whole to the staging ``folder`` (the same files
    the models IO manager writes) where they were trained: the step then holds a summary per coin
    instead of every coin's fitted models until the end."""
    from huracan_assets.stores.files import write_coin_models

    result = train_for_day(*train_args)
    staging = Path(folder)
    staging.mkdir(parents=True)
    try:
        write_coin_models(staging, result)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return StagedModels(
        folder=folder,
        coin=result.coin,
        day=result.day,
        status=result.status,
        reason=result.reason,
        models=tuple((m.engine, m.horizon, m.regime) for m in result.models),
        fits=result.fits,
        record_kind=result.record_kind,
        training_window=dict(result.training_window),
    )
