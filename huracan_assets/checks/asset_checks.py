"""Asset checks: Pandera schemas on the per-coin tables and the usability of the day.

In the daily single run a partitioned check runs once over every coin of the day, so the
per-coin schema checks are non-blocking WARNs listing the failing coin-days and their failure
cases: a bad coin is quarantined inside the assets and must not stop the others. Blocking
checks guard only what makes a whole day unusable (empty universe, most coins unusable).
"""

import json

import dagster as dg
import pandas as pd

from huracan_assets.assets._shared import markdown_table
from huracan_assets.checks.schemas import FeaturesSchema, LabelsSchema, ValidatedBarsSchema
from huracan_assets.checks.validation import SchemaOutcome, validate_partitions
from huracan_assets.partitions import Partitions
from huracan_assets.resources.storage import split_key

USABLE_SHARE = 0.5


def _schema_result(outcome: SchemaOutcome, table: str) -> dg.AssetCheckResult:
    rows = [
        {"partition": key, "column": c["column"], "check": c["check"], "failure_case": c["failure_case"]}
        for key, cases in outcome.failing.items()
        for c in cases
    ]
    days = sorted({k.split("|")[0] for k in outcome.checked})
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{table}: all {len(outcome.checked)} coin-days pass"
            if outcome.passed
            else f"{table}: {len(outcome.failing)} of {len(outcome.checked)} coin-days fail: "
            + ", ".join(sorted(outcome.failing)[:10])
        ),
        metadata={
            "checked_partitions": len(outcome.checked),
            "failing_partitions": len(outcome.failing),
            "failing_coins": ", ".join(outcome.failing_coins()),
            "days": ", ".join(days[:5]) + (" …" if len(days) > 5 else ""),
            "per_coin": dg.MetadataValue.json(
                {key: ("fail" if key in outcome.failing else "pass") for key in outcome.checked[:2000]}
            ),
            "failure_cases": dg.MetadataValue.md(
                markdown_table(rows, ["partition", "column", "check", "failure_case"], limit=40)
            ),
            "failure_cases_json": dg.MetadataValue.json(json.loads(json.dumps(outcome.failing, default=str))),
        },
    )


