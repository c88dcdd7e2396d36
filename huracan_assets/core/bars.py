"""Validation and repair of one coin-day of OHLCV candles.

Rules, in order (each counted in :class:`BarQuality`):

1. Missing columns make the coin-day unusable (quarantined, column named). Columns that
   arrive as strings are coerced to numbers; a value that is not a number becomes invalid.
2. Only candles with ``day <= open_time < day + 1d`` on the timeframe grid are kept.
3. Invalid candles — NaN/non-positive price, ``high < low``, ``high``/``low`` not enclosing
   ``open``/``close``, negative volume — are removed and treated as missing.
4. Duplicates (same ``open_time``): the last delivery wins (a vendor re-send corrects the
   first). Out-of-order deliveries are sorted and counted.
5. Gaps: runs of missing candles up to ``max_repair_bars`` are repaired with flat candles at
   the last close (volume 0, ``repaired=True``); a longer run drops the day, with the reason.
6. Outliers, causally (nothing after bar t changes bar t): a close that jumps more than
   ``outlier_z`` robust units from the median of the day's earlier accepted returns (at least
   ``_MIN_SCALE_RETURNS`` of them), both from the last accepted close and from the previous
   delivered close, is held at the last accepted close and flagged ``outlier=True`` — what a
   live feed can do at t, before the next bar shows whether the print reverts. The unit is a
   bar's volatility: the larger of 1.4826 x the MAD of those returns and the median high-low
   log range of the same bars / sqrt(8 / pi) (a Brownian bar's expected range is sqrt(8 / pi)
   sigma). A bad print is removed; a real jump is held for one bar and then accepted, because
   the next close is normal against the delivered jump. A held bar stays a candle: its high
   and low enclose its open and held close.
7. Vendors: the primary vendor wins (the source's documented rule, see
   ``resources/market_data.py``); a secondary vendor, when given, audits it bar by bar: the
   largest of the open/high/low/close disagreements of a bar, in bps, above ``mismatch_bps``
   is counted and listed. Repaired and outlier bars are not compared.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

PRICE_COLUMNS = ["open", "high", "low", "close"]
NUMERIC_COLUMNS = [*PRICE_COLUMNS, "volume", "quote_volume", "trades", "taker_buy_base", "taker_buy_quote"]
RAW_COLUMNS = ["open_time", *NUMERIC_COLUMNS, "vendor"]
VALIDATED_COLUMNS = [*RAW_COLUMNS, "repaired", "outlier"]


class StaleDataError(RuntimeError):
    """The newest candle is older than allowed for the day being built."""


@dataclass
class BarQuality:
    """What happened to one coin-day of candles. Counts are in candles."""

    coin: str
    day: str
    status: str = "ok"  # ok | repaired | dropped | quarantined | stale | missing | delisted | not_listed
    reason: str = ""
    expected_bars: int = 0
    received_bars: int = 0
    kept_bars: int = 0
    invalid_bars: int = 0
    duplicates_resolved: int = 0
    out_of_order: int = 0
    gaps_repaired: int = 0
    longest_gap: int = 0
    outliers: int = 0
    vendor: str = ""
    vendor_compared: int = 0
    vendor_mismatches: int = 0
    vendor_max_diff_bps: float = 0.0
    mismatch_times: list[str] = field(default_factory=list)
    invalid_examples: list[str] = field(default_factory=list)
    raw_schema_failures: list[str] = field(default_factory=list)  # RawBarsSchema cases, as delivered
    newest_bar_age_h: float | None = None
    # the day's bid/ask spread (bps of the mid) that its decisions pay, and where it came from
    # ("quote:day close" where the source quotes past days, "edge:<timeframe>" an estimate)
    spread_bps: float | None = None
    spread_source: str = ""

    @property
    def usable(self) -> bool:
        return self.status in ("ok", "repaired")

    @property
    def has_problems(self) -> bool:
        return bool(
            self.invalid_bars
            or self.duplicates_resolved
            or self.out_of_order
            or self.gaps_repaired
            or self.outliers
            or self.vendor_mismatches
            or self.raw_schema_failures
            or not self.usable
        )

    def to_dict(self) -> dict:
        return asdict(self)


def empty_validated() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in VALIDATED_COLUMNS})
    frame["open_time"] = pd.Series(dtype="datetime64[ns, UTC]")
    frame["trades"] = pd.Series(dtype="int64")
    frame["vendor"] = pd.Series(dtype="object")
    frame["repaired"] = pd.Series(dtype="bool")
    frame["outlier"] = pd.Series(dtype="bool")
    return frame[VALIDATED_COLUMNS]


def day_bounds(day: date) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(datetime.combine(day, datetime.min.time(), UTC))
    return start, start + pd.Timedelta(days=1)


def validate_day(
    raw: pd.DataFrame,
    *,
    coin: str,
    day: date,
    bar: timedelta,
    max_repair_bars: int,
    outlier_z: float,
    listed_at: datetime | None = None,
    prev_close: float | None = None,
    secondary: pd.DataFrame | None = None,
    mismatch_bps: float = 25.0,
    max_staleness: timedelta | None = None,
) -> tuple[pd.DataFrame, BarQuality]:
    """Validate and repair the candles of ``coin`` on ``day`` (UTC).

    Returns the validated frame (columns ``VALIDATED_COLUMNS``, one row per grid bar, prices
    in quote currency) and its :class:`BarQuality`. Never raises for bad data except
    :class:`StaleDataError` when the newest candle is older than ``max_staleness`` at the end
    of the day; a bad coin-day comes back empty with ``status`` and ``reason`` set.

    A regular day (every candle of the grid, in order, once, each a valid candle) goes through
    :func:`_validate_regular_day`: the same rules on NumPy arrays, the same frame and record
    (a history run validates thousands of coin-days, and pandas' per-call overhead was most of
    it); anything else takes the general path below.
    """
    regular = _validate_regular_day(
        raw,
        coin=coin,
        day=day,
        bar=bar,
        outlier_z=outlier_z,
        listed_at=listed_at,
        secondary=secondary,
        mismatch_bps=mismatch_bps,
        max_staleness=max_staleness,
    )
    if regular is not None:
        return regular
    return _validate_general(
        raw,
        coin=coin,
        day=day,
        bar=bar,
        max_repair_bars=max_repair_bars,
        outlier_z=outlier_z,
        listed_at=listed_at,
        prev_close=prev_close,
        secondary=secondary,
        mismatch_bps=mismatch_bps,
        max_staleness=max_staleness,
    )


def _validate_general(
    raw: pd.DataFrame,
    *,
    coin: str,
    day: date,
    bar: timedelta,
    max_repair_bars: int,
    outlier_z: float,
    listed_at: datetime | None = None,
    prev_close: float | None = None,
    secondary: pd.DataFrame | None = None,
    mismatch_bps: float = 25.0,
    max_staleness: timedelta | None = None,
) -> tuple[pd.DataFrame, BarQuality]:
    """``validate_day`` for any input: every rule of the module docstring, in order."""
    quality = BarQuality(coin=coin, day=day.isoformat())
    start, end = day_bounds(day)
    grid_start = start
    if listed_at is not None and pd.Timestamp(listed_at) > start:
        if pd.Timestamp(listed_at) >= end:
            quality.status, quality.reason = "not_listed", f"{coin} lists at {listed_at.isoformat()}"
            return empty_validated(), quality
        grid_start = pd.Timestamp(listed_at).ceil(bar)
    grid = pd.date_range(grid_start, end, freq=bar, inclusive="left")
    quality.expected_bars = len(grid)

    missing = [c for c in RAW_COLUMNS if c not in raw.columns]
    if missing:
        quality.status = "quarantined"
        quality.reason = f"{coin} {day}: missing column(s) {missing} in the candles from the exchange"
        return empty_validated(), quality

    frame = raw[RAW_COLUMNS].copy()
    quality.received_bars = len(frame)
    # each column is converted only when it is not already what it must be (a coin-day is small:
    # these conversions were a sixth of the bars' history run)
    if str(frame["open_time"].dtype) != "datetime64[ns, UTC]":
        frame["open_time"] = pd.to_datetime(frame["open_time"], utc=True, errors="coerce")
    not_numeric: list[str] = []
    for column, dtype in frame.dtypes[NUMERIC_COLUMNS].items():
        if dtype == "float64":
            continue
        if not pd.api.types.is_numeric_dtype(dtype):
            coerced = pd.to_numeric(frame[column], errors="coerce")
            if coerced.isna().any() and not frame[column].isna().all():
                not_numeric.append(column)
            frame[column] = coerced.astype("float64")
        else:
            frame[column] = frame[column].astype("float64")
    frame = frame[(frame["open_time"] >= start) & (frame["open_time"] < end)]
    if listed_at is not None:
        frame = frame[frame["open_time"] >= grid_start]

    if frame.empty and quality.expected_bars:
        # no candle at all is a missing day, not a stale feed (which stopped part-way through it)
        quality.status = "missing"
        quality.reason = f"{coin} {day}: no candles for the day ({quality.expected_bars} expected)"
        return empty_validated(), quality

    vendors = frame["vendor"].dropna().unique()
    quality.vendor = ",".join(sorted(map(str, vendors)))

    invalid = _invalid_mask(frame, bar)
    if invalid.any():
        quality.invalid_bars = int(invalid.sum())
        quality.invalid_examples = _describe_invalid(frame[invalid], bar)[:5]
        if not_numeric:
            quality.invalid_examples.insert(0, f"non-numeric values in column(s) {not_numeric}")
    frame = frame[~invalid]

    order = frame["open_time"].astype("int64").to_numpy()
    quality.out_of_order = int((np.diff(order) < 0).sum())
    frame = frame.sort_values("open_time", kind="stable")
    dup = frame["open_time"].duplicated(keep="last")
    quality.duplicates_resolved = int(dup.sum())
    frame = frame[~dup].set_index("open_time")

    if max_staleness is not None and quality.expected_bars:
        newest = frame.index.max() if len(frame) else None
        age = (end - (newest + bar)) if newest is not None else (end - grid_start)
        _check_staleness(quality, age, max_staleness)

    frame = frame.reindex(grid)
    missing_mask = frame["close"].isna().to_numpy()
    runs = _runs(missing_mask)
    quality.longest_gap = max((length for _, length in runs), default=0)
    if quality.longest_gap > max_repair_bars:
        first, length = max(runs, key=lambda r: r[1])
        quality.status = "dropped"
        quality.reason = f"{coin} {day}: gap of {length} bars from {grid[first]:%H:%M} exceeds max_repair_bars={max_repair_bars}"
        return empty_validated(), quality

    frame["repaired"] = missing_mask
    if missing_mask.any():
        quality.gaps_repaired = int(missing_mask.sum())
        quality.status = "repaired"
        close = frame["close"].ffill()
        if pd.isna(close.iloc[0]):
            # gap at the start of the day: the previous close, else the first available open
            close = close.fillna(prev_close if prev_close is not None else frame["open"].bfill().iloc[0])
        for column in PRICE_COLUMNS:
            frame[column] = frame[column].fillna(close)
        for column in ["volume", "quote_volume", "trades", "taker_buy_base", "taker_buy_quote"]:
            frame[column] = frame[column].fillna(0.0)
        frame["vendor"] = frame["vendor"].fillna(quality.vendor or "repaired")

    frame["outlier"] = False
    spikes, held_close = _implausible_closes(frame, outlier_z)
    if spikes.any():
        quality.outliers = int(spikes.sum())
        quality.status = "repaired"
        prices = {c: frame[c].to_numpy(dtype=float) for c in PRICE_COLUMNS}
        held = _hold_outliers(prices, spikes.to_numpy(), held_close.to_numpy())
        for column in ("high", "low", "close"):
            frame[column] = held[column]
        frame["outlier"] = spikes

    if secondary is not None and len(secondary):
        _compare_vendors(frame, secondary, quality, mismatch_bps)

    frame = frame.rename_axis("open_time").reset_index()
    frame["trades"] = frame["trades"].round().astype("int64")
    frame["repaired"] = frame["repaired"].astype(bool)
    frame["outlier"] = frame["outlier"].astype(bool)
    frame["vendor"] = frame["vendor"].astype(str)
    quality.kept_bars = len(frame)
    return frame[VALIDATED_COLUMNS], quality


def _validate_regular_day(
    raw: pd.DataFrame,
    *,
    coin: str,
    day: date,
    bar: timedelta,
    outlier_z: float,
    listed_at: datetime | None,
    secondary: pd.DataFrame | None,
    mismatch_bps: float,
    max_staleness: timedelta | None,
) -> tuple[pd.DataFrame, BarQuality] | None:
    """``validate_day`` of a regular day on NumPy arrays, or None when the day is not regular.

    Regular: listed before the day starts, every column there with NumPy numeric prices and
    volumes and string vendors, the open times exactly the day's grid in order (so nothing to
    filter, sort, de-duplicate or repair) and no invalid candle. Rules 6 (outliers) and 7
    (vendors) run as in the general path; the result is the same frame and quality record
    (``test_bars.py`` checks both paths against each other).
    """
    start, end = day_bounds(day)
    if listed_at is not None and pd.Timestamp(listed_at) > start:
        return None
    if any(c not in raw.columns for c in RAW_COLUMNS) or str(raw["open_time"].dtype) != "datetime64[ns, UTC]":
        return None
    bar_ns = int(bar.total_seconds() * 1e9)
    grid = np.arange(start.value, end.value, bar_ns, dtype=np.int64)
    times = raw["open_time"].array
    if len(grid) == 0 or len(times) != len(grid) or not np.array_equal(times.asi8, grid):
        return None
    values: dict[str, np.ndarray] = {}
    for column in NUMERIC_COLUMNS:
        dtype = raw[column].dtype
        if not isinstance(dtype, np.dtype) or dtype.kind not in "fiub":
            return None
        values[column] = raw[column].to_numpy(dtype="float64")
    vendor = raw["vendor"].to_numpy()
    if vendor.dtype != object or pd.api.types.infer_dtype(vendor, skipna=False) != "string":
        return None
    if _bad_candles(values).any():
        return None

    quality = BarQuality(coin=coin, day=day.isoformat(), expected_bars=len(grid), received_bars=len(grid))
    quality.vendor = ",".join(sorted(set(vendor)))
    if max_staleness is not None:
        age = end - (pd.Timestamp(int(grid[-1]), tz="UTC") + bar)
        _check_staleness(quality, age, max_staleness)

    repaired = np.zeros(len(grid), dtype=bool)
    close = values["close"]
    spikes, held_close = _implausible_close_array(
        close, repaired, float(values["open"][0]), outlier_z, values["high"], values["low"]
    )
    if spikes.any():
        quality.outliers = int(spikes.sum())
        quality.status = "repaired"
        values.update(_hold_outliers(values, spikes, held_close))

    if secondary is not None and len(secondary):
        _vendor_differences(pd.DatetimeIndex(times), values, ~spikes, secondary, quality, mismatch_bps)

    out = {"open_time": times.copy(), **values}
    out["trades"] = np.round(values["trades"]).astype("int64")
    out["vendor"] = vendor.copy()
    out["repaired"] = repaired
    out["outlier"] = spikes
    quality.kept_bars = len(grid)
    return pd.DataFrame(out, columns=VALIDATED_COLUMNS), quality


def _check_staleness(quality: BarQuality, age: pd.Timedelta, max_staleness: timedelta) -> None:
    """Record the newest candle's age at the end of the day; raise when it is past ``max_staleness``."""
    quality.newest_bar_age_h = round(age / pd.Timedelta(hours=1), 2)
    if age > pd.Timedelta(max_staleness):
        raise StaleDataError(
            f"{quality.coin} {quality.day}: newest candle is {quality.newest_bar_age_h} h old at the end "
            f"of the day (max_staleness {pd.Timedelta(max_staleness)})"
        )


