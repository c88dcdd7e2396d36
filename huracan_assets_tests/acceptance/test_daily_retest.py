"""Champions are re-tested every day: ``huracan daily`` over four consecutive days on one small
simulated instance, asserting on the exported files, the printed summary and what Hamilton reads.

Day 1 promotes champions from their cold-start records; days 2 and 3 re-test them on their
record since promotion (kept, with today's figures once the record is mature). On day 2 the
least liquid coin drops out of the universe; on day 3 it is back and, its cold-start record
tested on day 1, continues its shadow record instead of a new cold start. Challengers run two
days in shadow, so days 3 and 4 test them and the trial count grows. On day 4 the
operator raises ``min_edge_after_cost_bps`` far above what any record earns, and every champion
whose record since promotion is significantly below it is demoted by its re-test, with the
reason in the decision log, the reports and the summary.
"""

import json
import math
from pathlib import Path

import pytest

from huracan_assets.config import load_settings
from huracan_assets.core.consensus import ACTING_RULE
from huracan_assets.hamilton import HamiltonInterface
from huracan_assets_tests.commands import huracan_daily

pytestmark = pytest.mark.acceptance

DAYS = ["2025-11-20", "2025-11-21", "2025-11-22", "2025-11-23"]
MARKET = {
    "SIMULATOR__N_COINS": "5",
    "SIMULATOR__PLANTED_EDGE_BPS": "60",
    "SIMULATOR__PLANTED_FRACTION": "1.0",
    "LOOKBACK_DAYS": "30",
    # challengers of every horizon run two days in shadow (max_shadow_days caps the 1d and 4h
    # shadows, which min_effective_samples would make longer), so days 3 and 4 test the cohorts
    # of days 1 and 2
    "CHAMPIONS__SHADOW_DAYS": "2",
    "CHAMPIONS__MAX_SHADOW_DAYS": "2",
    # 4h records since promotion mature by day 3 (10 independent trades in 38 decisions): each
    # decision now pays its own day's costs, and the 1h champion that matured before is demoted
    "CHAMPIONS__MIN_EFFECTIVE_SAMPLES": "8",
}
RAISED_MIN_EDGE = 300.0
# day 2 caps the universe at 4 coins: the least liquid coin drops out for a day and comes back
DAY_SETTINGS = [{}, {"MAX_COINS": "4"}, {}, {"MIN_EDGE_AFTER_COST_BPS": str(RAISED_MIN_EDGE)}]


class Day:
    def __init__(self, root: Path, day: str, stdout: str) -> None:
        self.day = day
        self.folder = root / "exports" / day
        self.stdout = stdout
        self.summary = json.loads((self.folder / "reports" / "summary.json").read_text())
        self.events = [
            json.loads(line)
            for line in (self.folder / "reports" / "champion_events.jsonl").read_text().splitlines()
        ]
        self.tests = json.loads((self.folder / "reports" / "shadow_tests.json").read_text())["tests"]
        self.trials = json.loads((self.folder / "reports" / "trials.json").read_text())
        self.do_not_trade = {
            e["coin"]
            for e in json.loads((self.folder / "reports" / "do_not_trade.json").read_text())["entries"]
        }
        self.champions = {
            (p.parent.parent.name, p.parent.name): json.loads(p.read_text())
            for p in (self.folder / "champions").glob("*/*/metadata.json")
        }
        # what the consumer sees right after the day's run (Hamilton reads LATEST)
        hamilton = HamiltonInterface(model_base_path=root / "exports")
        self.rules = {key: hamilton.get_trade_rule(*key) for key in hamilton.list_champions()}


@pytest.fixture(scope="module")
def days(tmp_path_factory) -> list[Day]:
    root = tmp_path_factory.mktemp("retest")
    out = []
    for day, extra in zip(DAYS, DAY_SETTINGS, strict=True):
        done, _ = huracan_daily(root, day, fresh=day == DAYS[0], **MARKET, **extra)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        out.append(Day(root, day, done.stdout))
    return out


def test_day_one_promotes_champions_on_their_promotion_record(days):
    first = days[0]
    assert first.champions, first.stdout
    for meta in first.champions.values():
        assert meta["shadow_test"]["promoted_on"] == first.day
        assert meta["edge_record"] == "promotion" and meta["retest"] is None
        assert meta["net_edge_bps"] == meta["promotion"]["net_edge_bps"]
        assert meta["n_trades"] == meta["shadow_test"]["n_trades"] == meta["promotion"]["n_trades"]
        assert meta["p_value"] == meta["shadow_test"]["p_value"]


