"""validated_bars[date x symbol]: candles of the day, validated, repaired, vendor-tagged."""

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import (
    SINGLE_RUN,
    PartitionMetadata,
    coin_failed,
    content_version,
    run_keys,
)
from huracan_assets.checks.catalog import column_schema
from huracan_assets.checks.schemas import ValidatedBarsSchema
from huracan_assets.core.bars import BarQuality, empty_validated
from huracan_assets.partitions import Partitions
from huracan_assets.resources.compute import ComputeResource, TaskFailure
from huracan_assets.resources.market_data import MarketDataResource
from huracan_assets.resources.metrics import MetricsResource
from huracan_assets.resources.settings import HuracanSettingsResource
from huracan_assets.steps.bars import UNUSABLE_DAY_SHARE, CoinTask, market_listings, task_days, validate_coin
from huracan_assets.steps.frames import CODE_VERSION, day_of, keys_by_coin


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
        metrics: MetricsResource,
        huracan_settings: HuracanSettingsResource,
    ) -> dg.Output[dict[str, pd.DataFrame]]:
        settings = huracan_settings.get()
        client = market_data.client()
        all_keys = run_keys(context)
        # whether a coin traded on a day is the market's answer for that day, never a universe
        # partition that may have been computed before the coin (or this market) was known
        listings = {d: market_listings(client, d) for d in {day_of(k) for k in all_keys}}
        tasks = []
        for coin, keys in keys_by_coin(all_keys).items():
            tasks.append(
                CoinTask(coin=coin, days=task_days(coin, keys, listings), client=client, settings=settings)
            )
        results = compute.map(validate_coin, [(t,) for t in tasks], keys=[t.coin for t in tasks])
        out: dict[str, pd.DataFrame] = {}
        qualities: list[BarQuality] = []
        metadata = PartitionMetadata(context, len(all_keys))
        for task, result in zip(tasks, results, strict=True):
            if isinstance(result, TaskFailure):
                coin_failed(context, metrics, f"coin={task.coin} error={result}")
            for key, day, *_ in task.days:
                if isinstance(result, TaskFailure):
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
        bad = [q for q in qualities if q.status in ("quarantined", "stale", "missing", "dropped")]
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
    """Fail fast when the feed itself is broken for a day (most coins stale or without a candle),
    naming the coins and the candles' ages."""
    by_day: dict[str, list[BarQuality]] = {}
    for quality in qualities:
        if quality.status not in ("not_listed", "delisted"):
            by_day.setdefault(quality.day, []).append(quality)
    for day, items in by_day.items():
        stale = [q for q in items if q.status == "stale"]
        missing = [q for q in items if q.status == "missing"]
        if len(items) >= 3 and len(stale) + len(missing) >= UNUSABLE_DAY_SHARE * len(items):
            parts = [f"stale for {len(stale)} of {len(items)} coins"] if stale else []
            if missing:
                parts.append(f"missing (no candles) for {len(missing)} of {len(items)} coins")
            detail = "; ".join(q.reason for q in (stale + missing)[:5])
            raise dg.Failure(
                description=f"market data for {day} is {' and '.join(parts)}: {detail}",
                allow_retries=True,
            )
