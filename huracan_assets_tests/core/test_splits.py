"""Purged, embargoed walk-forward splits: the guards hold and are shown to matter."""

import numpy as np
import pandas as pd
import pytest

from huracan_assets.core.splits import purged_walk_forward, validation_tail

EMBARGO = pd.Timedelta(hours=5)


@pytest.fixture(scope="module")
def samples() -> tuple[pd.Series, pd.Series]:
    """400 hourly decisions with a missing day, each resolving 2..30 hours later (varied horizons)."""
    rng = np.random.default_rng(42)
    times = pd.date_range("2025-01-01", periods=424, freq="1h", tz="UTC")
    times = times[
        (times < pd.Timestamp("2025-01-08", tz="UTC")) | (times >= pd.Timestamp("2025-01-09", tz="UTC"))
    ]
    decision = pd.Series(times)
    exits = decision + pd.to_timedelta(rng.integers(2, 31, len(decision)), unit="h")
    return decision, pd.Series(exits)


def _folds(samples, **kw):
    decision, exits = samples
    params = {"n_folds": 1, "test_fraction": 0.25, "embargo": EMBARGO} | kw
    return purged_walk_forward(decision, exits, **params)


def test_no_training_label_resolves_at_or_after_the_test_start(samples):
    decision, exits = samples
    for fold in _folds(samples, n_folds=3):
        assert len(fold.train) > 0
        assert (exits.iloc[fold.train] < fold.test_start).all()


def test_every_training_decision_is_embargoed(samples):
    decision, _ = samples
    for fold in _folds(samples, n_folds=3):
        assert (decision.iloc[fold.train] <= fold.test_start - EMBARGO).all()
        assert fold.test_start == decision.iloc[fold.test[0]]
        assert fold.test_end == decision.iloc[fold.test[-1]]


def test_without_purge_overlapping_labels_leak_into_training(samples):
    """purge=False keeps what the guard removes: the guard is what makes the split clean."""
    decision, exits = samples
    purged = _folds(samples)[0]
    leaky = _folds(samples, purge=False)[0]
    assert np.array_equal(leaky.train, np.arange(leaky.test[0]))
    leaked = leaky.train[exits.iloc[leaky.train].to_numpy() >= leaky.test_start]
    assert len(leaked) > 0
    assert not set(leaked) & set(purged.train)
    assert purged.purged == len(leaky.train) - len(purged.train) > 0
    assert leaky.purged == 0
    # the purged training set is exactly the candidates that pass both rules
    candidates = np.arange(purged.test[0])
    ok = (exits.iloc[candidates] < purged.test_start).to_numpy() & (
        decision.iloc[candidates] <= purged.test_start - EMBARGO
    ).to_numpy()
    assert np.array_equal(purged.train, candidates[ok])


def test_folds_split_the_test_span_contiguously(samples):
    decision, _ = samples
    n = len(decision)
    folds = _folds(samples, n_folds=4, test_fraction=0.3)
    assert len(folds) == 4
    first_test = int(np.floor(n * 0.7))
    assert np.array_equal(np.concatenate([f.test for f in folds]), np.arange(first_test, n))
    for f in folds:
        assert np.array_equal(f.test, np.arange(f.test[0], f.test[-1] + 1))
        assert (f.train < f.test[0]).all()
    # expanding window: later folds train on at least as much
    sizes = [len(f.train) for f in folds]
    assert sizes == sorted(sizes)
    assert sizes[-1] > sizes[0]


def test_unsorted_samples_raise(samples):
    decision, exits = samples
    shuffled = decision.sample(frac=1.0, random_state=1)
    with pytest.raises(ValueError, match="sorted"):
        purged_walk_forward(shuffled, exits, embargo=EMBARGO)


def test_validation_tail_is_purged_and_embargoed_too(samples):
    decision, exits = samples
    fold = _folds(samples)[0]
    fit, tail = validation_tail(fold.train, decision, exits, fraction=0.15, embargo=EMBARGO)
    cut = int(len(fold.train) * 0.85)
    assert np.array_equal(tail, fold.train[cut:])
    tail_start = decision.iloc[tail[0]]
    assert (exits.iloc[fit] < tail_start).all()
    assert (decision.iloc[fit] <= tail_start - EMBARGO).all()
    # something was actually purged, and only from the rows before the tail
    assert set(fit) < set(fold.train[:cut])
    removed = sorted(set(fold.train[:cut]) - set(fit))
    assert all(exits.iloc[i] >= tail_start or decision.iloc[i] > tail_start - EMBARGO for i in removed)


def test_validation_tail_needs_twenty_rows(samples):
    decision, exits = samples
    train = np.arange(19)
    fit, tail = validation_tail(train, decision, exits, fraction=0.15, embargo=EMBARGO)
    assert np.array_equal(fit, train) and len(tail) == 0