def test_every_kept_champion_is_retested_on_its_record_since_promotion_every_day(days):
    for before, today in zip(days[:-2], days[1:-1], strict=True):
        for key, meta in today.champions.items():
            retest = meta["retest"]
            if meta["shadow_test"]["promoted_on"] == today.day:
                continue
            promoted = meta["shadow_test"]["promoted_on"]
            assert retest["since"] > promoted and retest["status"] in ("young", "supported")
            assert retest["n_decisions"] > 0 and retest["test"].startswith("daily re-test")
            # the record grows day by day
            if key in before.champions and before.champions[key].get("retest"):
                assert retest["n_decisions"] > before.champions[key]["retest"]["n_decisions"]
            keeps = [e for e in today.events if e["kind"] == "keep" and (e["coin"], e["horizon"]) == key]
            assert [e["retest"] for e in keeps] == [retest["status"]]
        # yesterday's champions are all accounted for: kept today, or demoted with a reason
        demoted = {(d["coin"], d["horizon"]) for d in today.summary["demotions"]}
        assert set(before.champions) <= set(today.champions) | demoted


def test_a_mature_record_exports_todays_edge_trades_and_p_value(days):
    mature = [
        (day, meta)
        for day in days[1:-1]
        for meta in day.champions.values()
        if meta["retest"] and meta["retest"]["mature"]
    ]
    assert mature, "no champion's record since promotion reached the promotion's sample size"
    for day, meta in mature:
        retest = meta["retest"]
        assert meta["edge_record"] == "since promotion"
        assert meta["net_edge_bps"] == retest["net_edge_bps"] != meta["promotion"]["net_edge_bps"]
        assert meta["n_trades"] == retest["n_trades"] and meta["p_value"] == retest["p_value"]
        ranked = {
            (e["coin"], e["horizon"]): e
            for e in json.loads((day.folder / "reports" / "ranking.json").read_text())["entries"]
        }
        assert ranked[(meta["coin"], meta["horizon"])]["net_edge_bps"] == pytest.approx(
            retest["net_edge_bps"], abs=1e-4
        )


def test_a_raised_minimum_edge_demotes_every_traded_champion_with_its_reason(days):
    before, last = days[-2], days[-1]
    demotions = {(d["coin"], d["horizon"]): d for d in last.summary["demotions"]}
    assert last.summary["champions_demoted_today"] == len(demotions) >= 1
    for key, meta in before.champions.items():
        if key in last.champions:
            # kept only when its record since promotion does not yet contradict the raised minimum
            retest = last.champions[key]["retest"]
            assert retest["shortfall_level"] == pytest.approx(0.05 / load_settings().champions.max_age_days)
            assert retest["shortfall_p_value"] >= retest["shortfall_level"]
            assert retest["status"] in ("young", "supported")
            continue
        reason = demotions[key]["reason"]
        assert reason.startswith("re-test failed: record since ")
        assert f"min_edge_after_cost_bps={RAISED_MIN_EDGE}" in reason
        # the decision log and the run summary say the same
        (event,) = [e for e in last.events if e["kind"] == "demotion" and (e["coin"], e["horizon"]) == key]
        assert event["reason"] == reason
        # significantly below the raised minimum, at alpha / max_age_days (its life's re-tests)
        assert "significantly below" in reason and "alpha/max_age_days=" in reason
        assert float(event["retest_shortfall_p_value"]) < 0.05 / load_settings().champions.max_age_days
        assert f"{key[0]}/{key[1]} ({meta['engine']}@{meta['model_day']}): {reason}" in last.stdout
    assert f"champions demoted     : {len(demotions)}" in last.stdout


