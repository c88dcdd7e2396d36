"""The coin universe of a day: every USDT spot market with eligibility and the reason.

A coin is eligible when its market is trading, its base is not a stablecoin, fiat or a
leveraged token, its 24h quote volume converted to GBP is at least ``min_liquidity_gbp`` and
its bid/ask spread is at most ``max_spread_bps``. ``max_coins`` (optional) keeps only the
most liquid eligible coins. Every market stays in the output with ``eligible`` and ``reason``.

Spread: the quoted bid/ask when a book is available (``spread_source`` "quote"); otherwise the
EDGE estimate from the day's finest candles (``core/spread.py``; ``spread_source`` "edge:1m" or
"edge:<base timeframe>"), floored at one price tick. An estimate excludes a coin only when its
lower bound (``spread_lower_bps``) is above ``max_spread_bps``: a noisy estimate from coarse
candles never excludes a deep market.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from huracan_assets.core.spread import edge_spread

if TYPE_CHECKING:
    from huracan_assets.config import HuracanSettings

TICKER_COLUMNS = [
    "symbol",
    "quote_volume",
    "bid",
    "ask",
    "last",
    "estimated_spread_bps",
    "estimated_spread_lower_bps",
    "estimate_source",
    "volume_source",
]
VOLUME_FROM_TICKER = "ticker:24h"
VOLUME_FROM_BARS = "bars:24h sum"
SPREAD_QUOTE = "quote"
FINE_INTERVAL = "1m"
# 1-minute candles must cover at least half the day to be used for the spread (else the base timeframe)
MIN_FINE_SHARE = 0.5

UNIVERSE_COLUMNS = [
    "coin",
    "symbol",
    "status",
    "quote_volume_usdt",
    "quote_volume_gbp",
    "spread_bps",
    "spread_lower_bps",
    "spread_source",
    "volume_source",
    "usdt_per_gbp",
    "gbp_rate_source",
    "listed_at",
    "eligible",
    "reason",
    "funding_bps_per_day",
    "funding_source",
    "funding_settlements",
]
NOT_TRADED_BASES = frozenset(
    [
        "USDT",
        "USDC",
        "BUSD",
        "TUSD",
        "FDUSD",
        "DAI",
        "USDP",
        "PYUSD",
        "USDD",
        "EUR",
        "GBP",
        "TRY",
        "BRL",
        "AUD",
        "JPY",
        "RUB",
        "UAH",
        "ZAR",
        "EURI",
        "AEUR",
    ]
)
LEVERAGED_SUFFIXES = ("UP", "DOWN", "BULL", "BEAR")


def is_leveraged_token(base: str, bases: set[str]) -> bool:
    """BTCUP, ETHBULL, …: a suffix on another listed base (JUP or SYRUP are ordinary coins)."""
    return any(base.endswith(s) and base[: -len(s)] in bases for s in LEVERAGED_SUFFIXES)


def gbp_rate(tickers: pd.DataFrame, fallback: float) -> tuple[float, str]:
    """USDT per GBP from the GBP/USDT ticker's last price, else ``fallback``; returns (rate, source)."""
    row = tickers[tickers["symbol"] == "GBP/USDT"]
    if len(row) and np.isfinite(row["last"].iloc[0]) and row["last"].iloc[0] > 0:
        return float(row["last"].iloc[0]), "exchange:GBP/USDT last"
    return float(fallback), "config:usdt_per_gbp_fallback"