def _hold_outliers(
    prices: dict[str, np.ndarray], spikes: np.ndarray, held_close: np.ndarray
) -> dict[str, np.ndarray]:
    """High, low and close with each outlier bar's close held (rule 6): a high or low that the bad
    print set is pulled back to the bar's open and held close, and the high and low always
    enclose the open and the held close (a bar held after a real move opens away from the held
    close: left as delivered, its high or low would cut through it, and the day would fail
    ``ValidatedBarsSchema``)."""
    close, open_ = prices["close"], prices["open"]
    fixed = np.where(spikes, held_close, close)
    high, low = prices["high"].copy(), prices["low"].copy()
    top = np.maximum(open_[spikes], fixed[spikes])
    bottom = np.minimum(open_[spikes], fixed[spikes])
    high[spikes] = np.maximum(np.where(high[spikes] <= close[spikes], top, high[spikes]), top)
    low[spikes] = np.minimum(np.where(low[spikes] >= close[spikes], bottom, low[spikes]), bottom)
    return {"high": high, "low": low, "close": fixed}


def _bad_candles(values: dict[str, np.ndarray]) -> np.ndarray:
    """Rows whose prices and volume are no candle (rule 3), from float arrays."""
    stacked = np.column_stack([values[c] for c in PRICE_COLUMNS])
    with np.errstate(invalid="ignore"):
        bad = np.isnan(stacked).any(axis=1) | (stacked <= 0).any(axis=1)
        high, low = values["high"], values["low"]
        body_top = np.maximum(values["open"], values["close"])
        body_bottom = np.minimum(values["open"], values["close"])
        bad |= high < low
        bad |= high < body_top * (1 - 1e-9)
        bad |= low > body_bottom * (1 + 1e-9)
        bad |= np.nan_to_num(values["volume"], nan=0.0) < 0
    return bad


