"""Feature families: no look-ahead, a stable spec hash, windows declared in hours."""

import re
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from huracan_assets.core.features import (
    CONTEXT_COLUMNS,
    FAMILIES,
    FEATURE_NAMES,
    compute_features,
    family_features,
    features_hash,
)
from huracan_assets.market_sim import SECONDARY_VENDOR, SimulatedExchange
from huracan_assets_tests.conftest import utc

HOUR = timedelta(hours=1)
START = date(2024, 2, 1)
N_DAYS = 10


@pytest.fixture(scope="module")
def hourly_bars() -> pd.DataFrame:
    ex = SimulatedExchange(seed=11, n_coins=6)
    # the secondary vendor gives clean bars (no gaps, no outliers, no duplicates)
    return ex.ohlcv("SOL", utc(START), utc(START, 24 * N_DAYS), vendor=SECONDARY_VENDOR)


@pytest.fixture(scope="module")
def hourly_features(hourly_bars: pd.DataFrame) -> pd.DataFrame:
    return compute_features(hourly_bars, HOUR)


def _perturb_after(bars: pd.DataFrame, cut: pd.Timestamp, seed: int = 0) -> pd.DataFrame:
    """Scale prices and volumes of every bar strictly after ``cut`` by random factors (bars stay valid)."""
    rng = np.random.default_rng(seed)
    out = bars.copy()
    future = out["open_time"] > cut
    k = int(future.sum())
    price = rng.uniform(0.5, 2.0, k)
    volume = rng.uniform(0.1, 10.0, k)
    for column in ("open", "high", "low", "close"):
        out.loc[future, column] = out.loc[future, column].to_numpy() * price
    for column in ("volume", "quote_volume", "taker_buy_base", "taker_buy_quote"):
        out.loc[future, column] = out.loc[future, column].to_numpy() * volume
    # change the taker share too, so flow features see a different future
    out.loc[future, "taker_buy_base"] = out.loc[future, "volume"].to_numpy() * rng.uniform(0.05, 0.95, k)
    return out


def test_changing_the_future_leaves_every_past_feature_unchanged(hourly_bars, hourly_features):
    cut = hourly_bars["open_time"].iloc[24 * 6 + 5]
    perturbed = compute_features(_perturb_after(hourly_bars, cut), HOUR)
    past = hourly_features.index <= cut
    pd.testing.assert_frame_equal(
        perturbed.loc[past], hourly_features.loc[past], check_exact=False, rtol=1e-12, atol=0
    )
    # the perturbation is real: the bars after the cut do change their features
    future = ~past
    diff = (
        perturbed.loc[future, list(FEATURE_NAMES)] - hourly_features.loc[future, list(FEATURE_NAMES)]
    ).abs()
    assert (diff.to_numpy() > 1e-9).any(axis=0).sum() >= len(FEATURE_NAMES) - 2


def test_truncated_history_gives_the_same_features(hourly_bars, hourly_features):
    """Features at t from bars up to t equal those from the whole window (no grid or edge effects)."""
    for k in (30, 100, 24 * 8 + 17):
        t = hourly_bars["open_time"].iloc[k]
        truncated = compute_features(hourly_bars.iloc[: k + 1], HOUR)
        assert truncated.index[-1] == t
        pd.testing.assert_frame_equal(truncated, hourly_features.loc[:t], check_exact=False, rtol=1e-12)


def test_input_order_does_not_matter(hourly_bars, hourly_features):
    shuffled = hourly_bars.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(compute_features(shuffled, HOUR), hourly_features)


def test_features_hash_is_stable_sha256():
    first, second = features_hash(), features_hash()
    assert first == second
    assert re.fullmatch(r"[0-9a-f]{64}", first)


def test_every_column_present_and_never_infinite(hourly_bars, hourly_features):
    assert list(hourly_features.columns) == [*FEATURE_NAMES, *CONTEXT_COLUMNS]
    assert len(hourly_features) == len(hourly_bars)
    assert (hourly_features.dtypes == "float64").all()
    values = hourly_features.to_numpy()
    assert not np.isinf(values).any()
    # after the longest warm-up (EMA 48h x 1.5 = 72 bars) clean bars give finite features
    warm = hourly_features.iloc[72:][list(FEATURE_NAMES)].to_numpy()
    assert np.isfinite(warm).mean() > 0.99


