"""A coin whose exchange feed is broken gets a named check failure; every other coin finishes."""

import dagster as dg
import pytest

from huracan_assets.resources.market_data import MarketDataResource
from huracan_assets_tests.acceptance.test_daily_run import materialise
from huracan_assets_tests.conftest import small_settings

pytestmark = pytest.mark.acceptance


def test_bad_candles_are_named_by_a_check_and_the_other_coins_still_finish(tmp_path):
    settings = small_settings(lookback_days=10, simulator={"n_coins": 5})
    market = MarketDataResource(
        sim_coins=5,
        sim_corrupt={"SOL": ["nan", "high_lt_low", "duplicates"], "XRP": ["missing_column"]},
    )
    run = materialise(tmp_path, settings, market)

    check = dg.AssetCheckKey(dg.AssetKey("validated_bars"), "validated_bars_source_quality")
    daily_run = next(r["run_id"] for r in run.result.runs if r["job"] == "daily_coins_job")
    evaluations = [
        e.dagster_event.event_specific_data
        for e in run.instance.all_logs(daily_run, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        if e.dagster_event.event_specific_data.check_name == check.name
        and e.dagster_event.event_specific_data.partition is None  # the run's summary
    ]
    assert len(evaluations) == 1
    evaluation = evaluations[0]
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "SOL" in evaluation.description and "XRP" in evaluation.description
    problems = evaluation.metadata["problems"].value
    assert "NaN price" in problems and "high < low" in problems
    assert "missing column(s) ['taker_buy_base']" in problems

    raw = next(
        e.dagster_event.event_specific_data
        for e in run.instance.all_logs(daily_run, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        if e.dagster_event.event_specific_data.check_name == "validated_bars_raw_schema"
    )
    assert not raw.passed and raw.severity == dg.AssetCheckSeverity.WARN
    assert "SOL" in raw.description and "XRP" in raw.description and "BTC" not in raw.description
    cases = raw.metadata["failure_cases"].value
    assert "open_time must be unique" in cases and "column_in_dataframe (taker_buy_base)" in cases

    integrity = {r["coin"]: r for r in run.result.integrity["coins"]}
    assert integrity["SOL"]["invalid_bars"] == 2 and integrity["SOL"]["duplicates_resolved"] == 1
    assert integrity["XRP"]["status"] == "quarantined"
    assert "check validated_bars_source_quality failed" in integrity["SOL"]["problems"]

    champions = run.result.champions
    others = set(champions["active_coins"]) - {"XRP"}
    trained = set(champions["trained_coins"])
    assert {"BTC", "ETH", "SOL"} <= trained <= others
    assert "XRP" in champions["no_champion"]
