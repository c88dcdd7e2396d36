"""Running the Pandera schemas over many coin-days at once (no dagster here)."""

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pandera.errors import SchemaError, SchemaErrors

from huracan_assets.checks.schemas import PARTITION_COLUMNS


@dataclass
class SchemaOutcome:
    """Per coin-day schema results of one table."""

    checked: list[str] = field(default_factory=list)
    failing: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "date|symbol" -> failure cases

    @property
    def passed(self) -> bool:
        return not self.failing

    def failing_coins(self) -> list[str]:
        return sorted({key.split("|")[-1] for key in self.failing})


def _labels(frame: pd.DataFrame) -> pd.Series:
    columns = [c for c in PARTITION_COLUMNS if c in frame]
    if not columns:
        return pd.Series("", index=frame.index)
    return frame[columns].astype(str).agg("|".join, axis=1)


def validate_partitions(schema: Any, frame: pd.DataFrame | None, max_cases: int = 10) -> SchemaOutcome:
    """Validate every coin-day of a dataset-scan frame in ONE lazy Pandera call.

    Failure cases are attributed to their coin-day through the row index; failures that are
    not about a row (a wrong column type, a missing column) count against every coin-day.
    """
    outcome = SchemaOutcome()
    if frame is None or frame.empty:
        return outcome
    frame = frame.reset_index(drop=True)
    labels = _labels(frame)
    outcome.checked = sorted(labels.unique())
    seen: set[tuple[Any, str]] = set()
    for case in schema_failure_cases(schema, frame, max_cases=None):
        index = case.pop("row")
        if (index, case["check"]) in seen and index is not None:
            continue  # a frame-level check reports every column of a failing row: keep one case per row
        seen.add((index, case["check"]))
        if index is not None and "open_time" in frame:
            case["open_time"] = str(frame["open_time"].iloc[index])
        targets = [labels.iloc[index]] if index is not None else outcome.checked
        for label in targets:
            cases = outcome.failing.setdefault(label, [])
            if len(cases) < max_cases:
                cases.append(case)
    return outcome


def schema_failure_cases(
    schema: Any, frame: pd.DataFrame, max_cases: int | None = 10
) -> list[dict[str, Any]]:
    """Failure cases of ``schema`` on ``frame`` (empty when it passes); ``row`` = integer row or None."""
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases if max_cases is None else errors.failure_cases.head(max_cases)
        out = []
        for row in cases.itertuples():
            index = row.index
            out.append(
                {
                    "column": None if pd.isna(row.column) else str(row.column),
                    "check": str(row.check),
                    "failure_case": None if pd.isna(row.failure_case) else str(row.failure_case),
                    "row": int(index) if isinstance(index, int | float) and not pd.isna(index) else None,
                }
            )
        return out
    except SchemaError as error:
        return [{"column": None, "check": str(error), "failure_case": None, "row": None}]
    return []


def failures_by_day(
    schema: Any, frame: pd.DataFrame, days: list[Any], max_per_day: int = 5
) -> dict[Any, list[str]]:
    """``schema``'s failure cases on a candle frame, grouped by the UTC day of each failing row.

    One Pandera call for the whole frame (one coin, many days). A failure that is not about a
    row (a wrong column type, a missing column) counts against every day in ``days``. Each
    case reads ``"<time or column>: <check> (<value>)"``; one per row and check.
    """
    out: dict[Any, list[str]] = {}
    if frame is None or frame.empty:
        return out
    frame = frame.reset_index(drop=True)
    seen: set[tuple[Any, str]] = set()
    times = pd.to_datetime(frame["open_time"], utc=True, errors="coerce") if "open_time" in frame else None
    for case in schema_failure_cases(schema, frame, max_cases=None):
        row, check = case["row"], case["check"]
        if (row, check) in seen:
            continue
        seen.add((row, check))
        if row is not None and times is not None and row < len(times) and pd.notna(times.iloc[row]):
            when = times.iloc[row]
            text = f"{when:%Y-%m-%dT%H:%M}Z: {check}"
            if case["column"] and check != "open_time must be unique":
                text += f" ({case['column']}={case['failure_case']})"
            targets = [when.date()]
        else:
            text = f"{case['column'] or 'frame'}: {check}" + (
                f" ({case['failure_case']})" if case["failure_case"] else ""
            )
            targets = list(days)
        for day in targets:
            cases = out.setdefault(day, [])
            if len(cases) < max_per_day and text not in cases:
                cases.append(text)
    return out
