"""Binance public-data kline archives: import, store, and serve them as market data.

Layout read (as published, e.g. ``data/spot/monthly/klines/BTCUSDT/1h/``):
``<SYMBOL>-<interval>-<YYYY>-<MM>.zip`` (monthly) or ``<SYMBOL>-<interval>-<YYYY>-<MM>-<DD>.zip``
(daily), each holding one CSV of kline rows (see ``core.klines``), optionally with
``<zip name>.CHECKSUM`` beside it holding ``<sha256>  <zip name>``. A path with a ``futures``
folder is a USDT-margined futures file (kept apart from spot).

``huracan import-archives FOLDER`` verifies and parses every zip under FOLDER and merges the
candles into the store, ``<store>/<spot|futures>/<interval>/<SYMBOL>.parquet`` (one file per
symbol, written to a temporary name and renamed). A file is imported whole or not at all: a
checksum mismatch or a truncated zip rejects the file with the reason; a file whose period
lacks days is imported and its missing days are listed. Every import appends its report to
``<store>/imports.jsonl``.

Vendors. Archive candles carry ``vendor = "binance-archive"``. :class:`ArchiveWithApiMarketData`
combines the archives with the live API for backfills: the archive wins for every day it
covers (it is the exchange's own final record, checksummed), the API fills the days it does
not (before the first archive, after the last, and any missing day). With ``cross_check`` the
API is also the secondary vendor on archive days, and ``validate_day`` compares the two bar by
bar (mismatches above ``vendor_mismatch_bps`` are counted and listed; the archive still wins).
"""

from __future__ import annotations

import calendar
import hashlib
import json
import os
import re
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from huracan_assets.core.bars import RAW_COLUMNS
from huracan_assets.core.klines import empty_raw, open_time_unit, parse_kline_csv, split_binance_symbol
from huracan_assets.core.spread import tick_from_prices
from huracan_assets.core.universe import FINE_INTERVAL, liquidity_from_bars

ARCHIVE_VENDOR = "binance-archive"
_NAME = re.compile(
    r"^(?P<symbol>[A-Z0-9]+)-(?P<interval>\d+[smhdwM])-(?P<year>\d{4})-(?P<month>\d{2})(?:-(?P<day>\d{2}))?\.zip$"
)


@dataclass
class ArchiveFileReport:
    """What happened to one archive file on import."""

    file: str
    status: str  # imported | rejected | skipped
    reason: str = ""
    symbol: str = ""
    interval: str = ""
    market: str = "spot"
    period: str = ""
    rows: int = 0
    header: bool = False
    time_unit: str = ""
    checksum: str = "absent"  # verified | absent | mismatch
    missing_days: list[str] = field(default_factory=list)
    # per day the file holds, where candles are missing inside it: {"day", "missing", "expected",
    # "longest", "first_missing"} (candles; times HH:MM UTC)
    holes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ImportReport:
    folder: str
    store: str
    files: list[ArchiveFileReport] = field(default_factory=list)
    symbols_written: list[str] = field(default_factory=list)

    @property
    def imported(self) -> list[ArchiveFileReport]:
        return [f for f in self.files if f.status == "imported"]

    @property
    def rejected(self) -> list[ArchiveFileReport]:
        return [f for f in self.files if f.status == "rejected"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "store": self.store,
            "imported": len(self.imported),
            "rejected": len(self.rejected),
            "symbols_written": self.symbols_written,
            "files": [asdict(f) for f in self.files],
        }


def period_days(year: int, month: int, day: int | None) -> list[date]:
    """The UTC days a monthly (``day`` None) or daily archive file covers."""
    if day is not None:
        return [date(year, month, day)]
    return [date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]


