"""Training of CatBoost engines per horizon (and regime), with purged, embargoed splits.

Compute budget (DESIGN.md): a coin-day costs one pooled fit per engine x horizon, plus cheap
per-regime refinements. The daily model is fitted on the whole look-back window up to the
day's cut-off (early stopping on the window's own purged tail); its out-of-sample record comes
from the days that follow (shadow, see ``core/shadow.py``). Only a coin with no record yet
(cold start, new listing) also runs ``cold_start_folds`` purged walk-forward folds over its
history, whose out-of-fold predictions are its first record, marked ``walk_forward_cold_start``.

Per regime: with at least ``min_regime_samples`` training rows in a regime, the pooled model is
refined on that regime's rows (CatBoost ``init_model`` + ``regime_iterations`` trees); with
fewer, the regime falls back to the pooled model and the fallback is recorded. Regime
thresholds and label winsorisation bounds are fitted on training rows only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from huracan_assets.core.engines import Engine
from huracan_assets.core.regimes import REGIMES, RegimeThresholds, classify_regimes, fit_regime_thresholds
from huracan_assets.core.splits import purged_walk_forward, validation_tail

if TYPE_CHECKING:  # imported where a model is built: a process that only loads the code location skips it
    from catboost import CatBoostRegressor

COLD_START = "walk_forward_cold_start"
RECORD_COLUMNS = [
    "decision_time",
    "horizon",
    "engine",
    "pred_bps",
    "label_bps",
    "vol_24h_bps",
    "regime",
    "fold",
    # each decision's own cost inputs (core/costs.py, DecisionCosts)
    "quote_volume_24h",
    "spread_bps",
]
LATEST_COLUMNS = [
    "decision_time",
    "horizon",
    "engine",
    "pred_bps",
    "pred_regime_bps",
    "regime",
    "model_regime",
]


def new_regressor(**params: Any) -> CatBoostRegressor:
    """``CatBoostRegressor(**params)``, with catboost imported on the first model built."""
    from catboost import CatBoostRegressor

    return CatBoostRegressor(**params)


@dataclass
class TrainedModel:
    engine: str
    horizon: str
    regime: str  # "all" (pooled) or a regime name
    feature_names: list[str]
    model: CatBoostRegressor
    train_start: str
    train_end: str
    cutoff: str
    embargo_s: float
    n_train: int
    n_purged: int
    best_iteration: int
    label_clip_bps: list[float]
    warm_start_from: str | None = None

    def metadata(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "horizon": self.horizon,
            "regime": self.regime,
            "feature_names": self.feature_names,
            "train_window": {"start": self.train_start, "end": self.train_end},
            "cutoff": self.cutoff,
            "embargo_s": self.embargo_s,
            "n_train": self.n_train,
            "n_purged": self.n_purged,
            "best_iteration": self.best_iteration,
            "label_clip_bps": self.label_clip_bps,
            "warm_start_from": self.warm_start_from,
        }


@dataclass
class CoinModels:
    """Everything ``models[D|coin]`` holds: fitted models, the cold-start record if any, live predictions."""

    coin: str
    day: str
    features_hash: str
    status: str  # trained | skipped
    reason: str = ""
    models: list[TrainedModel] = field(default_factory=list)
    record: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RECORD_COLUMNS))
    record_kind: str = ""  # COLD_START when ``record`` holds walk-forward out-of-fold predictions
    latest: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LATEST_COLUMNS))
    training_window: dict[str, str] = field(default_factory=dict)
    regime_thresholds: dict[str, float] = field(default_factory=dict)
    regime_fallbacks: list[str] = field(default_factory=list)
    fits: int = 0


@dataclass(frozen=True)
class StagedModels:
    """A coin-day's models already written whole to a hidden staging folder (where the coin was
    trained: the step's process or a Dask worker), and what the step reports of them. The models
    IO manager swaps the folder in; the step holds this summary, not every coin's fitted models."""

    folder: str
    coin: str
    day: str
    status: str
    reason: str
    models: tuple[tuple[str, str, str], ...]  # (engine, horizon, regime) of each stored model
    fits: int
    record_kind: str
    training_window: dict[str, str]


@dataclass(frozen=True)
class TrainingParams:
    iterations: int
    depth: int
    learning_rate: float
    l2_leaf_reg: float
    early_stopping_rounds: int
    test_fraction: float  # share of each fit's rows at its end held out (purged) for early stopping
    min_train_rows: int
    thread_count: int
    seed: int
    cold_start_folds: int = 4
    cold_start_fraction: float = 0.5
    min_regime_samples: int = 400
    regime_iterations: int = 40

    def catboost(self, overrides: dict[str, Any]) -> dict[str, Any]:
        params = {
            "loss_function": "RMSE",
            "iterations": self.iterations,
            "depth": self.depth,
            "learning_rate": self.learning_rate,
            "l2_leaf_reg": self.l2_leaf_reg,
            "random_seed": self.seed,
            "thread_count": self.thread_count,
            "allow_writing_files": False,
            "verbose": False,
        }
        params.update(overrides)
        return params


