"""The coin universe: GBP conversion, eligibility reasons with numbers, caps and spread sources."""

import numpy as np
import pandas as pd
import pytest

from huracan_assets.core.universe import UNIVERSE_COLUMNS, gbp_rate, select_universe
from huracan_assets.market_sim import SimulatedExchange
from huracan_assets_tests.conftest import utc

RATE = 1.25
MIN_GBP = 2_000_000.0
MAX_SPREAD = 25.0


def market(base: str, status: str = "TRADING", quote: str = "USDT") -> dict:
    return {"symbol": f"{base}/{quote}", "base": base, "quote": quote, "status": status}


def ticker(base: str, volume_usdt: float, spread_bps: float | None = 2.0, last: float = 10.0) -> dict:
    if spread_bps is None:
        bid = ask = np.nan
    else:
        half = last * spread_bps / 2e4
        bid, ask = last - half, last + half
    return {"symbol": f"{base}/USDT", "quote_volume": volume_usdt, "bid": bid, "ask": ask, "last": last}


def universe(markets: list[dict], tickers: list[dict], **kw) -> pd.DataFrame:
    params = {
        "usdt_per_gbp": RATE,
        "gbp_rate_source": "test",
        "min_liquidity_gbp": MIN_GBP,
        "max_spread_bps": MAX_SPREAD,
    } | kw
    return select_universe(pd.DataFrame(markets), pd.DataFrame(tickers), **params).set_index("coin")


def test_quote_volume_converted_to_gbp():
    u = universe([market("BTC"), market("ETH")], [ticker("BTC", 5e9), ticker("ETH", 1e9)])
    assert u.loc["BTC", "quote_volume_gbp"] == pytest.approx(5e9 / RATE)
    assert u.loc["ETH", "quote_volume_gbp"] == pytest.approx(1e9 / RATE)
    assert (u["usdt_per_gbp"] == RATE).all() and (u["gbp_rate_source"] == "test").all()
    assert u["eligible"].all() and (u["reason"] == "eligible").all()
    assert list(u.reset_index().columns) == UNIVERSE_COLUMNS


def test_liquidity_threshold_is_in_gbp_not_usdt():
    # 2.4m USDT is above 2m in USDT but 1.92m GBP is below the GBP minimum
    u = universe([market("THIN")], [ticker("THIN", 2.4e6)])
    assert not u.loc["THIN", "eligible"]
    assert u.loc["THIN", "reason"] == "liquidity 1,920,000 GBP < min_liquidity_gbp 2,000,000 GBP"
    # just above the minimum once converted
    u = universe([market("OK")], [ticker("OK", 2.5e6 + 1)])
    assert u.loc["OK", "eligible"]


def test_wide_spread_is_excluded_with_the_number():
    u = universe([market("WIDE"), market("TIGHT")], [ticker("WIDE", 1e8, 40.0), ticker("TIGHT", 1e8, 25.0)])
    assert not u.loc["WIDE", "eligible"]
    assert u.loc["WIDE", "reason"] == "spread 40.0 bps > max_spread_bps 25"
    assert u.loc["WIDE", "spread_bps"] == pytest.approx(40.0)
    assert u.loc["WIDE", "spread_source"] == "quote"
    assert u.loc["TIGHT", "eligible"]  # the cap is inclusive


def test_stablecoins_fiat_and_leveraged_tokens_are_excluded():
    underlying = ["BTC", "ETH", "XRP", "EOS"]
    bases = ["USDC", "FDUSD", "EUR", "TRY", "BTCUP", "ETHDOWN", "XRPBULL", "EOSBEAR", *underlying]
    u = universe([market(b) for b in bases], [ticker(b, 1e9) for b in bases])
    for b in ("USDC", "FDUSD", "EUR", "TRY"):
        assert u.loc[b, "reason"] == "stablecoin or fiat base", b
    for b in ("BTCUP", "ETHDOWN", "XRPBULL", "EOSBEAR"):
        assert u.loc[b, "reason"] == "leveraged token", b
    assert sorted(u.index[u["eligible"]]) == sorted(underlying)


def test_ordinary_coin_ending_in_up_is_not_a_leveraged_token():
    """JUP and SYRUP end in UP but are no suffix on a listed base: they are ordinary, liquid coins."""
    bases = ["JUP", "SYRUP", "BTC", "BTCUP"]
    u = universe([market(b) for b in bases], [ticker(b, 1e9) for b in bases])
    assert u.loc["JUP", "eligible"], u.loc["JUP", "reason"]
    assert u.loc["SYRUP", "eligible"], u.loc["SYRUP", "reason"]
    assert u.loc["BTCUP", "reason"] == "leveraged token"


