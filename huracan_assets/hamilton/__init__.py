"""The consumer interface (Hamilton). Imports neither dagster nor the assets."""

from huracan_assets.hamilton.interface import (
    ChampionNotFoundError,
    DoNotTradeEntry,
    ExportNotFoundError,
    FeatureMismatchError,
    HamiltonError,
    HamiltonInterface,
    IntegrityError,
    RankingEntry,
)

__all__ = [
    "ChampionNotFoundError",
    "DoNotTradeEntry",
    "ExportNotFoundError",
    "FeatureMismatchError",
    "HamiltonError",
    "HamiltonInterface",
    "IntegrityError",
    "RankingEntry",
]
