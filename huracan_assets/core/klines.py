"""Binance kline rows <-> candle frames, shared by the REST client and the public-data archives.

A Binance kline is a 12-field row: open time, open, high, low, close, volume (base units),
close time, quote volume (quote units), trades, taker-buy base volume, taker-buy quote volume,
ignore. The REST API sends times in milliseconds and numbers as strings. The public-data
archives hold the same rows as CSV: spot files have no header; futures files gained a header
row around 2022; spot open times are in microseconds from 2025-01-01 on. The unit is detected
per file (or per response): an open time >= 1e15 is microseconds, else milliseconds.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import numpy as np
import pandas as pd

from huracan_assets.core.bars import NUMERIC_COLUMNS, RAW_COLUMNS

KLINE_FIELDS = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "trades",
    "taker_buy_base",
    "taker_buy_quote",
    "ignore",
]
MICROSECONDS_FROM = 1e15  # an open time at or above this is in microseconds (ms reach it only in 33658)


def open_time_unit(values: pd.Series | np.ndarray) -> str:
    """``"us"`` when the largest finite open time is >= 1e15, else ``"ms"``."""
    numbers = pd.to_numeric(pd.Series(values), errors="coerce")
    top = numbers.max()
    return "us" if pd.notna(top) and top >= MICROSECONDS_FROM else "ms"


def klines_to_frame(rows: list[list], vendor: str) -> pd.DataFrame:
    """Kline rows to a candle frame with ``RAW_COLUMNS`` (the ones the rows carry).

    Rows shorter than 11 fields lose the trailing columns (a missing column then makes the
    coin-day quarantined, by name, in validation). A numeric column whose every value parses
    becomes float64; one holding a value that is not a number keeps the values as delivered,
    so validation can name the column. ``open_time`` becomes UTC timestamps (unit detected).
    """
    width = min((len(r) for r in rows), default=len(KLINE_FIELDS))
    names = KLINE_FIELDS[: min(width, len(KLINE_FIELDS))]
    frame = pd.DataFrame([list(r[: len(names)]) for r in rows], columns=names)
    if frame.empty:
        return empty_raw(vendor)
    raw_time = pd.to_numeric(frame["open_time"], errors="coerce")
    unit = open_time_unit(raw_time)
    frame["open_time"] = pd.to_datetime(raw_time, unit=unit, utc=True, errors="coerce").astype(
        "datetime64[ns, UTC]"
    )
    for column in NUMERIC_COLUMNS:
        if column in frame:
            frame[column] = _numbers_if_clean(frame[column])
    frame["vendor"] = vendor
    return frame[[c for c in RAW_COLUMNS if c in frame.columns]].reset_index(drop=True)


def _numbers_if_clean(values: pd.Series) -> pd.Series:
    coerced = pd.to_numeric(values, errors="coerce")
    if (coerced.isna() & values.notna()).any():
        return values.astype(object)
    return coerced.astype("float64")


def empty_raw(vendor: str = "") -> pd.DataFrame:
    """An empty candle frame with ``RAW_COLUMNS`` and their types."""
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in RAW_COLUMNS})
    frame["open_time"] = pd.Series(dtype="datetime64[ns, UTC]")
    frame["vendor"] = pd.Series(dtype="object")
    return frame[RAW_COLUMNS]


def frame_to_klines(bars: pd.DataFrame, bar: timedelta, unit: str = "ms") -> list[list]:
    """Candles (``RAW_COLUMNS``) to Binance kline rows: times as integers in ``unit``, numbers as strings.

    Rows are positional, so a missing column ends every row before its field (as a feed that
    drops the taker-buy fields would). A value that is already a string is sent as it is.
    """
    if bars.empty:
        return []
    scale = {"ms": 1_000_000, "us": 1_000}[unit]
    open_ns = bars["open_time"].astype("int64").to_numpy()
    values: dict[str, np.ndarray] = {
        "open_time": open_ns // scale,
        "close_time": (open_ns + int(bar.total_seconds() * 1e9)) // scale - 1,
        "ignore": np.full(len(bars), "0", dtype=object),
    }
    values |= {c: bars[c].to_numpy() for c in NUMERIC_COLUMNS if c in bars}
    fields: list[str] = []
    for name in KLINE_FIELDS:
        if name not in values:
            break
        fields.append(name)
    return [[_field(name, values[name][i]) for name in fields] for i in range(len(bars))]


def _field(name: str, value: object) -> object:
    if name in ("open_time", "close_time"):
        return int(value)  # type: ignore[call-overload]
    if name == "trades":
        return int(value) if not pd.isna(value) else 0  # type: ignore[call-overload]
    if isinstance(value, str):
        return value
    return "NaN" if pd.isna(value) else f"{float(value):.10g}"  # type: ignore[arg-type]


def parse_kline_csv(text: str, vendor: str) -> tuple[pd.DataFrame, bool]:
    """Kline rows of a public-data CSV to a candle frame; returns (frame, had_header).

    A first line whose first field is not a number is a header (futures files since 2022).
    """
    lines = [line for line in csv.reader(io.StringIO(text)) if line]
    header = bool(lines) and not _is_number(lines[0][0])
    return klines_to_frame(lines[1:] if header else lines, vendor), header


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def binance_symbol(coin: str, quote: str = "USDT") -> str:
    """``BTC`` -> ``BTCUSDT`` (the exchange's market id)."""
    return f"{coin}{quote}"


def split_binance_symbol(symbol: str, quotes: tuple[str, ...] = ("USDT", "FDUSD", "USDC")) -> tuple[str, str]:
    """``BTCUSDT`` -> (``BTC``, ``USDT``); raises ``ValueError`` for a quote it does not know."""
    for quote in quotes:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    raise ValueError(f"cannot split {symbol!r} into base and quote (known quotes: {list(quotes)})")
