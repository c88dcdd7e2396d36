"""Asset checks: Pandera schemas on the per-coin tables and the usability of the day.

Every check computes from the data (the stored partitions, loaded as inputs) and records one
outcome per partition of its run, so the UI's Partitions tab shows each coin-day as passed or
failed. Per-coin checks are non-blocking WARNs: a bad coin is quarantined inside the assets and
must not stop the others. Blocking checks guard only what makes a whole day unusable (empty
universe, most coins unusable) and give every partition of that day the day's outcome.

How per-partition outcomes work in a range run (read from dagster 1.13.27):

* ``AssetCheckResult`` has no partition argument. Dagster fills the evaluation's partition from
  the step's single partition key only (``AssetCheckResult.to_asset_check_evaluation``,
  ``_core/definitions/asset_checks/asset_check_result.py`` l. 197-234). In a run over a range
  there is no single key, so a returned result is stored with ``partition=None``.
* The run plans one ``asset_check_executions`` row per partition of the range
  (``_store_asset_check_evaluation_planned``, ``_core/storage/event_log/sql_event_log.py``
  l. 3231-3256). A partition-less evaluation matches none of them and is inserted as a row of
  its own (``_update_asset_check_evaluation``, l. 3292-3354), so the planned rows stay PLANNED
  and turn SKIPPED when the run ends (``_process_run_statuses``,
  ``_core/storage/asset_check_state.py``): the "Skipped (408)" of the UI.
* A check may yield ``AssetCheckEvaluation`` objects itself (``_validate_event``,
  ``_core/execution/plan/compute.py`` l. 93-120; recorded, and counted when a blocking ERROR
  fails, in ``_core/execution/plan/execute_step.py`` l. 520-528). One with ``partition=key``
  updates that partition's planned row (and replaces the planned event the row stored, which
  carries the run's whole partition subset).
* The UI counts a partition as passed or failed only while its evaluation targets the
  partition's latest materialization (``AssetCheckPartitionInfo.is_current``,
  ``_core/storage/asset_check_execution_record.py`` l. 262-268, used in
  ``asset_check_state.py`` l. 172-186); without ``target_materialization_data`` the status is
  cleared. So each evaluation points at its partition's latest materialization (looked up in
  the event log; the outcome itself never comes from there).

So in a range run a check yields one partition-less ``AssetCheckResult`` first (the run's
summary: the step's output, the failing coins and cases in one place) and then one
``AssetCheckEvaluation`` per partition with that partition's outcome and only its own failure
cases (the event log stays linear in partitions). In a single-partition run it returns one
``AssetCheckResult``, which Dagster records for that partition.

A failed blocking evaluation fails the whole check step, which skips every downstream step of
the run: per-coin blocking results would let one bad coin stop every coin. The blocking checks
are therefore day-level: each coin-day carries its day's outcome.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import pandas as pd
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from huracan_assets.checks.loading import STORED_ATTRS_LOADER
from huracan_assets.checks.schemas import (
    PARTITION_COLUMNS,
    FeaturesSchema,
    LabelsSchema,
    ValidatedBarsSchema,
)
from huracan_assets.checks.validation import SchemaOutcome, validate_partitions
from huracan_assets.partitions import Partitions
from huracan_assets.resources.storage import split_key
from huracan_assets.steps.frames import markdown_table

USABLE_SHARE = 0.5
MIN_COINS_TO_JUDGE_DAY = 3
BAD_STATUSES = ("quarantined", "dropped", "stale", "missing", "delisted")
LOOKUP_CHUNK = 500  # partitions per event-log query (SQLite's bound-parameter limit)

CheckResults = Iterator[dg.AssetCheckResult | dg.AssetCheckEvaluation]


@dataclass
class Outcome:
    """One partition's (or the run's) outcome of a check."""

    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)
    # None: the check's own severity; WARN reports a failure that must not block (a look-back day)
    severity: dg.AssetCheckSeverity | None = None


def _run_keys(context: dg.AssetCheckExecutionContext) -> list[str]:
    return [str(k) for k in context.partition_keys]


# Each per-partition evaluation is its own event-log write (about 20 ms on SQLite here): a day of
# up to this many coins gets one outcome per coin-day; a larger run (a fresh instance's history:
# 30 coins x 170 days) records its run summary only, and its partitions show no outcome of their own.
PER_PARTITION_RESULTS_MAX = 256


def check_results(
    context: dg.AssetCheckExecutionContext,
    outcomes: dict[str, Outcome],
    summary: Outcome,
    severity: dg.AssetCheckSeverity,
) -> CheckResults:
    """The check's results: one per partition of the run, plus the run's summary in a range run."""
    if context.has_partition_key:
        # Dagster records a returned result against the run's single partition
        outcome = outcomes[str(context.partition_key)]
        yield dg.AssetCheckResult(
            passed=outcome.passed,
            severity=outcome.severity or severity,
            description=outcome.description,
            metadata=outcome.metadata,
        )
        return
    spec = context.check_specs[0]
    per_partition = len(outcomes) <= PER_PARTITION_RESULTS_MAX
    yield dg.AssetCheckResult(
        passed=summary.passed,
        severity=summary.severity or severity,
        description=summary.description,
        metadata={
            "scope": f"run summary over {len(outcomes)} partitions"
            + ("" if per_partition else f" (over {PER_PARTITION_RESULTS_MAX}: no per-partition results)"),
            **summary.metadata,
        },
    )
    if not per_partition:
        return
    targets = latest_materializations(context.instance, spec.asset_key, list(outcomes))
    for key, outcome in outcomes.items():
        yield dg.AssetCheckEvaluation(
            asset_key=spec.asset_key,
            check_name=spec.name,
            passed=outcome.passed,
            metadata=outcome.metadata,
            target_materialization_data=targets.get(key),
            severity=outcome.severity or severity,
            description=outcome.description,
            blocking=spec.blocking,
            partition=key,
        )


def latest_materializations(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, keys: list[str]
) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """partition -> pointer to its latest materialization (two indexed queries per chunk of keys)."""
    out: dict[str, AssetCheckEvaluationTargetMaterializationData] = {}
    storage = instance.event_log_storage
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = set(keys[start : start + LOOKUP_CHUNK])
        ids = storage.get_latest_storage_id_by_partition(
            asset_key, dg.DagsterEventType.ASSET_MATERIALIZATION, partitions=chunk
        )
        if not ids:
            continue
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset_key, storage_ids=list(ids.values())), limit=len(ids)
        ).records
        for record in records:
            out[str(record.partition_key)] = AssetCheckEvaluationTargetMaterializationData(
                storage_id=record.storage_id, run_id=record.run_id, timestamp=record.timestamp
            )
    return out


def _with_partition_columns(frame: pd.DataFrame | None, keys: list[str]) -> pd.DataFrame | None:
    """A single partition loads without the dataset scan's ``date``/``symbol`` columns: add them."""
    if frame is None or len(keys) != 1 or any(c in frame for c in PARTITION_COLUMNS):
        return frame
    day, symbol = split_key(keys[0])
    return frame.assign(date=day, **({"symbol": symbol} if symbol is not None else {}))


