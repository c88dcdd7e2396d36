"""Partitions: UTC days, the dynamic set of coins, and the day x coin grid.

The two dimensions are named ``date`` and ``symbol``: Dagster orders multi-partition keys by
dimension name, so ``date`` sorts first and all coins of one day form one contiguous key range
(``2026-01-01|BTC .. 2026-01-01|XRP``). With single-run backfill policies that range is one
run: the daily run over every coin is ONE run. (``date``/``coin`` would sort coin first.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
from dagster._core.definitions.partitions.mapping.multi.base import (
    BaseMultiPartitionMapping,
    DimensionDependency,
)
from dagster._core.definitions.partitions.mapping.partition_mapping import PartitionMapping

from huracan_assets.config import HuracanSettings

COINS = dg.DynamicPartitionsDefinition(name="coins")
DATE_DIMENSION = "date"
COIN_DIMENSION = "symbol"


@dataclass(frozen=True)
class Partitions:
    """Partition definitions and the mappings between them, built from the settings."""

    days: dg.DailyPartitionsDefinition
    coin_days: dg.MultiPartitionsDefinition
    feature_warmup_days: int
    label_lookback_days: int
    lookback_days: int
    shadow_days: int
    longest_shadow_days: int  # the longest horizon's shadow (HuracanSettings.longest_shadow_days)
    max_champion_age_days: int

    def window(self, days_back: int) -> dg.MultiPartitionMapping:
        """Same coin, days D-days_back .. D (days before the first partition are skipped)."""
        return dg.MultiPartitionMapping(
            {
                DATE_DIMENSION: dg.DimensionPartitionMapping(
                    DATE_DIMENSION,
                    dg.TimeWindowPartitionMapping(
                        start_offset=-days_back, end_offset=0, allow_nonexistent_upstream_partitions=True
                    ),
                ),
                COIN_DIMENSION: dg.DimensionPartitionMapping(COIN_DIMENSION, dg.IdentityPartitionMapping()),
            }
        )

    def previous_day(self) -> dg.MultiPartitionMapping:
        """Same coin, the day before (a self-dependency: yesterday's state of the same asset)."""
        return dg.MultiPartitionMapping(
            {
                DATE_DIMENSION: dg.DimensionPartitionMapping(
                    DATE_DIMENSION,
                    dg.TimeWindowPartitionMapping(
                        start_offset=-1, end_offset=-1, allow_nonexistent_upstream_partitions=True
                    ),
                ),
                COIN_DIMENSION: dg.DimensionPartitionMapping(COIN_DIMENSION, dg.IdentityPartitionMapping()),
            }
        )

    def days_all_coins(self, days_back: int) -> DayWindowAllCoins:
        """From a day to every coin of days D-days_back .. D (cross-coin steps with a look-back)."""
        return DayWindowAllCoins(days_back)

    @property
    def by_day(self) -> dg.MultiToSingleDimensionPartitionMapping:
        """Between the day x coin grid and the day: all coins of day D <-> D."""
        return dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=DATE_DIMENSION)

    def history_windows(self, day: date) -> dict[str, list[str]]:
        """Days before ``day`` each per-coin asset must hold so that models[day] can run.

        Walks the look-back mappings backwards: models reads features and labels of
        D-lookback..D; labels read features label_lookback days further back; features read
        validated bars feature_warmup days further back. Days before the first partition
        do not exist and are left out.
        """
        first = date.fromisoformat(self.days.start.strftime("%Y-%m-%d"))

        def span(back: int) -> list[str]:
            start = max(first, day - timedelta(days=back))
            return [(start + timedelta(days=i)).isoformat() for i in range((day - start).days)]

        labels_back = self.lookback_days
        features_back = labels_back + self.label_lookback_days
        bars_back = features_back + self.feature_warmup_days
        return {
            "validated_bars": span(bars_back),
            "features": span(features_back),
            "labels": span(labels_back),
        }


class DayWindowAllCoins(BaseMultiPartitionMapping, PartitionMapping):
    """Day D -> every ``date|symbol`` partition of days D-days_back .. D.

    Dagster's built-in ``MultiToSingleDimensionPartitionMapping`` maps a day to the coins of the
    same day only; this is the same dimension dependency with a time window on the ``date``
    dimension. Not a built-in type, so the UI shows the edge without its mapping and the
    backfill daemon infers the same-day mapping; runs (schedules, sensors, the CLI) use it in
    full. Relies on dagster 1.13's multi-partition mapping base (pinned in pyproject.toml).
    """

    def __init__(self, days_back: int) -> None:
        self.days_back = days_back

    @property
    def description(self) -> str:
        return f"every coin of the {self.days_back + 1} days up to and including the day"

    def validate_partition_mapping(
        self,
        upstream_partitions_def: dg.PartitionsDefinition,
        downstream_partitions_def: dg.PartitionsDefinition | None,
    ) -> None:
        if not isinstance(upstream_partitions_def, dg.MultiPartitionsDefinition):
            raise dg.DagsterInvalidDefinitionError("DayWindowAllCoins maps a day to a date x symbol grid")

    def get_dimension_dependencies(
        self,
        upstream_partitions_def: dg.PartitionsDefinition,
        downstream_partitions_def: dg.PartitionsDefinition,
    ) -> list[DimensionDependency]:
        window = dg.TimeWindowPartitionMapping(
            start_offset=-self.days_back, end_offset=0, allow_nonexistent_upstream_partitions=True
        )
        return [DimensionDependency(window, upstream_dimension_name=DATE_DIMENSION)]


def build_partitions(settings: HuracanSettings) -> Partitions:
    # with an explicit clock the last partition is the last day it has closed; else Dagster's own now
    end = (settings.last_closed_day + timedelta(days=1)).isoformat() if settings.clock else None
    days = dg.DailyPartitionsDefinition(
        start_date=settings.first_partition_day.isoformat(), end_date=end, timezone="UTC"
    )
    coin_days = dg.MultiPartitionsDefinition({DATE_DIMENSION: days, COIN_DIMENSION: COINS})
    return Partitions(
        days=days,
        coin_days=coin_days,
        feature_warmup_days=3,
        label_lookback_days=settings.label_lookback_days,
        lookback_days=settings.lookback_days,
        shadow_days=settings.champions.shadow_days,
        longest_shadow_days=settings.longest_shadow_days,
        max_champion_age_days=settings.champions.max_age_days,
    )


def coin_day_key(day: str, coin: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({DATE_DIMENSION: day, COIN_DIMENSION: coin})