def liquidity_from_bars(
    bars: dict[str, pd.DataFrame],
    as_of: pd.Timestamp,
    *,
    timeframe: str = "1h",
    fine_bars: dict[str, pd.DataFrame] | None = None,
    tick_sizes: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Tickers estimated from candles when no 24 h ticker exists (archives, past days).

    ``bars``: symbol -> candles of the base ``timeframe`` (``RAW_COLUMNS``); ``fine_bars``:
    symbol -> 1-minute candles where the source has them; ``tick_sizes``: symbol -> price tick
    (quote currency). Per symbol, over the 24 h before ``as_of``: ``quote_volume`` = sum of the
    base candles' quote volume, ``last`` = the last close, ``bid``/``ask`` = NaN (no book),
    ``estimated_spread_bps`` / ``estimated_spread_lower_bps`` = the EDGE estimate and its lower
    bound (bps, floored at one tick) from the 1-minute candles when they cover at least half
    the day, else from the base candles; ``estimate_source`` = "edge:1m" or "edge:<timeframe>";
    ``volume_source`` = ``"bars:24h sum"``. Columns ``TICKER_COLUMNS``; a symbol without a valid
    candle in the window is left out.
    """
    rows = []
    start = as_of - pd.Timedelta(days=1)
    minutes_per_day = int(pd.Timedelta(days=1) / pd.Timedelta(FINE_INTERVAL))
    for symbol, frame in bars.items():
        if frame is None or frame.empty:
            continue
        window = frame[(frame["open_time"] >= start) & (frame["open_time"] < as_of)]
        prices = window[["high", "low", "close"]].apply(pd.to_numeric, errors="coerce")
        valid = window[(prices > 0).all(axis=1) & (prices["high"] >= prices["low"])]
        if valid.empty:
            continue
        valid = valid.sort_values("open_time").drop_duplicates("open_time", keep="last")
        tick = float((tick_sizes or {}).get(symbol, np.nan))
        fine = (fine_bars or {}).get(symbol)
        if fine is not None and len(fine):
            fine = fine[(fine["open_time"] >= start) & (fine["open_time"] < as_of)]
        if fine is not None and len(fine) >= MIN_FINE_SHARE * minutes_per_day:
            estimate = edge_spread(fine, FINE_INTERVAL, tick)
        else:
            estimate = edge_spread(valid, timeframe, tick)
        rows.append(
            {
                "symbol": symbol,
                "quote_volume": float(pd.to_numeric(valid["quote_volume"], errors="coerce").fillna(0).sum()),
                "bid": np.nan,
                "ask": np.nan,
                "last": float(pd.to_numeric(valid["close"]).iloc[-1]),
                "estimated_spread_bps": estimate.spread_bps,
                "estimated_spread_lower_bps": estimate.lower_bps,
                "estimate_source": estimate.source,
                "volume_source": VOLUME_FROM_BARS,
            }
        )
    return pd.DataFrame(rows, columns=TICKER_COLUMNS)


def select_universe(
    markets: pd.DataFrame,
    tickers: pd.DataFrame,
    *,
    usdt_per_gbp: float,
    gbp_rate_source: str,
    min_liquidity_gbp: float,
    max_spread_bps: float,
    max_coins: int | None = None,
) -> pd.DataFrame:
    """Eligibility of every USDT spot market (columns ``UNIVERSE_COLUMNS``), most liquid first.

    ``tickers`` may carry ``estimated_spread_bps``, ``estimated_spread_lower_bps`` and
    ``estimate_source`` (from :func:`liquidity_from_bars`); a quote always wins over an estimate.
    """
    usdt = markets[(markets["quote"] == "USDT") & (markets["base"] != "GBP")]
    frame = usdt.merge(tickers, on="symbol", how="left")
    frame = frame.rename(columns={"base": "coin", "quote_volume": "quote_volume_usdt"})
    frame["quote_volume_usdt"] = frame["quote_volume_usdt"].astype(float)
    frame["quote_volume_gbp"] = frame["quote_volume_usdt"] / usdt_per_gbp
    mid = (frame["bid"] + frame["ask"]) / 2
    quoted = (frame["ask"] - frame["bid"]) / mid * 1e4
    frame["spread_bps"] = quoted
    frame["spread_lower_bps"] = quoted
    frame["spread_source"] = np.where(quoted.notna(), SPREAD_QUOTE, "")
    nothing = pd.Series(np.nan, index=frame.index)
    estimate = frame.get("estimated_spread_bps", nothing)
    lower = frame.get("estimated_spread_lower_bps", estimate)
    use = frame["spread_bps"].isna() & estimate.notna()
    frame.loc[use, "spread_bps"] = estimate[use].astype(float)
    frame.loc[use, "spread_lower_bps"] = lower[use].fillna(estimate[use]).astype(float)
    estimate_source = frame.get("estimate_source", nothing)
    frame.loc[use, "spread_source"] = estimate_source[use].fillna("edge").astype(str)
    source = frame["volume_source"] if "volume_source" in frame else pd.Series(np.nan, index=frame.index)
    frame["volume_source"] = np.where(
        frame["quote_volume_usdt"].isna(), "", source.fillna(VOLUME_FROM_TICKER).astype(str)
    )
    frame["usdt_per_gbp"] = usdt_per_gbp
    frame["gbp_rate_source"] = gbp_rate_source
    if "listed_at" not in frame:
        frame["listed_at"] = None
    reasons = []
    bases = set(frame["coin"])
    for row in frame.itertuples():
        if row.status != "TRADING":
            reasons.append(f"market status {row.status}")
        elif row.coin in NOT_TRADED_BASES:
            reasons.append("stablecoin or fiat base")
        elif is_leveraged_token(row.coin, bases):
            reasons.append("leveraged token")
        elif not np.isfinite(row.quote_volume_gbp):
            reasons.append("no 24h ticker")
        elif row.quote_volume_gbp < min_liquidity_gbp:
            reasons.append(
                f"liquidity {row.quote_volume_gbp:,.0f} GBP < min_liquidity_gbp {min_liquidity_gbp:,.0f} GBP"
            )
        elif not np.isfinite(row.spread_bps):
            reasons.append("no spread: neither a quote nor an estimate")
        elif row.spread_source == SPREAD_QUOTE and row.spread_bps > max_spread_bps:
            reasons.append(f"spread {row.spread_bps:.1f} bps > max_spread_bps {max_spread_bps:g}")
        elif row.spread_source != SPREAD_QUOTE and row.spread_lower_bps > max_spread_bps:
            reasons.append(
                f"estimated spread {row.spread_bps:.1f} bps ({row.spread_source}, lower bound "
                f"{row.spread_lower_bps:.1f} bps) > max_spread_bps {max_spread_bps:g}"
            )
        else:
            reasons.append("")
    frame["reason"] = reasons
    frame["eligible"] = frame["reason"] == ""
    frame = frame.sort_values("quote_volume_usdt", ascending=False, na_position="last").reset_index(drop=True)
    if max_coins is not None:
        rank = frame["eligible"].cumsum()
        capped = frame["eligible"] & (rank > max_coins)
        frame.loc[capped, "reason"] = [
            f"max_coins cap: liquidity rank {int(r)} > {max_coins}" for r in rank[capped]
        ]
        frame.loc[capped, "eligible"] = False
    frame["reason"] = frame["reason"].where(~frame["eligible"], "eligible")
    frame["funding_bps_per_day"] = np.nan  # perpetuals: filled by with_funding
    frame["funding_source"] = ""
    frame["funding_settlements"] = ""
    return frame[UNIVERSE_COLUMNS]


def universe_of_day(
    client: Any, as_of: datetime, settings: HuracanSettings
) -> tuple[pd.DataFrame, float, str]:
    """:func:`select_universe` on ``client``'s markets and tickers at ``as_of`` (the end of a
    day), with the GBP rate the exchange lists (else the configured fallback) and the settings'
    eligibility rules: the ``coin_universe`` asset's selection, also for benchmarks. Returns
    (universe, USDT per GBP, the rate's source)."""
    tickers = client.tickers(as_of)
    rate, source = gbp_rate(tickers, settings.usdt_per_gbp_fallback)
    universe = select_universe(
        client.markets(as_of),
        tickers,
        usdt_per_gbp=rate,
        gbp_rate_source=source,
        min_liquidity_gbp=settings.min_liquidity_gbp,
        max_spread_bps=settings.max_spread_bps,
        max_coins=settings.max_coins,
    )
    return universe, rate, source


def with_funding(universe: pd.DataFrame, funding: dict[str, tuple[float, str, str]]) -> pd.DataFrame:
    """The universe with each coin's funding (bps per day), where it came from and its settlements.

    ``funding``: coin -> (bps per day, source, settlements as ``FundingHistory.to_json`` or ""),
    for the coins a perpetuals venue trades.
    """
    out = universe.copy()
    for coin, (bps, source, settlements) in funding.items():
        rows = out["coin"] == coin
        out.loc[rows, "funding_bps_per_day"] = float(bps)
        out.loc[rows, "funding_source"] = source
        out.loc[rows, "funding_settlements"] = settlements
    return out
