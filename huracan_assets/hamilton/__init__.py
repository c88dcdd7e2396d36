"""The consumer interface (Hamilton). Imports neither dagster nor the assets."""

from huracan_assets.hamilton.cache import ContentCache
from huracan_assets.hamilton.interface import (
    ChampionNotFoundError,
    DoNotTradeEntry,
    ExportNotFoundError,
    ExportSource,
    ExportUnavailableError,
    FeatureMismatchError,
    HamiltonError,
    HamiltonInterface,
    IntegrityError,
    RankingEntry,
    RollbackError,
    StaleExportWarning,
    TradeRule,
)

__all__ = [
    "ChampionNotFoundError",
    "ContentCache",
    "DoNotTradeEntry",
    "ExportNotFoundError",
    "ExportSource",
    "ExportUnavailableError",
    "FeatureMismatchError",
    "HamiltonError",
    "HamiltonInterface",
    "IntegrityError",
    "RankingEntry",
    "RollbackError",
    "StaleExportWarning",
    "TradeRule",
]