def read_archive(path: Path) -> tuple[pd.DataFrame, ArchiveFileReport]:
    """Verify and parse one archive zip. The frame is empty unless the report says ``imported``."""
    match = _NAME.match(path.name)
    market = "futures" if "futures" in path.parts else "spot"
    report = ArchiveFileReport(file=str(path), status="rejected", market=market)
    if not match:
        report.status, report.reason = "skipped", "name is not <SYMBOL>-<interval>-<YYYY>-<MM>[-<DD>].zip"
        return empty_raw(ARCHIVE_VENDOR), report
    report.symbol, report.interval = match["symbol"], match["interval"]
    year, month = int(match["year"]), int(match["month"])
    day = int(match["day"]) if match["day"] else None
    report.period = f"{year:04d}-{month:02d}" + (f"-{day:02d}" if day else "")
    payload = path.read_bytes()
    checksum_file = path.with_name(path.name + ".CHECKSUM")
    if checksum_file.exists():
        expected = (
            checksum_file.read_text().split()[0].strip().lower() if checksum_file.read_text().strip() else ""
        )
        actual = hashlib.sha256(payload).hexdigest()
        if expected != actual:
            report.checksum = "mismatch"
            report.reason = (
                f"checksum mismatch: .CHECKSUM says {expected[:12]}…, the file hashes to {actual[:12]}…"
            )
            return empty_raw(ARCHIVE_VENDOR), report
        report.checksum = "verified"
    try:
        with zipfile.ZipFile(path) as archive:
            members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(members) != 1:
                report.reason = f"expected one CSV in the zip, found {len(members)}"
                return empty_raw(ARCHIVE_VENDOR), report
            text = archive.read(members[0]).decode("utf-8")
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError, UnicodeDecodeError) as error:
        report.reason = f"truncated or corrupt zip: {type(error).__name__}: {error}"
        return empty_raw(ARCHIVE_VENDOR), report
    frame, report.header = parse_kline_csv(text, ARCHIVE_VENDOR)
    if frame.empty:
        report.reason = "the CSV holds no kline rows"
        return empty_raw(ARCHIVE_VENDOR), report
    missing = [c for c in RAW_COLUMNS if c not in frame.columns]
    if missing:
        report.reason = f"rows lack column(s) {missing}"
        return empty_raw(ARCHIVE_VENDOR), report
    if frame["open_time"].isna().any():
        report.reason = f"{int(frame['open_time'].isna().sum())} row(s) with an unreadable open time"
        return empty_raw(ARCHIVE_VENDOR), report
    report.time_unit = _unit_of(text, report.header)
    days = set(frame["open_time"].dt.date)
    expected = period_days(year, month, day)
    outside = sorted(d for d in days if d not in set(expected))
    if outside:
        report.reason = (
            f"rows outside the file's period {report.period}, e.g. {outside[0]} (wrong time unit?)"
        )
        return empty_raw(ARCHIVE_VENDOR), report
    report.missing_days = [d.isoformat() for d in expected if d not in days]
    report.holes = intraday_holes(frame["open_time"], report.interval)
    report.rows = len(frame)
    report.status = "imported"
    return frame, report


def intraday_holes(open_times: pd.Series, interval: str) -> list[dict[str, Any]]:
    """Candles missing inside each UTC day that has at least one candle, on the ``interval`` grid.

    ``open_times``: UTC timestamps; ``interval``: Binance's name (``1m``, ``1h``, ...). Returns one
    dict per day with a hole, oldest first: ``day`` (ISO), ``missing`` and ``expected`` (candles),
    ``longest`` (the longest run of missing candles) and ``first_missing`` (``HH:MM`` UTC). Weekly
    and monthly candles have no intra-day grid: an empty list.
    """
    if interval[-1] not in "smhd" or open_times.empty:
        return []
    step = pd.Timedelta(interval)
    per_day = int(pd.Timedelta(days=1) / step)
    if per_day < 1:
        return []
    times = pd.DatetimeIndex(open_times.dropna().unique()).sort_values()
    holes = []
    for day, present in pd.Series(times, index=times).groupby(times.floor("D")):
        grid = pd.date_range(day, periods=per_day, freq=step)
        absent = ~grid.isin(pd.DatetimeIndex(present))
        if not absent.any():
            continue
        longest = run = 0
        for flag in absent:
            run = run + 1 if flag else 0
            longest = max(longest, run)
        holes.append(
            {
                "day": day.date().isoformat(),
                "missing": int(absent.sum()),
                "expected": per_day,
                "longest": longest,
                "first_missing": grid[absent][0].strftime("%H:%M"),
            }
        )
    return holes


def _unit_of(text: str, header: bool) -> str:
    lines = text.splitlines()[1:] if header else text.splitlines()
    return open_time_unit([line.split(",", 1)[0] for line in lines if line])


