"""Training of CatBoost engines per horizon on a purged walk-forward split.

Per coin-day: one fit per engine x horizon (the compute budget of DESIGN.md). The model is
fitted on the purged training fold (with early stopping on the fold's own purged validation
tail) and scored on the held-out test fold; that model is the one published, so its
out-of-sample record is the record of the exact bytes a consumer loads. Label winsorisation
bounds are fitted on the training fold only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from catboost import CatBoostRegressor

from huracan_assets.core.engines import Engine
from huracan_assets.core.splits import purged_walk_forward, validation_tail

OOF_COLUMNS = [
    "decision_time",
    "horizon",
    "engine",
    "pred_bps",
    "label_bps",
    "vol_24h_bps",
    "quote_volume_24h",
    "efficiency_abs_24h",
    "regime",
]
LATEST_COLUMNS = ["decision_time", "horizon", "engine", "pred_bps", "regime"]


@dataclass
class TrainedModel:
    engine: str
    horizon: str
    regime: str
    feature_names: list[str]
    model: CatBoostRegressor
    train_start: str
    train_end: str
    test_start: str
    test_end: str
    n_train: int
    n_test: int
    n_purged: int
    best_iteration: int
    label_clip_bps: list[float]

    def metadata(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "horizon": self.horizon,
            "regime": self.regime,
            "feature_names": self.feature_names,
            "train_window": {"start": self.train_start, "end": self.train_end},
            "test_window": {"start": self.test_start, "end": self.test_end},
            "n_train": self.n_train,
            "n_test": self.n_test,
            "n_purged": self.n_purged,
            "best_iteration": self.best_iteration,
            "label_clip_bps": self.label_clip_bps,
        }


@dataclass
class CoinModels:
    """Everything ``models[D|coin]`` holds: the fitted models and their out-of-fold record."""

    coin: str
    day: str
    features_hash: str
    status: str  # trained | skipped
    reason: str = ""
    models: list[TrainedModel] = field(default_factory=list)
    oof: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=OOF_COLUMNS))
    latest: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LATEST_COLUMNS))
    training_window: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingParams:
    iterations: int
    depth: int
    learning_rate: float
    l2_leaf_reg: float
    early_stopping_rounds: int
    test_fraction: float
    min_train_rows: int
    thread_count: int
    seed: int

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
    latest_time: pd.Timestamp | None = None,
) -> CoinModels:
    """Fit every engine x horizon for one coin on its look-back window.

    ``features``: indexed by decision time (UTC), ``FEATURE_NAMES`` + context columns.
    ``labels``: long labels (``core.labels``) that all resolved by the cut-off.
    ``horizons``: horizon name -> duration; the embargo of a horizon is its duration plus
    ``embargo_extra`` (the execution latency rounded up to a bar).
    ``features`` must carry a ``regime`` column (``core.regimes``) for the per-regime record.
    """
    result = CoinModels(coin=coin, day=day, features_hash=features_hash, status="trained")
    oof_frames, latest_rows = [], []
    if latest_time is not None and latest_time in features.index:
        latest_row = features.loc[[latest_time]]
    else:
        latest_row = features.tail(1)
    reasons = []
    for horizon, duration in horizons.items():
        table = training_table(features, labels, horizon)
        if len(table) < params.min_train_rows:
            reasons.append(f"{horizon}: {len(table)} labelled rows < min_train_rows={params.min_train_rows}")
            continue
        embargo = duration + embargo_extra
        fold = purged_walk_forward(
            table.index.to_series(), table["exit_time"], test_fraction=params.test_fraction, embargo=embargo
        )[0]
        fit_idx, tail_idx = validation_tail(
            fold.train, table.index.to_series(), table["exit_time"], fraction=0.15, embargo=embargo
        )
        if len(fit_idx) < params.min_train_rows:
            reasons.append(
                f"{horizon}: {len(fit_idx)} rows after purge < min_train_rows={params.min_train_rows}"
            )
            continue
        y = table["fwd_return_bps"].to_numpy()
        lo, hi = _clip_bounds(y[fit_idx])
        test = table.iloc[fold.test]
        for engine in engines:
            cols = list(engine.features)
            model = CatBoostRegressor(**params.catboost(engine.params))
            eval_set = None
            if len(tail_idx) >= 20:
                eval_set = (table.iloc[tail_idx][cols], np.clip(y[tail_idx], lo, hi))
            model.fit(
                table.iloc[fit_idx][cols],
                np.clip(y[fit_idx], lo, hi),
                eval_set=eval_set,
                early_stopping_rounds=params.early_stopping_rounds if eval_set is not None else None,
                use_best_model=eval_set is not None,
            )
            pred = model.predict(test[cols])
            oof_frames.append(
                pd.DataFrame(
                    {
                        "decision_time": test.index,
                        "horizon": horizon,
                        "engine": engine.name,
                        "pred_bps": pred,
                        "label_bps": test["fwd_return_bps"].to_numpy(),
                        "vol_24h_bps": test["vol_24h_bps"].to_numpy(),
                        "quote_volume_24h": test["quote_volume_24h"].to_numpy(),
                        "efficiency_abs_24h": test["efficiency_abs_24h"].to_numpy(),
                        "regime": test["regime"].to_numpy(),
                    }
                )
            )
            latest_rows.append(
                {
                    "decision_time": latest_row.index[0],
                    "horizon": horizon,
                    "engine": engine.name,
                    "pred_bps": float(model.predict(latest_row[cols])[0]),
                    "regime": str(latest_row["regime"].iloc[0]),
                }
            )
            fit_times = table.index[fit_idx]
            result.models.append(
                TrainedModel(
                    engine=engine.name,
                    horizon=horizon,
                    regime="all",
                    feature_names=cols,
                    model=model,
                    train_start=fit_times[0].isoformat(),
                    train_end=fit_times[-1].isoformat(),
                    test_start=fold.test_start.isoformat(),
                    test_end=fold.test_end.isoformat(),
                    n_train=len(fit_idx),
                    n_test=len(fold.test),
                    n_purged=fold.purged,
                    best_iteration=int(model.get_best_iteration() or model.tree_count_ or 0),
                    label_clip_bps=[float(lo), float(hi)],
                )
            )
    if not result.models:
        result.status = "skipped"
        result.reason = "; ".join(reasons) or "no labelled rows"
        return result
    if reasons:
        result.reason = "; ".join(reasons)
    result.oof = pd.concat(oof_frames, ignore_index=True)[OOF_COLUMNS]
    result.latest = pd.DataFrame(latest_rows)
    result.training_window = {
        "start": min(m.train_start for m in result.models),
        "end": max(m.test_end for m in result.models),
    }
    return result


def _clip_bounds(y: np.ndarray, k: float = 6.0) -> tuple[float, float]:
    median = float(np.median(y))
    mad = float(np.median(np.abs(y - median))) * 1.4826
    if mad <= 0:
        return float(y.min()), float(y.max())
    return median - k * mad, median + k * mad
