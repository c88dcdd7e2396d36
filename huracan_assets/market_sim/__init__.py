"""The built-in simulated exchange: deterministic from a seed, reached only through the market-data resource."""

from huracan_assets.market_sim.exchange import (
    BAR_COLUMNS,
    PLANTED_FAMILIES,
    PRIMARY_VENDOR,
    SECONDARY_VENDOR,
    CoinSpec,
    SimulatedExchange,
)

__all__ = [
    "BAR_COLUMNS",
    "PLANTED_FAMILIES",
    "PRIMARY_VENDOR",
    "SECONDARY_VENDOR",
    "CoinSpec",
    "SimulatedExchange",
]
