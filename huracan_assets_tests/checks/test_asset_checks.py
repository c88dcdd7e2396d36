"""Checks tell the truth per partition: a range run records each coin-day's own outcome.

What the UI's Partitions tab counts is ``get_asset_check_state`` (the status subsets the
webserver reads); these tests assert on it, and on the evaluations of the run.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._serdes import serialize_value

from huracan_assets.checks.asset_checks import (
    schema_outcomes,
    source_quality_outcomes,
    universe_outcomes,
)
from huracan_assets.checks.validation import SchemaOutcome
from huracan_assets.orchestration import QUIET
from huracan_assets.resources.market_data import MarketDataResource
from huracan_assets.resources.storage import ParquetIOManager
from huracan_assets_tests.conftest import five_coin_instance

DAY = "2025-11-20"
DAYS = ["2025-11-18", "2025-11-19", DAY]
COINS_OF_TEST = ["BTC", "ETH", "SOL", "XRP"]
KEYS = [f"{DAY}|{coin}" for coin in COINS_OF_TEST]
BARS = dg.AssetKey("validated_bars")
BAR_CHECKS = [
    "validated_bars_schema",
    "validated_bars_raw_schema",
    "validated_bars_source_quality",
    "validated_bars_day_usable",
]
RANGE = {
    "dagster/asset_partition_range_start": KEYS[0],
    "dagster/asset_partition_range_end": KEYS[-1],
}


@dataclass
class Setup:
    defs: dg.Definitions
    instance: dg.DagsterInstance
    storage: Path
    universe: dg.ExecuteInProcessResult
    bars: dg.ExecuteInProcessResult


def set_up(tmp: Path, market: MarketDataResource) -> Setup:
    """coin_universe for three days in one run, then validated_bars for every coin of DAY in one run."""
    defs, instance = five_coin_instance(tmp, market, COINS_OF_TEST)
    universe = defs.resolve_job_def("universe_job").execute_in_process(
        run_config=QUIET,
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": DAYS[0],
            "dagster/asset_partition_range_end": DAYS[-1],
        },
        raise_on_error=False,
    )
    bars = bars_run(defs, instance)
    return Setup(defs, instance, tmp / "storage", universe, bars)


def bars_run(
    defs: dg.Definitions, instance: dg.DagsterInstance, checks_only: list[str] | None = None
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def("daily_coins_job")
    if checks_only is not None:
        job = job.get_subset(
            asset_selection=set(), asset_check_selection={dg.AssetCheckKey(BARS, n) for n in checks_only}
        )
        return job.execute_in_process(run_config=QUIET, instance=instance, tags=RANGE, raise_on_error=False)
    return job.execute_in_process(
        run_config=QUIET, instance=instance, tags=RANGE, asset_selection=[BARS], raise_on_error=False
    )


def evaluations(result: dg.ExecuteInProcessResult, name: str) -> list[dg.AssetCheckEvaluation]:
    return [e for e in result.get_asset_check_evaluations() if e.check_name == name]


def by_partition(result: dg.ExecuteInProcessResult, name: str) -> dict[str, dg.AssetCheckEvaluation]:
    found = [e for e in evaluations(result, name) if e.partition is not None]
    out = {e.partition: e for e in found}
    assert len(out) == len(found), f"{name}: a partition evaluated twice"
    return out


def partition_statuses(setup: Setup, key: dg.AssetCheckKey) -> dict[str, set[str]]:
    """The check's partitions by resolved status, as the UI's Partitions tab counts them."""
    partitions_def = setup.defs.resolve_asset_graph().get(key).partitions_def
    with partition_loading_context(dynamic_partitions_store=setup.instance):
        state = setup.instance.event_log_storage.get_asset_check_state([(key, partitions_def)])[key]
        return {
            status.value: {str(k) for k in subset.value.get_partition_keys()}
            for status, subset in state.subsets.items()
            if not subset.is_empty
        }


@pytest.fixture(scope="module")
def sol_broken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    market = MarketDataResource(sim_coins=5, sim_corrupt={"SOL": ["nan", "high_lt_low", "duplicates"]})
    yield set_up(tmp_path_factory.mktemp("sol_broken"), market)


@pytest.mark.acceptance
def test_a_range_run_records_each_coin_days_own_outcome(sol_broken: Setup):
    assert sol_broken.universe.success and sol_broken.bars.success
    for name in BAR_CHECKS:
        per_partition = by_partition(sol_broken.bars, name)
        assert sorted(per_partition) == KEYS, name
        # one run summary without a partition, first: the step's output and the run's overview
        summaries = [e for e in evaluations(sol_broken.bars, name) if e.partition is None]
        assert len(summaries) == 1 and evaluations(sol_broken.bars, name)[0] is summaries[0]
        # every evaluation points at its own partition's materialization (else the UI clears it)
        assert all(e.target_materialization_data for e in per_partition.values())

    for name in ("validated_bars_source_quality", "validated_bars_raw_schema"):
        per_partition = by_partition(sol_broken.bars, name)
        assert {k: e.passed for k, e in per_partition.items()} == {k: not k.endswith("SOL") for k in KEYS}
        assert all(e.severity == dg.AssetCheckSeverity.WARN for e in per_partition.values())
        summary = evaluations(sol_broken.bars, name)[0]
        assert not summary.passed and summary.description.endswith("SOL")

    assert all(e.passed for e in by_partition(sol_broken.bars, "validated_bars_schema").values())
    assert all(e.passed for e in by_partition(sol_broken.bars, "validated_bars_day_usable").values())

    sol = by_partition(sol_broken.bars, "validated_bars_source_quality")[f"{DAY}|SOL"]
    assert "2 invalid bar(s)" in sol.description and "1 duplicate(s)" in sol.description
    assert "NaN price" in sol.metadata["examples"].value
    raw = by_partition(sol_broken.bars, "validated_bars_raw_schema")[f"{DAY}|SOL"]
    assert any("open_time must be unique" in case for case in raw.metadata["failure_cases"].value)


@pytest.mark.acceptance
def test_the_ui_counts_passed_and_failed_per_partition_and_nothing_skipped(sol_broken: Setup):
    for name in ("validated_bars_source_quality", "validated_bars_raw_schema"):
        statuses = partition_statuses(sol_broken, dg.AssetCheckKey(BARS, name))
        assert statuses == {"SUCCEEDED": set(KEYS) - {f"{DAY}|SOL"}, "FAILED": {f"{DAY}|SOL"}}, name
    for name in ("validated_bars_schema", "validated_bars_day_usable"):
        assert partition_statuses(sol_broken, dg.AssetCheckKey(BARS, name)) == {"SUCCEEDED": set(KEYS)}
    universe = dg.AssetCheckKey(dg.AssetKey("coin_universe"), "coin_universe_not_empty")
    assert partition_statuses(sol_broken, universe) == {"SUCCEEDED": set(DAYS)}
    assert {e.partition for e in evaluations(sol_broken.universe, universe.name)} == {None, *DAYS}


@pytest.mark.acceptance
def test_each_partition_stores_only_its_own_outcome(sol_broken: Setup):
    """Per-partition results carry their own cases only: the event log grows linearly with partitions."""
    for name in BAR_CHECKS:
        for key, evaluation in by_partition(sol_broken.bars, name).items():
            text = serialize_value(evaluation)
            assert len(text) < 4_000, (name, key, len(text))
            others = [k for k in KEYS if k != key]
            assert not any(other in text for other in others), (name, key)


@pytest.mark.acceptance
def test_a_single_partition_run_gets_one_result_for_its_partition(sol_broken: Setup):
    result = sol_broken.defs.resolve_job_def("daily_coins_job").execute_in_process(
        run_config=QUIET,
        instance=sol_broken.instance,
        partition_key=dg.MultiPartitionKey({"date": DAY, "symbol": "ETH"}),
        asset_selection=[BARS],
        raise_on_error=False,
    )
    assert result.success
    for name in BAR_CHECKS:
        found = evaluations(result, name)
        assert [e.partition for e in found] == [f"{DAY}|ETH"], name
        assert found[0].passed, name


@pytest.mark.acceptance
def test_the_checks_compute_from_the_stored_data(tmp_path: Path):
    """Rewrite SOL's stored quality record as clean: a check-only run now passes it, whatever the
    event log's materialization metadata says."""
    setup = set_up(tmp_path, MarketDataResource(sim_coins=5, sim_corrupt={"SOL": ["nan"]}))
    names = ["validated_bars_source_quality", "validated_bars_raw_schema"]
    assert not by_partition(setup.bars, names[0])[f"{DAY}|SOL"].passed

    store = ParquetIOManager(base_dir=str(setup.storage))
    frame = store.read_partition(BARS, f"{DAY}|SOL")
    quality = frame.attrs["quality"]
    frame.attrs = {
        "quality": {
            **quality,
            "status": "ok",
            "invalid_bars": 0,
            "raw_schema_failures": [],
            "invalid_examples": [],
        }
    }
    store.write_partition(BARS, f"{DAY}|SOL", frame)

    rerun = bars_run(setup.defs, setup.instance, checks_only=names)
    assert rerun.success
    for name in names:
        assert all(e.passed for e in by_partition(rerun, name).values()), name
        # the re-run targets the partitions' existing materializations, so the UI shows it as current
        statuses = partition_statuses(setup, dg.AssetCheckKey(BARS, name))
        assert statuses == {"SUCCEEDED": set(KEYS)}, name


