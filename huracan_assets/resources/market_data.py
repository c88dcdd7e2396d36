"""Market data behind one resource. Assets see only :class:`MarketDataClient`.

``source="sim"`` (the embedded default) serves the built-in simulated exchange; later sources
(ccxt Binance, Binance public-data archives) implement the same protocol.
"""

from datetime import datetime
from functools import lru_cache
from typing import Protocol

import dagster as dg
import pandas as pd

from huracan_assets.market_sim import PRIMARY_VENDOR, SECONDARY_VENDOR, SimulatedExchange


class MarketDataClient(Protocol):
    primary_vendor: str
    secondary_vendor: str | None

    def markets(self, as_of: datetime) -> pd.DataFrame:
        """symbol, base, quote, status, listed_at."""

    def tickers(self, as_of: datetime) -> pd.DataFrame:
        """symbol, quote_volume (quote ccy, 24h), bid, ask, last."""

    def ohlcv(self, coin: str, start: datetime, end: datetime, vendor: str | None = None) -> pd.DataFrame:
        """Candles ``start <= open_time < end`` with the columns of ``core.bars.RAW_COLUMNS``."""


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
) -> SimulatedExchange:
    return SimulatedExchange(
        corrupt=dict(corrupt),
        layout=layout,
        seed=seed,
        n_coins=n_coins,
        timeframe=timeframe,
        planted_fraction=planted_fraction,
        planted_edge_bps=planted_edge_bps,
        faulty_fraction=faulty_fraction,
        random_walk_fraction=random_walk_fraction,
    )


class MarketDataResource(dg.ConfigurableResource):
    """Where candles, tickers and markets come from. ``source``: "sim" (default)."""

    source: str = "sim"
    timeframe: str = "1h"
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

    def client(self) -> MarketDataClient:
        if self.source == "sim":
            return SimulatedMarketData(self.exchange())
        raise ValueError(f"unknown market-data source {self.source!r}; known: ['sim']")

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
        )