def test_each_champion_states_the_rule_the_consensus_acts_on_and_hamilton_exposes_it(days):
    base = load_settings().risk.signal_threshold
    for day in days:
        assert set(day.rules) == set(day.champions)
        for key, meta in day.champions.items():
            stated, rule = meta["trade_rule"], day.rules[key]
            assert stated["rule"] == ACTING_RULE == rule.rule and stated["base_threshold"] == base
            assert rule.cost_bps == stated["cost_bps"] and rule.min_abs_pred_bps == stated["min_abs_pred_bps"]
            edge = rule.min_abs_pred_bps
            assert [rule.position(edge * 1.01), rule.position(-edge * 1.01), rule.position(edge * 0.99)] == [
                1,
                -1,
                0,
            ]
            # a volatile bar raises the threshold: the same prediction no longer acts
            assert rule.position(edge * 1.01, vol_24h_bps=2 * rule.reference_vol_bps) == 0
            # the exported edge is measured under the stated rule, each decision at its own costs:
            # it is net of the mean round trip its trades paid; the rule states today's round trip
            # (what the consumer pays now), which a record's days need not share
            if meta["shadow_test"]["promoted_on"] == day.day or meta["edge_record"] == "since promotion":
                assert meta["net_edge_bps"] == pytest.approx(meta["gross_edge_bps"] - meta["cost_bps"])
                assert meta["cost_bps"] > 0 and stated["cost_bps"] > 0
            if meta["edge_record"] == "since promotion":
                assert stated == meta["retest"]["trade_rule"]


def test_trials_are_counted_over_the_coins_history_and_persist_from_day_to_day(days):
    first = days[0]
    assert first.tests
    for t in first.tests:
        entry = first.trials["trials"][f"{t['coin']}|{t['engine']}|{t['horizon']}"]
        assert entry["tests"] == 1 and entry["effective"] == t["trials_effective"] == 1.0
        assert t["alpha_share"] == pytest.approx(6 / math.pi**2)
        assert t["p_history"] == pytest.approx(min(1.0, t["p_value"] * math.pi**2 / 6))
    cold = {t["coin"] for t in first.tests if t["record_kind"] == "walk_forward_cold_start"}
    assert first.trials["cold_starts"] == dict.fromkeys(cold, first.day)
    # days 3 and 4 test the shadow cohorts of days 1 and 2: each key's count grows by the share
    # of its record no earlier test covered, and sets its alpha share and the DSR's trials
    for before, today in zip(days[:-1], days[1:], strict=True):
        tested = set()
        for t in today.tests:
            key = f"{t['coin']}|{t['engine']}|{t['horizon']}"
            tested.add(key)
            prior = before.trials["trials"].get(key, {"tests": 0, "effective": 0.0})
            assert t["trials_tested_before"] == prior["tests"]
            assert today.trials["trials"][key]["tests"] == prior["tests"] + 1
            assert t["trials_effective"] == pytest.approx(prior["effective"] + t["trial_share"])
            k = math.ceil(t["trials_effective"] - 1e-9)
            assert t["alpha_share"] == pytest.approx(6 / (math.pi**2 * k**2))
            assert t["n_trials"] == max(
                len(today.tests), math.ceil(sum(x["trials_effective"] for x in today.tests) - 1e-9)
            )
        for key in set(before.trials["trials"]) - tested:
            assert today.trials["trials"][key] == before.trials["trials"][key]
    # the history is really carried: day 3 tests keys first tested on day 1 (a fresh record: a
    # whole trial), day 4 a record that half overlaps day 3's (a fraction of one)
    assert days[2].tests and all(t["trials_tested_before"] >= 1 for t in days[2].tests)
    assert any(t["trials_effective"] == pytest.approx(2.0) for t in days[2].tests)
    assert any(0 < t["trial_share"] < 1 for t in days[3].tests)


def test_a_coin_back_within_the_look_back_continues_its_shadow_record_instead_of_a_new_cold_start(days):
    first, out, back = days[0], days[1], days[2]
    (coin,) = out.do_not_trade - first.do_not_trade
    assert coin not in back.do_not_trade
    assert any(t["coin"] == coin and t["record_kind"] == "walk_forward_cold_start" for t in first.tests)
    # its champions left with the coin, each with the reason
    for key in (k for k in first.champions if k[0] == coin):
        assert key not in out.champions
        (gone,) = [d for d in out.summary["demotions"] if (d["coin"], d["horizon"]) == key]
        assert gone["reason"].startswith("coin no longer eligible")
    # back with a fresh cold-start record (no models of the day it was out), it is tested on the
    # shadow record of its day-1 models instead, and its cold start stays the one of day 1
    back_tests = [t for t in back.tests if t["coin"] == coin]
    assert back_tests
    assert all(t["record_kind"] == "shadow" and t["model_day"] == first.day for t in back_tests)
    assert back.trials["cold_starts"][coin] == first.day