def test_non_trading_market_usdt_only_and_missing_ticker():
    u = universe(
        [market("HALT", status="BREAK"), market("BTC", quote="BUSD"), market("NOTICK"), market("GBP")],
        [ticker("HALT", 1e9), ticker("NOTICK", 1e9) | {"symbol": "OTHER/USDT"}],
    )
    assert u.loc["HALT", "reason"] == "market status BREAK"
    assert u.loc["NOTICK", "reason"] == "no 24h ticker"
    assert (
        "BTC" not in u.index and "GBP" not in u.index
    )  # non-USDT quotes and the GBP rate market are not coins


def test_max_coins_keeps_the_most_liquid_and_names_the_cap():
    volumes = {"A": 9e8, "B": 5e8, "C": 7e8, "D": 3e8, "E": 1e8}
    u = universe(
        [market(c) for c in [*volumes, "LOW"]],
        [ticker(c, v) for c, v in volumes.items()] + [ticker("LOW", 1e5)],
        max_coins=3,
    )
    assert sorted(u.index[u["eligible"]]) == ["A", "B", "C"]
    assert u.loc["D", "reason"] == "max_coins cap: liquidity rank 4 > 3"
    assert u.loc["E", "reason"] == "max_coins cap: liquidity rank 5 > 3"
    assert u.loc["LOW", "reason"].startswith("liquidity")  # an ineligible coin keeps its own reason
    assert list(u["quote_volume_usdt"]) == sorted(u["quote_volume_usdt"], reverse=True)


def test_gbp_rate_from_the_ticker_else_the_config_fallback():
    tickers = pd.DataFrame([ticker("BTC", 1e9), ticker("GBP", 5e7, last=1.31)])
    assert gbp_rate(tickers, fallback=1.27) == (1.31, "exchange:GBP/USDT last")
    without = tickers[tickers["symbol"] != "GBP/USDT"]
    assert gbp_rate(without, fallback=1.27) == (1.27, "config:usdt_per_gbp_fallback")
    broken = pd.DataFrame([ticker("GBP", 5e7, last=float("nan"))])
    assert gbp_rate(broken, fallback=1.27)[1] == "config:usdt_per_gbp_fallback"


def estimated(base: str, volume_usdt: float, spread_bps: float, lower_bps: float, source: str) -> dict:
    return ticker(base, volume_usdt, None) | {
        "estimated_spread_bps": spread_bps,
        "estimated_spread_lower_bps": lower_bps,
        "estimate_source": source,
    }


def test_estimated_spread_is_used_and_labelled_when_there_is_no_book():
    u = universe(
        [market("NOBOOK"), market("WIDEEST"), market("NOISY"), market("NOTHING"), market("BOOK")],
        [
            estimated("NOBOOK", 1e8, 7.5, 6.0, "edge:1m"),
            estimated("WIDEEST", 1e8, 60.0, 41.0, "edge:1m"),
            # a wide but noisy estimate from hourly candles: its lower bound is under the cap
            estimated("NOISY", 1e8, 40.3, 3.0, "edge:1h"),
            ticker("NOTHING", 1e8, None),
            ticker("BOOK", 1e8) | {"estimated_spread_bps": 99.0, "estimated_spread_lower_bps": 99.0},
        ],
    )
    assert u.loc["NOBOOK", "spread_bps"] == 7.5 and u.loc["NOBOOK", "spread_lower_bps"] == 6.0
    assert u.loc["NOBOOK", "spread_source"] == "edge:1m"
    assert u.loc["NOBOOK", "eligible"]
    assert u.loc["WIDEEST", "reason"] == (
        "estimated spread 60.0 bps (edge:1m, lower bound 41.0 bps) > max_spread_bps 25"
    )
    assert u.loc["NOISY", "eligible"] and u.loc["NOISY", "spread_source"] == "edge:1h"
    assert u.loc["NOISY", "spread_bps"] == 40.3  # costs still see the estimate
    assert u.loc["NOTHING", "reason"] == "no spread: neither a quote nor an estimate"
    # a quoted spread is never overridden by an estimate
    assert u.loc["BOOK", "spread_source"] == "quote" and u.loc["BOOK", "spread_bps"] == pytest.approx(2.0)


def test_simulated_exchange_universe_end_to_end():
    ex = SimulatedExchange(seed=7, n_coins=12)
    at = utc(pd.Timestamp("2025-03-04").date(), 24)
    tickers = ex.tickers(at)
    rate, source = gbp_rate(tickers, fallback=1.0)
    assert rate == pytest.approx(ex.gbp_rate(at)) and source.startswith("exchange")
    u = select_universe(
        ex.markets(at),
        tickers,
        usdt_per_gbp=rate,
        gbp_rate_source=source,
        min_liquidity_gbp=MIN_GBP,
        max_spread_bps=MAX_SPREAD,
    )
    assert "GBP" not in set(u["coin"])
    assert {"BTC", "ETH"} <= set(u.loc[u["eligible"], "coin"])
    np.testing.assert_allclose(u["quote_volume_gbp"], u["quote_volume_usdt"] / rate)
    assert (u.loc[~u["eligible"], "reason"] != "eligible").all()