@pytest.mark.acceptance
def test_an_unusable_day_fails_every_coin_day_of_it_and_blocks_the_run(tmp_path: Path):
    """Three of four coins quarantined: the day-level blocking check fails for every coin-day of the
    day (BTC included: the day is what is unusable), while BTC's own per-coin checks pass."""
    broken = {coin: ["missing_column"] for coin in ("ETH", "SOL", "XRP")}
    setup = set_up(tmp_path, MarketDataResource(sim_coins=5, sim_corrupt=broken))
    assert not setup.bars.success
    usable = by_partition(setup.bars, "validated_bars_day_usable")
    assert sorted(usable) == KEYS and not any(e.passed for e in usable.values())
    assert all(e.blocking and e.severity == dg.AssetCheckSeverity.ERROR for e in usable.values())
    assert "1 of 4 listed coins have usable bars" in usable[f"{DAY}|BTC"].description
    source = by_partition(setup.bars, "validated_bars_source_quality")
    assert {k: e.passed for k, e in source.items()} == {k: k.endswith("BTC") for k in KEYS}
    key = dg.AssetCheckKey(BARS, "validated_bars_day_usable")
    assert partition_statuses(setup, key) == {"FAILED": set(KEYS)}


# -- the outcome builders, without Dagster --------------------------------------------------------
def test_a_partition_without_a_quality_record_fails_rather_than_passing_silently():
    per_partition, summary = source_quality_outcomes(
        {"2025-11-20|BTC": None, "2025-11-20|ETH": {"status": "ok"}}
    )
    assert not per_partition["2025-11-20|BTC"].passed and per_partition["2025-11-20|ETH"].passed
    assert not summary.passed and "BTC" in summary.description


