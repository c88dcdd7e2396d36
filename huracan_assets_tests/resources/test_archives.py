"""Binance public-data archives: real zip files in the published layout, built in a temp folder."""

import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from huracan_assets.cli import main
from huracan_assets.core.bars import RAW_COLUMNS, validate_day
from huracan_assets.core.klines import klines_to_frame, open_time_unit, parse_kline_csv
from huracan_assets.core.universe import gbp_rate, select_universe
from huracan_assets.market_sim import SimulatedExchange
from huracan_assets.market_sim.archives import write_archive, write_kline_archives
from huracan_assets.market_sim.binance_server import BinanceStandIn
from huracan_assets.resources.archives import (
    ArchiveMarketData,
    ArchiveStore,
    ArchiveWithApiMarketData,
    read_archive,
)
from huracan_assets.resources.binance_api import BinanceApiMarketData
from huracan_assets.resources.market_data import MarketDataResource

HOUR = timedelta(hours=1)


def utc(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


@pytest.fixture(scope="module")
def exchange() -> SimulatedExchange:
    return SimulatedExchange(seed=7, n_coins=4, faulty_fraction=0.0)


def test_open_time_unit_and_header_detection():
    assert open_time_unit([1735689600000]) == "ms"
    assert open_time_unit([1735689600000000]) == "us"
    row = "1735689600000000,1,2,0.5,1.5,10,1735693199999999,15,3,4,6,0"
    spot, header = parse_kline_csv(row + "\n", "v")
    assert not header and spot["open_time"].iloc[0] == pd.Timestamp("2025-01-01", tz="UTC")
    futures, header = parse_kline_csv(
        "open_time,open,high,low,close,volume,close_time,x,y,z,w,i\n" + row, "v"
    )
    assert header and len(futures) == 1 and futures["close"].iloc[0] == 1.5
    # numbers as strings parse; a value that is not a number keeps its column as delivered
    frame = klines_to_frame([[1735689600000, "1", "2", "0.5", "oops", "10", 0, "15", 3, "4", "6", "0"]], "v")
    assert frame["open"].dtype == np.float64 and frame["close"].dtype == object


def test_monthly_files_in_both_time_units_import_into_one_continuous_history(tmp_path, exchange):
    paths = write_kline_archives(exchange, tmp_path / "src", ["BTC"], date(2024, 12, 30), date(2025, 1, 2))
    names = sorted(p.name for p in paths)
    assert names == [
        "BTCUSDT-1h-2024-12.zip",
        "BTCUSDT-1h-2025-01.zip",
        "GBPUSDT-1h-2024-12.zip",
        "GBPUSDT-1h-2025-01.zip",
    ]
    store = ArchiveStore(tmp_path / "store")
    report = store.import_folder(tmp_path / "src")
    units = {Path(f.file).name: f.time_unit for f in report.files}
    assert units["BTCUSDT-1h-2024-12.zip"] == "ms" and units["BTCUSDT-1h-2025-01.zip"] == "us"
    assert all(f.checksum == "verified" for f in report.files) and not report.rejected
    bars = store.bars("BTCUSDT", "1h", utc(date(2024, 12, 30)), utc(date(2025, 1, 3)))
    truth = exchange.ohlcv("BTC", utc(date(2024, 12, 30)), utc(date(2025, 1, 3)))
    assert len(bars) == 96 and list(bars.columns) == RAW_COLUMNS
    assert (bars["open_time"].to_numpy() == truth["open_time"].to_numpy()).all()
    np.testing.assert_allclose(bars["close"], truth["close"], rtol=1e-9)
    assert set(bars["vendor"]) == {"binance-archive"}
    # re-importing the same files changes nothing
    store.import_folder(tmp_path / "src")
    assert len(store.frame("BTCUSDT", "1h")) == 96


def test_bad_checksum_truncated_zip_and_missing_day_each_get_their_verdict(tmp_path, exchange):
    src = tmp_path / "src"
    good = write_kline_archives(
        exchange, src, ["ETH"], date(2025, 3, 1), date(2025, 3, 3), cadence="daily", include_gbp=False
    )
    holey = write_kline_archives(
        exchange,
        src,
        ["SOL"],
        date(2025, 3, 1),
        date(2025, 3, 31),
        include_gbp=False,
        skip_days={"SOL": [date(2025, 3, 15)]},
    )[0]
    bad_sum = write_kline_archives(
        exchange, src, ["BNB"], date(2025, 3, 1), date(2025, 3, 1), cadence="daily", include_gbp=False
    )[0]
    bad_sum.with_name(bad_sum.name + ".CHECKSUM").write_text(f"{'0' * 64}  {bad_sum.name}\n")
    truncated = good[1]
    truncated.write_bytes(truncated.read_bytes()[:60])
    truncated.with_name(truncated.name + ".CHECKSUM").unlink()

    store = ArchiveStore(tmp_path / "store")
    report = {Path(f.file).name: f for f in store.import_folder(src).files}
    assert report[bad_sum.name].status == "rejected" and "checksum mismatch" in report[bad_sum.name].reason
    assert (
        report[truncated.name].status == "rejected"
        and "truncated or corrupt zip" in report[truncated.name].reason
    )
    assert report[holey.name].status == "imported" and report[holey.name].missing_days == ["2025-03-15"]
    assert report[good[0].name].status == report[good[2].name].status == "imported"
    # nothing of a rejected file is written; the good days of ETH are
    assert store.symbols("1h") == ["ETHUSDT", "SOLUSDT"]
    assert store.covered_days("ETHUSDT", "1h") == {date(2025, 3, 1), date(2025, 3, 3)}
    assert date(2025, 3, 15) not in store.covered_days("SOLUSDT", "1h")
    # the missing day is reported by validation with the reason, not silently filled
    market = ArchiveMarketData(store)
    _, quality = validate_day(
        market.ohlcv("SOL", utc(date(2025, 3, 15)), utc(date(2025, 3, 16))),
        coin="SOL",
        day=date(2025, 3, 15),
        bar=HOUR,
        max_repair_bars=3,
        outlier_z=8,
    )
    # a day with no candle at all is missing (not a gap to repair, not a stale feed)
    assert quality.status == "missing" and "no candles for the day (24 expected)" in quality.reason


def test_a_futures_file_has_a_header_and_is_kept_apart_from_spot(tmp_path, exchange):
    bars = exchange.ohlcv("BTC", utc(date(2024, 9, 1)), utc(date(2024, 9, 2)))
    path = write_archive(
        tmp_path / "src", "BTCUSDT", "1h", bars, HOUR, "2024-09-01", cadence="daily", market="futures"
    )
    frame, report = read_archive(path)
    assert report.status == "imported" and report.header and report.market == "futures"
    assert report.time_unit == "ms" and len(frame) == 24
    with zipfile.ZipFile(path) as archive:
        assert archive.read(archive.namelist()[0]).decode().startswith("open_time,open,high")
    store = ArchiveStore(tmp_path / "store")
    store.import_folder(tmp_path / "src")
    assert store.symbols("1h") == [] and store.symbols("1h", market="futures") == ["BTCUSDT"]


def test_archives_have_no_tickers_so_the_universe_estimates_from_candles_and_says_so(tmp_path, exchange):
    write_kline_archives(exchange, tmp_path / "src", ["BTC", "ETH"], date(2025, 5, 1), date(2025, 5, 10))
    store = ArchiveStore(tmp_path / "store")
    store.import_folder(tmp_path / "src")
    market = MarketDataResource(source="archives", archive_dir=str(tmp_path / "store")).client()
    as_of = utc(date(2025, 5, 10))
    tickers = market.tickers(as_of)
    rate, source = gbp_rate(tickers, fallback=9.9)
    assert source == "exchange:GBP/USDT last" and rate == pytest.approx(exchange.gbp_rate(as_of), rel=1e-3)
    universe = select_universe(
        market.markets(as_of),
        tickers,
        usdt_per_gbp=rate,
        gbp_rate_source=source,
        min_liquidity_gbp=1e6,
        max_spread_bps=200,
    ).set_index("coin")
    truth = exchange.ohlcv("ETH", as_of - timedelta(days=1), as_of)["quote_volume"].sum()
    assert universe.loc["ETH", "quote_volume_usdt"] == pytest.approx(truth, rel=1e-9)
    assert set(universe["spread_source"]) == {"edge:1h"}  # no 1-minute archives imported
    assert set(universe["volume_source"]) == {"bars:24h sum"}
    assert universe.loc["BTC", "listed_at"] == pd.Timestamp("2025-05-01", tz="UTC")


def test_one_minute_archives_measure_the_spread_where_they_cover_the_day(tmp_path, exchange):
    write_kline_archives(exchange, tmp_path / "src", ["BTC", "ETH"], date(2025, 5, 1), date(2025, 5, 10))
    # 1-minute archives for the last day only (as daily files): the earlier days keep the hourly estimate
    write_kline_archives(
        exchange, tmp_path / "src", ["BTC", "ETH"], date(2025, 5, 10), date(2025, 5, 10), interval="1m"
    )
    store = ArchiveStore(tmp_path / "store")
    assert not store.import_folder(tmp_path / "src").rejected
    assert store.symbols("1m") == ["BTCUSDT", "ETHUSDT"]
    market = MarketDataResource(source="archives", archive_dir=str(tmp_path / "store")).client()
    covered = market.tickers(utc(date(2025, 5, 11))).set_index("symbol")
    earlier = market.tickers(utc(date(2025, 5, 8))).set_index("symbol")
    for coin in ("BTC", "ETH"):
        truth = exchange.true_spread_bps(coin, date(2025, 5, 10))
        assert covered.loc[f"{coin}/USDT", "estimate_source"] == "edge:1m"
        assert truth / 2 < covered.loc[f"{coin}/USDT", "estimated_spread_bps"] < truth * 2
        assert earlier.loc[f"{coin}/USDT", "estimate_source"] == "edge:1h"
    # volumes still come from the base timeframe
    truth = exchange.ohlcv("ETH", utc(date(2025, 5, 10)), utc(date(2025, 5, 11)))["quote_volume"].sum()
    assert covered.loc["ETH/USDT", "quote_volume"] == pytest.approx(truth, rel=1e-9)


def test_backfills_use_archives_where_they_cover_and_the_api_for_the_rest(tmp_path):
    exchange = SimulatedExchange(seed=7, n_coins=4, faulty_fraction=0.0)
    write_kline_archives(
        exchange,
        tmp_path / "src",
        ["BTC"],
        date(2025, 10, 1),
        date(2025, 10, 31),
        include_gbp=False,
        skip_days={"BTC": [date(2025, 10, 20)]},
    )
    store = ArchiveStore(tmp_path / "store")
    store.import_folder(tmp_path / "src")
    with BinanceStandIn(exchange, now=datetime(2025, 11, 21, tzinfo=UTC)) as server:
        api = BinanceApiMarketData(base_url=server.url, rate_limit_ms=1)
        market = ArchiveWithApiMarketData(ArchiveMarketData(store), api, cross_check=True)
        start, end = utc(date(2025, 9, 28)), utc(date(2025, 11, 3))
        bars = market.ohlcv("BTC", start, end)
        assert market.api_calls == [
            ("BTC", "2025-09-28T00:00:00+00:00", "2025-10-01T00:00:00+00:00"),
            ("BTC", "2025-10-20T00:00:00+00:00", "2025-10-21T00:00:00+00:00"),
            ("BTC", "2025-11-01T00:00:00+00:00", "2025-11-03T00:00:00+00:00"),
        ]
        truth = exchange.ohlcv("BTC", start, end)
        assert (bars["open_time"].to_numpy() == truth["open_time"].to_numpy()).all()
        vendor = bars.set_index("open_time")["vendor"]
        assert vendor[pd.Timestamp("2025-10-05 10:00", tz="UTC")] == "binance-archive"
        assert vendor[pd.Timestamp("2025-10-20 10:00", tz="UTC")] == "binance-api"
        assert vendor[pd.Timestamp("2025-11-02 10:00", tz="UTC")] == "binance-api"
        # cross-check on an archive day: the API audits the archive bar by bar
        day = date(2025, 10, 5)
        audit = market.ohlcv("BTC", utc(day), utc(day) + timedelta(days=1), vendor=market.secondary_vendor)
        audit.loc[7, "close"] *= 1.004  # 40 bps off
        audit.loc[7, "high"] = max(audit.loc[7, "high"], audit.loc[7, "close"])
        _, quality = validate_day(
            market.ohlcv("BTC", utc(day), utc(day) + timedelta(days=1)),
            coin="BTC",
            day=day,
            bar=HOUR,
            max_repair_bars=3,
            outlier_z=8,
            secondary=audit,
            mismatch_bps=25,
        )
        assert quality.vendor == "binance-archive" and quality.vendor_compared == 24
        assert quality.vendor_mismatches == 1 and quality.mismatch_times[0].startswith("2025-10-05T07:00Z")


def test_import_archives_command_reports_and_fails_on_a_rejected_file(tmp_path, exchange, capsys):
    paths = write_kline_archives(
        exchange,
        tmp_path / "src",
        ["BTC"],
        date(2025, 2, 1),
        date(2025, 2, 2),
        cadence="daily",
        include_gbp=False,
    )
    paths[0].with_name(paths[0].name + ".CHECKSUM").write_text("deadbeef  x.zip\n")
    code = main(["import-archives", str(tmp_path / "src"), "--archive-dir", str(tmp_path / "store")])
    out = capsys.readouterr().out
    assert code == 1
    assert "status=rejected" in out and "checksum mismatch" in out and "imported 1 file(s), rejected 1" in out
    assert (tmp_path / "store" / "spot" / "1h" / "BTCUSDT.parquet").exists()
    assert (tmp_path / "store" / "imports.jsonl").read_text().count("\n") == 1


def test_import_archives_reports_intra_day_holes_per_coin_and_day(tmp_path, exchange):
    import subprocess

    from huracan_assets.automation.local_daemon import BIN, REPO

    start = datetime(2025, 2, 1, tzinfo=UTC)
    bars = exchange.ohlcv("ETH", start, start + timedelta(days=2))
    bars = bars.sort_values("open_time").drop_duplicates("open_time", keep="last")
    # three candles lost on the second day: 05:00, 06:00 and 07:00 (a hole, not a missing day)
    hole = pd.date_range("2025-02-02T05:00Z", periods=3, freq="1h")
    cut = bars[~bars["open_time"].isin(hole)]
    write_archive(tmp_path / "src", "ETHUSDT", "1h", cut, exchange.bar, "2025-02")
    done = subprocess.run(
        [
            str(BIN / "huracan"),
            "import-archives",
            str(tmp_path / "src"),
            "--archive-dir",
            str(tmp_path / "s"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("event=archive_hole")]
    assert lines == [
        "event=archive_hole file=ETHUSDT-1h-2025-02.zip symbol=ETHUSDT day=2025-02-02 "
        f"missing={len(hole)} expected=24 longest={len(hole)} first_missing={hole[0]:%H:%M}"
    ]
    assert "1 coin-day(s) with intra-day holes" in done.stdout


def test_a_day_the_archives_lack_names_the_file_expected_and_a_date_past_them_names_their_clock(
    tmp_path, exchange
):
    import subprocess

    from huracan_assets.automation.local_daemon import BIN, REPO, environment
    from huracan_assets.config import load_settings
    from huracan_assets.steps.bars import CoinTask, validate_coin

    write_kline_archives(
        exchange,
        tmp_path / "src",
        ["BTC", "SOL"],
        date(2025, 3, 1),
        date(2025, 3, 20),
        skip_days={"SOL": [date(2025, 3, 15)]},
    )
    store = tmp_path / "store"
    env = environment(tmp_path / "home")
    imported = subprocess.run(
        [str(BIN / "huracan"), "import-archives", str(tmp_path / "src"), "--archive-dir", str(store)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr

    # the day SOL's monthly file lacks: missing, with the file it should have come from
    market = ArchiveMarketData(ArchiveStore(store))
    day = date(2025, 3, 15)
    task = CoinTask("SOL", [(f"{day}|SOL", day, None, True, "TRADING")], market, load_settings())
    _, quality = validate_coin(task)[f"{day}|SOL"]
    assert quality.status == "missing"
    assert quality.reason == (
        "SOL 2025-03-15: no candles for the day (24 expected); the archives have no candle of 2025-03-15: "
        f"expected in SOLUSDT-1h-2025-03.zip (monthly) or SOLUSDT-1h-2025-03-15.zip (daily), imported "
        f"into {store} with huracan import-archives"
    )

    # a day the archives have: its decisions pay the EDGE estimate on the day's own candles
    day = date(2025, 3, 14)
    task = CoinTask("SOL", [(f"{day}|SOL", day, None, True, "TRADING")], market, load_settings())
    frame, quality = validate_coin(task)[f"{day}|SOL"]
    assert quality.spread_source == "edge:1h" and quality.spread_bps > 0
    assert (frame["spread_bps"] == quality.spread_bps).all()

    # a day after the archives end: refused before any run, naming the archives' clock, one line
    done = subprocess.run(
        [
            str(BIN / "huracan"),
            "daily",
            "--source",
            "archives",
            "--archive-dir",
            str(store),
            "--date",
            "2025-03-21",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip() == (
        f"huracan: --date 2025-03-21 is past the market's clock: the archives in {store} end with a "
        "candle closing at 2025-03-21T00:00:00+00:00 (the archives' clock; latest whole day: 2025-03-20)"
    )
