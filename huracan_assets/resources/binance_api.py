"""Binance through ccxt: spot markets, 24 h tickers, best bid/ask, candles and perpetual funding.

``ccxt.binance`` (spot only: ``options.fetchMarkets.types = ["spot"]``, so ``load_markets``
calls ``/api/v3/exchangeInfo`` and nothing else) and ``ccxt.binanceusdm`` (USDT-margined
perpetuals, for funding-rate history). ``base_url`` replaces the scheme and host of every API
URL and keeps its path (``https://api.binance.com/api/v3`` -> ``http://127.0.0.1:8765/api/v3``),
so tests and ``huracan serve-exchange`` point the real client at a local stand-in.

Candles come from the klines endpoint through ccxt's implicit method (``publicGetKlines``)
rather than ``fetch_ohlcv``: the unified OHLCV row keeps only time, OHLC and base volume, and
Huracan needs the quote volume, trade count and taker-buy volumes of the same row (the flow
features). Pagination is Binance's: ``startTime`` = the next open time, ``endTime`` = the end
of the window, ``limit`` = 1000, until a short page or the window's end.

Failures: ccxt's rate limiter is on. Network errors, HTTP 5xx, 429/418 (``DDoSProtection``,
waiting ``Retry-After`` seconds when the answer carries it) and malformed payloads are retried
with exponential backoff; then :class:`MarketDataError` names the call, the symbol and the
window. An unknown symbol (code -1121, ``BadSymbol``) is not retried.

GBP: the universe converts quote volume with the last price of ``GBP/USDT`` (USDT per GBP),
falling back to ``usdt_per_gbp_fallback`` from the settings when the exchange has no such pair.

Tickers of a past day: Binance's 24 h ticker only describes the last 24 hours. For an
``as_of`` more than ``live_ticker_tolerance`` away from the exchange's clock, quote volume comes
from hourly candles of the 24 h before ``as_of`` and the spread from the EDGE estimate
(``core/spread.py``), like the archives; the universe's ``spread_source`` says which candles.

Requests for the spread: the days within ``fine_spread_days`` of the exchange's clock (the days
a daily run decides on) get 1-minute candles, two klines requests per market and day; older
days use the hourly candles already fetched for their volume (one request per market per 1,000
hours, cached). 1-minute candles for a fresh instance's whole look-back would be two requests
per market and day: 9,000 for 30 markets over 150 days. For those days, import the 1-minute
archives instead (``huracan import-archives``). The tick that floors the estimate is the
market's ``PRICE_FILTER.tickSize`` (``markets()["tick_size"]``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import ccxt
import pandas as pd

from huracan_assets.core.klines import binance_symbol, empty_raw, klines_to_frame
from huracan_assets.core.universe import liquidity_from_bars

T = TypeVar("T")
API_VENDOR = "binance-api"
KLINE_PAGE = 1000
_RETRYABLE = (ccxt.NetworkError, ccxt.BadResponse)  # NetworkError covers 5xx, timeouts, 429/418


DEFAULT_URL = "https://api.binance.com"
# what a failed connection says somewhere in its chain of causes -> the one-line reason
_UNREACHABLE = (
    ("Connection refused", "connection refused"),
    ("Errno 111", "connection refused"),
    ("Name or service not known", "host name not resolved"),
    ("Temporary failure in name resolution", "host name not resolved"),
    ("nodename nor servname", "host name not resolved"),
    ("No route to host", "no route to host"),
    ("Network is unreachable", "network unreachable"),
    ("timed out", "timed out"),
)


def unreachable_reason(error: BaseException | None) -> str:
    """``connection refused``, ``timed out``, ... when ``error`` (or a cause of it) is a failed
    connection to the exchange; ``""`` when the exchange answered (an HTTP error, a bad payload)."""
    seen = 0
    while error is not None and seen < 12:
        if isinstance(error, ConnectionRefusedError):
            return "connection refused"
        text = str(error)
        for marker, reason in _UNREACHABLE:
            if marker in text:
                return reason
        error, seen = error.__cause__ or error.__context__, seen + 1
    return ""


# base URL -> the exchange's clock as the command read it before its runs (``pin_server_time``)
_PINNED_CLOCKS: dict[str, pd.Timestamp] = {}


def pin_server_time(base_url: str, now: pd.Timestamp) -> None:
    """Let every client of ``base_url`` in this process use ``now`` as the exchange's clock.

    ``huracan daily`` reads ``/api/v3/time`` once, before any run, and its runs execute in its
    own process: they reuse that reading instead of asking again (one request per command).
    """
    _PINNED_CLOCKS[base_url] = pd.Timestamp(now)
    # a new reading starts afresh: what an earlier command in this process fetched is not reused
    for key in [k for k in _PROCESS_CANDLES if k[0] == base_url]:
        del _PROCESS_CANDLES[key]


# (base URL, pinned clock, symbol, interval) -> (from, to, candles): what the clients of a pinned
# exchange fetched in this process, closed candles with ``from <= open_time < to``
_PROCESS_CANDLES: dict[
    tuple[str, pd.Timestamp, str, str], tuple[pd.Timestamp, pd.Timestamp, pd.DataFrame]
] = {}


class MarketDataError(RuntimeError):
    """The exchange kept failing (or refused) a call; the message names the call, symbol and window."""


def rebase_urls(api_urls: dict[str, Any], base_url: str) -> dict[str, Any]:
    """Every URL in ccxt's ``urls['api']`` with its scheme and host replaced by ``base_url``."""
    base = base_url.rstrip("/")
    out: dict[str, Any] = {}
    for key, value in api_urls.items():
        if isinstance(value, dict):
            out[key] = rebase_urls(value, base_url)
        elif isinstance(value, str) and "://" in value:
            parts = urlsplit(value)
            out[key] = base + parts.path
        else:
            out[key] = value
    return out