class ArchiveStore:
    """Imported archive candles, one Parquet file per market, interval and symbol."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, symbol: str, interval: str, market: str = "spot") -> Path:
        return self.root / market / interval / f"{symbol}.parquet"

    def import_folder(self, folder: str | Path) -> ImportReport:
        """Import every archive zip under ``folder`` (recursively). Rejected files change nothing."""
        folder = Path(folder)
        report = ImportReport(folder=str(folder), store=str(self.root))
        new: dict[tuple[str, str, str], list[pd.DataFrame]] = {}
        for path in sorted(folder.rglob("*.zip")):
            frame, file_report = read_archive(path)
            report.files.append(file_report)
            if file_report.status == "imported":
                key = (file_report.market, file_report.interval, file_report.symbol)
                new.setdefault(key, []).append(frame)
        for (market, interval, symbol), frames in sorted(new.items()):
            target = self.path(symbol, interval, market)
            existing = [_read_parquet(target)] if target.exists() else []
            merged = pd.concat([*existing, *frames], ignore_index=True)
            merged = merged.sort_values("open_time", kind="stable").drop_duplicates("open_time", keep="last")
            _write_atomically(merged.reset_index(drop=True), target)
            report.symbols_written.append(f"{market}/{interval}/{symbol}")
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "imports.jsonl").open("a") as log:
            log.write(json.dumps({"at": datetime.now(UTC).isoformat(), **report.to_dict()}) + "\n")
        return report

    def symbols(self, interval: str, market: str = "spot") -> list[str]:
        folder = self.root / market / interval
        return sorted(p.stem for p in folder.glob("*.parquet")) if folder.exists() else []

    def frame(self, symbol: str, interval: str, market: str = "spot") -> pd.DataFrame:
        path = self.path(symbol, interval, market)
        if not path.exists():
            return empty_raw(ARCHIVE_VENDOR)
        return _read_cached(str(path), path.stat().st_mtime_ns)

    def bars(self, symbol: str, interval: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Candles with ``start <= open_time < end`` (``RAW_COLUMNS``, vendor binance-archive)."""
        frame = self.frame(symbol, interval)
        times = frame["open_time"]
        return frame[(times >= pd.Timestamp(start)) & (times < pd.Timestamp(end))].reset_index(drop=True)

    def newest_close(self, interval: str, market: str = "spot") -> pd.Timestamp | None:
        """The archives' clock: the close (UTC) of the newest candle of any symbol at ``interval``,
        or None when nothing is imported."""
        newest = None
        for symbol in self.symbols(interval, market):
            last = self.frame(symbol, interval, market)["open_time"].max()
            if pd.notna(last) and (newest is None or last > newest):
                newest = last
        return None if newest is None else newest + pd.Timedelta(interval)

    def expected_files(self, symbol: str, interval: str, day: date) -> str:
        """The public-data archive names that would cover ``day`` (monthly, then daily), and where
        they go, for a message about a day the archives do not have."""
        return (
            f"the archives have no candle of {day}: expected in {symbol}-{interval}-{day:%Y-%m}.zip "
            f"(monthly) or {symbol}-{interval}-{day:%Y-%m-%d}.zip (daily), imported into {self.root} "
            "with huracan import-archives"
        )

    def covered_days(self, symbol: str, interval: str) -> set[date]:
        """UTC days with at least one archived candle."""
        return set(self.frame(symbol, interval)["open_time"].dt.date)


@lru_cache(maxsize=256)
def _read_cached(path: str, mtime_ns: int) -> pd.DataFrame:
    return _read_parquet(path)


def _read_parquet(path: str | Path) -> pd.DataFrame:
    """A symbol's archive file, read in this thread: Arrow's reader threads left running as the
    process exits can abort it (``terminate called without an active exception``, apache/arrow
    #34314): a ``huracan daily`` refused in its first second exited with SIGABRT once."""
    return pq.read_table(str(path), use_threads=False).to_pandas(use_threads=False)


