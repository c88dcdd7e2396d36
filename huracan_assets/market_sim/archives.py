"""Write the simulated exchange's candles in Binance's public-data archive layout.

For tests and demos of the archive path (nothing is downloaded):
``<folder>/data/<spot|futures/um>/<monthly|daily>/klines/<SYMBOL>/<interval>/<SYMBOL>-<interval>-<period>.zip``
holding one CSV of kline rows and, beside it, ``<zip>.CHECKSUM`` (``<sha256>  <zip name>``).
Spot files have no header and, from 2025-01-01 on, open times in microseconds (as Binance's
do); futures files have a header row and milliseconds.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd

from huracan_assets.core.klines import frame_to_klines
from huracan_assets.market_sim.exchange import MINUTE, SimulatedExchange

FUTURES_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)
SPOT_MICROSECONDS_FROM = date(2025, 1, 1)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


def write_archive(
    folder: Path,
    symbol: str,
    interval: str,
    bars: pd.DataFrame,
    bar: timedelta,
    period: str,
    *,
    cadence: str = "monthly",
    market: str = "spot",
    unit: str | None = None,
    checksum: bool = True,
) -> Path:
    """One archive zip (and its .CHECKSUM) for ``bars``; returns the zip's path."""
    first_day = date.fromisoformat(period + ("-01" if cadence == "monthly" else ""))
    if unit is None:
        unit = "us" if market == "spot" and first_day >= SPOT_MICROSECONDS_FROM else "ms"
    rows = frame_to_klines(bars, bar, unit=unit)
    lines = [FUTURES_HEADER] if market == "futures" else []
    lines += [",".join(str(v) for v in row) for row in rows]
    name = f"{symbol}-{interval}-{period}"
    market_path = "futures/um" if market == "futures" else "spot"
    target = folder / "data" / market_path / cadence / "klines" / symbol / interval / f"{name}.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}.csv", "\n".join(lines) + "\n")
    target.write_bytes(buffer.getvalue())
    if checksum:
        digest = hashlib.sha256(buffer.getvalue()).hexdigest()
        target.with_name(target.name + ".CHECKSUM").write_text(f"{digest}  {target.name}\n")
    return target


def write_kline_archives(
    exchange: SimulatedExchange,
    folder: str | Path,
    coins: list[str],
    first_day: date,
    last_day: date,
    *,
    interval: str = "1h",
    cadence: str = "monthly",
    market: str = "spot",
    include_gbp: bool = True,
    skip_days: dict[str, list[date]] | None = None,
) -> list[Path]:
    """Archives of ``coins`` (and a flat ``GBPUSDT``) for the days ``first_day..last_day``.

    ``cadence``: "monthly" (one file per calendar month, clipped to the days asked) or "daily".
    ``skip_days``: coin -> days left out of its files (a file with a missing day).
    ``interval="1m"`` writes the simulator's 1-minute candles (the trades inside its bars).
    """
    folder = Path(folder)
    minutes = interval == "1m" and exchange.bar != MINUTE
    bar = MINUTE if minutes else exchange.bar
    paths = []
    periods: list[tuple[str, date, date]] = []
    day = first_day
    while day <= last_day:
        if cadence == "daily":
            periods.append((day.isoformat(), day, day))
            day += timedelta(days=1)
        else:
            month_end = date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
            periods.append((f"{day.year:04d}-{day.month:02d}", day, min(month_end, last_day)))
            day = month_end + timedelta(days=1)
    names = [*coins, "GBP"] if include_gbp and not minutes else list(coins)
    for coin in names:
        for period, a, b in periods:
            start, end = _day_start(a), _day_start(b) + timedelta(days=1)
            if coin == "GBP":
                bars = exchange.gbp_ohlcv(start, end)
            elif minutes:
                bars = exchange.minute_candles(coin, start, end)
            else:
                bars = exchange.ohlcv(coin, start, end)
            bars = bars.sort_values("open_time").drop_duplicates("open_time", keep="last")
            skipped = set((skip_days or {}).get(coin, []))
            if skipped:
                bars = bars[~bars["open_time"].dt.date.isin(skipped)]
            if bars.empty:
                continue
            paths.append(
                write_archive(
                    folder, f"{coin}USDT", interval, bars, bar, period, cadence=cadence, market=market
                )
            )
    return paths
