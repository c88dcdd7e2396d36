"""Forward-return labels from the fill: values by hand, timing, point-in-time resolution."""

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from huracan_assets.core.labels import LABEL_COLUMNS, compute_labels
from huracan_assets_tests.conftest import utc

HOUR = timedelta(hours=1)
DAY = date(2025, 3, 4)
HORIZONS = {"1h": 1, "4h": 4}
FILL_DELAY = 1


def _closes(n: int, start_hour: int = 0) -> pd.Series:
    """A hand-made close series with distinct, irregular moves (USDT), hourly from DAY 00:00 + start_hour."""
    values = [100.0 + 3.0 * math.sin(1.7 * i) + 0.5 * i for i in range(n)]
    index = pd.date_range(utc(DAY, start_hour), periods=n, freq="1h")
    return pd.Series(values, index=index, name="close")


def _hand_labels(close: pd.Series, h: int, m: int) -> dict[pd.Timestamp, float]:
    values = close.to_list()
    times = list(close.index)
    return {times[t]: math.log(values[t + m + h] / values[t + m]) * 1e4 for t in range(len(values) - m - h)}


@pytest.fixture(scope="module")
def close() -> pd.Series:
    return _closes(12)


@pytest.fixture(scope="module")
def labels(close: pd.Series) -> pd.DataFrame:
    return compute_labels(close, bar=HOUR, horizon_bars=HORIZONS, fill_delay_bars=FILL_DELAY)


@pytest.mark.parametrize("horizon", ["1h", "4h"])
def test_label_is_log_return_from_fill_to_exit(close, labels, horizon):
    h = HORIZONS[horizon]
    expected = _hand_labels(close, h, FILL_DELAY)
    got = labels[labels["horizon"] == horizon].set_index("decision_time")["fwd_return_bps"]
    assert list(got.index) == list(expected)  # decisions 0 .. n-m-h-1, no more
    np.testing.assert_allclose(got.to_numpy(), list(expected.values()), rtol=1e-12)


def test_label_is_not_measured_from_the_signal_close(close, labels):
    # the naive label ln(close[t+h]/close[t]) differs: the fill delay matters
    got = labels[labels["horizon"] == "1h"].set_index("decision_time")["fwd_return_bps"]
    naive = np.log(close.shift(-1) / close).reindex(got.index) * 1e4
    assert not np.allclose(got.to_numpy(), naive.to_numpy())


def test_fill_after_decision_and_exit_h_bars_after_fill(labels):
    assert list(labels.columns) == LABEL_COLUMNS
    assert (labels["fill_time"] > labels["decision_time"]).all()
    assert (labels["fill_time"] - labels["decision_time"] == FILL_DELAY * HOUR).all()
    bars = labels["horizon"].map(HORIZONS)
    assert (labels["exit_time"] - labels["fill_time"] == bars * pd.Timedelta(HOUR)).all()


def test_longer_fill_delay_shifts_the_fill(close):
    labels = compute_labels(close, bar=HOUR, horizon_bars={"1h": 1}, fill_delay_bars=2)
    expected = _hand_labels(close, 1, 2)
    assert (labels["fill_time"] - labels["decision_time"] == 2 * HOUR).all()
    np.testing.assert_allclose(labels["fwd_return_bps"], list(expected.values()), rtol=1e-12)


def test_resolve_day_keeps_exactly_the_labels_that_exit_on_that_day():
    # two days of closes: 2025-03-04 00:00 .. 2025-03-05 23:00
    close = _closes(48)
    full = compute_labels(close, bar=HOUR, horizon_bars=HORIZONS, fill_delay_bars=FILL_DELAY)
    for day in (DAY, DAY + timedelta(days=1)):
        resolved = compute_labels(
            close, bar=HOUR, horizon_bars=HORIZONS, fill_delay_bars=FILL_DELAY, resolve_day=day
        )
        on_day = full[full["exit_time"].dt.date == day].reset_index(drop=True)
        pd.testing.assert_frame_equal(resolved, on_day)
        assert len(resolved) > 0
    # the day split is a partition: nothing lost, nothing counted twice
    day_one = compute_labels(
        close, bar=HOUR, horizon_bars=HORIZONS, fill_delay_bars=FILL_DELAY, resolve_day=DAY
    )
    day_two = compute_labels(
        close,
        bar=HOUR,
        horizon_bars=HORIZONS,
        fill_delay_bars=FILL_DELAY,
        resolve_day=DAY + timedelta(days=1),
    )
    assert len(day_one) + len(day_two) == len(full)
    # a decision at 22:00 on day one with the 4h horizon exits at 03:00 of day two
    late = day_two[(day_two["horizon"] == "4h") & (day_two["decision_time"] == utc(DAY, 22))]
    assert len(late) == 1 and late["exit_time"].iloc[0] == utc(DAY, 27)


def test_missing_bar_drops_exactly_the_decisions_touching_it(close):
    missing = close.index[6]
    labels = compute_labels(close.drop(missing), bar=HOUR, horizon_bars=HORIZONS, fill_delay_bars=FILL_DELAY)
    full = compute_labels(close, bar=HOUR, horizon_bars=HORIZONS, fill_delay_bars=FILL_DELAY)
    for horizon, h in HORIZONS.items():
        got = set(labels.loc[labels["horizon"] == horizon, "decision_time"])
        every = set(full.loc[full["horizon"] == horizon, "decision_time"])
        touching = {t for t in every if missing in (t, t + FILL_DELAY * HOUR, t + (FILL_DELAY + h) * HOUR)}
        assert touching, horizon  # the gap really is inside the window
        assert got == every - touching, horizon
    # surviving labels keep their values
    merged = labels.merge(full, on=["decision_time", "horizon"], suffixes=("", "_full"))
    np.testing.assert_allclose(merged["fwd_return_bps"], merged["fwd_return_bps_full"], rtol=1e-12)


def test_nan_close_behaves_like_a_missing_bar(close):
    with_nan = close.copy()
    with_nan.iloc[6] = np.nan
    dropped = close.drop(close.index[6])
    kw = {"bar": HOUR, "horizon_bars": HORIZONS, "fill_delay_bars": FILL_DELAY}
    pd.testing.assert_frame_equal(compute_labels(with_nan, **kw), compute_labels(dropped, **kw))


def test_empty_input_gives_empty_frame_with_label_columns():
    empty = compute_labels(
        pd.Series(dtype=float, index=pd.DatetimeIndex([], tz="UTC")),
        bar=HOUR,
        horizon_bars=HORIZONS,
        fill_delay_bars=FILL_DELAY,
    )
    assert empty.empty and list(empty.columns) == LABEL_COLUMNS


def test_series_shorter_than_the_horizon_gives_no_labels():
    labels = compute_labels(_closes(3), bar=HOUR, horizon_bars={"4h": 4}, fill_delay_bars=FILL_DELAY)
    assert labels.empty and list(labels.columns) == LABEL_COLUMNS