def _invalid_mask(frame: pd.DataFrame, bar: timedelta) -> pd.Series:
    """Rows that are no candle: a price missing or <= 0, high/low not enclosing open/close,
    negative volume, or an open time missing or off the timeframe grid (NumPy: once per coin-day)."""
    bad = _bad_candles({c: frame[c].to_numpy(dtype=float) for c in [*PRICE_COLUMNS, "volume"]})
    times = frame["open_time"]
    missing = times.isna().to_numpy()
    bar_ns = int(bar.total_seconds() * 1e9)
    off_grid = ~missing & (pd.DatetimeIndex(times).asi8 % bar_ns != 0)
    return pd.Series(bad | missing | off_grid, index=frame.index)


def _describe_invalid(rows: pd.DataFrame, bar: timedelta) -> list[str]:
    out = []
    for _, row in rows.iterrows():
        problems = []
        prices = [row[c] for c in PRICE_COLUMNS]
        if any(pd.isna(p) for p in prices):
            problems.append("NaN price")
        elif any(p <= 0 for p in prices):
            problems.append("non-positive price")
        elif row["high"] < row["low"]:
            problems.append("high < low")
        elif row["high"] < max(row["open"], row["close"]) or row["low"] > min(row["open"], row["close"]):
            problems.append("high/low do not enclose open/close")
        if not pd.isna(row["volume"]) and row["volume"] < 0:
            problems.append("negative volume")
        if pd.isna(row["open_time"]):
            problems.append("unparseable open_time")
        elif row["open_time"].value % int(bar.total_seconds() * 1e9):
            problems.append("open_time off the timeframe grid")
        out.append(f"{row['open_time']}: {', '.join(problems) or 'invalid'}")
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True in ``mask``."""
    if not mask.any():
        return []
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.diff(padded)
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return [(int(a), int(b - a)) for a, b in zip(starts, stops, strict=True)]


def robust_z(values: np.ndarray) -> np.ndarray:
    """(x - median) / (1.4826 * MAD), NaN-aware; zero MAD gives zeros."""
    median = np.nanmedian(values)
    mad = 1.4826 * np.nanmedian(np.abs(values - median))
    if not np.isfinite(mad) or mad <= 0:
        return np.zeros_like(values)
    return (values - median) / mad


_MIN_SCALE_RETURNS = 3  # earlier returns of the day needed before a bar can be judged an outlier
_RANGE_PER_SIGMA = math.sqrt(8 / math.pi)  # a Brownian bar's expected high-low log range, in sigmas


def _implausible_closes(frame: pd.DataFrame, outlier_z: float) -> tuple[pd.Series, pd.Series]:
    """(outlier flags, the close each bar is held at) from bars up to and including each bar only.

    Bar t is an outlier when its close is more than ``outlier_z`` robust units away both from the
    last accepted close and from bar t-1's delivered close, the unit being a bar's volatility
    from the day's accepted bars before t (gap-repaired bars excluded): the larger of 1.4826 x
    the MAD of their log returns and their median high-low log range / sqrt(8 / pi). Requiring
    both closes keeps a real jump from being held for ever: the bar after it is normal against
    the delivered jump. The range keeps the unit from collapsing on a few quiet or one-way
    returns (a MAD of 6 returns alone quarantined 8 coin-days of a clean market, ``test_bars.py``).
    """
    flags, held = _implausible_close_array(
        frame["close"].to_numpy(dtype=float),
        frame["repaired"].to_numpy(dtype=bool),
        float(frame["open"].iloc[0]),
        outlier_z,
        frame["high"].to_numpy(dtype=float),
        frame["low"].to_numpy(dtype=float),
    )
    return pd.Series(flags, index=frame.index), pd.Series(held, index=frame.index)


def _implausible_close_array(
    close: np.ndarray,
    repaired: np.ndarray,
    first_open: float,
    outlier_z: float,
    high: np.ndarray,
    low: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``_implausible_closes`` on arrays: (flags, held close), the first bar measured from ``first_open``."""
    flags = np.zeros(len(close), dtype=bool)
    held = close.copy()
    accepted_prev = delivered_prev = first_open
    past: list[float] = []
    ranges: list[float] = []
    for t, price in enumerate(close):
        into = math.log(price / accepted_prev)
        if len(past) >= _MIN_SCALE_RETURNS and not repaired[t]:
            median = _median(past)
            unit = max(1.4826 * _median([abs(r - median) for r in past]), _median(ranges) / _RANGE_PER_SIGMA)
            jump = math.log(price / delivered_prev)
            if unit > 0 and abs(into - median) > outlier_z * unit and abs(jump - median) > outlier_z * unit:
                flags[t], held[t] = True, accepted_prev
        if not flags[t]:
            if not repaired[t]:
                past.append(into)
                ranges.append(math.log(high[t] / low[t]))
            accepted_prev = price
        delivered_prev = price
    return flags, held


