"""The EDGE spread estimate: the reference implementation's number, its error on the simulator's
1-minute candles, and a deep market never excluded by an estimate."""

from datetime import date, timedelta

import bidask
import numpy as np
import pandas as pd
import pytest

from huracan_assets.core.spread import edge_spread, edge_squared_spread, tick_from_prices
from huracan_assets.core.universe import liquidity_from_bars, select_universe
from huracan_assets.market_sim import SimulatedExchange
from huracan_assets_tests.conftest import utc

DAY = date(2025, 6, 10)


@pytest.fixture(scope="module")
def exchange() -> SimulatedExchange:
    return SimulatedExchange(seed=7, n_coins=8)


def hourly(minutes: pd.DataFrame) -> pd.DataFrame:
    grouped = minutes.groupby(minutes["open_time"].dt.floor("1h"))
    out = grouped.agg(
        open=("open", "first"), high=("high", "max"), low=("low", "min"), close=("close", "last")
    )
    return out.rename_axis("open_time").reset_index()


def test_the_squared_spread_is_the_reference_implementations(exchange):
    minutes = exchange.minute_candles("ETH", utc(DAY), utc(DAY, 24))
    prices = [minutes[c].to_numpy() for c in ("open", "high", "low", "close")]
    s2, se = edge_squared_spread(*prices)
    reference = bidask.edge(*prices, sign=True)
    assert s2 == pytest.approx(np.sign(reference) * reference**2)
    assert 0 < se < abs(s2)  # a day of minutes resolves ETH's ~4 bps spread


def test_the_minutes_are_the_bars_trades(exchange):
    day_start, day_end = utc(DAY), utc(DAY, 24)
    minutes = exchange.minute_candles("SOL", day_start, day_end)
    bars = exchange.ohlcv("SOL", day_start, day_end, vendor="sim-secondary")  # fault-free times
    truth = exchange._true_bars(exchange.coin("SOL"), pd.Timestamp(day_start), pd.Timestamp(day_end))
    assert len(minutes) == 1440 and len(bars) == 24
    assert minutes["open_time"].is_monotonic_increasing
    grouped = minutes.groupby(minutes["open_time"].dt.floor("1h"))
    np.testing.assert_allclose(grouped["high"].max().to_numpy(), truth["high"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(grouped["low"].min().to_numpy(), truth["low"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(grouped["volume"].sum().to_numpy(), truth["volume"].to_numpy(), rtol=1e-9)
    # open and close are trades: half a spread from the bar's mid-price open and close (at most
    # a whole spread where the bar opens or closes at its high or low)
    spread = exchange.true_spread_bps("SOL", DAY) / 1e4
    for side, column in (("first", "open"), ("last", "close")):
        trade = getattr(grouped[column], side)().to_numpy() / truth[column].to_numpy()
        distance = np.abs(np.log(trade))
        assert np.all(distance <= spread + 1e-12) and np.median(distance) == pytest.approx(spread / 2)
    assert (minutes["high"] >= minutes[["open", "close"]].max(axis=1)).all()
    assert (minutes["low"] <= minutes[["open", "close"]].min(axis=1)).all()
    # the same minute whatever the window asked
    part = exchange.minute_candles("SOL", utc(DAY, 5), utc(DAY, 6))
    pd.testing.assert_frame_equal(part.reset_index(drop=True), minutes.iloc[300:360].reset_index(drop=True))


def test_one_minute_estimates_are_within_a_factor_1_5_of_the_truth_on_the_median(exchange):
    ratios = []
    for offset in range(0, 20, 4):
        day = DAY + timedelta(days=offset)
        for coin in ("BTC", "ETH", "SOL", "XRP"):
            minutes = exchange.minute_candles(coin, utc(day), utc(day, 24))
            estimate = edge_spread(minutes, "1m", exchange.tick_size(coin))
            assert estimate.source == "edge:1m" and estimate.n_candles == 1440
            ratios.append(estimate.spread_bps / exchange.true_spread_bps(coin, day))
    assert 1 / 1.5 < np.median(ratios) < 1.5


def test_a_deep_market_on_an_ordinary_day_is_never_excluded_by_an_estimate(exchange):
    for offset in range(30):
        day = DAY + timedelta(days=offset)
        for coin in ("BTC", "ETH"):
            minutes = exchange.minute_candles(coin, utc(day), utc(day, 24))
            bars = exchange.ohlcv(coin, utc(day), utc(day, 24))
            for candles, frame in (("1m", minutes), ("1h", hourly(minutes)), ("1h", bars)):
                estimate = edge_spread(frame, candles, exchange.tick_size(coin))
                assert estimate.lower_bps <= 25.0, (coin, day, candles, estimate)
    # and through the universe, from hourly candles only (a past day without 1-minute candles)
    as_of = utc(DAY, 24)
    bars = {f"{c}/USDT": exchange.ohlcv(c, utc(DAY), as_of) for c in ("BTC", "ETH")}
    ticks = {f"{c}/USDT": exchange.tick_size(c) for c in ("BTC", "ETH")}
    tickers = liquidity_from_bars(bars, pd.Timestamp(as_of), timeframe="1h", tick_sizes=ticks)
    markets = exchange.markets(as_of)
    universe = select_universe(
        markets[markets["base"].isin(["BTC", "ETH"])],
        tickers,
        usdt_per_gbp=1.27,
        gbp_rate_source="test",
        min_liquidity_gbp=2e6,
        max_spread_bps=25.0,
    ).set_index("coin")
    assert universe["eligible"].all() and set(universe["spread_source"]) == {"edge:1h"}


def test_the_floor_is_one_tick_and_archives_read_the_tick_off_the_price_grid():
    flat = pd.DataFrame(
        {
            "open_time": pd.date_range("2025-06-10", periods=60, freq="1min", tz="UTC"),
            "open": 100.0,
            "high": np.tile([100.02, 100.01], 30),
            "low": np.tile([99.99, 99.98], 30),
            "close": np.tile([100.01, 99.99], 30),
        }
    )
    estimate = edge_spread(flat, "1m", tick_size=0.01)
    assert estimate.spread_bps >= estimate.tick_bps == pytest.approx(1.0, rel=1e-3)
    assert tick_from_prices(np.array([100.0, 100.01, 100.03, 99.98])) == pytest.approx(0.01)
    assert np.isnan(tick_from_prices(np.array([5.0, 5.0])))
    assert np.isnan(edge_spread(flat.head(5), "1m", 0.01).spread_bps)  # too few candles