def _cases(cases: list[dict[str, Any]], limit: int = 10) -> list[dict[str, Any]]:
    return json.loads(json.dumps(cases[:limit], default=str))


def schema_outcomes(
    outcome: SchemaOutcome, keys: list[str], table: str
) -> tuple[dict[str, Outcome], Outcome]:
    """Per-partition and run outcomes of a Pandera schema over the partitions of the run."""
    checked = set(outcome.checked)
    per_partition = {}
    for key in keys:
        cases = outcome.failing.get(key, [])
        if cases:
            per_partition[key] = Outcome(
                False,
                f"{table} {key}: {len(cases)} failure case(s): "
                + "; ".join(f"{c['column']}: {c['check']}" for c in cases[:3]),
                {
                    "failure_cases": dg.MetadataValue.json(_cases(cases)),
                    "per_coin": dg.MetadataValue.json({key: "fail"}),
                },
            )
        else:
            rows = key in checked
            per_partition[key] = Outcome(
                True,
                f"{table} {key}: passes" if rows else f"{table} {key}: no rows to check",
                {"per_coin": dg.MetadataValue.json({key: "pass"})} if rows else {},
            )
    rows = [
        {"partition": key, "column": c["column"], "check": c["check"], "failure_case": c["failure_case"]}
        for key, cases in outcome.failing.items()
        for c in cases
    ]
    days = sorted({k.split("|")[0] for k in outcome.checked})
    summary = Outcome(
        outcome.passed,
        f"{table}: all {len(outcome.checked)} coin-days pass"
        if outcome.passed
        else f"{table}: {len(outcome.failing)} of {len(outcome.checked)} coin-days fail: "
        + ", ".join(sorted(outcome.failing)[:10]),
        {
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
        },
    )
    return per_partition, summary


