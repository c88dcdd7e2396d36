"""A day the exchange's clock has not closed, launched as a run (the UI, the daemon), fails in one
line naming the clock, not as "no eligible coin" (issue 11, item 4). The real ccxt client against
the Binance stand-in, whose clock runs behind the code location's."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from huracan_assets.automation.instance import INSTANCE_OVERRIDES
from huracan_assets.definitions import build_definitions
from huracan_assets.market_sim import SimulatedExchange
from huracan_assets.market_sim.binance_server import BinanceStandIn
from huracan_assets.resources.archives import ArchiveMarketData, ArchiveStore
from huracan_assets.resources.market_data import MarketDataResource, market_clock
from huracan_assets_tests.conftest import small_settings


def test_a_universe_day_past_the_exchanges_clock_fails_naming_the_clock(tmp_path: Path):
    exchange = SimulatedExchange(seed=7, n_coins=3)
    # the code location's clock has closed 2025-11-20; the exchange is only half-way through it
    settings = small_settings(clock="2025-11-21T00:00:00Z", simulator={"n_coins": 3})
    with BinanceStandIn(exchange, now=datetime(2025, 11, 20, 12, tzinfo=UTC)) as server:
        defs = build_definitions(
            settings,
            market_data=MarketDataResource(
                source="binance", binance_base_url=server.url, binance_rate_limit_ms=1
            ),
            storage_dir=str(tmp_path / "storage"),
        )
        (tmp_path / "home").mkdir()
        instance = dg.DagsterInstance.local_temp(str(tmp_path / "home"), overrides=INSTANCE_OVERRIDES)
        job = defs.resolve_job_def("universe_job")
        result = job.execute_in_process(instance=instance, partition_key="2025-11-20", raise_on_error=False)
        assert not result.success
        (failure,) = [e for e in result.all_events if e.is_step_failure]
        message = failure.step_failure_data.error.message.strip()
        assert "\n" not in message, message
        assert "coin_universe[2025-11-20]: the market has no whole day of data for 2025-11-20 yet" in message
        assert f"the exchange's clock ({server.url}/api/v3/time) says 2025-11-20T12:00:00+00:00" in message
        assert "latest closed day: 2025-11-19" in message and "eligible" not in message
        assert not [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]  # no retry

        assert job.execute_in_process(
            instance=instance, partition_key="2025-11-19"
        ).success  # a closed day runs


def test_the_archives_clock_is_their_newest_candle(tmp_path: Path):
    store = ArchiveStore(tmp_path / "archives")
    now, clock = market_clock(ArchiveMarketData(store))
    assert now is None and str(store.root) in clock
    assert market_clock(MarketDataResource(source="sim").client()) is None  # the simulator: HURACAN_CLOCK