def test_degenerate_bars_give_nan_not_inf(hourly_bars):
    bars = hourly_bars.copy()
    # flat candles with zero volume: zero range and zero volume are divisions by zero
    flat = bars.index[50:60]
    bars.loc[flat, ["open", "high", "low"]] = np.repeat(bars.loc[flat, ["close"]].to_numpy(), 3, axis=1)
    bars.loc[flat, ["volume", "quote_volume", "taker_buy_base", "taker_buy_quote"]] = 0.0
    features = compute_features(bars, HOUR)
    assert not np.isinf(features.to_numpy()).any()
    assert features.loc[bars.loc[flat, "open_time"], "wick_imbalance"].isna().all()
    assert features.loc[bars.loc[flat, "open_time"], "taker_ratio"].isna().all()


def test_momentum_by_hand(hourly_bars, hourly_features):
    close = hourly_bars.set_index("open_time")["close"]
    ret = np.log(close).diff()
    vol = ret.rolling(24, min_periods=12).std()
    expected = np.log(close / close.shift(4)) / (vol * np.sqrt(4))
    np.testing.assert_allclose(hourly_features["mom_4h"], expected, rtol=1e-10, equal_nan=True)
    np.testing.assert_allclose(hourly_features["vol_24h_bps"], vol * 1e4, rtol=1e-10, equal_nan=True)


def test_family_features_cover_each_family_once():
    seen: list[str] = []
    for family in FAMILIES:
        names = family_features(family)
        assert names, family
        seen += names
    assert sorted(seen) == sorted(FEATURE_NAMES)
    assert len(seen) == len(set(seen))


def test_unknown_family_raises_naming_it():
    with pytest.raises(KeyError, match="astrology"):
        family_features("astrology")


def test_five_minute_bars_same_columns_and_windows_in_hours():
    ex = SimulatedExchange(seed=11, n_coins=6, timeframe="5m")
    bars = ex.ohlcv("SOL", utc(START), utc(START, 24 * 3), vendor=SECONDARY_VENDOR)
    features = compute_features(bars, timedelta(minutes=5))
    assert list(features.columns) == [*FEATURE_NAMES, *CONTEXT_COLUMNS]
    assert len(features) == 3 * 288
    assert not np.isinf(features.to_numpy()).any()
    # mom_1h on 5m bars is the 12-bar log return scaled by vol_24h * sqrt(12)
    close = bars.set_index("open_time")["close"]
    raw = np.log(close / close.shift(12))
    rebuilt = features["mom_1h"] * features["vol_24h_bps"] / 1e4 * np.sqrt(12)
    ok = rebuilt.notna()
    assert ok.sum() > 500
    np.testing.assert_allclose(rebuilt[ok], raw[ok], rtol=1e-9)


def test_dropped_day_has_no_rows_and_later_windows_do_not_bridge_it(hourly_bars, hourly_features):
    dropped_day = pd.Timestamp(START + timedelta(days=5), tz="UTC")
    in_day = (hourly_bars["open_time"] >= dropped_day) & (
        hourly_bars["open_time"] < dropped_day + pd.Timedelta(days=1)
    )
    features = compute_features(hourly_bars[~in_day], HOUR)
    assert len(features) == int((~in_day).sum())
    assert not ((features.index >= dropped_day) & (features.index < dropped_day + pd.Timedelta(days=1))).any()
    assert not np.isinf(features.to_numpy()).any()
    # days before the gap are untouched
    before = hourly_features.index < dropped_day
    pd.testing.assert_frame_equal(
        features.loc[features.index < dropped_day], hourly_features.loc[before], check_freq=False
    )
    # the first bar after the gap has no 1h-ago close: a 1h momentum must not span 24h
    first_after = dropped_day + pd.Timedelta(days=1)
    assert np.isnan(features.loc[first_after, "mom_1h"])
    assert np.isnan(features.loc[first_after, "vol_24h_bps"])  # fewer than 12 returns in the last 24h


def test_empty_bars_give_empty_frame_with_all_columns():
    empty = compute_features(pd.DataFrame(columns=["open_time", "close"]), HOUR)
    assert empty.empty
    assert list(empty.columns) == [*FEATURE_NAMES, *CONTEXT_COLUMNS]