def source_quality_outcomes(
    qualities: dict[str, dict[str, Any] | None],
) -> tuple[dict[str, Outcome], Outcome]:
    """What the exchange delivered per coin-day, from the quality record stored with the bars."""
    per_partition, rows = {}, []
    for key, quality in qualities.items():
        if quality is None:
            per_partition[key] = Outcome(False, f"{key}: no quality record stored with the partition")
            rows.append({"partition": key, "status": "unknown", "reason": "no quality record"})
            continue
        status = str(quality.get("status"))
        counts = {k: int(quality.get(k) or 0) for k in ("invalid_bars", "duplicates_resolved")}
        examples = "; ".join((quality.get("invalid_examples") or [])[:5])
        detail = {"status": status, **counts, "reason": quality.get("reason") or "", "examples": examples}
        if status in BAD_STATUSES or any(counts.values()):
            rows.append({"partition": key, **detail})
            per_partition[key] = Outcome(
                False,
                f"{key}: {status}"
                + (f", {counts['invalid_bars']} invalid bar(s)" if counts["invalid_bars"] else "")
                + (f", {counts['duplicates_resolved']} duplicate(s)" if counts["duplicates_resolved"] else "")
                + (f": {detail['reason']}" if detail["reason"] else ""),
                {**detail, "per_coin": dg.MetadataValue.json({key: "fail"})},
            )
        else:
            per_partition[key] = Outcome(
                True,
                f"{key}: arrived clean ({status})",
                {"status": status, "per_coin": dg.MetadataValue.json({key: "pass"})},
            )
    summary = _quality_summary(
        qualities,
        rows,
        failed=lambda coins: f"bad candles from the exchange for {len(rows)} coin-day(s): {', '.join(coins)}",
        passed=f"all {len(qualities)} coin-days arrived clean",
        table=(
            "problems",
            ["partition", "status", "invalid_bars", "duplicates_resolved", "reason", "examples"],
        ),
    )
    return per_partition, summary


def _quality_summary(
    qualities: dict[str, dict[str, Any] | None],
    rows: list[dict[str, Any]],
    failed: Any,
    passed: str,
    table: tuple[str, list[str]],
) -> Outcome:
    """The run summary of a check over stored quality records: ``rows`` are the failing coin-days."""
    failing = {r["partition"] for r in rows}
    coins = sorted({p.split("|")[-1] for p in failing})
    name, columns = table
    return Outcome(
        not rows,
        failed(coins) if rows else passed,
        {
            "checked_partitions": len(qualities),
            "failing_partitions": len(rows),
            "failing_coins": ", ".join(coins),
            "per_coin": dg.MetadataValue.json(
                {p: ("fail" if p in failing else "pass") for p in sorted(qualities)[:2000]}
            ),
            name: dg.MetadataValue.md(markdown_table(rows, columns, limit=40)),
        },
    )


def raw_schema_outcomes(
    qualities: dict[str, dict[str, Any] | None],
) -> tuple[dict[str, Outcome], Outcome]:
    """RawBarsSchema failure cases per coin-day, as recorded with the bars when they were validated."""
    per_partition, rows = {}, []
    for key, quality in qualities.items():
        if quality is None:
            per_partition[key] = Outcome(False, f"{key}: no quality record stored with the partition")
            rows.append({"partition": key, "failure_cases": "no quality record"})
            continue
        cases = list(quality.get("raw_schema_failures") or [])
        if cases:
            rows.append({"partition": key, "failure_cases": "; ".join(cases[:5])})
            per_partition[key] = Outcome(
                False,
                f"RawBarsSchema {key}: {len(cases)} failure case(s): {cases[0]}",
                {"failure_cases": cases[:5], "per_coin": dg.MetadataValue.json({key: "fail"})},
            )
        else:
            per_partition[key] = Outcome(
                True,
                f"RawBarsSchema {key}: arrived clean",
                {"per_coin": dg.MetadataValue.json({key: "pass"})},
            )
    summary = _quality_summary(
        qualities,
        rows,
        failed=lambda coins: (
            f"RawBarsSchema: {len(rows)} coin-day(s) delivered bad candles: {', '.join(coins)}"
        ),
        passed=f"RawBarsSchema: all {len(qualities)} coin-days arrived clean",
        table=("failure_cases", ["partition", "failure_cases"]),
    )
    return per_partition, summary


