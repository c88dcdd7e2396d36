"""The one custom partition mapping, pinned: ``DayWindowAllCoins`` subclasses dagster 1.13's
multi-partition mapping base (a module Dagster does not export), because no built-in mapping
maps a day to every coin of a window of days. If a Dagster upgrade changes that base, these fail."""

from datetime import date

import dagster as dg

from huracan_assets.partitions import build_partitions
from huracan_assets_tests.conftest import small_settings

COINS = ["BTC", "ETH", "SOL"]


def _partitions():
    return build_partitions(small_settings(clock="2025-11-22T00:00:00Z"))


def test_a_day_maps_to_every_coin_of_its_window():
    partitions = _partitions()
    mapping = partitions.days_all_coins(2)
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("coins", COINS)
        day = partitions.days.empty_subset().with_partition_keys(["2025-11-20"])
        result = mapping.get_upstream_mapped_partitions_result_for_partitions(
            day, partitions.days, partitions.coin_days, dynamic_partitions_store=instance
        )
        keys = sorted(str(k) for k in result.partitions_subset.get_partition_keys())
    assert keys == [f"{d}|{c}" for d in ("2025-11-18", "2025-11-19", "2025-11-20") for c in COINS]
    assert not result.required_but_nonexistent_subset.get_partition_keys()


def test_a_coin_day_maps_to_the_days_whose_window_holds_it():
    partitions = _partitions()
    mapping = partitions.days_all_coins(2)
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("coins", COINS)
        coin_day = partitions.coin_days.empty_subset().with_partition_keys(["2025-11-19|ETH"])
        days = mapping.get_downstream_partitions_for_partitions(
            coin_day, partitions.coin_days, partitions.days, dynamic_partitions_store=instance
        )
    # 11-19 is in the windows of 11-19, 11-20 and 11-21; 11-22 has not closed by the clock
    assert sorted(days.get_partition_keys()) == ["2025-11-19", "2025-11-20", "2025-11-21"]
    assert date.fromisoformat(partitions.days.get_last_partition_key()) == date(2025, 11, 21)


def test_history_days_keeps_the_date_dimension_to_a_rolling_window():
    """400 coins x 200 days = 80,000 partitions per asset, under Dagster's ~100,000 advice; the
    window rolls with the clock and never starts before history_start."""
    settings = small_settings(clock="2026-12-01T00:00:00Z", history_days=200)
    days = build_partitions(settings).days
    keys = days.get_partition_keys()
    assert keys[0] == "2026-05-15" and keys[-1] == "2026-11-30" and len(keys) == 200
    assert len(keys) * 400 <= 100_000
    early = small_settings(clock="2025-02-01T00:00:00Z", history_days=200)
    assert build_partitions(early).days.get_partition_keys()[0] == "2025-01-01"  # history_start
    assert (
        build_partitions(small_settings(clock="2026-12-01T00:00:00Z")).days.get_partition_keys()[0]
        == "2025-01-01"
    )


def test_history_days_too_short_for_a_days_look_back_is_refused_naming_the_key():
    import pytest

    from huracan_assets.config import SettingsError

    with pytest.raises(
        SettingsError, match=r"history_days: 30 days cannot hold a day's look-back \(5[0-9] days"
    ):
        small_settings(lookback_days=50, history_days=30)
