"""The coin universe of a day: every USDT spot market with eligibility and the reason.

A coin is eligible when its market is trading, its base is not a stablecoin, fiat or a
leveraged token, its 24h quote volume converted to GBP is at least ``min_liquidity_gbp`` and
its bid/ask spread is at most ``max_spread_bps``. ``max_coins`` (optional) keeps only the
most liquid eligible coins. Every market stays in the output with ``eligible`` and ``reason``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from huracan_assets.core.bars import corwin_schultz_spread_bps

TICKER_COLUMNS = ["symbol", "quote_volume", "bid", "ask", "last", "estimated_spread_bps", "volume_source"]
VOLUME_FROM_TICKER = "ticker:24h"
VOLUME_FROM_BARS = "bars:24h sum"
SPREAD_ESTIMATE = "estimated:corwin-schultz"

UNIVERSE_COLUMNS = [
    "coin",
    "symbol",
    "status",
    "quote_volume_usdt",
    "quote_volume_gbp",
    "spread_bps",
    "spread_source",
    "volume_source",
    "usdt_per_gbp",
    "gbp_rate_source",
    "listed_at",
    "eligible",
    "reason",
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


def liquidity_from_bars(bars: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """Tickers estimated from candles when no 24 h ticker exists (archives, past days).

    ``bars``: symbol -> candles (``RAW_COLUMNS``, any timeframe). Per symbol, over the 24 h
    before ``as_of``: ``quote_volume`` = sum of the candles' quote volume (quote currency),
    ``last`` = the last close, ``bid``/``ask`` = NaN (no book), ``estimated_spread_bps`` = the
    Corwin-Schultz estimate from consecutive high/low pairs (bps), ``volume_source`` =
    ``"bars:24h sum"``. Columns ``TICKER_COLUMNS``;
    a symbol without a valid candle in the window is left out.
    """
    rows = []
    start = as_of - pd.Timedelta(days=1)
    for symbol, frame in bars.items():
        if frame is None or frame.empty:
            continue
        window = frame[(frame["open_time"] >= start) & (frame["open_time"] < as_of)]
        prices = window[["high", "low", "close"]].apply(pd.to_numeric, errors="coerce")
        valid = window[(prices > 0).all(axis=1) & (prices["high"] >= prices["low"])]
        if valid.empty:
            continue
        valid = valid.sort_values("open_time").drop_duplicates("open_time", keep="last")
        high, low = (pd.to_numeric(valid[c]) for c in ("high", "low"))
        rows.append(
            {
                "symbol": symbol,
                "quote_volume": float(pd.to_numeric(valid["quote_volume"], errors="coerce").fillna(0).sum()),
                "bid": np.nan,
                "ask": np.nan,
                "last": float(pd.to_numeric(valid["close"]).iloc[-1]),
                "estimated_spread_bps": corwin_schultz_spread_bps(high, low),
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
    estimated_spread_bps: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Eligibility of every USDT spot market (columns ``UNIVERSE_COLUMNS``), most liquid first."""
    usdt = markets[(markets["quote"] == "USDT") & (markets["base"] != "GBP")]
    frame = usdt.merge(tickers, on="symbol", how="left")
    frame = frame.rename(columns={"base": "coin", "quote_volume": "quote_volume_usdt"})
    frame["quote_volume_usdt"] = frame["quote_volume_usdt"].astype(float)
    frame["quote_volume_gbp"] = frame["quote_volume_usdt"] / usdt_per_gbp
    mid = (frame["bid"] + frame["ask"]) / 2
    quoted = (frame["ask"] - frame["bid"]) / mid * 1e4
    frame["spread_bps"] = quoted
    frame["spread_source"] = np.where(quoted.notna(), "quoted", "")
    estimate = frame["coin"].map(estimated_spread_bps or {})
    if "estimated_spread_bps" in frame:
        estimate = estimate.fillna(frame["estimated_spread_bps"])
    use = frame["spread_bps"].isna() & estimate.notna()
    frame.loc[use, "spread_bps"] = estimate[use]
    frame.loc[use, "spread_source"] = SPREAD_ESTIMATE
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
        elif row.spread_bps > max_spread_bps:
            reasons.append(f"spread {row.spread_bps:.1f} bps > max_spread_bps {max_spread_bps:g}")
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
    return frame[UNIVERSE_COLUMNS]
