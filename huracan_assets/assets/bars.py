"""validated_bars[date x symbol]: candles of the day, validated, repaired, vendor-tagged."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import (
    CODE_VERSION,
    SINGLE_RUN,
    PartitionMetadata,
    content_version,
    day_of,
    end_of_day,
    keys_by_coin,
    run_keys,
)
from huracan_assets.checks.catalog import column_schema
from huracan_assets.checks.schemas import ValidatedBarsSchema, raw_bars_schema
from huracan_assets.checks.validation import failures_by_day
from huracan_assets.config import HuracanSettings, parse_duration
from huracan_assets.core.bars import BarQuality, StaleDataError, empty_validated, validate_day
from huracan_assets.partitions import Partitions
from huracan_assets.resources.compute import ComputeResource, TaskFailure
from huracan_assets.resources.market_data import MarketDataClient, MarketDataResource
from huracan_assets.resources.settings import HuracanSettingsResource

# the day is unusable (blocking) when at least this share of listed coins fail to validate
UNUSABLE_DAY_SHARE = 0.5


@dataclass(frozen=True)
class _CoinTask:
    coin: str
    # key, day, listed_at, listed on that day, market status at the end of the day
    days: list[tuple[str, date, datetime | None, bool, str]]
    client: MarketDataClient
    settings: HuracanSettings


def _validate_coin(task: _CoinTask) -> dict[str, tuple[pd.DataFrame, BarQuality]]:
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
    _quarantine_schema_failures(task.coin, out)
    return out


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


def _listings(client: MarketDataClient, day: date) -> dict[str, tuple[datetime | None, str]]:
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


def _split_days(frame: pd.DataFrame) -> dict[date, pd.DataFrame]:
    if frame.empty or "open_time" not in frame:
        return {}
    times = pd.to_datetime(frame["open_time"], utc=True, errors="coerce")
    return {day.date(): group for day, group in frame.groupby(times.dt.floor("D"))}


def build(partitions: Partitions) -> list[dg.AssetsDefinition]:
    @dg.asset(
        code_version=CODE_VERSION,
        metadata={"dagster/column_schema": column_schema(ValidatedBarsSchema)},
        partitions_def=partitions.coin_days,
        backfill_policy=SINGLE_RUN,
        group_name="market_data",
        kinds={"pandas", "parquet"},
        description=(
            "OHLCV candles of the coin-day on the timeframe grid: invalid candles removed, duplicates and "
            "order resolved, gaps <= max_repair_bars repaired (longer: day dropped), spike outliers fixed, "
            "vendor-tagged and cross-checked against a second vendor."
        ),
    )
    def validated_bars(
        context: dg.AssetExecutionContext,
        market_data: MarketDataResource,
        compute: ComputeResource,
        huracan_settings: HuracanSettingsResource,
    ) -> dg.Output[dict[str, pd.DataFrame]]:
        settings = huracan_settings.get()
        client = market_data.client()
        all_keys = run_keys(context)
        # whether a coin traded on a day is the market's answer for that day, never a universe
        # partition that may have been computed before the coin (or this market) was known
        listings = {d: _listings(client, d) for d in {day_of(k) for k in all_keys}}
        tasks = []
        for coin, keys in keys_by_coin(all_keys).items():
            days = []
            for key in keys:
                day = day_of(key)
                listing = listings[day].get(coin)
                listed = listing is not None
                listed_at, status = listing if listing is not None else (None, "TRADING")
                days.append((key, day, listed_at, listed, status))
            tasks.append(_CoinTask(coin=coin, days=days, client=client, settings=settings))
        results = compute.map(_validate_coin, tasks, keys=[t.coin for t in tasks])
        out: dict[str, pd.DataFrame] = {}
        qualities: list[BarQuality] = []
        metadata = PartitionMetadata(context, len(all_keys))
        for task, result in zip(tasks, results, strict=True):
            for key, day, *_ in task.days:
                if isinstance(result, TaskFailure):
                    context.log.error(
                        f"event=coin_failed asset=validated_bars coin={task.coin} error={result}"
                    )
                    quality = BarQuality(
                        coin=task.coin, day=day.isoformat(), status="quarantined", reason=str(result)
                    )
                    frame = empty_validated()
                else:
                    frame, quality = result[key]
                frame.attrs = {"quality": quality.to_dict()}
                out[key] = frame
                qualities.append(quality)
                metadata.add(
                    key,
                    {
                        "status": quality.status,
                        "reason": quality.reason,
                        "rows": len(frame),
                        "vendor": quality.vendor,
                        "gaps_repaired": quality.gaps_repaired,
                        "outliers": quality.outliers,
                        "duplicates_resolved": quality.duplicates_resolved,
                        "invalid_bars": quality.invalid_bars,
                        "vendor_mismatches": quality.vendor_mismatches,
                        "problems": "; ".join(quality.invalid_examples[:5]),
                        "raw_schema_failures": "; ".join(quality.raw_schema_failures[:5]),
                    },
                    notable=quality.has_problems and quality.status != "not_listed",
                )
        _fail_if_day_unusable(qualities)
        bad = [q for q in qualities if q.status in ("quarantined", "stale", "dropped")]
        summary = {
            "partitions_in_run": len(out),
            "unusable_in_run": len(bad),
            "gaps_repaired_in_run": sum(q.gaps_repaired for q in qualities),
            "outliers_in_run": sum(q.outliers for q in qualities),
        }
        metadata.flush(summary)
        context.log.info("event=validated_bars " + " ".join(f"{k}={v}" for k, v in summary.items()))
        return dg.Output(out, data_version=content_version(out))

    return [validated_bars]


def _fail_if_day_unusable(qualities: list[BarQuality]) -> None:
    """Fail fast when the feed itself is broken for a day (most coins stale), naming coins and ages."""
    by_day: dict[str, list[BarQuality]] = {}
    for quality in qualities:
        if quality.status not in ("not_listed", "delisted"):
            by_day.setdefault(quality.day, []).append(quality)
    for day, items in by_day.items():
        stale = [q for q in items if q.status == "stale"]
        if len(items) >= 3 and len(stale) >= UNUSABLE_DAY_SHARE * len(items):
            detail = "; ".join(q.reason for q in stale[:5])
            raise dg.Failure(
                description=f"market data for {day} is stale for {len(stale)} of {len(items)} coins: {detail}",
                allow_retries=True,
            )
