"""Market data behind one resource. Assets see only :class:`MarketDataClient`.

Sources (``MarketDataResource.source``):

* ``sim`` (the embedded default): the built-in simulated exchange, in process.
* ``binance``: Binance through ccxt (``resources/binance_api.py``); ``binance_base_url``
  points it at a local stand-in (``huracan serve-exchange``) instead of api.binance.com.
* ``archives``: Binance public-data kline archives imported with ``huracan import-archives``
  (``resources/archives.py``); no tickers, so the universe estimates volume and spread from
  candles. With ``archive_fill_from_api`` the days the archives do not cover come from the
  API (and markets/tickers too): the backfill path of a new coin.

Vendors and the winner rule: every candle carries ``vendor``. The client's primary vendor
wins; a ``secondary_vendor`` (the simulator's second feed, or the API beside the archives
with ``archive_cross_check``) only audits it bar by bar in ``core.bars.validate_day``.
"""

from datetime import date, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

import dagster as dg
import pandas as pd

from huracan_assets.market_sim import PRIMARY_VENDOR, SECONDARY_VENDOR, SimulatedExchange

if TYPE_CHECKING:
    from huracan_assets.resources.binance_api import BinanceApiMarketData

SOURCES = ("sim", "binance", "archives")


class MarketDataClient(Protocol):
    primary_vendor: str
    secondary_vendor: str | None

    def markets(self, as_of: datetime) -> pd.DataFrame:
        """symbol, base, quote, status, listed_at."""

    def tickers(self, as_of: datetime) -> pd.DataFrame:
        """symbol, quote_volume (quote ccy, 24h), bid, ask, last."""

    def ohlcv(self, coin: str, start: datetime, end: datetime, vendor: str | None = None) -> pd.DataFrame:
        """Candles ``start <= open_time < end`` with the columns of ``core.bars.RAW_COLUMNS``.

        Raises ``MarketDataError`` (naming symbol and window) when the source keeps failing.
        """


class SimulatedMarketData:
    """The simulated exchange as a market-data client."""

    secondary_vendor: str | None = SECONDARY_VENDOR
    primary_vendor: str = PRIMARY_VENDOR

    def __init__(self, exchange: SimulatedExchange) -> None:
        self.exchange = exchange

    def markets(self, as_of: datetime) -> pd.DataFrame:
        return self.exchange.markets(as_of)

    def tickers(self, as_of: datetime) -> pd.DataFrame:
        return self.exchange.tickers(as_of)

    def ohlcv(self, coin: str, start: datetime, end: datetime, vendor: str | None = None) -> pd.DataFrame:
        return self.exchange.ohlcv(coin, start, end, vendor=vendor or PRIMARY_VENDOR)

    def funding_rates(self, coin: str, start: datetime, end: datetime) -> pd.DataFrame:
        return self.exchange.funding_rates(coin, start, end)

    def day_spread_bps(self, coin: str, day: date) -> tuple[float, str]:
        """The coin's quoted bid/ask spread at the close of ``day`` (bps): the simulator's book is
        known for every day, as its ticker gives it for the day it runs."""
        return self.exchange.true_spread_bps(coin, day), "quote:day close"


@lru_cache(maxsize=8)
def _exchange(
    seed: int,
    n_coins: int,
    timeframe: str,
    planted_fraction: float,
    planted_edge_bps: float,
    faulty_fraction: float,
    random_walk_fraction: float,
    corrupt: tuple[tuple[str, tuple[str, ...]], ...],
    layout: str,
    delisted: tuple[tuple[str, str], ...] = (),
) -> SimulatedExchange:
    return SimulatedExchange(
        corrupt=dict(corrupt),
        layout=layout,
        delisted={coin: datetime.fromisoformat(when) for coin, when in delisted},
        seed=seed,
        n_coins=n_coins,
        timeframe=timeframe,
        planted_fraction=planted_fraction,
        planted_edge_bps=planted_edge_bps,
        faulty_fraction=faulty_fraction,
        random_walk_fraction=random_walk_fraction,
    )