def test_a_coin_day_without_rows_passes_the_schema_and_says_so():
    outcome = SchemaOutcome(
        checked=["2025-11-20|BTC"],
        failing={"2025-11-20|BTC": [{"column": "close", "check": "greater_than(0)", "failure_case": "-1"}]},
    )
    per_partition, summary = schema_outcomes(outcome, ["2025-11-20|BTC", "2025-11-20|ETH"], "features")
    assert not per_partition["2025-11-20|BTC"].passed
    assert per_partition["2025-11-20|ETH"].passed
    assert per_partition["2025-11-20|ETH"].description.endswith("no rows to check")
    assert not summary.passed


def test_the_universe_check_names_each_empty_day():
    universe = pd.DataFrame(
        {
            "date": ["2025-11-19", "2025-11-19", "2025-11-20"],
            "coin": ["BTC", "ETH", "BTC"],
            "eligible": [True, False, False],
        }
    )
    per_day, summary = universe_outcomes(["2025-11-19", "2025-11-20"], universe)
    assert per_day["2025-11-19"].passed and not per_day["2025-11-20"].passed
    assert per_day["2025-11-20"].severity is None  # the run day: the check's own (blocking) ERROR
    assert summary.description == "no eligible coin on the run day 2025-11-20" and not summary.passed


def test_only_the_run_day_blocks_an_empty_look_back_day_is_reported():
    universe = pd.DataFrame(
        {
            "date": ["2025-11-18", "2025-11-19", "2025-11-20"],
            "coin": ["BTC", "BTC", "BTC"],
            "eligible": [True, False, True],
        }
    )
    per_day, summary = universe_outcomes(["2025-11-18", "2025-11-19", "2025-11-20"], universe)
    assert not per_day["2025-11-19"].passed
    assert per_day["2025-11-19"].severity == dg.AssetCheckSeverity.WARN
    assert "look-back day of 2025-11-20" in per_day["2025-11-19"].description
    assert summary.passed
    assert summary.description == "look-back day(s) without an eligible coin (not blocking): 2025-11-19"
    assert summary.metadata["look_back_days_without_eligible"].value == ["2025-11-19"]