def day_usable_outcomes(
    qualities: dict[str, dict[str, Any] | None],
) -> tuple[dict[str, Outcome], Outcome]:
    """Each day of the run: do at least half of the coins listed and trading that day have usable
    bars? Listing is each coin-day's own quality record (the market of that day, see
    ``validated_bars``). Every coin-day gets its day's outcome."""
    expected: dict[str, set[str]] = {}
    usable: dict[str, set[str]] = {}
    for key, quality in qualities.items():
        day, coin = split_key(key)
        status = (quality or {}).get("status", "")
        expected.setdefault(day, set())
        if status in ("not_listed", "delisted"):
            continue
        expected[day].add(str(coin))
        if status in ("ok", "repaired"):
            usable.setdefault(day, set()).add(str(coin))
    by_day: dict[str, Outcome] = {}
    per_day_share = {}
    for day, coins in sorted(expected.items()):
        good = usable.get(day, set())
        share = len(good) / len(coins) if coins else 1.0
        per_day_share[day] = round(share, 3)
        # one bad coin-day is that coin's problem (quarantined), not the day's: a run over fewer coins
        # than this (a new coin's history backfill) cannot say the whole day is unusable
        judged = len(coins) >= MIN_COINS_TO_JUDGE_DAY
        passed = not judged or share >= USABLE_SHARE
        by_day[day] = Outcome(
            passed,
            f"{day}: {len(good)} of {len(coins)} listed coins have usable bars"
            + ("" if passed else f" (below {USABLE_SHARE:.0%}: the day is unusable)")
            + ("" if judged else f" (fewer than {MIN_COINS_TO_JUDGE_DAY} coins in this run: not judged)"),
            {"day": day, "usable_share": round(share, 3), "listed_coins": len(coins)},
        )
    problems = [o.description for o in by_day.values() if not o.passed]
    per_partition = {key: by_day[split_key(key)[0]] for key in qualities}
    summary = Outcome(
        not problems,
        "; ".join(problems[:10]) or "every day has usable bars for most listed coins",
        {"usable_share_by_day": dg.MetadataValue.json(dict(list(per_day_share.items())[-60:]))},
    )
    return per_partition, summary


def _day_list(days: list[str]) -> str:
    return ", ".join(days) if len(days) <= 20 else ", ".join([*days[:10], "…", *days[-5:]])


def universe_outcomes(keys: list[str], coin_universe: pd.DataFrame) -> tuple[dict[str, Outcome], Outcome]:
    """Each day of the run: is any coin eligible? Only the run day (the newest day of the run) blocks.

    The earlier days of a range run are look-back days: a look-back day with no eligible coin is
    reported (a failed WARN evaluation, named in the summary) and its coin-days follow the usual
    gap rules downstream; the run fails only when the run day itself has no eligible coin.
    """
    frame = coin_universe if coin_universe is not None else pd.DataFrame()
    if len(keys) == 1 and len(frame) and "date" not in frame:
        frame = frame.assign(date=keys[0])
    eligible = frame[frame["eligible"]] if len(frame) else frame
    eligible_by_day = eligible.groupby("date").size().to_dict() if len(eligible) else {}
    markets_by_day = frame.groupby("date").size().to_dict() if len(frame) else {}
    run_day = max(keys)
    per_partition = {}
    for day in keys:
        count = int(eligible_by_day.get(day, 0))
        look_back = day != run_day
        description = f"{count} eligible coin(s) on {day}" if count else f"no eligible coin on {day}"
        if not count and look_back:
            description += f" (a look-back day of {run_day}: reported, not blocking)"
        per_partition[day] = Outcome(
            count > 0,
            description,
            {"eligible_coins": count, "markets": int(markets_by_day.get(day, 0))},
            severity=dg.AssetCheckSeverity.WARN if look_back else None,
        )
    empty_days = sorted(d for d, o in per_partition.items() if not o.passed)
    empty_look_back = [d for d in empty_days if d != run_day]
    run_day_empty = not per_partition[run_day].passed
    parts = []
    if run_day_empty:
        parts.append(f"no eligible coin on the run day {run_day}")
    if empty_look_back:
        parts.append(
            f"look-back day(s) without an eligible coin (not blocking): {_day_list(empty_look_back)}"
        )
    summary = Outcome(
        not run_day_empty,
        "; ".join(parts) or "every day has eligible coins",
        {
            "run_day": run_day,
            "eligible_coins": int(len(eligible)),
            "markets": int(len(frame)),
            "days_without_eligible": len(empty_days),
            "look_back_days_without_eligible": dg.MetadataValue.json(empty_look_back),
        },
    )
    return per_partition, summary


