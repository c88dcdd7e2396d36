"""The data-integrity report of one day: what happened to every coin's candles and checks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

PROBLEM_FIELDS = (
    "gaps_repaired",
    "outliers",
    "duplicates_resolved",
    "out_of_order",
    "invalid_bars",
    "vendor_mismatches",
)


def integrity_report(
    day: str,
    qualities: list[dict[str, Any]],
    check_outcomes: dict[str, dict[str, str]],
    eligible: set[str],
) -> dict[str, Any]:
    """Per coin rows and day totals. ``qualities``: BarQuality dicts of the day's coin partitions.

    ``check_outcomes``: coin -> {check name -> "pass" | "fail"}.
    """
    rows = []
    for q in sorted(qualities, key=lambda item: item["coin"]):
        coin = q["coin"]
        checks = check_outcomes.get(coin, {})
        problems = [f"{name}={q[name]}" for name in PROBLEM_FIELDS if q.get(name)]
        if q["status"] not in ("ok", "repaired"):
            problems.insert(0, f"{q['status']}: {q.get('reason', '')}")
        problems += [f"check {name} failed" for name, outcome in checks.items() if outcome == "fail"]
        rows.append(
            {
                "coin": coin,
                "eligible": coin in eligible,
                "status": q["status"],
                "reason": q.get("reason", ""),
                "vendor": q.get("vendor", ""),
                "expected_bars": q.get("expected_bars", 0),
                "kept_bars": q.get("kept_bars", 0),
                **{name: q.get(name, 0) for name in PROBLEM_FIELDS},
                "day_dropped": q["status"] == "dropped",
                "stale": q["status"] == "stale",
                "newest_bar_age_h": q.get("newest_bar_age_h"),
                "vendor_max_diff_bps": q.get("vendor_max_diff_bps", 0.0),
                "mismatch_times": q.get("mismatch_times", []),
                "invalid_examples": q.get("invalid_examples", []),
                "checks": checks,
                "problems": problems,
            }
        )
    totals = {name: int(sum(r[name] for r in rows)) for name in PROBLEM_FIELDS}
    totals["days_dropped"] = sum(r["day_dropped"] for r in rows)
    totals["quarantined"] = sum(r["status"] == "quarantined" for r in rows)
    totals["stale"] = sum(r["stale"] for r in rows)
    totals["missing"] = sum(r["status"] == "missing" for r in rows)
    totals["coins"] = len(rows)
    totals["coins_with_problems"] = sum(bool(r["problems"]) for r in rows)
    return {"day": day, "totals": totals, "coins": rows}


# statuses of a coin-day that kept it out of training, counted in the window totals
UNUSABLE_STATUSES = {
    "dropped": "days_dropped",
    "quarantined": "quarantined",
    "stale": "stale",
    "missing": "missing",
    "delisted": "delisted",
    "unreadable": "unreadable",
}


def window_totals(
    days: list[str],
    coins: list[str],
    cells: dict[tuple[str, str], dict | None],
    check_outcomes: dict[str, dict[str, dict[str, str]]],
) -> dict[str, Any]:
    """Totals over every coin-day of the look-back window the day's models trained on.

    ``days``: the window's ISO days (the day's models read D-lookback_days..D); ``coins``: the
    day's coins; ``cells``: (day, coin) -> BarQuality-like dict, or None when never built;
    ``check_outcomes``: day -> coin -> {check -> "pass" | "fail"}, from the event log (history
    runs record no per-partition check outcome: their raw-candle schema failures are counted
    from the stored quality record as ``raw_schema_failed``). Counts are coin-days, except
    ``gaps_repaired``, ``outliers``, ``duplicates_resolved``, ``out_of_order``, ``invalid_bars``
    and ``vendor_mismatches``, which are candles.
    """
    totals: dict[str, Any] = {name: 0 for name in PROBLEM_FIELDS}
    for name in ("coin_days", "coin_days_repaired", "not_built", "checks_failed", "raw_schema_failed"):
        totals[name] = 0
    for name in UNUSABLE_STATUSES.values():
        totals[name] = 0
    problem_days = 0
    for day in days:
        for coin in coins:
            quality = cells.get((day, coin))
            failed = [c for c, o in check_outcomes.get(day, {}).get(coin, {}).items() if o == "fail"]
            totals["checks_failed"] += len(failed)
            if quality is None:
                totals["not_built"] += 1
                continue
            status = str(quality.get("status", "ok"))
            if status == "not_listed":
                continue
            totals["coin_days"] += 1
            for name in PROBLEM_FIELDS:
                totals[name] += int(quality.get(name) or 0)
            totals["coin_days_repaired"] += status == "repaired"
            if status in UNUSABLE_STATUSES:
                totals[UNUSABLE_STATUSES[status]] += 1
            totals["raw_schema_failed"] += bool(quality.get("raw_schema_failures"))
            problem_days += problem_level(quality) > 0 or bool(failed)
    totals["coin_days_with_problems"] = problem_days
    totals["coins"] = len(coins)
    totals["window_days"] = len(days)
    return totals


def look_back_universe(day: str, days: list[str], universe: pd.DataFrame) -> dict[str, Any]:
    """Which days of the look-back window had no eligible coin, from their stored universes.

    ``days``: the window's ISO days, oldest first, ``day`` last; ``universe``: the stored
    ``coin_universe`` rows of those days that exist (columns ``date``, ``coin``, ``eligible``).
    Returns ``{"days_without_eligible": [...], "days_without_universe": [...]}`` over the days
    before ``day``: a look-back day without an eligible coin does not block the run (its coin-days
    follow the usual gap rules); a day whose universe was never built is not judged.
    """
    frame = universe if universe is not None and len(universe) else pd.DataFrame(columns=["date", "eligible"])
    built = set(frame["date"].astype(str))
    eligible = set(frame.loc[frame["eligible"].astype(bool), "date"].astype(str))
    look_back = [d for d in days if d != day]
    return {
        "days_without_eligible": [d for d in look_back if d in built and d not in eligible],
        "days_without_universe": [d for d in look_back if d not in built],
    }


def window_line(totals: dict[str, Any], window: list[str]) -> str:
    """One line of the window totals (what the CLI summary and the report's header say)."""
    span = f"{window[0]}..{window[-1]}, " if window else ""
    return (
        f"look-back ({span}{totals.get('coin_days', 0)} coin-days of {totals.get('coins', 0)} coins): "
        f"{totals.get('coin_days_with_problems', 0)} coin-days with problems, "
        f"{totals.get('coin_days_repaired', 0)} coin-days repaired "
        f"({totals.get('gaps_repaired', 0)} gap bars filled), "
        f"{totals.get('days_dropped', 0)} dropped, {totals.get('quarantined', 0)} quarantined, "
        f"{totals.get('stale', 0)} stale, {totals.get('missing', 0)} missing, "
        f"{totals.get('outliers', 0)} outliers, {totals.get('vendor_mismatches', 0)} vendor mismatches, "
        f"{totals.get('checks_failed', 0)} checks failed, {totals.get('raw_schema_failed', 0)} coin-days "
        "with raw-candle schema failures"
    )


def integrity_markdown(report: dict[str, Any]) -> str:
    """The day's report as a Markdown table: one row per coin, coins with problems first."""
    columns = [
        "coin",
        "eligible",
        "status",
        "kept_bars",
        "gaps_repaired",
        "outliers",
        "duplicates_resolved",
        "invalid_bars",
        "vendor_mismatches",
    ]
    totals = report.get("day_totals", report["totals"])
    lines = [
        f"**{report['day']}**: {totals['coins']} coins, {totals['coins_with_problems']} with problems, "
        f"{totals['days_dropped']} days dropped, {totals['quarantined']} quarantined, {totals['stale']} stale, "
        f"{totals.get('missing', 0)} missing",
        "",
        "| " + " | ".join([*columns, "problems"]) + " |",
        "|" + "---|" * (len(columns) + 1),
    ]
    if "day_totals" in report:
        lines[1:1] = ["", window_line(report["totals"], report.get("window", []))]
    empty_days = report.get("look_back_universe", {}).get("days_without_eligible", [])
    if empty_days:
        lines[1:1] = [
            "",
            f"look-back days without an eligible coin (not blocking): {', '.join(empty_days)}",
        ]
    for row in sorted(report["coins"], key=lambda r: (not r["problems"], r["coin"])):
        cells = [("yes" if row[c] else "no") if c == "eligible" else str(row[c]) for c in columns]
        problems = "; ".join(row["problems"])[:160].replace("|", "/") if row["problems"] else "none"
        lines.append("| " + " | ".join([*cells, problems]) + " |")
    if not report["coins"]:
        lines.append(
            "| " + " | ".join(["-"] * len(columns)) + " | no coin partition was built for this day |"
        )
    return "\n".join(lines)


# heat-map levels of a coin-day, worst first wins
LEVELS = {
    -1: "no data (not listed or not built)",
    0: "clean",
    1: "repaired (gaps, outliers, duplicates, invalid candles)",
    2: "vendor mismatch",
    3: "unusable (dropped, quarantined, stale, missing, delisted)",
}
_REPAIR_FIELDS = ("gaps_repaired", "outliers", "duplicates_resolved", "out_of_order", "invalid_bars")


def problem_level(quality: dict[str, Any] | None) -> int:
    """Heat-map level of one coin-day from its BarQuality dict (or materialization metadata)."""
    if quality is None:
        return -1
    status = str(quality.get("status", "ok"))
    if status == "not_listed":
        return -1
    if status not in ("ok", "repaired"):
        return 3
    if int(quality.get("vendor_mismatches") or 0):
        return 2
    if any(int(quality.get(name) or 0) for name in _REPAIR_FIELDS) or quality.get("raw_schema_failures"):
        return 1
    return 0


def integrity_history(days: list[str], coins: list[str], cells: dict[tuple[str, str], dict | None]) -> dict:
    """The coins x days grid of problem levels (``LEVELS``) over the look-back window.

    ``cells``: (day, coin) -> BarQuality-like dict, or None when the coin-day was not built.
    Returns ``{"days", "coins", "levels" (one row per coin), "legend", "problems"}`` where
    ``problems`` lists every coin-day above "clean" with its status and reason.
    """
    levels = [[problem_level(cells.get((day, coin))) for day in days] for coin in coins]
    problems = []
    for coin, row in zip(coins, levels, strict=True):
        for day, level in zip(days, row, strict=True):
            if level > 0:
                quality = cells[(day, coin)] or {}
                problems.append(
                    {
                        "day": day,
                        "coin": coin,
                        "level": level,
                        "status": quality.get("status", ""),
                        "reason": quality.get("reason", ""),
                    }
                )
    return {
        "days": days,
        "coins": coins,
        "levels": levels,
        "legend": {str(k): v for k, v in LEVELS.items()},
        "problems": problems,
    }


def heatmap_png(history: dict[str, Any]) -> bytes:
    """A PNG of the coins x days problem grid (rows: coins, columns: UTC days), for people to look at."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    days, coins = history["days"], history["coins"]
    grid = history["levels"] or [[-1] * len(days)]
    colours = ["#d9d9d9", "#2ca25f", "#fec44f", "#fd8d3c", "#de2d26"]
    cmap = ListedColormap(colours)
    norm = BoundaryNorm([-1.5, -0.5, 0.5, 1.5, 2.5, 3.5], cmap.N)
    width = min(16.0, 6.0 + 0.12 * len(days))
    height = min(14.0, 1.8 + 0.22 * max(1, len(coins)))
    fig, ax = plt.subplots(figsize=(width, height), dpi=90)
    # one quad per coin-day (vector cells: no full-size float RGBA raster to resample, whose
    # buffers grew with the coins), rows top to bottom in the order of ``coins``
    ax.pcolormesh(np.asarray(grid, dtype=float), cmap=cmap, norm=norm)
    ax.set_xlim(0, len(days) or 1)
    ax.set_ylim(len(grid), 0)
    # as many coin names as fit one above the other at 7 pt (about 11 px a line); the rows
    # between two names are the coins in between, in order (every coin is named in the
    # Markdown heat-map of the report's metadata)
    shown = max(1, math.ceil(len(coins) / max(1, int(height * 90 / 11))))
    ax.set_yticks([i + 0.5 for i in range(0, len(coins), shown)], coins[::shown], fontsize=7)
    step = max(1, len(days) // 8)
    ticks = range(0, len(days), step)
    ax.set_xticks([i + 0.5 for i in ticks], [days[i][5:] for i in ticks], fontsize=7, rotation=45, ha="right")
    ax.set_xlabel("day (UTC)")
    ax.set_title(f"data integrity {days[0] if days else ''} .. {days[-1] if days else ''}", fontsize=9)
    handles = [Patch(color=colours[k + 1], label=label) for k, label in LEVELS.items()]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


# one square per coin-day in the Markdown heat-map, by level (the PNG uses the same order of colours)
SQUARES = {-1: "\u2b1c", 0: "\U0001f7e9", 1: "\U0001f7e8", 2: "\U0001f7e7", 3: "\U0001f7e5"}


def heatmap_markdown(history: dict[str, Any]) -> str:
    """The coins x days grid as Markdown text: one coloured square per coin-day, a row per coin.

    Text, not the PNG: Dagster's UI sanitizes Markdown images to http(s) sources, so a
    ``data:`` image in metadata shows as nothing. The PNG goes to the export.
    """
    days, coins = history["days"], history["coins"]
    if not days:
        return "no days in the look-back window"
    legend = "  ".join(f"{SQUARES[int(k)]} {label}" for k, label in history["legend"].items())
    lines = [
        f"**{days[0]} .. {days[-1]}** ({len(days)} days, oldest left, newest right)",
        "",
        legend,
        "",
        "| coin | days |",
        "|---|---|",
    ]
    for coin, row in zip(coins, history["levels"], strict=True):
        lines.append(f"| {coin} | {''.join(SQUARES[level] for level in row)} |")
    if history["problems"]:
        lines += ["", "| day | coin | status | reason |", "|---|---|---|---|"]
        for problem in history["problems"][:200]:
            reason = str(problem["reason"])[:120].replace("|", "/")
            lines.append(f"| {problem['day']} | {problem['coin']} | {problem['status']} | {reason} |")
        if len(history["problems"]) > 200:
            lines.append(f"\n{len(history['problems']) - 200} more in reports/data_integrity.json")
    return "\n".join(lines)
