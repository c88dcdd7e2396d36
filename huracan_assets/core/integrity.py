"""The data-integrity report of one day: what happened to every coin's candles and checks."""

from __future__ import annotations

from typing import Any

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
    totals["coins"] = len(rows)
    totals["coins_with_problems"] = sum(bool(r["problems"]) for r in rows)
    return {"day": day, "totals": totals, "coins": rows}


def integrity_markdown(report: dict[str, Any]) -> str:
    columns = [
        "coin",
        "status",
        "gaps_repaired",
        "outliers",
        "duplicates_resolved",
        "invalid_bars",
        "vendor_mismatches",
    ]
    lines = [
        f"**{report['day']}** — {report['totals']['coins']} coins, "
        f"{report['totals']['coins_with_problems']} with problems, {report['totals']['days_dropped']} days dropped",
        "",
        "| " + " | ".join([*columns, "problems"]) + " |",
        "|" + "---|" * (len(columns) + 1),
    ]
    for row in report["coins"]:
        if row["problems"]:
            cells = [str(row[c]) for c in columns] + ["; ".join(row["problems"])[:160].replace("|", "/")]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
