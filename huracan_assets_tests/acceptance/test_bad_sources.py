"""Bad sources through Dagster: a delisted coin, a stale coin, a stale feed, an empty universe."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from huracan_assets.automation.jobs import day_range_tags
from huracan_assets.market_sim import SimulatedExchange
from huracan_assets.market_sim.binance_server import BinanceStandIn
from huracan_assets.orchestration import QUIET, RunFailedError
from huracan_assets.resources.market_data import MarketDataResource
from huracan_assets.resources.storage import ParquetIOManager
from huracan_assets_tests.acceptance.test_daily_run import DAY, materialise
from huracan_assets_tests.conftest import five_coin_instance, small_settings

pytestmark = pytest.mark.acceptance
COINS_OF_TEST = ["BTC", "ETH", "SOL", "XRP"]


def validate_day_of_bars(tmp: Path, market: MarketDataResource) -> tuple[dg.ExecuteInProcessResult, Path]:
    """coin_universe[DAY], then validated_bars (and its checks) for every coin of DAY in one run."""
    defs, instance = five_coin_instance(tmp, market, COINS_OF_TEST)
    universe = defs.resolve_job_def("universe_job").execute_in_process(
        run_config=QUIET, instance=instance, partition_key=DAY, raise_on_error=False
    )
    assert universe.success
    result = defs.resolve_job_def("daily_coins_job").execute_in_process(
        run_config=QUIET,
        instance=instance,
        tags=day_range_tags(DAY, COINS_OF_TEST),
        asset_selection=[dg.AssetKey("validated_bars")],
        raise_on_error=False,
    )
    return result, tmp / "storage"


def quality(storage: Path, coin: str) -> dict:
    frame = ParquetIOManager(base_dir=str(storage)).read_partition(
        dg.AssetKey("validated_bars"), f"{DAY}|{coin}"
    )
    return frame.attrs["quality"]


def check(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    return next(e for e in result.get_asset_check_evaluations() if e.check_name == name)


def test_a_delisted_coin_is_named_and_the_others_validate(tmp_path: Path):
    market = MarketDataResource(sim_coins=5, sim_delisted={"XRP": "2025-11-20T00:00:00+00:00"})
    result, storage = validate_day_of_bars(tmp_path, market)
    assert result.success
    universe = ParquetIOManager(base_dir=str(storage)).read_partition(dg.AssetKey("coin_universe"), DAY)
    assert universe.set_index("coin").loc["XRP", "reason"] == "market status BREAK"
    xrp = quality(storage, "XRP")
    assert xrp["status"] == "delisted"
    assert (
        xrp["reason"] == "XRP market status BREAK at the end of 2025-11-20: delisted or halted, not trained"
    )
    assert quality(storage, "BTC")["status"] == "ok" and quality(storage, "BTC")["kept_bars"] == 24
    source = check(result, "validated_bars_source_quality")
    assert not source.passed and "XRP" in source.description and "BTC" not in source.description
    assert check(result, "validated_bars_day_usable").passed  # a delisted coin is not expected to trade


def test_a_coin_without_candles_is_missing_and_a_stale_feed_fails_the_step_with_ages(tmp_path: Path):
    exchange = SimulatedExchange(seed=7, n_coins=5)
    fast = {"binance_rate_limit_ms": 1, "binance_backoff_s": 0.001, "binance_max_retries": 1}
    with BinanceStandIn(exchange, now=datetime(2025, 11, 21, tzinfo=UTC)) as server:
        server.add_fault("empty", "/api/v3/klines", symbol="ETHUSDT", times=-1)
        market = MarketDataResource(source="binance", binance_base_url=server.url, **fast)
        result, storage = validate_day_of_bars(tmp_path / "one", market)
    assert result.success
    # no candle at all: the day is missing (a stale feed is one that stopped part-way, below)
    eth = quality(storage, "ETH")
    assert (
        eth["status"] == "missing" and eth["reason"] == "ETH 2025-11-20: no candles for the day (24 expected)"
    )
    assert {quality(storage, c)["status"] for c in ("BTC", "SOL", "XRP")} <= {"ok", "repaired"}
    assert check(result, "validated_bars_source_quality").description.endswith("ETH")

    # the feed stopped at noon while the clock went on (the day is closed): every coin is 12 h
    # stale, the step fails naming coins and ages (a clock at noon is refused earlier, by the
    # universe: test_universe_clock.py)
    with BinanceStandIn(
        exchange,
        now=datetime(2025, 11, 21, tzinfo=UTC),
        feed_stops_at=datetime(2025, 11, 20, 12, tzinfo=UTC),
    ) as server:
        market = MarketDataResource(source="binance", binance_base_url=server.url, **fast)
        result, _ = validate_day_of_bars(tmp_path / "all", market)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.event_specific_data.error.message
    assert "market data for 2025-11-20 is stale for 4 of 4 coins" in message
    assert "BTC 2025-11-20: newest candle is 12.0 h old" in message


def test_an_empty_universe_stops_with_a_clear_message_and_writes_no_export(tmp_path: Path):
    settings = small_settings(lookback_days=10, min_liquidity_gbp=1e15, simulator={"n_coins": 4})
    with pytest.raises(
        RunFailedError, match=r"check coin_universe_not_empty: no eligible coin on 2025-11-20$"
    ):
        materialise(tmp_path, settings, MarketDataResource(sim_coins=4))
    assert not (tmp_path / "exports").exists()
    instance = dg.DagsterInstance.local_temp(str(tmp_path / "dagster_home"))
    evaluations = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("coin_universe"), "coin_universe_not_empty"), limit=1
    )
    evaluation = evaluations[0].event.dagster_event.event_specific_data
    assert not evaluation.passed and evaluation.description.startswith("no eligible coin on")
