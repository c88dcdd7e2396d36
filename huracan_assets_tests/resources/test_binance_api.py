"""The real ccxt client against the local Binance-format stand-in serving the simulated exchange."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from huracan_assets.core.bars import RAW_COLUMNS, validate_day
from huracan_assets.core.universe import gbp_rate, select_universe
from huracan_assets.market_sim import SimulatedExchange
from huracan_assets.market_sim.binance_server import BinanceStandIn
from huracan_assets.resources.binance_api import BinanceApiMarketData, MarketDataError, rebase_urls
from huracan_assets.resources.market_data import MarketDataResource

NOW = datetime(2025, 11, 21, tzinfo=UTC)
DAY = date(2025, 11, 20)
KLINES = "/api/v3/klines"


@pytest.fixture(scope="module")
def exchange() -> SimulatedExchange:
    return SimulatedExchange(seed=7, n_coins=5, delisted={"XRP": datetime(2025, 11, 20, 12, tzinfo=UTC)})


@pytest.fixture
def server(exchange: SimulatedExchange) -> Iterator[BinanceStandIn]:
    with BinanceStandIn(exchange, now=NOW) as stand_in:
        yield stand_in


def client(server: BinanceStandIn, **kw: object) -> tuple[BinanceApiMarketData, list[float]]:
    waits: list[float] = []
    params = {"base_url": server.url, "rate_limit_ms": 1, "backoff_s": 0.01, "sleep": waits.append} | kw
    return BinanceApiMarketData(**params), waits  # type: ignore[arg-type]


def exchange_tick(coin: str) -> float:
    return SimulatedExchange(seed=7, n_coins=5).tick_size(coin)


def test_rebase_urls_keeps_each_path():
    urls = rebase_urls(
        {"public": "https://api.binance.com/api/v3", "fapiPublic": "https://fapi.binance.com/fapi/v1"},
        "http://127.0.0.1:9/",
    )
    assert urls == {"public": "http://127.0.0.1:9/api/v3", "fapiPublic": "http://127.0.0.1:9/fapi/v1"}


def test_markets_are_usdt_spot_pairs_with_their_status(server):
    api, _ = client(server)
    markets = api.markets(NOW).set_index("symbol")
    assert {"BTC/USDT", "ETH/USDT", "GBP/USDT", "XRP/USDT"} <= set(markets.index)
    assert (markets["quote"] == "USDT").all()
    assert markets.loc["XRP/USDT", "status"] == "BREAK"  # delisted at noon
    assert markets.loc["BTC/USDT", "status"] == "TRADING"
    # the tick of exchangeInfo's PRICE_FILTER, per market
    assert markets.loc["BTC/USDT", "tick_size"] == pytest.approx(exchange_tick("BTC"))
    assert markets.loc["ETH/USDT", "tick_size"] == pytest.approx(exchange_tick("ETH"))
    assert server.count("/api/v3/exchangeInfo") == 1 and server.count("/fapi/v1/exchangeInfo") == 0


def test_live_tickers_give_quote_volume_book_spread_and_the_gbp_rate(server, exchange):
    api, _ = client(server)
    tickers = api.tickers(NOW)
    truth = exchange.tickers(NOW).set_index("symbol")
    got = tickers.set_index("symbol")
    assert "XRP/USDT" not in got.index  # delisted: no ticker
    for symbol in ("BTC/USDT", "ETH/USDT"):
        assert got.loc[symbol, "quote_volume"] == pytest.approx(truth.loc[symbol, "quote_volume"], rel=1e-6)
        assert got.loc[symbol, "bid"] == pytest.approx(truth.loc[symbol, "bid"], rel=1e-6)
        assert got.loc[symbol, "ask"] > got.loc[symbol, "bid"]
    rate, source = gbp_rate(tickers, fallback=1.0)
    assert rate == pytest.approx(exchange.gbp_rate(NOW), rel=1e-6) and source == "exchange:GBP/USDT last"
    universe = select_universe(
        api.markets(NOW),
        tickers,
        usdt_per_gbp=rate,
        gbp_rate_source=source,
        min_liquidity_gbp=1e6,
        max_spread_bps=25,
    ).set_index("coin")
    assert (
        universe.loc["BTC", "spread_source"] == "quote"
        and universe.loc["BTC", "volume_source"] == "ticker:24h"
    )
    assert universe.loc["XRP", "reason"] == "market status BREAK"


def test_past_day_tickers_come_from_candles_and_say_so(server, exchange):
    api, _ = client(server)
    as_of = NOW - timedelta(days=5)
    tickers = api.tickers(as_of).set_index("symbol")
    bars = exchange.ohlcv("BTC", as_of - timedelta(days=1), as_of)
    assert tickers.loc["BTC/USDT", "quote_volume"] == pytest.approx(bars["quote_volume"].sum(), rel=1e-6)
    assert np.isnan(tickers.loc["BTC/USDT", "bid"])
    # older than fine_spread_days: EDGE on the hourly candles, floored at one tick
    assert tickers.loc["BTC/USDT", "estimate_source"] == "edge:1h"
    tick_bps = exchange_tick("BTC") / tickers.loc["BTC/USDT", "last"] * 1e4
    assert tickers.loc["BTC/USDT", "estimated_spread_bps"] >= tick_bps * (1 - 1e-9)
    universe = select_universe(
        api.markets(as_of),
        tickers.reset_index(),
        usdt_per_gbp=1.27,
        gbp_rate_source="x",
        min_liquidity_gbp=1e6,
        max_spread_bps=25,
    ).set_index("coin")
    assert universe.loc["BTC", "spread_source"] == "edge:1h" and universe.loc["BTC", "eligible"]
    assert universe.loc["BTC", "volume_source"] == "bars:24h sum"
    calls = server.count(KLINES)
    api.tickers(as_of + timedelta(days=1))  # the next day comes from the cached hourly candles
    assert server.count(KLINES) == calls


def test_a_recent_past_day_measures_the_spread_on_one_minute_candles(server, exchange):
    api, _ = client(server)
    as_of = NOW - timedelta(hours=6)  # past the live ticker's tolerance, within fine_spread_days
    tickers = api.tickers(as_of).set_index("symbol")
    one_minute = [p for p, q in server.requests if p == KLINES and q.get("interval") == "1m"]
    trading = [s for s in tickers.index if s != "GBP/USDT"]
    # two pages of 1,000 minutes per coin for the day (not for GBP/USDT, the rate), nothing else at 1m
    assert len(one_minute) == 2 * len(trading)
    for symbol in trading:
        coin = symbol.split("/")[0]
        truth = exchange.true_spread_bps(coin, (as_of - timedelta(days=1)).date())
        assert tickers.loc[symbol, "estimate_source"] == "edge:1m"
        assert (
            tickers.loc[symbol, "estimated_spread_lower_bps"] <= tickers.loc[symbol, "estimated_spread_bps"]
        )
        # one day of minutes: within a factor 2.5 of the true spread for every market of this test
        assert truth / 2.5 < tickers.loc[symbol, "estimated_spread_bps"] < truth * 2.5, symbol


def test_candles_paginate_across_many_pages_at_5m():
    exchange = SimulatedExchange(seed=7, n_coins=3, timeframe="5m", faulty_fraction=0.0)
    with BinanceStandIn(exchange, now=NOW) as server:
        api, _ = client(server, timeframe="5m")
        start = NOW - timedelta(days=10)
        bars = api.ohlcv("ETH", start, NOW)
        truth = exchange.ohlcv("ETH", start, NOW)
        assert server.count(KLINES) == 3  # 2,880 candles, 1,000 a page
        assert list(bars.columns) == RAW_COLUMNS and len(bars) == len(truth) == 2880
        assert (bars["open_time"].to_numpy() == truth["open_time"].to_numpy()).all()
        np.testing.assert_allclose(bars["close"], truth["close"], rtol=1e-9)
        np.testing.assert_allclose(bars["taker_buy_base"], truth["taker_buy_base"], rtol=1e-9)
        assert set(bars["vendor"]) == {"binance-api"}


def test_a_429_is_retried_after_the_retry_after_it_names(server):
    server.add_fault("429", KLINES, times=2, retry_after_s=3)
    api, waits = client(server)
    bars = api.ohlcv("BTC", NOW - timedelta(days=1), NOW)
    assert len(bars) == 24 and api.retries == 2
    assert waits == [3.0, 3.0]  # Retry-After beats the 0.01 s backoff


def test_5xx_and_malformed_payloads_are_retried_with_backoff(server):
    server.add_fault("5xx", KLINES, times=1, status=503)
    server.add_fault("malformed", KLINES, times=1)
    api, waits = client(server)
    bars = api.ohlcv("BTC", NOW - timedelta(days=1), NOW)
    assert len(bars) == 24 and api.retries == 2
    assert waits == [pytest.approx(0.01), pytest.approx(0.02)]  # exponential


def test_an_exchange_that_keeps_failing_gives_an_error_naming_symbol_and_window(server):
    server.add_fault("5xx", KLINES, symbol="ETHUSDT", times=-1, status=502)
    api, _ = client(server, max_retries=2)
    with pytest.raises(MarketDataError) as error:
        api.ohlcv("ETH", datetime(2025, 11, 19, tzinfo=UTC), NOW)
    message = str(error.value)
    assert "ETH/USDT" in message and "2025-11-19T00:00Z..2025-11-21T00:00Z" in message
    assert "failed after 3 attempts" in message and "ExchangeNotAvailable" in message
    assert len(api.ohlcv("BTC", NOW - timedelta(hours=2), NOW)) == 2  # other symbols still answer

    server.add_fault("malformed", KLINES, symbol="BTCUSDT", times=-1)
    with pytest.raises(MarketDataError, match="malformed klines payload"):
        api.ohlcv("BTC", NOW - timedelta(hours=2), NOW)


def test_an_unknown_symbol_fails_at_once(server):
    api, _ = client(server)
    with pytest.raises(MarketDataError, match=r"klines NOPE/USDT .*unknown symbol.*-1121"):
        api.ohlcv("NOPE", NOW - timedelta(days=1), NOW)
    assert api.retries == 0


def test_an_empty_window_is_an_empty_frame_and_validation_calls_it_missing(server):
    api, _ = client(server)
    server.add_fault("empty", KLINES, symbol="BTCUSDT")
    bars = api.ohlcv("BTC", datetime(2025, 11, 20, tzinfo=UTC), NOW)
    assert bars.empty and list(bars.columns) == RAW_COLUMNS
    # no candle at all is a missing day, not a stale feed (one that stopped part-way)
    frame, quality = validate_day(
        bars,
        coin="BTC",
        day=DAY,
        bar=timedelta(hours=1),
        max_repair_bars=3,
        outlier_z=8,
        max_staleness=timedelta(hours=6),
    )
    assert frame.empty and quality.status == "missing"
    assert quality.reason == "BTC 2025-11-20: no candles for the day (24 expected)"
    # the same day cut at 06:00 is stale: its newest candle is 18 h old at the end of the day
    whole = api.ohlcv("BTC", datetime(2025, 11, 20, tzinfo=UTC), NOW)
    with pytest.raises(Exception, match=r"BTC 2025-11-20: newest candle is 18.0 h old"):
        validate_day(
            whole.head(6),
            coin="BTC",
            day=DAY,
            bar=timedelta(hours=1),
            max_repair_bars=3,
            outlier_z=8,
            max_staleness=timedelta(hours=6),
        )


def test_a_missing_field_and_a_string_value_are_named_by_validation(server):
    api, _ = client(server)
    window = (datetime(2025, 11, 20, tzinfo=UTC), NOW)
    server.add_fault("missing_field", KLINES, symbol="BTCUSDT")
    short = api.ohlcv("BTC", *window)
    assert "taker_buy_base" not in short.columns and len(short) == 24
    _, quality = validate_day(
        short, coin="BTC", day=DAY, bar=timedelta(hours=1), max_repair_bars=3, outlier_z=8
    )
    assert (
        quality.status == "quarantined"
        and "missing column(s) ['taker_buy_base', 'taker_buy_quote']" in quality.reason
    )

    server.add_fault("bad_value", KLINES, symbol="BTCUSDT")
    typed = api.ohlcv("BTC", *window)
    assert typed["close"].dtype == object and typed["close"].iloc[0] == "n/a"
    frame, quality = validate_day(
        typed, coin="BTC", day=DAY, bar=timedelta(hours=1), max_repair_bars=3, outlier_z=8
    )
    assert quality.invalid_bars == 1 and quality.status == "repaired" and bool(frame.loc[0, "repaired"])
    assert any("non-numeric values in column(s) ['close']" in e for e in quality.invalid_examples)


def test_funding_rate_history_from_the_usdm_perpetual(server, exchange):
    api, _ = client(server)
    start = NOW - timedelta(days=3)
    funding = api.funding_rates("BTC", start, NOW)
    truth = exchange.funding_rates("BTC", start, NOW)
    assert len(funding) == 9
    assert (funding["funding_time"].diff().dropna() == pd.Timedelta(hours=8)).all()
    np.testing.assert_allclose(funding["funding_rate"], truth["funding_rate"], atol=1e-8)
    assert server.count("/fapi/v1/exchangeInfo") == 1


def test_the_resource_builds_the_ccxt_client_with_its_base_url(server):
    resource = MarketDataResource(source="binance", binance_base_url=server.url, binance_rate_limit_ms=1)
    api = resource.client()
    assert isinstance(api, BinanceApiMarketData)
    assert api.spot.urls["api"]["public"] == f"{server.url}/api/v3"
    assert len(api.ohlcv("SOL", NOW - timedelta(hours=3), NOW)) == 3


def test_under_a_pinned_clock_the_runs_share_what_was_fetched(server):
    """As in ``huracan daily``'s process: the universe's full hourly page serves the newest 41 days
    of the history and the day's run; only the older part is asked for (issue 11, item 7)."""
    from huracan_assets.resources import binance_api

    now = pd.Timestamp(NOW)
    as_of = pd.Timestamp(DAY.isoformat(), tz="UTC") + pd.Timedelta(days=1)
    start, day_start = as_of - pd.Timedelta(days=60), as_of - pd.Timedelta(days=1)
    expected = client(server)[0].ohlcv("SOL", start.to_pydatetime(), as_of.to_pydatetime())  # unpinned
    assert server.count(KLINES) == 2  # 1,440 hours: two pages
    binance_api.pin_server_time(server.url, now)
    try:
        universe, _ = client(server)
        assert len(universe._hourly_bars("SOL/USDT", as_of)) == 24
        assert server.count(KLINES) == 3  # one page: the 1,000 hours up to the clock
        history = client(server)[0].ohlcv("SOL", start.to_pydatetime(), day_start.to_pydatetime())
        assert server.count(KLINES) == 4  # only the hours before the universe's page
        day = client(server)[0].ohlcv("SOL", day_start.to_pydatetime(), as_of.to_pydatetime())
        assert server.count(KLINES) == 4  # the day's run asks nothing
        shared = pd.concat([history, day], ignore_index=True)
        assert shared["open_time"].is_monotonic_increasing and not shared["open_time"].duplicated().any()
        # every candle the unshared fetch gave (its page boundaries lose a few around the
        # simulator's duplicated candles; the shared pages fall elsewhere)
        kept = expected.drop_duplicates("open_time").set_index("open_time")
        assert set(kept.index) <= set(shared["open_time"])
        pd.testing.assert_frame_equal(shared.set_index("open_time").loc[kept.index], kept)
        client(server)[0].ohlcv("ETH", start.to_pydatetime(), as_of.to_pydatetime())
        assert server.count(KLINES) == 6  # another coin: its own pages
    finally:
        binance_api._PINNED_CLOCKS.pop(server.url, None)
        for key in [k for k in binance_api._PROCESS_CANDLES if k[0] == server.url]:
            del binance_api._PROCESS_CANDLES[key]