def build(partitions: Partitions) -> list[dg.AssetChecksDefinition]:
    warn, error = dg.AssetCheckSeverity.WARN, dg.AssetCheckSeverity.ERROR
    stored_attrs = {"additional_ins": {"validated_bars": dg.AssetIn(input_manager_key=STORED_ATTRS_LOADER)}}

    @dg.asset_check(
        asset="validated_bars",
        partitions_def=partitions.coin_days,
        blocking=False,
        description="Pandera ValidatedBarsSchema on every coin-day: types, unique sorted times, OHLC "
        "consistency, non-negative volume, no NaN after repair. WARN, per coin-day, with its failure cases.",
    )
    def validated_bars_schema(
        context: dg.AssetCheckExecutionContext, validated_bars: pd.DataFrame
    ) -> CheckResults:
        keys = _run_keys(context)
        outcome = validate_partitions(ValidatedBarsSchema, _with_partition_columns(validated_bars, keys))
        yield from check_results(context, *schema_outcomes(outcome, keys, "validated_bars"), warn)

    @dg.asset_check(
        asset="validated_bars",
        partitions_def=partitions.coin_days,
        blocking=True,
        **stored_attrs,
        description="Blocking, day-level: a day is usable only if at least half of its listed coins have "
        "validated bars. Every coin-day carries its day's outcome; a per-coin blocking result would let one "
        "bad coin stop every coin of the run (a failed blocking check fails its step).",
    )
    def validated_bars_day_usable(
        context: dg.AssetCheckExecutionContext, validated_bars: dict[str, dict]
    ) -> CheckResults:
        qualities = {k: validated_bars.get(k, {}).get("quality") for k in _run_keys(context)}
        yield from check_results(context, *day_usable_outcomes(qualities), error)

    @dg.asset_check(
        asset="validated_bars",
        partitions_def=partitions.coin_days,
        blocking=False,
        **stored_attrs,
        description="WARN when the exchange delivered bad candles for a coin-day (NaN or non-positive prices, "
        "high < low, duplicates, wrong types, missing columns) or the day had to be dropped or quarantined; "
        "per coin-day, from the quality record stored with its bars. The repaired data itself is checked "
        "by validated_bars_schema.",
    )
    def validated_bars_source_quality(
        context: dg.AssetCheckExecutionContext, validated_bars: dict[str, dict]
    ) -> CheckResults:
        qualities = {k: validated_bars.get(k, {}).get("quality") for k in _run_keys(context)}
        yield from check_results(context, *source_quality_outcomes(qualities), warn)

    @dg.asset_check(
        asset="validated_bars",
        partitions_def=partitions.coin_days,
        blocking=False,
        **stored_attrs,
        description="Pandera RawBarsSchema on the candles as the exchange delivered them (types, every column, "
        "positive prices, OHLC consistency, unique ordered times on the timeframe grid, non-negative volume), "
        "as recorded with each coin-day's bars. WARN: validation repairs or drops what fails; per coin-day "
        "with its failure cases.",
    )
    def validated_bars_raw_schema(
        context: dg.AssetCheckExecutionContext, validated_bars: dict[str, dict]
    ) -> CheckResults:
        qualities = {k: validated_bars.get(k, {}).get("quality") for k in _run_keys(context)}
        yield from check_results(context, *raw_schema_outcomes(qualities), warn)

    @dg.asset_check(
        asset="coin_universe",
        partitions_def=partitions.days,
        blocking=True,
        description="Blocking on the run day (the newest day of the run): a day with no eligible coin cannot "
        "be trained. An earlier (look-back) day without one is a failed WARN evaluation, reported, not blocking.",
    )
    def coin_universe_not_empty(
        context: dg.AssetCheckExecutionContext, coin_universe: pd.DataFrame
    ) -> CheckResults:
        yield from check_results(context, *universe_outcomes(_run_keys(context), coin_universe), error)

    @dg.asset_check(
        asset="features",
        partitions_def=partitions.coin_days,
        blocking=False,
        description="Pandera FeaturesSchema: finite features, ratios in range, unique times. WARN, per coin-day.",
    )
    def features_schema(context: dg.AssetCheckExecutionContext, features: pd.DataFrame) -> CheckResults:
        keys = _run_keys(context)
        outcome = validate_partitions(FeaturesSchema, _with_partition_columns(features, keys))
        yield from check_results(context, *schema_outcomes(outcome, keys, "features"), warn)

    @dg.asset_check(
        asset="labels",
        partitions_def=partitions.coin_days,
        blocking=False,
        description="Pandera LabelsSchema: causal times (decision < fill < exit), finite returns. WARN, per coin-day.",
    )
    def labels_schema(context: dg.AssetCheckExecutionContext, labels: pd.DataFrame) -> CheckResults:
        keys = _run_keys(context)
        outcome = validate_partitions(LabelsSchema, _with_partition_columns(labels, keys))
        yield from check_results(context, *schema_outcomes(outcome, keys, "labels"), warn)

    return [
        validated_bars_schema,
        validated_bars_raw_schema,
        validated_bars_source_quality,
        validated_bars_day_usable,
        coin_universe_not_empty,
        features_schema,
        labels_schema,
    ]
