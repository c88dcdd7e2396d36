"""The integrity report and the ``huracan daily`` summary over the look-back window the day's
models trained on, run as a user runs them: ``huracan daily`` on a small simulated instance."""

import json
import math
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pandas as pd
import pytest

from huracan_assets.checks.loading import read_stored_attrs
from huracan_assets.config import load_settings
from huracan_assets.core.costs import FundingHistory
from huracan_assets.market_sim import SimulatedExchange
from huracan_assets.market_sim.binance_server import BinanceStandIn
from huracan_assets.partitions import build_partitions
from huracan_assets.resources.storage import ParquetIOManager
from huracan_assets_tests.commands import SMALL, huracan_daily

COINS = "4"
LOOK_BACK_DAY, DAY = "2025-11-19", "2025-11-20"


@pytest.fixture(scope="module")
def two_days(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Day 1 on a market where no coin is liquid enough (its run fails: the run day blocks),
    then day 2 on the same instance with the usual rules: day 1 is a look-back day of day 2."""
    root = tmp_path_factory.mktemp("window")
    empty, _ = huracan_daily(root, LOOK_BACK_DAY, SIMULATOR__N_COINS=COINS, MIN_LIQUIDITY_GBP="1e15")
    done, storage = huracan_daily(root, DAY, fresh=False, SIMULATOR__N_COINS=COINS)
    return {"empty": empty, "done": done, "storage": storage, "exports": root / "exports"}


def test_an_empty_run_day_blocks_with_the_day_named(two_days: dict):
    empty = two_days["empty"]
    assert empty.returncode == 1, empty.stdout[-2000:] + empty.stderr[-2000:]
    assert "no eligible coin" in empty.stderr and LOOK_BACK_DAY in empty.stderr


def test_an_empty_look_back_day_is_reported_not_blocking(two_days: dict):
    done = two_days["done"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"look-back days without an eligible coin (not blocking): 1 ({LOOK_BACK_DAY})" in done.stdout
    stored = json.loads(
        (two_days["storage"] / "data_integrity_report" / f"date={DAY}" / "data.json").read_text()
    )
    assert stored["look_back_universe"]["days_without_eligible"] == [LOOK_BACK_DAY]
    assert stored["totals"]["look_back_days_without_eligible"] == 1
    exported = json.loads((two_days["exports"] / DAY / "reports" / "data_integrity.json").read_text())
    assert exported["look_back_universe"]["days_without_eligible"] == [LOOK_BACK_DAY]


MISSING_COIN, MISSING_DAY = "BTC", "2025-11-15"  # a look-back day of DAY with no candle for BTC


@pytest.fixture(scope="module")
def through_the_api(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``huracan daily`` through ccxt against the Binance stand-in, which lost BTC's candles of
    one look-back day; the stand-in counts every request it answers. Its clock is six hours past
    the day, so the day has no live ticker: the universe reads candles (hourly and 1-minute)."""
    root = tmp_path_factory.mktemp("api")
    exchange = SimulatedExchange(seed=7, n_coins=4)
    with BinanceStandIn(
        exchange, now=datetime(2025, 11, 21, 6, tzinfo=UTC), missing_days={MISSING_COIN: [MISSING_DAY]}
    ) as server:
        done, storage = huracan_daily(
            root, DAY, MARKET_DATA__SOURCE="binance", MARKET_DATA__BINANCE_BASE_URL=server.url
        )
        requests = list(server.requests)
    report = json.loads((storage / "data_integrity_report" / f"date={DAY}" / "data.json").read_text())
    return {
        "done": done,
        "storage": storage,
        "report": report,
        "requests": requests,
        "exports": root / "exports",
    }


def _window(lookback_days: int) -> list[str]:
    first = date.fromisoformat(DAY) - timedelta(days=lookback_days)
    return [(first + timedelta(days=i)).isoformat() for i in range(lookback_days + 1)]


def test_the_totals_cover_every_coin_day_the_models_trained_on(through_the_api: dict):
    done, report = through_the_api["done"], through_the_api["report"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    days = _window(int(SMALL["LOOKBACK_DAYS"]))
    assert report["window"] == [days[0], days[-1]] and report["history"]["days"] == days
    # recounted from each stored coin-day's quality record (its Parquet footer)
    store = ParquetIOManager(base_dir=str(through_the_api["storage"]))
    coins = sorted(row["coin"] for row in report["coins"])
    recount = {"coin_days": 0, "missing": 0, "gaps_repaired": 0, "vendor_mismatches": 0, "outliers": 0}
    for day in days:
        for coin in coins:
            quality = read_stored_attrs(store, dg.AssetKey("validated_bars"), f"{day}|{coin}").get(
                "quality"
            ) or {"status": "ok"}
            if quality["status"] == "not_listed":
                continue
            recount["coin_days"] += 1
            recount["missing"] += quality["status"] == "missing"
            for name in ("gaps_repaired", "vendor_mismatches", "outliers"):
                recount[name] += int(quality.get(name) or 0)
    totals = report["totals"]
    assert {k: totals[k] for k in recount} == recount
    assert totals["missing"] == 1 and report["day_totals"]["missing"] == 0
    assert totals["coin_days"] > report["day_totals"]["coins"]
    # the CLI summary says the same, the window first, then the day
    line = next(x for x in done.stdout.splitlines() if x.strip().startswith("data integrity"))
    assert f"{days[0]}..{days[-1]}, {recount['coin_days']} coin-days of {len(coins)} coins" in line
    assert f"{recount['gaps_repaired']} gap bars filled" in line and "1 missing" in line
    day_line = next(x for x in done.stdout.splitlines() if x.strip().startswith("the day itself"))
    assert "0 missing" in day_line


def test_a_day_without_candles_is_missing_not_stale(through_the_api: dict):
    report = through_the_api["report"]
    problem = next(
        p for p in report["history"]["problems"] if p["coin"] == MISSING_COIN and p["day"] == MISSING_DAY
    )
    assert problem["status"] == "missing"
    assert problem["reason"].startswith(f"{MISSING_COIN} {MISSING_DAY}: no candles for the day")
    assert not [p for p in report["history"]["problems"] if p["status"] == "stale"]


def test_a_first_run_reads_the_clock_once_and_klines_by_the_thousand(through_the_api: dict):
    requests = through_the_api["requests"]
    assert through_the_api["done"].returncode == 0
    paths = Counter(path for path, _ in requests)
    assert paths["/api/v3/time"] == 1
    klines = Counter(
        (params["symbol"], params["interval"]) for path, params in requests if path == "/api/v3/klines"
    )
    settings = load_settings(lookback_days=int(SMALL["LOOKBACK_DAYS"]))
    days = build_partitions(settings).history_windows(date.fromisoformat(DAY))["validated_bars"]
    hours, minutes = 24 * (len(days) + 1), 24 * 60  # the history and the day; the day's 1m candles
    coins = sorted({row["coin"] for row in through_the_api["report"]["coins"]})
    for coin in coins:
        # one request per 1,000 candles: the universe's hourly page, the history and the day's run
        # share what the command fetched; the universe's 1-minute day is 1,440 candles: two pages
        hourly = klines[(f"{coin}USDT", "1h")]
        assert hourly <= math.ceil(hours / 1000), (coin, hourly)
        assert klines[(f"{coin}USDT", "1m")] == math.ceil(minutes / 1000)
    per_coin = math.ceil(hours / 1000) + math.ceil(minutes / 1000)
    assert sum(klines.values()) <= len(coins) * per_coin + 1  # + GBP/USDT's hourly page


def test_the_export_says_which_gbp_rate_was_used(through_the_api: dict):
    universe = ParquetIOManager(base_dir=str(through_the_api["storage"])).read_partition(
        dg.AssetKey("coin_universe"), DAY
    )
    assert set(universe["gbp_rate_source"]) == {"exchange:GBP/USDT last"}  # the stand-in lists GBPUSDT
    used = {"usdt_per_gbp": float(universe["usdt_per_gbp"].iloc[0]), "source": "exchange:GBP/USDT last"}
    reports = through_the_api["exports"] / DAY / "reports"
    assert json.loads((reports / "costs.json").read_text())["gbp_rate"] == used
    assert json.loads((reports / "summary.json").read_text())["gbp_rate"] == used


def test_perpetuals_pay_the_funding_of_their_own_history_and_spot_none(
    tmp_path_factory: pytest.TempPathFactory, through_the_api: dict
):
    """The same market on Binance USD-M: the universe keeps each coin's 8 h settlements over the
    look-back as the stand-in serves them, and every score's funding is what its positions paid
    at the settlements they spanned (signed: a long pays the rate, a short receives it)."""
    root = tmp_path_factory.mktemp("perps")
    exchange = SimulatedExchange(seed=7, n_coins=4)
    with BinanceStandIn(exchange, now=datetime(2025, 11, 21, 6, tzinfo=UTC)) as server:
        done, storage = huracan_daily(
            root,
            DAY,
            VENUE="binance_usdm",
            MARKET_DATA__SOURCE="binance",
            MARKET_DATA__BINANCE_BASE_URL=server.url,
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lookback = int(SMALL["LOOKBACK_DAYS"])
    end = datetime(2025, 11, 21, tzinfo=UTC)
    universe = ParquetIOManager(base_dir=str(storage)).read_partition(dg.AssetKey("coin_universe"), DAY)
    eligible = universe[universe["eligible"]].set_index("coin")
    assert len(eligible)
    largest = {}
    for coin, row in eligible.iterrows():
        served = exchange.funding_rates(coin, end - timedelta(days=lookback), end)
        rates = served["funding_rate"]
        assert row["funding_bps_per_day"] == pytest.approx(rates.abs().sum() * 1e4 / lookback)
        assert row["funding_source"] == f"history:{len(rates)} settlements"
        stored = FundingHistory.from_json(row["funding_settlements"])
        # as served: Binance (and the stand-in) quote rates with 8 decimals
        assert stored.rates == pytest.approx(rates.to_numpy(), abs=1e-8)
        served_times = pd.to_datetime(served["funding_time"], utc=True).dt.tz_localize(None).to_numpy()
        assert (stored.times == served_times.astype("datetime64[ns]")).all()
        largest[coin] = float(rates.abs().max()) * 1e4
    settings = load_settings(lookback_days=lookback)
    costs = json.loads((root / "exports" / DAY / "reports" / "costs.json").read_text())["rows"]
    assert costs
    for cost in costs:
        hours = settings.horizon_bars[cost["horizon"]] * settings.bar / timedelta(hours=1)
        # a position of h hours spans at most floor(h / 8) + 1 settlements
        assert abs(cost["funding_bps"]) <= (hours // 8 + 1) * largest[cost["coin"]] + 1e-9
    assert any(c["funding_bps"] != 0 for c in costs if c["horizon"] == "1d")
    # the spot run of the same market pays none
    spot = json.loads((through_the_api["exports"] / DAY / "reports" / "costs.json").read_text())["rows"]
    assert spot and all(c["funding_bps"] == 0 for c in spot)
