"""The per-day work behind the ``bars`` asset module, without Dagster: the asset and the
benchmark's plain loop both call it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from huracan_assets.checks.schemas import ValidatedBarsSchema, raw_bars_schema
from huracan_assets.checks.validation import failures_by_day
from huracan_assets.config import HuracanSettings, parse_duration
from huracan_assets.core.bars import BarQuality, StaleDataError, empty_validated, validate_day
from huracan_assets.core.spread import edge_spread, tick_from_prices
from huracan_assets.steps.frames import day_of, end_of_day

if TYPE_CHECKING:  # the client protocol lives with its Dagster resource
    from huracan_assets.resources.market_data import MarketDataClient

# the day is unusable (blocking) when at least this share of listed coins fail to validate
UNUSABLE_DAY_SHARE = 0.5


@dataclass(frozen=True)
class CoinTask:
    coin: str
    # key, day, listed_at, listed on that day, market status at the end of the day
    days: list[tuple[str, date, datetime | None, bool, str]]
    client: MarketDataClient
    settings: HuracanSettings


def validate_coin(task: CoinTask) -> dict[str, tuple[pd.DataFrame, BarQuality]]:
    """Fetch the coin's candles for every day of the run once, then validate day by day.

    The raw candles go through Pandera's ``RawBarsSchema`` (failures are recorded, the day is
    repaired or dropped by ``validate_day``); the validated days through ``ValidatedBarsSchema``,
    and a day that fails it is quarantined so unusable bars never reach training.
    """
    settings = task.settings
    listed_days = [d for _, d, _, listed, status in task.days if listed and status == "TRADING"]
    raw = secondary = pd.DataFrame()
    if listed_days:
        start = end_of_day(min(listed_days)) - timedelta(days=1)
        end = end_of_day(max(listed_days))
        raw = task.client.ohlcv(task.coin, start, end)
        if task.client.secondary_vendor:
            secondary = task.client.ohlcv(task.coin, start, end, vendor=task.client.secondary_vendor)
    by_day = _split_days(raw)
    secondary_by_day = _split_days(secondary)
    raw_failures = failures_by_day(raw_bars_schema(settings.bar), raw, listed_days) if len(raw) else {}
    out: dict[str, tuple[pd.DataFrame, BarQuality]] = {}
    for key, day, listed_at, listed, status in task.days:
        if not listed or status != "TRADING":
            quality = BarQuality(
                coin=task.coin,
                day=day.isoformat(),
                status="not_listed" if not listed else "delisted",
                reason=f"{task.coin} is not listed on {day}"
                if not listed
                else f"{task.coin} market status {status} at the end of {day}: delisted or halted, not trained",
            )
            out[key] = (empty_validated(), quality)
            continue
        try:
            out[key] = validate_day(
                by_day.get(day, raw.iloc[0:0]),
                coin=task.coin,
                day=day,
                bar=settings.bar,
                max_repair_bars=settings.max_repair_bars,
                outlier_z=settings.outlier_z,
                listed_at=listed_at,
                secondary=secondary_by_day.get(day),
                mismatch_bps=settings.vendor_mismatch_bps,
                max_staleness=parse_duration(settings.max_staleness),
            )
        except StaleDataError as error:
            quality = BarQuality(coin=task.coin, day=day.isoformat(), status="stale", reason=str(error))
            out[key] = (empty_validated(), quality)
        out[key][1].raw_schema_failures = raw_failures.get(day, [])
        # a source that knows where the day should have come from says so (archives: the file)
        hint = getattr(task.client, "missing_day_hint", None)
        if out[key][1].status == "missing" and hint is not None and (where := hint(task.coin, day)):
            out[key][1].reason += f"; {where}"
    _quarantine_schema_failures(task.coin, out)
    for frame, quality in out.values():
        if len(frame):
            _record_spread(task, date.fromisoformat(quality.day), frame, quality)
    return out


def _record_spread(task: CoinTask, day: date, frame: pd.DataFrame, quality: BarQuality) -> None:
    """The day's spread, on every bar of the day (``spread_bps``) and in its quality record: the
    source's quote of that day where it has one (the simulator), else the EDGE estimate on the
    day's own candles floored at one price tick read off them (Binance's klines and archives are
    trades; on hourly candles the estimate is noisy, README "Spread estimate"). Decisions of
    the day pay it (``core/costs.py``, ``DecisionCosts``)."""
    quote = getattr(task.client, "day_spread_bps", None)
    if quote is not None:
        spread, source = quote(task.coin, day)
    else:
        estimate = edge_spread(frame, task.settings.timeframe, tick_from_prices(frame["close"].to_numpy()))
        spread, source = estimate.spread_bps, estimate.source
    quality.spread_bps = float(spread) if np.isfinite(spread) else None
    quality.spread_source = source if np.isfinite(spread) else ""
    frame["spread_bps"] = float(spread)


def _quarantine_schema_failures(coin: str, out: dict[str, tuple[pd.DataFrame, BarQuality]]) -> None:
    """Quarantine every day whose validated bars fail ``ValidatedBarsSchema`` (one Pandera call)."""
    # the ``date`` column makes uniqueness and order checks run within each day
    frames = [f.assign(date=key) for key, (f, _) in out.items() if len(f)]
    if not frames:
        return
    combined = pd.concat(frames, ignore_index=True)
    # row failures come back by the row's UTC day, frame-wide ones under every partition key
    failures = failures_by_day(ValidatedBarsSchema, combined, list(combined["date"].unique()))
    for key, (frame, quality) in list(out.items()):
        cases = failures.get(key) or failures.get(date.fromisoformat(quality.day), [])
        if cases and len(frame):
            quality.status = "quarantined"
            quality.reason = (
                f"{coin} {quality.day}: validated bars fail ValidatedBarsSchema: {'; '.join(cases[:3])}"
            )
            out[key] = (empty_validated(), quality)


def market_listings(client: MarketDataClient, day: date) -> dict[str, tuple[datetime | None, str]]:
    """coin -> (listed_at, market status) for the USDT spot markets listed at the end of ``day``."""
    markets = client.markets(end_of_day(day))
    out: dict[str, tuple[datetime | None, str]] = {}
    for row in markets.itertuples(index=False):
        if row.quote != "USDT" or row.base == "GBP":
            continue
        listed_at = getattr(row, "listed_at", None)
        listed_at = (
            None if listed_at is None or pd.isna(listed_at) else pd.Timestamp(listed_at).to_pydatetime()
        )
        out[str(row.base)] = (listed_at, str(row.status or "TRADING"))
    return out


def task_days(
    coin: str, keys: list[str], listings: dict[date, dict[str, tuple[datetime | None, str]]]
) -> list[tuple[str, date, datetime | None, bool, str]]:
    """:attr:`CoinTask.days` of ``coin``'s partition ``keys``: whether it traded on each day is the
    market's answer for that day (``listings``: day -> :func:`market_listings`), never a universe
    partition computed before the coin (or this market) was known."""
    days = []
    for key in keys:
        day = day_of(key)
        listing = listings[day].get(coin)
        listed_at, status = listing if listing is not None else (None, "TRADING")
        days.append((key, day, listed_at, listing is not None, status))
    return days


def _split_days(frame: pd.DataFrame) -> dict[date, pd.DataFrame]:
    if frame.empty or "open_time" not in frame:
        return {}
    times = pd.to_datetime(frame["open_time"], utc=True, errors="coerce")
    return {day.date(): group for day, group in frame.groupby(times.dt.floor("D"))}