def training_table(features: pd.DataFrame, labels: pd.DataFrame, horizon: str) -> pd.DataFrame:
    """Join features (indexed by decision time) with the labels of one horizon, time-sorted."""
    lab = labels.loc[labels["horizon"] == horizon, ["decision_time", "exit_time", "fwd_return_bps"]]
    table = features.join(lab.set_index("decision_time"), how="inner")
    table.index.name = "decision_time"
    return table.sort_index()


def _clip_bounds(y: np.ndarray, k: float = 6.0) -> tuple[float, float]:
    median = float(np.median(y))
    mad = float(np.median(np.abs(y - median))) * 1.4826
    if mad <= 0:
        return float(y.min()), float(y.max())
    return median - k * mad, median + k * mad


@dataclass
class _Fit:
    model: CatBoostRegressor
    clip: tuple[float, float]
    fit_idx: np.ndarray
    n_purged: int


def _fit_pooled(
    table: pd.DataFrame,
    positions: np.ndarray,
    engine: Engine,
    embargo: pd.Timedelta,
    params: TrainingParams,
    purge: bool = True,
) -> _Fit:
    """One pooled fit on ``positions`` with early stopping on their own purged tail (the last
    ``params.test_fraction`` of them, held out from the fit)."""
    decisions = table.index.to_series()
    fit_idx, tail_idx = validation_tail(
        positions,
        decisions,
        table["exit_time"],
        fraction=params.test_fraction,
        embargo=embargo,
        purge=purge,
    )
    y = table["fwd_return_bps"].to_numpy()
    lo, hi = _clip_bounds(y[fit_idx])
    cols = list(engine.features)
    model = new_regressor(**params.catboost(engine.params))
    eval_set = (table.iloc[tail_idx][cols], np.clip(y[tail_idx], lo, hi)) if len(tail_idx) >= 20 else None
    model.fit(
        table.iloc[fit_idx][cols],
        np.clip(y[fit_idx], lo, hi),
        eval_set=eval_set,
        early_stopping_rounds=params.early_stopping_rounds if eval_set is not None else None,
        use_best_model=eval_set is not None,
    )
    return _Fit(model, (lo, hi), fit_idx, len(positions) - len(fit_idx) - len(tail_idx))


def train_coin(
    coin: str,
    day: str,
    features: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    engines: tuple[Engine, ...],
    horizons: dict[str, pd.Timedelta],
    embargo_extra: pd.Timedelta,
    params: TrainingParams,
    features_hash: str,
    cutoff: pd.Timestamp,
    cold_start: bool,
    latest_time: pd.Timestamp | None = None,
    purge: bool = True,
) -> CoinModels:
    """Fit every engine x horizon (x regime) for one coin on its look-back window.

    ``features``: indexed by decision time (UTC), ``FEATURE_NAMES`` + context columns.
    ``labels``: long labels (``core.labels``) that all resolved before ``cutoff`` (end of day).
    The embargo of a horizon is its duration plus ``embargo_extra`` (latency rounded to bars).
    ``purge=False`` switches purge and embargo off: it exists only so tests can show what they prevent.
    """
    result = CoinModels(coin=coin, day=day, features_hash=features_hash, status="trained")
    # nothing at or after the cut-off is known at the cut-off: not the bars, not the labels resolving then
    features = features.loc[features.index < cutoff]
    labels = labels[labels["exit_time"] < cutoff]
    record_frames, latest_rows, reasons = [], [], []
    latest_row = (
        features.loc[[latest_time]]
        if latest_time is not None and latest_time in features.index
        else features.tail(1)
    )
    thresholds = fit_regime_thresholds(features)
    result.regime_thresholds = thresholds.to_dict()
    live_regime = str(classify_regimes(latest_row, thresholds).iloc[0]) if len(latest_row) else "range"
    for horizon, duration in horizons.items():
        table = training_table(features, labels, horizon)
        if len(table) < params.min_train_rows:
            reasons.append(f"{horizon}: {len(table)} labelled rows < min_train_rows={params.min_train_rows}")
            continue
        embargo = duration + embargo_extra
        if cold_start:
            record_frames.extend(_cold_start_record(table, horizon, engines, embargo, params, result, purge))
        positions = np.arange(len(table))
        regimes = classify_regimes(table, thresholds).to_numpy()
        for engine in engines:
            pooled = _fit_pooled(table, positions, engine, embargo, params, purge)
            result.fits += 1
            if len(pooled.fit_idx) < params.min_train_rows:
                reasons.append(
                    f"{horizon}/{engine.name}: {len(pooled.fit_idx)} rows after purge < min_train_rows"
                )
                continue
            result.models.append(
                _trained(engine, horizon, "all", pooled.model, table, pooled, cutoff, embargo)
            )
            by_regime = {"all": pooled.model}
            for regime in REGIMES:
                idx = pooled.fit_idx[regimes[pooled.fit_idx] == regime]
                if len(idx) < params.min_regime_samples:
                    result.regime_fallbacks.append(
                        f"{horizon}/{engine.name}/{regime}: {len(idx)} rows < min_regime_samples={params.min_regime_samples}, uses pooled"
                    )
                    continue
                refined = new_regressor(
                    **params.catboost({**engine.params, "iterations": params.regime_iterations})
                )
                y = np.clip(table["fwd_return_bps"].to_numpy()[idx], *pooled.clip)
                refined.fit(table.iloc[idx][list(engine.features)], y, init_model=pooled.model)
                result.fits += 1
                by_regime[regime] = refined
                fit = _Fit(refined, pooled.clip, idx, pooled.n_purged)
                result.models.append(
                    _trained(
                        engine, horizon, regime, refined, table, fit, cutoff, embargo, warm_start_from="all"
                    )
                )
            if len(latest_row):
                x = latest_row[list(engine.features)]
                regime_model = by_regime.get(live_regime, pooled.model)
                latest_rows.append(
                    {
                        "decision_time": latest_row.index[0],
                        "horizon": horizon,
                        "engine": engine.name,
                        "pred_bps": float(pooled.model.predict(x)[0]),
                        "pred_regime_bps": float(regime_model.predict(x)[0]),
                        "regime": live_regime,
                        "model_regime": live_regime if live_regime in by_regime else "all",
                    }
                )
    if not result.models:
        result.status = "skipped"
        result.reason = "; ".join(reasons) or "no labelled rows"
        return result
    result.reason = "; ".join(reasons)
    if record_frames:
        result.record = pd.concat(record_frames, ignore_index=True)[RECORD_COLUMNS]
        result.record_kind = COLD_START
    result.latest = pd.DataFrame(latest_rows, columns=LATEST_COLUMNS)
    result.training_window = {
        "start": min(m.train_start for m in result.models),
        "end": max(m.train_end for m in result.models),
        "cutoff": cutoff.isoformat(),
    }
    return result


