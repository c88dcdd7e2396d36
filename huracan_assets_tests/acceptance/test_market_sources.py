"""The whole graph on real data paths: ccxt against the local Binance stand-in, and imported archives."""

import json
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest

from huracan_assets.market_sim import SimulatedExchange
from huracan_assets.market_sim.archives import write_kline_archives
from huracan_assets.market_sim.binance_server import BinanceStandIn
from huracan_assets.resources.archives import ArchiveStore
from huracan_assets.resources.market_data import MarketDataResource
from huracan_assets.resources.storage import ParquetIOManager
from huracan_assets_tests.acceptance.test_daily_run import DAY, materialise
from huracan_assets_tests.conftest import small_settings

pytestmark = pytest.mark.acceptance


def test_the_graph_runs_through_ccxt_and_a_coin_whose_feed_keeps_failing_is_quarantined(tmp_path: Path):
    exchange = SimulatedExchange(seed=7, n_coins=4)
    settings = small_settings(lookback_days=10, simulator={"n_coins": 4})
    with BinanceStandIn(exchange, now=datetime(2025, 11, 21, tzinfo=UTC)) as server:
        server.add_fault("5xx", "/api/v3/klines", symbol="SOLUSDT", times=-1, status=503)
        market = MarketDataResource(
            source="binance",
            binance_base_url=server.url,
            binance_rate_limit_ms=1,
            binance_backoff_s=0.001,
            binance_max_retries=1,
        )
        run = materialise(tmp_path, settings, market)
        # the daily run builds only the day's universe; an earlier day, built now, has no live ticker
        assert (
            run.defs.resolve_job_def("universe_job")
            .execute_in_process(instance=run.instance, partition_key="2025-11-15")
            .success
        )

    integrity = {r["coin"]: r for r in run.result.integrity["coins"]}
    assert integrity["BTC"]["vendor"] == "binance-api" and integrity["BTC"]["status"] in ("ok", "repaired")
    assert integrity["SOL"]["status"] == "quarantined"
    reason = integrity["SOL"]["reason"]
    assert "SOL/USDT" in reason and "2025-11-20T00:00Z..2025-11-21T00:00Z" in reason and "503" in reason
    champions = run.result.champions
    assert {"BTC", "ETH"} <= set(champions["trained_coins"]) and "SOL" not in champions["trained_coins"]
    assert "SOL" in champions["no_champion"]

    universe = ParquetIOManager(base_dir=str(run.storage)).read_partition(dg.AssetKey("coin_universe"), DAY)
    rows = universe.set_index("coin")
    assert rows.loc["BTC", "spread_source"] == "quote"  # the stand-in's clock is the end of the day
    assert rows.loc["BTC", "gbp_rate_source"] == "exchange:GBP/USDT last"
    earlier = ParquetIOManager(base_dir=str(run.storage)).read_partition(
        dg.AssetKey("coin_universe"), "2025-11-15"
    )
    # five days before the stand-in's clock: older than fine_spread_days, so hourly candles
    assert set(earlier.loc[earlier["coin"] == "BTC", "spread_source"]) == {"edge:1h"}

    report = json.loads((run.export_root / DAY / "reports" / "data_integrity.json").read_text())
    history = report["history"]
    # the window the day's models trained on: D-lookback_days..D
    assert len(history["days"]) == settings.lookback_days + 1 and history["days"][-1] == DAY
    sol = history["levels"][history["coins"].index("SOL")]
    assert all(level == 3 for level in sol)  # unusable on every day of the look-back
    assert (run.export_root / DAY / "reports" / "data_integrity_heatmap.png").read_bytes()[:4] == b"\x89PNG"
    event = run.instance.get_latest_materialization_event(dg.AssetKey("data_integrity_report"))
    heatmap = event.asset_materialization.metadata["heatmap"].value
    sol_row = next(line for line in heatmap.splitlines() if line.startswith("| SOL |"))
    assert sol_row == "| SOL | " + "\U0001f7e5" * (settings.lookback_days + 1) + " |"


def test_the_graph_runs_from_imported_archives_with_volume_and_spread_from_candles(tmp_path: Path):
    exchange = SimulatedExchange(seed=7, n_coins=4)
    write_kline_archives(
        exchange, tmp_path / "src", ["BTC", "ETH", "BNB"], date(2025, 10, 20), date(2025, 11, 20)
    )
    store = ArchiveStore(tmp_path / "store")
    assert not store.import_folder(tmp_path / "src").rejected
    settings = small_settings(lookback_days=10, max_spread_bps=60.0, simulator={"n_coins": 4})
    market = MarketDataResource(source="archives", archive_dir=str(store.root))
    run = materialise(tmp_path, settings, market)

    universe = ParquetIOManager(base_dir=str(run.storage)).read_partition(dg.AssetKey("coin_universe"), DAY)
    assert set(universe["coin"]) == {"BTC", "ETH", "BNB"}
    assert set(universe["spread_source"]) == {"edge:1h"}  # no 1-minute archives imported
    assert set(universe["volume_source"]) == {"bars:24h sum"}
    assert set(universe["gbp_rate_source"]) == {"exchange:GBP/USDT last"}
    integrity = {r["coin"]: r for r in run.result.integrity["coins"]}
    assert integrity["BTC"]["vendor"] == "binance-archive"
    assert set(run.result.champions["trained_coins"]) == set(universe.loc[universe["eligible"], "coin"])