def build(partitions: Partitions) -> list[dg.AssetChecksDefinition]:
    @dg.asset_check(
        asset="validated_bars",
        partitions_def=partitions.coin_days,
        blocking=False,
        description="Pandera ValidatedBarsSchema on every coin-day: types, unique sorted times, OHLC "
        "consistency, non-negative volume, no NaN after repair. WARN, lists failing coins and cases.",
    )
    def validated_bars_schema(validated_bars: pd.DataFrame) -> dg.AssetCheckResult:
        return _schema_result(validate_partitions(ValidatedBarsSchema, validated_bars), "validated_bars")

    @dg.asset_check(
        asset="validated_bars",
        partitions_def=partitions.coin_days,
        blocking=True,
        additional_ins={"coin_universe": dg.AssetIn(partition_mapping=partitions.by_day)},
        description="Blocking: the day is usable only if at least half of the listed coins have validated bars.",
    )
    def validated_bars_day_usable(
        context: dg.AssetCheckExecutionContext, validated_bars: pd.DataFrame, coin_universe: pd.DataFrame
    ) -> dg.AssetCheckResult:
        in_run: dict[str, set[str]] = {}
        for key in context.partition_keys:
            day, coin = split_key(str(key))
            in_run.setdefault(day, set()).add(str(coin))
        with_rows: set[tuple[str, str]] = set()
        if validated_bars is not None and len(validated_bars):
            with_rows = set(map(tuple, validated_bars[["date", "symbol"]].drop_duplicates().to_numpy()))
        problems, per_day = [], {}
        for day, coins in sorted(in_run.items()):
            trading = coin_universe["status"] == "TRADING" if "status" in coin_universe else True
            listed = (
                coin_universe.loc[(coin_universe["date"] == day) & trading, "coin"]
                if len(coin_universe)
                else []
            )
            expected = coins & set(listed)
            usable = {c for c in expected if (day, c) in with_rows}
            share = len(usable) / len(expected) if expected else 1.0
            per_day[day] = round(share, 3)
            if expected and share < USABLE_SHARE:
                problems.append(f"{day}: only {len(usable)} of {len(expected)} listed coins have usable bars")
        return dg.AssetCheckResult(
            passed=not problems,
            severity=dg.AssetCheckSeverity.ERROR,
            description="; ".join(problems[:10]) or "every day has usable bars for most listed coins",
            metadata={"usable_share_by_day": dg.MetadataValue.json(dict(list(per_day.items())[-60:]))},
        )

    @dg.asset_check(
        asset="validated_bars",
        partitions_def=partitions.coin_days,
        blocking=False,
        description="WARN when the exchange delivered bad candles for a coin-day (NaN or non-positive prices, "
        "high < low, duplicates, wrong types, missing columns) or the day had to be dropped or quarantined; "
        "names every coin-day and what was wrong. The repaired data itself is checked by validated_bars_schema.",
    )
    def validated_bars_source_quality(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        records = _materializations(context, "validated_bars")
        rows = []
        for partition, metadata in sorted(records.items()):
            status = str(_value(metadata.get("status")))
            counts = {k: int(_value(metadata.get(k)) or 0) for k in ("invalid_bars", "duplicates_resolved")}
            if status in ("quarantined", "dropped", "stale", "delisted") or any(counts.values()):
                rows.append(
                    {
                        "partition": partition,
                        "status": status,
                        **counts,
                        "reason": _value(metadata.get("reason")) or "",
                        "examples": _value(metadata.get("problems")) or "",
                    }
                )
        failing = {r["partition"] for r in rows}
        coins = sorted({p.split("|")[-1] for p in failing})
        return dg.AssetCheckResult(
            passed=not rows,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"bad candles from the exchange for {len(rows)} coin-day(s): {', '.join(coins)}"
                if rows
                else f"all {len(records)} coin-days arrived clean"
            ),
            metadata={
                "checked_partitions": len(records),
                "failing_coins": ", ".join(coins),
                "per_coin": dg.MetadataValue.json(
                    {p: ("fail" if p in failing else "pass") for p in sorted(records)[:2000]}
                ),
                "problems": dg.MetadataValue.md(
                    markdown_table(
                        rows,
                        ["partition", "status", "invalid_bars", "duplicates_resolved", "reason", "examples"],
                    )
                ),
            },
        )

    @dg.asset_check(
        asset="validated_bars",
        partitions_def=partitions.coin_days,
        blocking=False,
        description="Pandera RawBarsSchema on the candles as the exchange delivered them (types, every column, "
        "positive prices, OHLC consistency, unique ordered times on the timeframe grid, non-negative volume). "
        "WARN: validation repairs or drops what fails; lists each coin-day and its failure cases.",
    )
    def validated_bars_raw_schema(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        records = _materializations(context, "validated_bars")
        rows = [
            {"partition": partition, "failure_cases": str(_value(metadata.get("raw_schema_failures")))}
            for partition, metadata in sorted(records.items())
            if _value(metadata.get("raw_schema_failures"))
        ]
        failing = {r["partition"] for r in rows}
        coins = sorted({p.split("|")[-1] for p in failing})
        return dg.AssetCheckResult(
            passed=not rows,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"RawBarsSchema: {len(rows)} coin-day(s) delivered bad candles: {', '.join(coins)}"
                if rows
                else f"RawBarsSchema: all {len(records)} coin-days arrived clean"
            ),
            metadata={
                "checked_partitions": len(records),
                "failing_partitions": len(rows),
                "failing_coins": ", ".join(coins),
                "per_coin": dg.MetadataValue.json(
                    {p: ("fail" if p in failing else "pass") for p in sorted(records)[:2000]}
                ),
                "failure_cases": dg.MetadataValue.md(
                    markdown_table(rows, ["partition", "failure_cases"], limit=40)
                ),
            },
        )

    @dg.asset_check(
        asset="coin_universe",
        partitions_def=partitions.days,
        blocking=True,
        description="Blocking: a day with no eligible coin cannot be trained.",
    )
    def coin_universe_not_empty(coin_universe: pd.DataFrame) -> dg.AssetCheckResult:
        eligible = coin_universe[coin_universe["eligible"]] if len(coin_universe) else coin_universe
        empty_days = (
            sorted(set(coin_universe["date"]) - set(eligible["date"])) if len(coin_universe) else ["all"]
        )
        return dg.AssetCheckResult(
            passed=not empty_days,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"no eligible coin on {', '.join(empty_days)}"
            if empty_days
            else "every day has eligible coins",
            metadata={"eligible_coins": int(len(eligible)), "markets": int(len(coin_universe))},
        )

    @dg.asset_check(
        asset="features",
        partitions_def=partitions.coin_days,
        blocking=False,
        description="Pandera FeaturesSchema: finite features, ratios in range, unique times. WARN.",
    )
    def features_schema(features: pd.DataFrame) -> dg.AssetCheckResult:
        return _schema_result(validate_partitions(FeaturesSchema, features), "features")

    @dg.asset_check(
        asset="labels",
        partitions_def=partitions.coin_days,
        blocking=False,
        description="Pandera LabelsSchema: causal times (decision < fill < exit), finite returns. WARN.",
    )
    def labels_schema(labels: pd.DataFrame) -> dg.AssetCheckResult:
        return _schema_result(validate_partitions(LabelsSchema, labels), "labels")

    return [
        validated_bars_schema,
        validated_bars_raw_schema,
        validated_bars_source_quality,
        validated_bars_day_usable,
        coin_universe_not_empty,
        features_schema,
        labels_schema,
    ]


def _value(entry: object) -> object:
    return getattr(entry, "value", entry)


def _materializations(context: dg.AssetCheckExecutionContext, asset: str) -> dict[str, dict]:
    """partition -> metadata of the asset's materializations for the partitions this check covers.

    In the run that materialised them these are the run's own events; a check run on its own
    falls back to the latest materialisation of each partition.
    """
    wanted = (
        {str(k) for k in context.partition_keys}
        if context.has_partition_key_range or context.has_partition_key
        else set()
    )
    key = dg.AssetKey(asset)
    found: dict[str, dict] = {}
    connection = context.instance.get_records_for_run(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=1_000_000
    )
    for record in connection.records:
        materialization = record.event_log_entry.asset_materialization
        if (
            materialization
            and materialization.asset_key == key
            and (not wanted or materialization.partition in wanted)
        ):
            found[str(materialization.partition)] = dict(materialization.metadata)
    missing = sorted(wanted - set(found))
    for start in range(0, len(missing), 500):
        chunk = missing[start : start + 500]
        result = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=chunk), limit=len(chunk) * 20
        )
        for record in reversed(result.records):  # newest last, so the newest wins
            materialization = record.event_log_entry.asset_materialization
            if materialization is not None:
                found[str(materialization.partition)] = dict(materialization.metadata)
    return found
