"""A local HTTP server that speaks Binance's REST format and serves the simulated exchange.

It lets the real ccxt client (and so the whole graph) run without the internet:
``huracan serve-exchange --port 8765`` starts one by hand; tests start one on a free port.

Endpoints (Binance's paths, parameters and JSON shapes; only what Huracan's client calls):

=============================  ==================================================================
``/api/v3/ping``, ``/time``     liveness and the server's clock (``now``)
``/api/v3/exchangeInfo``        every simulated coin as ``<COIN>USDT`` (``TRADING``, or ``BREAK``
                                once delisted) plus ``GBPUSDT``; ``PRICE_FILTER.tickSize`` is the
                                simulator's tick of the coin
``/api/v3/ticker/24hr``         rolling 24 h quote volume and last price at ``now``
``/api/v3/ticker/bookTicker``   best bid/ask at ``now``
``/api/v3/klines``              ``symbol``, ``interval`` (a whole multiple of the simulator's bar,
                                or of 1m below it: the simulator's 1-minute candles),
                                ``startTime``/``endTime`` (ms, inclusive on open time), ``limit``
                                (default 500, at most 1000); only candles closed by ``now``
``/fapi/v1/exchangeInfo``       a USDT-margined perpetual per coin
``/fapi/v1/fundingRate``        8-hourly funding (``startTime``/``endTime``/``limit``, max 1000)
=============================  ==================================================================

Faults are injected per path (and optionally per symbol) and answer the next ``times``
matching requests: ``429`` (with ``Retry-After``), ``5xx``, ``malformed`` (a truncated JSON
body), ``empty`` (``[]``), ``unknown_symbol`` (HTTP 400, code -1121), ``missing_field``
(kline rows without the taker-buy fields) and ``bad_value`` (a close of ``"n/a"``).

``missing_days`` (coin -> ISO days) serves a day of missing data: no kline of any interval opens
on those UTC days for that coin, as when the exchange's feed lost a day. ``feed_stops_at``
serves no kline that opens at or after that time, of any coin, while the clock goes on: a feed
that went stale part-way through a closed day.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from huracan_assets.config.settings import parse_duration
from huracan_assets.core.klines import frame_to_klines
from huracan_assets.market_sim.exchange import MINUTE, SimulatedExchange

FAULT_KINDS = ("429", "5xx", "malformed", "empty", "unknown_symbol", "missing_field", "bad_value")
MAX_KLINES = 1000
MAX_FUNDING = 1000
_PERPETUAL_DELIVERY = 4133404800000  # Binance's delivery date for perpetuals (2100-12-25)


@dataclass
class Fault:
    """One injected fault: answers the next ``times`` requests to ``path`` (for ``symbol``, if set)."""

    kind: str
    path: str
    symbol: str | None = None
    times: int = 1
    status: int = 503
    retry_after_s: int = 1


class BinanceStandIn:
    """The simulated exchange behind Binance's REST API on ``http://host:port``.

    ``now`` is the server's clock (UTC): tickers are the 24 h ending there and no candle after
    it exists. Default: the current time. Use as a context manager, or ``start()``/``stop()``.
    """

    def __init__(
        self,
        exchange: SimulatedExchange,
        now: datetime | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        missing_days: dict[str, list[str]] | None = None,
        feed_stops_at: datetime | None = None,
    ) -> None:
        self.exchange = exchange
        self.feed_stops_at = None if feed_stops_at is None else pd.Timestamp(feed_stops_at).tz_convert(UTC)
        self.missing_days = {coin: set(days) for coin, days in (missing_days or {}).items()}
        self.fixed_now = None if now is None else pd.Timestamp(now).tz_convert(UTC).to_pydatetime()
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> BinanceStandIn:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="binance-stand-in", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> BinanceStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults and bookkeeping ----------------------------------------------------------------
    def add_fault(self, kind: str, path: str, symbol: str | None = None, times: int = 1, **kw: Any) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {list(FAULT_KINDS)}")
        with self._lock:
            self.faults.append(Fault(kind=kind, path=path, symbol=symbol, times=times, **kw))

    def take_fault(self, path: str, params: dict[str, str]) -> Fault | None:
        with self._lock:
            self.requests.append((path, params))
            for fault in self.faults:
                if fault.path == path and fault.times != 0 and fault.symbol in (None, params.get("symbol")):
                    fault.times -= 1
                    return fault
        return None

    def count(self, path: str) -> int:
        """Requests received for ``path`` so far."""
        return sum(1 for p, _ in self.requests if p == path)

    @property
    def now(self) -> pd.Timestamp:
        return pd.Timestamp(self.fixed_now or datetime.now(UTC))

    # -- payloads ------------------------------------------------------------------------------
    def _coin(self, symbol: str | None) -> str | None:
        if not symbol or not symbol.endswith("USDT"):
            return None
        coin = symbol[: -len("USDT")]
        return coin if coin == "GBP" or any(s.coin == coin for s in self.exchange.coins) else None

    def exchange_info(self) -> dict[str, Any]:
        with self._lock:
            markets = self.exchange.markets(self.now.to_pydatetime())
        return {
            "timezone": "UTC",
            "serverTime": _ms(self.now),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000}
            ],
            "exchangeFilters": [],
            "symbols": [
                _spot_symbol(row.base, row.quote, row.status, row.tick_size) for row in markets.itertuples()
            ],
        }

    def futures_info(self) -> dict[str, Any]:
        with self._lock:
            markets = self.exchange.markets(self.now.to_pydatetime())
        coins = markets[(markets["base"] != "GBP")]
        return {
            "timezone": "UTC",
            "serverTime": _ms(self.now),
            "rateLimits": [],
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True}],
            "symbols": [_perpetual_symbol(row.base, row.status) for row in coins.itertuples()],
        }

    def tickers(self) -> pd.DataFrame:
        with self._lock:
            frame = self.exchange.tickers(self.now.to_pydatetime())
        frame["symbol"] = frame["symbol"].str.replace("/", "", regex=False)
        return frame

    def ticker_24h(self, params: dict[str, str]) -> list[dict[str, Any]] | dict[str, Any]:
        frame = _only(self.tickers(), params)
        close, open_ = _ms(self.now) - 1, _ms(self.now - pd.Timedelta(days=1))
        rows = [
            {
                "symbol": r.symbol,
                "priceChange": "0",
                "priceChangePercent": "0",
                "weightedAvgPrice": _s(r.last),
                "prevClosePrice": _s(r.last),
                "lastPrice": _s(r.last),
                "lastQty": "0",
                "bidPrice": _s(r.bid),
                "bidQty": "1",
                "askPrice": _s(r.ask),
                "askQty": "1",
                "openPrice": _s(r.last),
                "highPrice": _s(r.last),
                "lowPrice": _s(r.last),
                "volume": _s(r.quote_volume / r.last),
                "quoteVolume": _s(r.quote_volume),
                "openTime": open_,
                "closeTime": close,
                "firstId": 0,
                "lastId": 0,
                "count": 0,
            }
            for r in frame.itertuples()
        ]
        return rows[0] if "symbol" in params and rows else rows

    def book_ticker(self, params: dict[str, str]) -> list[dict[str, Any]] | dict[str, Any]:
        frame = _only(self.tickers(), params)
        rows = [
            {"symbol": r.symbol, "bidPrice": _s(r.bid), "bidQty": "1", "askPrice": _s(r.ask), "askQty": "1"}
            for r in frame.itertuples()
        ]
        return rows[0] if "symbol" in params and rows else rows

    def klines(self, coin: str, params: dict[str, str]) -> list[list]:
        interval = parse_duration(params.get("interval", "1h"))
        minutes = interval < self.exchange.bar and coin != "GBP"
        if interval % (MINUTE if minutes else self.exchange.bar):
            raise _ApiError(400, -1120, "Invalid interval.")
        limit = min(int(params.get("limit", 500)), MAX_KLINES)
        now = self.now
        last_open = now - pd.Timedelta(interval)  # only candles closed by now
        end = min(_ts(params["endTime"]), last_open) if "endTime" in params else last_open
        if "startTime" in params:
            start = _ts(params["startTime"])
        else:
            start = end - pd.Timedelta(interval) * (limit - 1)
        start = start.ceil(pd.Timedelta(interval))
        if end < start:
            return []
        window = (start.to_pydatetime(), (end + pd.Timedelta(interval)).to_pydatetime())
        with self._lock:  # the simulator caches paths: one request at a time
            if coin == "GBP":
                bars = self.exchange.gbp_ohlcv(*window)
            elif minutes:
                bars = self.exchange.minute_candles(coin, *window)
            else:
                bars = self.exchange.ohlcv(coin, *window)
        if interval != (MINUTE if minutes else self.exchange.bar):
            bars = _resample(bars, interval)
        times = pd.to_datetime(bars["open_time"], utc=True)
        keep = (times >= start) & (times <= end)
        if coin in self.missing_days:
            keep &= ~times.dt.strftime("%Y-%m-%d").isin(self.missing_days[coin])
        if self.feed_stops_at is not None and coin != "GBP":
            keep &= times < self.feed_stops_at
        bars = bars[keep]
        if "startTime" not in params:
            bars = bars.tail(limit)
        return frame_to_klines(bars.head(limit), interval)

    def funding(self, coin: str, params: dict[str, str]) -> list[dict[str, Any]]:
        limit = min(int(params.get("limit", 100)), MAX_FUNDING)
        end = min(_ts(params["endTime"]), self.now) if "endTime" in params else self.now
        start = _ts(params["startTime"]) if "startTime" in params else end - pd.Timedelta(hours=8) * limit
        if coin == "GBP":
            raise _ApiError(400, -1121, "Invalid symbol.")
        with self._lock:
            rates = self.exchange.funding_rates(
                coin, start.to_pydatetime(), (end + pd.Timedelta(milliseconds=1)).to_pydatetime()
            )
        rates = rates.head(limit) if "startTime" in params else rates.tail(limit)
        return [
            {
                "symbol": f"{coin}USDT",
                "fundingTime": _ms(r.funding_time),
                "fundingRate": f"{r.funding_rate:.8f}",
                "markPrice": _s(r.mark_price),
            }
            for r in rates.itertuples()
        ]


class _ApiError(Exception):
    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


def _handler(stand_in: BinanceStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "binance-stand-in/1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass  # quiet: tests and the CLI keep their own logs

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            parts = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            fault = stand_in.take_fault(parts.path, params)
            try:
                if fault is not None and fault.kind in ("429", "5xx", "malformed", "empty", "unknown_symbol"):
                    self._fault(fault)
                    return
                payload = self._route(parts.path, params)
                if fault is not None and fault.kind == "missing_field" and isinstance(payload, list):
                    payload = [row[:9] for row in payload]
                if fault is not None and fault.kind == "bad_value" and payload:
                    payload[0][4] = "n/a"
                self._send(200, json.dumps(payload).encode())
            except _ApiError as error:
                self._send(error.status, json.dumps({"code": error.code, "msg": error.msg}).encode())
            except (KeyError, ValueError) as error:
                self._send(400, json.dumps({"code": -1100, "msg": f"Illegal parameter: {error}"}).encode())

        def _route(self, path: str, params: dict[str, str]) -> Any:
            if path in ("/api/v3/ping", "/fapi/v1/ping"):
                return {}
            if path in ("/api/v3/time", "/fapi/v1/time"):
                return {"serverTime": _ms(stand_in.now)}
            if path == "/api/v3/exchangeInfo":
                return stand_in.exchange_info()
            if path == "/fapi/v1/exchangeInfo":
                return stand_in.futures_info()
            if path == "/api/v3/ticker/24hr":
                return stand_in.ticker_24h(_symbols(params))
            if path == "/api/v3/ticker/bookTicker":
                return stand_in.book_ticker(_symbols(params))
            if path in ("/api/v3/klines", "/fapi/v1/klines"):
                return stand_in.klines(self._known(params), params)
            if path == "/fapi/v1/fundingRate":
                return stand_in.funding(self._known(params), params)
            raise _ApiError(404, -1000, f"the stand-in does not serve {path}")

        def _known(self, params: dict[str, str]) -> str:
            coin = stand_in._coin(params.get("symbol"))
            if coin is None:
                raise _ApiError(400, -1121, "Invalid symbol.")
            return coin

        def _fault(self, fault: Fault) -> None:
            if fault.kind == "429":
                body = {
                    "code": -1003,
                    "msg": "Too many requests; current limit is 6000 request weight per 1 MINUTE.",
                }
                self._send(429, json.dumps(body).encode(), {"Retry-After": str(fault.retry_after_s)})
            elif fault.kind == "5xx":
                self._send(fault.status, b"<html><body>Service Unavailable</body></html>", ctype="text/html")
            elif fault.kind == "malformed":
                self._send(200, b'[[1700000000000,"1.0","1.1"')
            elif fault.kind == "empty":
                self._send(200, b"[]")
            else:
                self._send(400, json.dumps({"code": -1121, "msg": "Invalid symbol."}).encode())

        def _send(
            self,
            status: int,
            body: bytes,
            headers: dict[str, str] | None = None,
            ctype: str = "application/json",
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _symbols(params: dict[str, str]) -> dict[str, str]:
    if "symbols" in params:
        return {"symbols": ",".join(json.loads(params["symbols"]))}
    return params


def _only(frame: pd.DataFrame, params: dict[str, str]) -> pd.DataFrame:
    if "symbol" in params:
        return frame[frame["symbol"] == params["symbol"]]
    if "symbols" in params:
        return frame[frame["symbol"].isin(params["symbols"].split(","))]
    return frame


def _spot_symbol(base: str, quote: str, status: str, tick_size: float = 1e-8) -> dict[str, Any]:
    return {
        "symbol": f"{base}{quote}",
        "status": status,
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "MARKET"],
        "icebergAllowed": False,
        "ocoAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": f"{tick_size:.8f}",
                "maxPrice": "1000000",
                "tickSize": f"{tick_size:.8f}",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00000001",
                "maxQty": "90000000",
                "stepSize": "0.00000001",
            },
        ],
        "permissions": ["SPOT"],
    }


def _perpetual_symbol(base: str, status: str) -> dict[str, Any]:
    return {
        "symbol": f"{base}USDT",
        "pair": f"{base}USDT",
        "contractType": "PERPETUAL",
        "deliveryDate": _PERPETUAL_DELIVERY,
        "onboardDate": 1569398400000,
        "status": status,
        "baseAsset": base,
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "pricePrecision": 8,
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.00000001",
                "maxPrice": "1000000",
                "tickSize": "0.00000001",
            },
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000000", "stepSize": "0.001"},
        ],
        "orderTypes": ["LIMIT", "MARKET"],
        "timeInForce": ["GTC"],
    }


def _resample(bars: pd.DataFrame, interval: timedelta) -> pd.DataFrame:
    """Aggregate the simulator's candles into ``interval`` candles (first/max/min/last, sums)."""
    if bars.empty:
        return bars
    frame = bars.copy()
    frame["open_time"] = pd.to_datetime(frame["open_time"], utc=True)
    frame = frame.sort_values("open_time").drop_duplicates("open_time", keep="last")
    grouped = frame.groupby(frame["open_time"].dt.floor(interval))
    sums = [
        c for c in ("volume", "quote_volume", "trades", "taker_buy_base", "taker_buy_quote") if c in frame
    ]
    out = grouped.agg(
        open=("open", "first"), high=("high", "max"), low=("low", "min"), close=("close", "last")
    ).join(grouped[sums].sum())
    out["vendor"] = frame["vendor"].iloc[0]
    return out.rename_axis("open_time").reset_index()


def _ms(ts: pd.Timestamp | datetime) -> int:
    return int(pd.Timestamp(ts).value // 1_000_000)


def _ts(ms: str) -> pd.Timestamp:
    return pd.Timestamp(int(ms), unit="ms", tz="UTC")


def _s(value: float) -> str:
    return f"{float(value):.10g}"
