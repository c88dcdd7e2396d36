"""How often the daily re-test demotes a champion over its life (README, "Re-test of champions").

A champion's record since promotion grows by a day at a time for ``--life`` days (the seeded
records of ``core/test_champions.py``: hourly decisions, 60% traded, 60 bps of noise per bar);
each day ``retest_champion`` judges the record so far. Per true net edge it prints the share of
lives that end in a demotion, and the median day, under the rule now (shortfall test at
alpha / max_age_days) and the rule before (shortfall test at alpha every day; a mature record
also demoted when its net edge was under the minimum or not significant against "no trade"),
the latter computed from the same re-test's figures.

    python -m huracan_assets_tests.benchmarks.bench_retest_life [--lives 100] [--life 30]
"""

from __future__ import annotations

import argparse

import numpy as np

from huracan_assets_tests.core.test_champions import (
    ALPHA,
    MIN_EDGE,
    RETEST_COST,
    retest,
    since_promotion_record,
)


def life(seed: int, net_bps: float, h_bars: int, days: int) -> tuple[int | None, int | None]:
    cost = RETEST_COST.total_bps(h_bars / 24)
    record = since_promotion_record(seed, cost + net_bps, days=days, h_bars=h_bars)
    before = now = None
    for d in range(1, days + 1):
        r = retest(
            record.head(24 * d), h_bars=h_bars, min_decisions=7 * 24 - 2 * (h_bars + 1), max_age_days=days
        )
        old = r["shortfall_p_value"] < ALPHA or (
            r["mature"] and (not r["net_edge_bps"] >= MIN_EDGE or not r["p_value"] < ALPHA)
        )
        before = d if old and before is None else before
        now = d if r["status"] == "demoted" and now is None else now
        if before and now:
            break
    return before, now


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lives", type=int, default=100)
    parser.add_argument("--life", type=int, default=30)
    args = parser.parse_args()
    for h in (1, 4):
        cost = RETEST_COST.total_bps(h / 24)
        for name, net in (
            ("at the minimum", MIN_EDGE),
            ("minimum + 10", MIN_EDGE + 10),
            ("minimum + 25", MIN_EDGE + 25),
            ("edge gone (-cost)", -cost),
        ):
            res = [life(5000 + s, net, h, args.life) for s in range(args.lives)]
            cells = []
            for label, days in (("before", [b for b, _ in res if b]), ("now", [n for _, n in res if n])):
                median = f"{np.median(days):.0f}" if days else "-"
                cells.append(f"{label}={len(days) / args.lives:.2f} (median day {median})")
            print(f"h={h} true_net={name:18s} demoted within {args.life} days: " + " ".join(cells))


if __name__ == "__main__":
    main()
