"""Partition keys, dataset-scan frames and the code hash: small helpers every step uses."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

import huracan_assets
from huracan_assets.core.hashing import package_code_hash
from huracan_assets.stores.files import split_key

# every .py file of the package: goes into the manifest, and is each asset's code version, so a
# code change marks every asset stale in the UI
CODE_HASH = package_code_hash(Path(huracan_assets.__file__).parent)
CODE_VERSION = CODE_HASH[:16]


def keys_by_coin(keys: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        _, coin = split_key(key)
        out[str(coin)].append(key)
    return dict(out)


def day_of(key: str) -> date:
    return date.fromisoformat(split_key(key)[0])


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC) + pd.Timedelta(days=1)


def rows_for(frame: pd.DataFrame | None, **equals: Any) -> pd.DataFrame:
    """Rows of a dataset-scan frame (with ``date``/``symbol`` columns) matching ``equals``."""
    if frame is None or frame.empty:
        return pd.DataFrame()
    mask = pd.Series(True, index=frame.index)
    for column, value in equals.items():
        if column not in frame:
            return frame.iloc[0:0]
        mask &= frame[column] == value
    return frame[mask]


def universe_for(universe: pd.DataFrame | None, day: date) -> pd.DataFrame:
    return rows_for(universe, date=day.isoformat()).drop(columns=["date", "symbol"], errors="ignore")


def markdown_table(rows: list[dict[str, Any]], columns: list[str], limit: int = 60) -> str:
    if not rows:
        return "_none_"
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = "\n".join("| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in rows[:limit])
    more = f"\n\n… and {len(rows) - limit} more" if len(rows) > limit else ""
    return head + body + more


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "/") if value is not None else ""