def _window(start: datetime, end: datetime) -> str:
    return f"{pd.Timestamp(start):%Y-%m-%dT%H:%MZ}..{pd.Timestamp(end):%Y-%m-%dT%H:%MZ}"


class BinanceApiMarketData:
    """Binance spot (and USDT-M funding) through ccxt, as a ``MarketDataClient``."""

    primary_vendor: str = API_VENDOR
    secondary_vendor: str | None = None

    def __init__(
        self,
        *,
        base_url: str = "",
        timeframe: str = "1h",
        max_retries: int = 4,
        backoff_s: float = 0.5,
        max_wait_s: float = 30.0,
        rate_limit_ms: int | None = None,
        live_ticker_tolerance: timedelta = timedelta(hours=1),
        fine_spread_days: int = 2,
        timeout_ms: int = 10_000,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        config: dict[str, Any] = {"enableRateLimit": True, "timeout": timeout_ms}
        if rate_limit_ms is not None:
            config["rateLimit"] = rate_limit_ms
        self.spot = ccxt.binance(
            {
                **config,
                "options": {
                    "defaultType": "spot",
                    "fetchMarkets": {"types": ["spot"]},
                    "fetchMargins": False,
                },
            }
        )
        self.futures = ccxt.binanceusdm({**config, "options": {"fetchMarkets": {"types": ["linear"]}}})
        if base_url:
            for exchange in (self.spot, self.futures):
                exchange.urls["api"] = rebase_urls(exchange.urls["api"], base_url)
        self.timeframe = timeframe
        self.bar = pd.Timedelta(timeframe)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_wait_s = max_wait_s
        self.live_ticker_tolerance = pd.Timedelta(live_ticker_tolerance)
        self.fine_spread_days = fine_spread_days
        self.sleep = sleep
        self.retries = 0  # how many retries this client made (for tests and logs)
        self._hourly: dict[str, pd.DataFrame] = {}
        self.skipped: dict[str, str] = {}  # symbol -> why it has no estimated ticker
        self._server_time: pd.Timestamp | None = None
        self.base_url = base_url

    # -- retries -------------------------------------------------------------------------------
    def _call(self, what: str, exchange: ccxt.Exchange, fn: Callable[[], T]) -> T:
        """``fn()`` with retries on network errors, rate limits and malformed payloads."""
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            try:
                return fn()
            except ccxt.BadSymbol as error:
                raise MarketDataError(f"binance: {what}: unknown symbol ({error})") from error
            except _RETRYABLE as error:
                last = error
                if attempt == self.max_retries:
                    break
                wait = self.backoff_s * 2**attempt
                if isinstance(error, ccxt.DDoSProtection):
                    wait = max(wait, _retry_after(exchange))
                self.retries += 1
                self.sleep(min(wait, self.max_wait_s))
        unreachable = unreachable_reason(last)
        if unreachable:
            raise MarketDataError(
                f"binance: cannot reach {self.base_url or DEFAULT_URL}: {unreachable} "
                f"({what}, {self.max_retries + 1} attempts)"
            ) from last
        raise MarketDataError(
            f"binance: {what} failed after {self.max_retries + 1} attempts: {type(last).__name__}: {last}"
        ) from last

    # -- markets and tickers -------------------------------------------------------------------
    def _load_markets(self) -> dict[str, Any]:
        def load() -> dict[str, Any]:
            markets = self.spot.load_markets(reload=True)
            if not any(m.get("spot") for m in markets.values()):
                raise ccxt.BadResponse("exchangeInfo listed no spot market (malformed payload?)")
            return markets

        if not self.spot.markets:
            self._call("load_markets", self.spot, load)
        return self.spot.markets

    def markets(self, as_of: datetime) -> pd.DataFrame:
        """Spot ``…/USDT`` markets (and ``GBP/USDT``) as the exchange lists them now.

        Columns: symbol, base, quote, status (Binance's: TRADING, BREAK, …), listed_at (None:
        Binance's spot exchangeInfo has no listing date), tick_size (``PRICE_FILTER.tickSize``).
        """
        rows = [
            {
                "symbol": m["symbol"],
                "base": m["base"],
                "quote": m["quote"],
                "status": str((m.get("info") or {}).get("status", "")),
                "listed_at": None,
                "tick_size": _float((m.get("precision") or {}).get("price")),
            }
            for m in self._load_markets().values()
            if m.get("spot") and m.get("quote") == "USDT"
        ]
        return pd.DataFrame(rows, columns=["symbol", "base", "quote", "status", "listed_at", "tick_size"])

    def server_time(self) -> pd.Timestamp:
        """The exchange's clock (``/api/v3/time``, UTC), read once per client: a client lives for
        one step of one run, so every later question in the run gets the same answer without
        another request (a first run asked 92 times, once per market and day). In ``huracan
        daily``'s process the command's own reading is reused (:func:`pin_server_time`)."""
        if self._server_time is None and self.base_url in _PINNED_CLOCKS:
            self._server_time = _PINNED_CLOCKS[self.base_url]
        if self._server_time is None:
            ms = self._call("fetch_time", self.spot, self.spot.fetch_time)
            self._server_time = pd.Timestamp(int(ms), unit="ms", tz="UTC")
        return self._server_time

    def tickers(self, as_of: datetime) -> pd.DataFrame:
        """symbol, quote_volume (USDT, 24 h), bid, ask, last; ``estimated_spread_bps`` for past days."""
        markets = self.markets(as_of)
        trading = markets[markets["status"] == "TRADING"]
        as_of_ts = pd.Timestamp(as_of)
        now = self.server_time()
        if abs(now - as_of_ts) <= self.live_ticker_tolerance:
            return self._live_tickers(list(trading["symbol"]))
        recent = now - as_of_ts <= pd.Timedelta(days=self.fine_spread_days)
        bars, fine = {}, {}
        for symbol in trading["symbol"]:
            try:
                bars[symbol] = self._hourly_bars(symbol, as_of_ts)
            except MarketDataError as error:
                self.skipped[symbol] = str(error)  # one market's failure leaves it without a ticker
                continue
            if recent and not symbol.startswith("GBP/"):  # GBP/USDT is the rate, not a coin: no spread
                # on failure the spread falls back to the hourly candles; the universe's spread_source says so
                with contextlib.suppress(MarketDataError):
                    fine[symbol] = self._klines(symbol, as_of_ts - pd.Timedelta(days=1), as_of_ts, "1m")
        ticks = dict(zip(trading["symbol"], trading["tick_size"], strict=True))
        return liquidity_from_bars(bars, as_of_ts, timeframe="1h", fine_bars=fine, tick_sizes=ticks)

    def _live_tickers(self, symbols: list[str]) -> pd.DataFrame:
        tickers = self._call("fetch_tickers", self.spot, lambda: self.spot.fetch_tickers())
        books = self._call("fetch_bids_asks", self.spot, lambda: self.spot.fetch_bids_asks())
        rows = []
        for symbol in symbols:
            ticker, book = tickers.get(symbol) or {}, books.get(symbol) or {}
            if not ticker:
                continue
            rows.append(
                {
                    "symbol": symbol,
                    "quote_volume": _float(ticker.get("quoteVolume")),
                    "bid": _float(book.get("bid", ticker.get("bid"))),
                    "ask": _float(book.get("ask", ticker.get("ask"))),
                    "last": _float(ticker.get("last")),
                }
            )
        return pd.DataFrame(rows, columns=["symbol", "quote_volume", "bid", "ask", "last"])

    def _hourly_bars(self, symbol: str, as_of: pd.Timestamp) -> pd.DataFrame:
        """Hourly candles of the 24 h before ``as_of``; fetched 1000 hours at a time and cached.

        The page ends at the exchange's clock or 1000 hours past the day, whichever is first, and
        is a full page: later days of a universe range come from it, and for a day near the clock
        so do the newest 40 days of a coin's history and the day's own candles (``huracan daily``,
        whose runs share what they fetched: :meth:`_klines`)."""
        start = as_of - pd.Timedelta(days=1)
        cached = self._hourly.get(symbol)
        if cached is None or not (cached.attrs["from"] <= start and as_of <= cached.attrs["to"]):
            limit = max(min(as_of + pd.Timedelta(hours=KLINE_PAGE - 24), self.server_time()), as_of)
            first = min(start, limit - pd.Timedelta(hours=KLINE_PAGE))
            frame = self._klines(symbol, first, limit, "1h")
            frame.attrs = {"from": first, "to": limit}
            self._hourly[symbol] = cached = frame
        times = cached["open_time"]
        return cached[(times >= start) & (times < as_of)]

    # -- candles -------------------------------------------------------------------------------
    def ohlcv(self, coin: str, start: datetime, end: datetime, vendor: str | None = None) -> pd.DataFrame:
        """Candles of ``<coin>/USDT`` with ``start <= open_time < end`` (``RAW_COLUMNS``, vendor binance-api)."""
        return self._klines(f"{coin}/USDT", pd.Timestamp(start), pd.Timestamp(end), self.timeframe)

    def _klines(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp, interval: str) -> pd.DataFrame:
        """Candles of ``symbol`` with ``start <= open_time < end``.

        Under a pinned clock (``huracan daily``'s process, :func:`pin_server_time`) every client
        shares what the others fetched: only the part of the window not fetched yet is asked for
        (the day's run then reads the day from its history's or the universe's pages). Candles
        past the clock are not there yet and never count as fetched."""
        pinned = _PINNED_CLOCKS.get(self.base_url) if self.base_url else None
        if pinned is None:
            return self._fetch_klines(symbol, start, end, interval)
        key = (self.base_url, pinned, symbol, interval)
        upto = min(end, pinned)
        have = _PROCESS_CANDLES.get(key)
        if have is None or upto < have[0] or start > have[1]:
            frame = self._fetch_klines(symbol, start, end, interval)
            if start < upto:
                _PROCESS_CANDLES[key] = (
                    start,
                    upto,
                    frame[frame["open_time"] < upto] if len(frame) else frame,
                )
            return frame
        first, last, frame = have
        parts = [frame]
        if start < first:
            parts.append(self._fetch_klines(symbol, start, first, interval))
        if end > last:
            parts.append(self._fetch_klines(symbol, last, end, interval))
        parts = [p for p in parts if len(p)]
        merged = (
            pd.concat(parts, ignore_index=True).drop_duplicates("open_time").sort_values("open_time")
            if parts
            else frame
        ).reset_index(drop=True)
        _PROCESS_CANDLES[key] = (
            min(start, first),
            max(upto, last),
            merged[merged["open_time"] < max(upto, last)],
        )
        if not len(merged):
            return merged
        return merged[(merged["open_time"] >= start) & (merged["open_time"] < end)].reset_index(drop=True)

    def _fetch_klines(
        self, symbol: str, start: pd.Timestamp, end: pd.Timestamp, interval: str
    ) -> pd.DataFrame:
        market_id = symbol.replace("/", "")
        step_ms = int(pd.Timedelta(interval).total_seconds() * 1000)
        since, end_ms = int(start.value // 1_000_000), int(end.value // 1_000_000)
        rows: list[list] = []
        page = 0
        while since < end_ms:
            page += 1
            what = f"klines {symbol} {interval} {_window(start, end)} (page {page})"
            params = {"symbol": market_id, "interval": interval, "startTime": since, "endTime": end_ms - 1}
            params["limit"] = KLINE_PAGE
            batch = self._call(what, self.spot, lambda p=params: _kline_page(self.spot.publicGetKlines(p)))
            rows.extend(batch)
            if len(batch) < KLINE_PAGE:
                break
            newest = max(int(r[0]) for r in batch)
            if newest < since:
                break  # no progress: the exchange ignores startTime
            since = newest + step_ms
        frame = klines_to_frame(rows, API_VENDOR) if rows else empty_raw(API_VENDOR)
        if len(frame) and "open_time" in frame:
            frame = frame[(frame["open_time"] >= start) & (frame["open_time"] < end)]
        return frame.reset_index(drop=True)

    # -- funding -------------------------------------------------------------------------------
    def funding_rates(self, coin: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Funding of ``<coin>/USDT:USDT`` with ``start <= funding_time < end``.

        Columns: funding_time (UTC), funding_rate (a fraction per funding interval, 8 h on Binance).
        """
        symbol = f"{coin}/USDT:USDT"
        start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
        since, end_ms = int(start_ts.value // 1_000_000), int(end_ts.value // 1_000_000)

        def load() -> Any:
            if not self.futures.markets:
                self.futures.load_markets()
            return self.futures.markets

        self._call("load_markets (usdm)", self.futures, load)
        rows: list[dict[str, Any]] = []
        while since < end_ms:
            what = f"funding {symbol} {_window(start_ts, end_ts)}"
            batch = self._call(
                what,
                self.futures,
                lambda s=since: self.futures.fetch_funding_rate_history(
                    symbol, since=s, limit=1000, params={"endTime": end_ms - 1}
                ),
            )
            rows.extend(batch)
            if len(batch) < 1000:
                break
            since = int(batch[-1]["timestamp"]) + 1
        frame = pd.DataFrame(
            {
                "funding_time": pd.to_datetime([r["timestamp"] for r in rows], unit="ms", utc=True),
                "funding_rate": [_float(r.get("fundingRate")) for r in rows],
            }
        )
        return frame.drop_duplicates("funding_time").reset_index(drop=True)


def _kline_page(payload: Any) -> list[list]:
    """The rows of a klines answer; anything that is not a list of rows is a malformed payload."""
    if not isinstance(payload, list) or any(not isinstance(row, list) or not row for row in payload):
        raise ccxt.BadResponse(f"malformed klines payload: {str(payload)[:80]!r}")
    return payload


def _retry_after(exchange: ccxt.Exchange) -> float:
    headers = exchange.last_response_headers or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else 0.0
    except ValueError:
        return 0.0


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


__all__ = ["API_VENDOR", "BinanceApiMarketData", "MarketDataError", "binance_symbol", "rebase_urls"]