def _median(values: list[float]) -> float:
    """``np.median`` of a short list, the same float (a day has at most a few dozen returns; the
    NumPy call's overhead was most of the outlier pass)."""
    if any(math.isnan(v) for v in values):
        return float(np.median(values))
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _compare_vendors(
    frame: pd.DataFrame, secondary: pd.DataFrame, quality: BarQuality, mismatch_bps: float
) -> None:
    """Close/open/high/low of the primary (bars neither repaired nor outliers) against the second
    vendor's bar of the same time (its last one where it sent duplicates); NumPy on purpose: it
    runs once per coin-day, thousands of times in a history run."""
    usable = ~(frame["repaired"].to_numpy(dtype=bool) | frame["outlier"].to_numpy(dtype=bool))
    prices = {c: frame[c].to_numpy(dtype=float) for c in PRICE_COLUMNS}
    _vendor_differences(frame.index, prices, usable, secondary, quality, mismatch_bps)


def _vendor_differences(
    index: pd.DatetimeIndex,
    prices: dict[str, np.ndarray],
    usable: np.ndarray,
    secondary: pd.DataFrame,
    quality: BarQuality,
    mismatch_bps: float,
) -> None:
    """``_compare_vendors`` on the primary's bar times, price arrays and comparable bars."""
    columns = [c for c in PRICE_COLUMNS if c in secondary]
    if not columns:
        return
    times = secondary["open_time"]
    if str(times.dtype) != "datetime64[ns, UTC]":
        times = pd.to_datetime(times, utc=True, errors="coerce")
    known = times.notna().to_numpy()
    times = pd.DatetimeIndex(times[known])
    last = ~times.duplicated(keep="last")
    theirs = np.column_stack(
        [
            (
                secondary[c]
                if secondary[c].dtype == "float64"
                else pd.to_numeric(secondary[c], errors="coerce")
            ).to_numpy(dtype=float)[known][last]
            for c in columns
        ]
    )
    position = index.get_indexer(times[last])
    matched = position >= 0
    if not matched.any():
        return
    position, theirs = position[matched], theirs[matched]
    keep = usable[position]
    position, theirs = position[keep], theirs[keep]
    mine = np.column_stack([prices[c] for c in columns])[position]
    valid = (theirs > 0).all(axis=1) & ~np.isnan(mine).any(axis=1) & ~np.isnan(theirs).any(axis=1)
    if not valid.any():
        return
    order = np.argsort(position[valid], kind="stable")
    diff = (np.abs(mine[valid] / theirs[valid] - 1) * 1e4).max(axis=1)[order]
    at = index[position[valid][order]]
    quality.vendor_compared = len(diff)
    quality.vendor_max_diff_bps = round(float(diff.max()), 2)
    bad = diff > mismatch_bps
    quality.vendor_mismatches = int(bad.sum())
    quality.mismatch_times = [
        f"{t:%Y-%m-%dT%H:%M}Z ({d:.0f} bps)" for t, d in zip(at[bad], diff[bad], strict=True)
    ][:10]