def _trained(
    engine: Engine,
    horizon: str,
    regime: str,
    model: CatBoostRegressor,
    table: pd.DataFrame,
    fit: _Fit,
    cutoff: pd.Timestamp,
    embargo: pd.Timedelta,
    warm_start_from: str | None = None,
) -> TrainedModel:
    times = table.index[fit.fit_idx]
    return TrainedModel(
        engine=engine.name,
        horizon=horizon,
        regime=regime,
        feature_names=list(engine.features),
        model=compact(model),
        train_start=times[0].isoformat(),
        train_end=times[-1].isoformat(),
        cutoff=cutoff.isoformat(),
        embargo_s=embargo.total_seconds(),
        n_train=len(fit.fit_idx),
        n_purged=fit.n_purged,
        best_iteration=int(model.get_best_iteration() or model.tree_count_ or 0),
        label_clip_bps=[float(fit.clip[0]), float(fit.clip[1])],
        warm_start_from=warm_start_from,
    )


def compact(model: CatBoostRegressor) -> CatBoostRegressor:
    """The same model (same trees, metadata, predictions and ``.cbm`` bytes) without what the fit
    left behind: a fitted model holds about ten times its saved size, and a step keeps every
    coin's models until they are stored (at 400 coins that was most of the step's memory)."""
    slim = new_regressor()
    slim.load_model(blob=model._serialize_model())
    return slim


def _context(table: pd.DataFrame, column: str) -> np.ndarray:
    """A context column of the decisions (NaN where features were stored without it)."""
    return table[column].to_numpy(dtype=float) if column in table else np.full(len(table), np.nan)


def _cold_start_record(
    table: pd.DataFrame,
    horizon: str,
    engines: tuple[Engine, ...],
    embargo: pd.Timedelta,
    params: TrainingParams,
    result: CoinModels,
    purge: bool = True,
) -> list[pd.DataFrame]:
    """Out-of-fold predictions of purged, embargoed walk-forward folds over the coin's history."""
    folds = purged_walk_forward(
        table.index.to_series(),
        table["exit_time"],
        n_folds=params.cold_start_folds,
        test_fraction=params.cold_start_fraction,
        embargo=embargo,
        purge=purge,
    )
    frames = []
    for number, fold in enumerate(folds):
        if len(fold.train) < params.min_train_rows:
            continue
        train = table.iloc[fold.train]
        thresholds: RegimeThresholds = fit_regime_thresholds(train)
        test = table.iloc[fold.test]
        regimes = classify_regimes(test, thresholds).to_numpy()
        for engine in engines:
            fit = _fit_pooled(table, fold.train, engine, embargo, params, purge)
            result.fits += 1
            frames.append(
                pd.DataFrame(
                    {
                        "decision_time": test.index,
                        "horizon": horizon,
                        "engine": engine.name,
                        "pred_bps": fit.model.predict(test[list(engine.features)]),
                        "label_bps": test["fwd_return_bps"].to_numpy(),
                        "vol_24h_bps": test["vol_24h_bps"].to_numpy(),
                        "regime": regimes,
                        "fold": number,
                        "quote_volume_24h": _context(test, "quote_volume_24h"),
                        "spread_bps": _context(test, "spread_bps"),
                    }
                )
            )
    return frames