class MarketDataResource(dg.ConfigurableResource):
    """Where candles, tickers and markets come from. ``source``: "sim" (default), "binance", "archives".

    Durations in seconds (``_s``) or milliseconds (``_ms``); an empty ``binance_base_url``
    means Binance's own hosts.
    """

    source: str = "sim"
    timeframe: str = "1h"
    binance_base_url: str = ""
    binance_max_retries: int = 4
    binance_backoff_s: float = 0.5
    binance_rate_limit_ms: int | None = None  # None: ccxt's own (50 ms per unit of request weight)
    archive_dir: str = "archives"
    archive_fill_from_api: bool = False
    archive_cross_check: bool = False
    sim_seed: int = 7
    sim_coins: int = 30
    sim_planted_fraction: float = 0.4
    sim_planted_edge_bps: float = 25.0
    sim_faulty_fraction: float = 0.3
    sim_random_walk_fraction: float = 0.0
    # deliberately broken feeds per coin, e.g. {"SOL": ["nan", "high_lt_low", "duplicates"]}
    sim_corrupt: dict[str, list[str]] = {}
    # "market" (the default) or "validation": half pure random walks, half planted edges (huracan validate)
    sim_layout: str = "market"
    # coin -> ISO time of its delisting, e.g. {"XRP": "2025-11-20T12:00:00+00:00"}
    sim_delisted: dict[str, str] = {}

    def client(self) -> MarketDataClient:
        if self.source == "sim":
            return SimulatedMarketData(self.exchange())
        if self.source == "binance":
            return self.binance_client()
        if self.source == "archives":
            from huracan_assets.resources.archives import (
                ArchiveMarketData,
                ArchiveStore,
                ArchiveWithApiMarketData,
            )

            archive = ArchiveMarketData(ArchiveStore(self.archive_dir), timeframe=self.timeframe)
            if self.archive_fill_from_api:
                return ArchiveWithApiMarketData(
                    archive, self.binance_client(), cross_check=self.archive_cross_check
                )
            return archive
        raise ValueError(f"unknown market-data source {self.source!r}; known: {list(SOURCES)}")

    def binance_client(self) -> "BinanceApiMarketData":
        from huracan_assets.resources.binance_api import BinanceApiMarketData

        return BinanceApiMarketData(
            base_url=self.binance_base_url,
            timeframe=self.timeframe,
            max_retries=self.binance_max_retries,
            backoff_s=self.binance_backoff_s,
            rate_limit_ms=self.binance_rate_limit_ms,
        )

    def exchange(self) -> SimulatedExchange:
        return _exchange(
            self.sim_seed,
            self.sim_coins,
            self.timeframe,
            self.sim_planted_fraction,
            self.sim_planted_edge_bps,
            self.sim_faulty_fraction,
            self.sim_random_walk_fraction,
            tuple(sorted((coin, tuple(kinds)) for coin, kinds in self.sim_corrupt.items())),
            self.sim_layout,
            tuple(sorted(self.sim_delisted.items())),
        )


def market_clock(client: object) -> tuple[pd.Timestamp | None, str] | None:
    """The market's own clock and how errors name it: the exchange's (``/api/v3/time``) for the
    Binance API, archives filled from it included; the close of the newest imported candle for
    archives alone (None: no candle). None for the simulator, whose clock (``HURACAN_CLOCK``)
    already bounds the day partitions."""
    api = getattr(client, "api", None) or client
    if callable(getattr(api, "server_time", None)):
        where = getattr(api, "base_url", "") or "https://api.binance.com"
        return api.server_time(), f"the exchange's clock ({where}/api/v3/time)"
    store = getattr(client, "store", None)
    if store is not None and callable(getattr(store, "newest_close", None)):
        timeframe = getattr(client, "timeframe", "1h")
        return store.newest_close(
            timeframe
        ), f"the archives' clock (the newest {timeframe} candle in {store.root})"
    return None
