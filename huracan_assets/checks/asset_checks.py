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
            listed = coin_universe.loc[coin_universe["date"] == day, "coin"] if len(coin_universe) else []
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
        validated_bars_day_usable,
        coin_universe_not_empty,
        features_schema,
        labels_schema,
    ]
