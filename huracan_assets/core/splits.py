"""Purged, embargoed walk-forward splits on label intervals.

Every sample ``i`` is a label interval ``[decision_time[i], exit_time[i]]``. For a test fold
starting at decision time ``T0``, a training sample is kept only if

* its label has resolved before the test fold starts: ``exit_time[i] < T0`` (purge), and
* it lies at least ``embargo`` before the fold: ``decision_time[i] <= T0 - embargo``.

With ``embargo >= horizon + execution latency`` the second rule also removes any sample
whose features overlap the serially correlated start of the test fold. The cut-off of the
partition day is enforced upstream (labels resolve on or before their day).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Fold:
    train: np.ndarray  # integer positions
    test: np.ndarray
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    purged: int  # training candidates removed by purge + embargo


def purged_walk_forward(
    decision_time: pd.Series,
    exit_time: pd.Series,
    *,
    n_folds: int = 1,
    test_fraction: float = 0.25,
    embargo: pd.Timedelta,
    purge: bool = True,
) -> list[Fold]:
    """Walk-forward folds over the last ``test_fraction`` of the samples (time-sorted).

    The test span is cut into ``n_folds`` consecutive folds; each trains on everything before
    it that survives purge and embargo (an expanding window). ``purge=False`` exists only so
    tests can show what the guard prevents.
    """
    decision = pd.DatetimeIndex(decision_time)
    exits = pd.DatetimeIndex(exit_time)
    if not decision.is_monotonic_increasing:
        raise ValueError("purged_walk_forward: samples must be sorted by decision_time")
    n = len(decision)
    first_test = int(np.floor(n * (1 - test_fraction)))
    bounds = np.linspace(first_test, n, n_folds + 1).astype(int)
    folds = []
    positions = np.arange(n)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if b <= a:
            continue
        t0 = decision[a]
        candidates = positions < a
        keep = candidates & (exits < t0) & (decision <= t0 - embargo) if purge else candidates
        folds.append(
            Fold(
                train=positions[keep],
                test=positions[a:b],
                test_start=t0,
                test_end=decision[b - 1],
                purged=int(candidates.sum() - keep.sum()),
            )
        )
    return folds


def validation_tail(
    train: np.ndarray,
    decision_time: pd.Series,
    exit_time: pd.Series,
    *,
    fraction: float,
    embargo: pd.Timedelta,
    purge: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Split a training fold into (fit, early-stopping tail) with the same purge and embargo."""
    if len(train) < 20:
        return train, train[:0]
    cut = int(len(train) * (1 - fraction))
    t0 = pd.DatetimeIndex(decision_time)[train[cut]]
    exits = pd.DatetimeIndex(exit_time)[train[:cut]]
    decisions = pd.DatetimeIndex(decision_time)[train[:cut]]
    # without purge (tests only) every sample is fitted, the tail included: nothing separates them
    fit = train[:cut][(exits < t0) & (decisions <= t0 - embargo)] if purge else train
    return fit, train[cut:]