def _write_atomically(frame: pd.DataFrame, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    frame.to_parquet(temporary, index=False)
    os.replace(temporary, target)


class ArchiveMarketData:
    """Archives only: markets are the imported ``…USDT`` symbols; tickers are estimated from candles."""

    primary_vendor: str = ARCHIVE_VENDOR
    secondary_vendor: str | None = None

    def __init__(self, store: ArchiveStore, timeframe: str = "1h") -> None:
        self.store = store
        self.timeframe = timeframe

    def _pairs(self) -> list[tuple[str, str, str]]:
        pairs = []
        for symbol in self.store.symbols(self.timeframe):
            try:
                base, quote = split_binance_symbol(symbol)
            except ValueError:
                continue
            if quote == "USDT":
                pairs.append((symbol, base, quote))
        return pairs

    def markets(self, as_of: datetime) -> pd.DataFrame:
        """Imported USDT pairs. ``status`` is TRADING (archives carry no status); ``listed_at`` is
        the first archived candle, so days before the archives begin are "not listed"."""
        rows = []
        for symbol, base, quote in self._pairs():
            first = self.store.frame(symbol, self.timeframe)["open_time"].min()
            if pd.isna(first) or first > pd.Timestamp(as_of):
                continue
            listed_at = None if base == "GBP" else first.to_pydatetime()
            rows.append(
                {
                    "symbol": f"{base}/{quote}",
                    "base": base,
                    "quote": quote,
                    "status": "TRADING",
                    "listed_at": listed_at,
                }
            )
        return pd.DataFrame(rows, columns=["symbol", "base", "quote", "status", "listed_at"])

    def tickers(self, as_of: datetime) -> pd.DataFrame:
        """No book in archives: quote volume summed over the last 24 h, spread estimated by EDGE.

        The spread comes from the imported 1-minute archives (``…/klines/<SYMBOL>/1m/``) when they
        cover the day, else from the base timeframe's candles. Archives carry no ``exchangeInfo``,
        so the tick that floors the estimate is read off the day's price grid.
        """
        as_of_ts = pd.Timestamp(as_of)
        start = as_of_ts - timedelta(days=1)
        bars, fine, ticks = {}, {}, {}
        for symbol, base, quote in self._pairs():
            name = f"{base}/{quote}"
            bars[name] = self.store.bars(symbol, self.timeframe, start, as_of_ts)
            if self.timeframe != FINE_INTERVAL:
                fine[name] = self.store.bars(symbol, FINE_INTERVAL, start, as_of_ts)
            finest = fine.get(name) if len(fine.get(name, ())) else bars[name]
            ticks[name] = tick_from_prices(finest[["open", "high", "low", "close"]].to_numpy().ravel())
        return liquidity_from_bars(bars, as_of_ts, timeframe=self.timeframe, fine_bars=fine, tick_sizes=ticks)

    def ohlcv(self, coin: str, start: datetime, end: datetime, vendor: str | None = None) -> pd.DataFrame:
        return self.store.bars(f"{coin}USDT", self.timeframe, start, end)

    def missing_day_hint(self, coin: str, day: date) -> str:
        """Why ``coin`` has no candle on ``day``: the archive file that was expected."""
        symbol = f"{coin}USDT"
        if day in self.store.covered_days(symbol, self.timeframe):
            return ""
        return self.store.expected_files(symbol, self.timeframe, day)


class ArchiveWithApiMarketData:
    """Archives where they cover the window, the live API for the rest (see the module docstring)."""

    primary_vendor: str = ARCHIVE_VENDOR

    def __init__(self, archive: ArchiveMarketData, api: Any, cross_check: bool = False) -> None:
        self.archive = archive
        self.api = api
        self.secondary_vendor: str | None = api.primary_vendor if cross_check else None
        self.api_calls: list[tuple[str, str, str]] = []  # (coin, start, end) fetched from the API

    def markets(self, as_of: datetime) -> pd.DataFrame:
        return self.api.markets(as_of)

    def tickers(self, as_of: datetime) -> pd.DataFrame:
        return self.api.tickers(as_of)

    def ohlcv(self, coin: str, start: datetime, end: datetime, vendor: str | None = None) -> pd.DataFrame:
        start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
        covered = self.archive.store.covered_days(f"{coin}USDT", self.archive.timeframe)
        if vendor is not None and vendor == self.secondary_vendor:
            # the audit copy: the API's candles for the archive-covered part of the window only
            spans = _spans(start_ts, end_ts, lambda d: d in covered)
            frames = [self._api(coin, a, b) for a, b in spans]
            return _concat(frames)
        archived = self.archive.ohlcv(coin, start_ts, end_ts)
        frames = [archived] + [
            self._api(coin, a, b) for a, b in _spans(start_ts, end_ts, lambda d: d not in covered)
        ]
        return _concat(frames)

    def missing_day_hint(self, coin: str, day: date) -> str:
        """Neither the archives nor the API had the day: name the archive file expected."""
        hint = self.archive.missing_day_hint(coin, day)
        return f"{hint}; the API had none either" if hint else ""

    def _api(self, coin: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        self.api_calls.append((coin, start.isoformat(), end.isoformat()))
        return self.api.ohlcv(coin, start.to_pydatetime(), end.to_pydatetime())


def _spans(start: pd.Timestamp, end: pd.Timestamp, wanted: Any) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Maximal runs of whole UTC days in ``[start, end)`` for which ``wanted(day)``, clipped to the window."""
    spans: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    day = start.normalize()
    while day < end:
        nxt = day + pd.Timedelta(days=1)
        if wanted(day.date()):
            a, b = max(day, start), min(nxt, end)
            if spans and spans[-1][1] == a:
                spans[-1] = (spans[-1][0], b)
            else:
                spans.append((a, b))
        day = nxt
    return spans


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_raw(ARCHIVE_VENDOR)
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values("open_time", kind="stable").reset_index(drop=True)
