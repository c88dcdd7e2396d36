"""Promotion: challengers are shadow-tested against the champion on the same out-of-sample bars.

For each coin x horizon, the day's challengers are the pooled engine models trained
``shadow_days_for(horizon)`` days ago (their record: the bars that arrived after their cut-off
plus embargo; long enough to hold ``min_effective_samples`` non-overlapping trades of the
horizon, at least ``shadow_days``, at most ``max_shadow_days``: 7 days for 1h and 4h, 23 for 1d
with the defaults), or,
for a coin with no record yet, today's models with their purged walk-forward cold-start record
(marked as such). The baseline is the current champion scored on the same decisions, or "no
trade" when the coin has none. A challenger is promoted only if

* its per-decision net return beats the baseline's: one-sided HAC paired t-test for overlapping
  h-bar labels (uniform weights on lags 0..h-1, small-sample moments; ``core/stats.py``), p-values corrected with Benjamini–Hochberg across every challenger of the day
  (all coins x horizons x engines) at ``alpha``;
* its deflated Sharpe ratio (probability that its Sharpe beats the expected maximum of the
  day's trials) is at least ``dsr_min``;
* it traded at least ``min_trades`` times with a mean net edge of at least
  ``min_edge_after_cost_bps`` per trade, and at least ``min_effective_samples`` of those trades
  (of it or its baseline) are independent: non-overlapping, h bars apart or more
  (``metrics.independent_trades``).

Trials over a coin's history. Every coin x engine x horizon keeps a persistent count of the
trials it has been tested in (``doc["trials"]``, carried from day to day in the stored
``champions`` partition). Daily tests on rolling shadow records overlap, so a test counts as the
share of its decisions that no earlier test of the same key covered (a cold-start record, or a
shadow record of fresh bars, counts 1; tomorrow's record, 6/7 the same, counts about 1/7). With K
effective trials so far (this one included) and k = ceil(K):

* significance: the key spends its ``alpha`` over its history, ``6 / (pi^2 k^2)`` of it at its
  k-th trial (these shares sum to 1 over k = 1, 2, ...). The test's p-value is divided by that
  share (``p_history``) before Benjamini–Hochberg across the day's challengers; re-tests within
  one record length of data share one k;
* deflated Sharpe: the number of trials is the sum of K over the day's challengers (at least
  their number), not the day's count alone.

A coin's cold-start record is tested once per listing: a coin whose cold-start record was tested
within the last ``lookback_days`` (it dropped out of the universe and came back) is not tested
on a new cold-start record, which would overlap the old one; it continues in shadow.

The best qualifying challenger (highest net edge) of a coin x horizon becomes the champion; when
none qualifies the previous champion persists (until it is older than ``max_age_days``) if it
passes its daily re-test (:func:`retest_champion`). Every test, its p-value and decision is
recorded. Every active coin without a champion gets a written reason naming the closest miss.

Re-test. Every day each champion is judged on its own out-of-sample record since promotion: its
model's predictions on the decisions made after the promotion day (and after its cut-off plus
embargo) whose labels have resolved, at today's costs, under the same trade rule. It is demoted,
with the reason written down, when the record no longer supports the edge after costs: when it
is significantly below the minimum edge. One-sided HAC test (``alternative="less"``) of the
per-decision net return minus ``min_edge_after_cost_bps`` on every trade, at
``alpha / max_age_days``: a champion is re-tested at most ``max_age_days`` times, so the chance
that a champion whose true edge is the minimum is ever demoted by its re-tests is at most
``alpha`` (Bonferroni over its life), and less for a better one. Checked from the first day,
whatever the record's size: a short record demotes only when it already contradicts the edge.

A record that merely fails to prove the edge again (not significant against "no trade", or a
point estimate under the minimum within its noise) does not demote: that is the power of a
fresh sample, not evidence against the edge. Requiring it demoted champions whose true edge was
positive: in ``huracan validate`` (seeds 2 and 3, 8 days), each of the three re-test demotions
removed a champion whose true edge was +8 to +80 bps (README, "Statistical validation").

One hypothesis per champion a day, so no Benjamini–Hochberg across champions and no deflated
Sharpe (nothing is selected among trials here). While the record is younger than the promotion's
sample size (as long as a challenger's shadow record of its horizon, ``min_decisions``, with
``min_trades`` trades, of which ``min_effective_samples`` independent) the champion's exported
edge, trades and p-value are the promotion record's (marked ``edge_record: "promotion"``); from
then on they are today's record since promotion (``edge_record: "since promotion"``). The
re-test's own figures are exported every day under ``retest``.
"""

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from huracan_assets.core.consensus import ActingRule
from huracan_assets.core.costs import CostContext, CostModel
from huracan_assets.core.metrics import decision_returns, independent_trades, metrics_bundle, positions
from huracan_assets.core.stats import (
    benjamini_hochberg,
    deflated_sharpe,
    hac_mean_test,
)

TEST_NAME = (
    "one-sided HAC paired t-test (uniform weights to lag h-1, Satterthwaite t) of per-decision net "
    "returns vs the baseline on the same "
    "out-of-sample decisions; Benjamini-Hochberg across the day's challengers; deflated Sharpe ratio"
)


@dataclass
class Challenger:
    """A challenger's out-of-sample record, and the baseline's on the same decisions (bps per decision)."""

    coin: str
    horizon: str
    engine: str
    model_day: str
    record_kind: str
    horizon_bars: int
    returns: np.ndarray  # challenger's net return per decision (0 when out)
    baseline_returns: np.ndarray  # champion's on the same decisions, or zeros for "no trade"
    baseline: str  # "no trade" or "<engine>@<model_day>"
    n_trades: int
    net_edge_bps: float  # per trade
    gross_edge_bps: float  # per trade
    cost_bps: float
    capacity_gbp: float
    all_decisions_gross_bps: float
    test: dict[str, Any] = field(default_factory=dict)
    trade_rule: dict[str, Any] = field(default_factory=dict)  # the rule its returns and edge are of
    decision_times: pd.DatetimeIndex | None = None  # of ``returns`` (UTC); what the trial count covers


@dataclass
class ChampionDecision:
    day: str
    champions: list[dict[str, Any]] = field(default_factory=list)
    no_champion: dict[str, str] = field(default_factory=dict)
    ranking: list[dict[str, Any]] = field(default_factory=list)
    do_not_trade: list[dict[str, Any]] = field(default_factory=list)
    tests: list[dict[str, Any]] = field(default_factory=list)
    demotions: list[dict[str, Any]] = field(default_factory=list)
    trials: dict[str, dict[str, Any]] = field(default_factory=dict)
    challengers: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "champions": self.champions,
            "no_champion": self.no_champion,
            "ranking": self.ranking,
            "do_not_trade": self.do_not_trade,
            "tests": self.tests,
            "demotions": self.demotions,
            "trials": self.trials,
            "challengers": self.challengers,
        }


def challenger_from_record(
    coin: str,
    horizon: str,
    engine: str,
    model_day: str,
    kind: str,
    record: pd.DataFrame,
    *,
    cost: CostModel,
    horizon_bars: int,
    holding_days: float,
    min_edge_bps: float,
    usdt_per_gbp: float,
    baseline: pd.Series | None = None,
    baseline_name: str = "no trade",
    rule: ActingRule | None = None,
    context: CostContext | None = None,
) -> Challenger:
    """A challenger from its record (decision_time, pred_bps, label_bps, vol_24h_bps) and, when
    there is a champion, the champion's per-decision net returns (bps, indexed by decision time);
    the challenger is then judged on the decisions both have.

    ``rule``: the consensus's acting rule (the rule the consumer trades by); its returns, trades
    and edge are that rule's. Without it: trade when the predicted move beats the cost.
    ``context``: each decision pays its own costs (``CostContext.for_record``); without it every
    decision pays ``cost`` (the run day's).
    """
    total = cost.total_bps(holding_days)
    record = record.sort_values("decision_time").drop_duplicates("decision_time")
    costs = context.for_record(record, horizon_bars) if context is not None else None
    rule_cost = costs.rule_bps_for(record["pred_bps"].to_numpy(dtype=float)) if costs is not None else total
    returns = pd.Series(
        decision_returns(
            record["pred_bps"], record["label_bps"], total, _positions(record, rule_cost, rule), costs
        ),
        index=record["decision_time"],
    )
    if baseline is not None:
        common = returns.index.intersection(baseline.index)
        keep = record["decision_time"].isin(common).to_numpy()
        returns, base = returns.loc[common], baseline.loc[common].to_numpy()
        record = record[keep]
        costs = costs.subset(keep) if costs is not None else None
    else:
        base = np.zeros(len(returns))
    m = metrics_bundle(
        record,
        cost=cost,
        horizon_bars=horizon_bars,
        holding_days=holding_days,
        min_edge_bps=min_edge_bps,
        usdt_per_gbp=usdt_per_gbp,
        rule=rule,
        costs=costs,
    )
    return Challenger(
        coin=coin,
        horizon=horizon,
        engine=engine,
        model_day=model_day,
        record_kind=kind,
        horizon_bars=horizon_bars,
        returns=returns.to_numpy(),
        baseline_returns=base,
        baseline=baseline_name,
        n_trades=m["n_trades"],
        net_edge_bps=m["net_edge_bps"],
        gross_edge_bps=m["gross_edge_bps"],
        cost_bps=m["cost"]["total_bps"] if costs is not None else total,
        capacity_gbp=m["capacity_gbp"],
        all_decisions_gross_bps=m["all_decisions_gross_bps"],
        trade_rule=trade_rule_of(rule, total),
        decision_times=pd.DatetimeIndex(pd.to_datetime(returns.index, utc=True)),
    )


def trial_key(coin: str, engine: str, horizon: str) -> str:
    return f"{coin}|{engine}|{horizon}"


def alpha_share(effective_trials: float) -> float:
    """The share of ``alpha`` a key spends at its k-th trial, k = ceil(effective trials): 6 / (pi^2 k^2)."""
    k = max(1, math.ceil(effective_trials - 1e-9))
    return 6.0 / (math.pi**2 * k**2)


def new_share(times: pd.DatetimeIndex | None, covered_until: str | None) -> float:
    """The share of a record's decisions after ``covered_until`` (ISO UTC; None: nothing covered yet)."""
    if times is None or len(times) == 0:
        return 0.0
    if covered_until is None:
        return 1.0
    return float(np.mean(times > pd.Timestamp(covered_until)))


def updated_trials(
    trials: dict[str, dict[str, Any]], challengers: list["Challenger"], day: str
) -> dict[str, dict[str, Any]]:
    """The persistent trial count after the day's tests (``test_challengers`` filled ``test``)."""
    out = {k: dict(v) for k, v in trials.items()}
    for c in challengers:
        key = trial_key(c.coin, c.engine, c.horizon)
        entry = out.setdefault(key, {"tests": 0, "effective": 0.0, "covered_until": None, "first_day": day})
        entry["tests"] += 1
        entry["effective"] = c.test["trials_effective"]
        entry["last_day"] = day
        if c.decision_times is not None and len(c.decision_times):
            last = c.decision_times.max().isoformat()
            if entry["covered_until"] is None or pd.Timestamp(last) > pd.Timestamp(entry["covered_until"]):
                entry["covered_until"] = last
    return out


def _positions(
    record: pd.DataFrame, cost_bps: float | np.ndarray, rule: ActingRule | None
) -> np.ndarray | None:
    if rule is None:
        return None
    return rule.positions(
        record["pred_bps"].to_numpy(dtype=float), cost_bps, record["vol_24h_bps"].to_numpy(dtype=float)
    )


def trade_rule_of(rule: ActingRule | None, cost_bps: float) -> dict[str, Any]:
    """The trade rule behind a record's returns, as exported in ``metadata.json``."""
    if rule is None:
        return {"rule": "act when |pred_bps| > cost_bps", "cost_bps": cost_bps, "min_abs_pred_bps": cost_bps}
    return rule.describe(cost_bps)


def test_challengers(
    challengers: list[Challenger],
    *,
    alpha: float,
    min_trades: int,
    min_edge_bps: float,
    dsr_min: float,
    min_effective_samples: float,
    trials: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Fill ``test`` of every challenger: paired HAC p, BH q, deflated Sharpe, qualification.

    ``trials``: the persistent count per coin x engine x horizon before today (module docstring,
    "Trials over a coin's history"); None: every key is at its first trial.

    Overlapping trades are not independent: a record of n decisions of an h-bar horizon counts
    as n / h effective samples for the deflated Sharpe ratio; ``min_effective_samples`` is a
    count of independent trades (non-overlapping, where the challenger or its baseline is in the
    market); the t-test takes its own degrees of freedom (``hac_mean_test``).
    """
    history = trials or {}
    effective = []
    for c in challengers:
        before = history.get(trial_key(c.coin, c.engine, c.horizon), {})
        share = new_share(c.decision_times, before.get("covered_until")) if before else 1.0
        effective.append((float(before.get("effective", 0.0)) + share, share, int(before.get("tests", 0))))
    n_trials = max(len(challengers), math.ceil(sum(k for k, _, _ in effective) - 1e-9))
    for c, (k_effective, share, tested) in zip(challengers, effective, strict=True):
        diff = c.returns - c.baseline_returns
        n_eff = max(len(c.returns) / max(c.horizon_bars, 1), 2.0)
        t, p = (
            hac_mean_test(diff, c.horizon_bars, alternative="greater") if len(diff) else (float("nan"), 1.0)
        )
        # the threshold is the expected best Sharpe of the day's trials if none had any edge: the
        # sampling variance of a no-edge Sharpe estimate is 1 / n_effective (the trials' cross-sectional
        # variance instead would punish every true signal for the strength of the others)
        dsr = deflated_sharpe(c.returns, n_trials=n_trials, sr_variance=1.0 / n_eff, n_effective=n_eff)
        weight = alpha_share(k_effective)
        c.test = {
            "test": TEST_NAME,
            "baseline": c.baseline,
            "record_kind": c.record_kind,
            "n_decisions": int(len(c.returns)),
            "n_trades": c.n_trades,
            "mean_diff_bps": float(np.mean(diff)) if len(diff) else float("nan"),
            "t_stat": t,
            "p_value": p,
            "deflated_sharpe": dsr["dsr"],
            "sharpe": dsr["sharpe"],
            "sharpe_threshold": dsr["sr0"],
            "n_trials": n_trials,
            "trials_tested_before": tested,
            "trial_share": share,
            "trials_effective": k_effective,
            "alpha_share": weight,
            "p_history": min(1.0, p / weight),
            "n_effective": n_eff,
            "n_independent_trades": independent_trades(diff != 0, c.horizon_bars),
            "alpha": alpha,
        }
    q = benjamini_hochberg(np.array([c.test["p_history"] for c in challengers])) if challengers else []
    for c, q_value in zip(challengers, q, strict=True):
        c.test["q_value"] = float(q_value)
        c.test["qualifies"] = bool(
            c.n_trades >= min_trades
            and c.test["n_independent_trades"] >= min_effective_samples
            and np.isfinite(c.net_edge_bps)
            and c.net_edge_bps >= min_edge_bps
            and q_value < alpha
            and c.test["deflated_sharpe"] >= dsr_min
        )


RETEST_NAME = (
    "daily re-test of the champion's record since promotion: one-sided HAC t-test (uniform weights to "
    "lag h-1) of the shortfall of per-decision net returns at today's costs from min_edge_after_cost_bps "
    "per trade, at alpha / max_age_days (p against 'no trade' reported)"
)


def retest_champion(
    record: pd.DataFrame,
    *,
    since: str,
    cost: CostModel,
    horizon_bars: int,
    holding_days: float,
    min_edge_bps: float,
    usdt_per_gbp: float,
    alpha: float,
    min_trades: int,
    min_effective_samples: float,
    rule: ActingRule | None = None,
    min_decisions: int = 0,
    context: CostContext | None = None,
    max_age_days: int = 1,
) -> dict[str, Any]:
    """Today's re-test of a champion (module docstring, "Re-test"), under ``rule`` (as its challenger).

    ``max_age_days``: the most re-tests of a champion's life; the shortfall test's level is
    ``alpha / max_age_days``.

    ``record``: decision_time, pred_bps, label_bps (+ vol_24h_bps, regime) of the champion's model
    on the decisions after its promotion day, labels resolved by today; ``since``: the first day
    of that record (UTC). Returns the figures (bps per trade, p-values), ``status`` ("young",
    "supported" or "demoted") and, when demoted, ``reason``.
    """
    total = cost.total_bps(holding_days)
    record = record.sort_values("decision_time").drop_duplicates("decision_time")
    pred = record["pred_bps"].to_numpy(dtype=float)
    costs = context.for_record(record, horizon_bars) if context is not None and len(record) else None
    rule_cost = costs.rule_bps_for(pred) if costs is not None else total
    pos = _positions(record, rule_cost, rule) if len(record) else None
    if costs is not None:
        pos = costs.allowed(pos if pos is not None else positions(pred, rule_cost))
    returns = decision_returns(pred, record["label_bps"].to_numpy(dtype=float), total, pos, costs)
    traded = (np.abs(pred) > total) if pos is None else (pos != 0)
    n_decisions = len(returns)
    if n_decisions:
        m = metrics_bundle(
            record,
            cost=cost,
            horizon_bars=horizon_bars,
            holding_days=holding_days,
            min_edge_bps=min_edge_bps,
            usdt_per_gbp=usdt_per_gbp,
            rule=rule,
            costs=costs,
        )
        n_trades, net, gross, capacity = (
            m["n_trades"],
            m["net_edge_bps"],
            m["gross_edge_bps"],
            m["capacity_gbp"],
        )
        charged = m["cost"]["total_bps"] if costs is not None else total
    else:
        n_trades, net, gross, capacity = 0, float("nan"), float("nan"), float("nan")
        charged = total
    t, p = hac_mean_test(returns, horizon_bars, "greater") if n_trades else (float("nan"), 1.0)
    shortfall = returns - min_edge_bps * traded
    t_short, p_short = hac_mean_test(shortfall, horizon_bars, "less") if n_trades else (float("nan"), 1.0)
    independent = independent_trades(traded, horizon_bars)
    # as much evidence as a challenger's shadow record: from then on the exported figures are this record's
    mature = n_decisions >= min_decisions and n_trades >= min_trades and independent >= min_effective_samples
    level = alpha / max(int(max_age_days), 1)
    out: dict[str, Any] = {
        "test": RETEST_NAME,
        "since": since,
        "n_decisions": int(n_decisions),
        "n_trades": int(n_trades),
        "n_independent_trades": int(independent),
        "net_edge_bps": float(net),
        "gross_edge_bps": float(gross),
        "cost_bps": float(charged),
        "capacity_gbp": float(capacity),
        "t_stat": float(t),
        "p_value": float(p),
        "shortfall_t_stat": float(t_short),
        "shortfall_p_value": float(p_short),
        "alpha": alpha,
        "shortfall_level": level,
        "mature": bool(mature),
        "trade_rule": trade_rule_of(rule, total),
    }
    where = f"record since {since}: {n_trades} trades ({independent} independent) in {n_decisions} decisions"
    if p_short < level:
        out["status"] = "demoted"
        out["reason"] = (
            f"re-test failed: {where} net {net:.2f} bps per trade after {charged:.1f} bps of costs, "
            f"significantly below min_edge_after_cost_bps={min_edge_bps} (one-sided HAC p={p_short:.3g} "
            f"< alpha/max_age_days={level:.3g})"
        )
    else:
        out["status"] = "supported" if mature else "young"
    return out


def choose_champions(
    day: str,
    challengers: list[Challenger],
    incumbents: dict[tuple[str, str], dict[str, Any]],
    *,
    active_coins: list[str],
    coin_status: dict[str, str],
    pending: dict[str, str],
    consensus: pd.DataFrame,
    regimes: dict[str, str],
    universe: pd.DataFrame,
    alpha: float,
    min_trades: int,
    min_edge_bps: float,
    dsr_min: float,
    max_age_days: int,
    min_effective_samples: float = 20.0,
    retests: dict[tuple[str, str], dict[str, Any]] | None = None,
    trials: dict[str, dict[str, Any]] | None = None,
) -> ChampionDecision:
    """The day's champions. ``incumbents``: (coin, horizon) -> yesterday's champion record.

    ``coin_status``: coin -> reason it could not be trained; ``pending``: coin -> why it has no
    challenger today (in shadow). ``consensus``: live rows coin, horizon, S, confidence.
    ``retests``: (coin, horizon) -> today's :func:`retest_champion` of the incumbent; a demoted
    incumbent is not kept (its challengers must then have been tested against "no trade").
    Every incumbent that does not stay is listed in ``demotions`` with the reason.
    """
    decision = ChampionDecision(day=day, challengers=len(challengers))
    test_challengers(
        challengers,
        alpha=alpha,
        min_trades=min_trades,
        min_edge_bps=min_edge_bps,
        dsr_min=dsr_min,
        min_effective_samples=min_effective_samples,
        trials=trials,
    )
    decision.trials = updated_trials(trials or {}, challengers, day)
    decision.tests = [
        {
            "coin": c.coin,
            "horizon": c.horizon,
            "engine": c.engine,
            "model_day": c.model_day,
            "net_edge_bps": c.net_edge_bps,
            **c.test,
        }
        for c in challengers
    ]
    conf = consensus.set_index(["coin", "horizon"]) if len(consensus) else None
    oldest = (date.fromisoformat(day) - timedelta(days=max_age_days)).isoformat()
    by_key: dict[tuple[str, str], list[Challenger]] = {}
    for c in challengers:
        by_key.setdefault((c.coin, c.horizon), []).append(c)
    active = set(active_coins)
    for coin in sorted(active):
        if coin in coin_status:
            decision.no_champion[coin] = coin_status[coin]
            for (c, _), incumbent in sorted(incumbents.items()):
                if c == coin:
                    decision.demotions.append(_demotion(incumbent, coin_status[coin]))
            continue
        horizons = sorted({h for (c, h) in by_key if c == coin} | {h for (c, h) in incumbents if c == coin})
        chosen = []
        for horizon in horizons:
            candidates = by_key.get((coin, horizon), [])
            winners = sorted(
                (c for c in candidates if c.test["qualifies"]),
                key=lambda c: (-c.net_edge_bps, c.test["q_value"]),
            )
            incumbent = incumbents.get((coin, horizon))
            retest = (retests or {}).get((coin, horizon))
            failed = retest is not None and retest["status"] == "demoted"
            if winners:
                best = winners[0]
                chosen.append(_champion(best, regimes.get(coin, "range"), day, conf, "promoted"))
                if incumbent is not None:
                    why = (
                        retest["reason"]
                        if failed
                        else f"replaced by challenger {best.engine}@{best.model_day}, which beat it on the same decisions"
                    )
                    decision.demotions.append(_demotion(incumbent, why, retest))
            elif incumbent is None:
                continue
            elif incumbent["model_day"] < oldest:
                why = f"older than max_age_days={max_age_days} (trained {incumbent['model_day']}) and no challenger qualified"
                decision.demotions.append(_demotion(incumbent, why, retest))
            elif failed:
                decision.demotions.append(_demotion(incumbent, retest["reason"], retest))
            else:
                chosen.append(
                    _kept(incumbent, retest, regimes.get(coin, incumbent.get("regime", "range")), day, conf)
                )
        if chosen:
            decision.champions.extend(chosen)
            continue
        rows = [c for (cc, _), cs in by_key.items() if cc == coin for c in cs]
        if rows:
            decision.no_champion[coin] = _closest_miss(
                rows, alpha, min_trades, min_edge_bps, dsr_min, min_effective_samples
            )
        elif coin in pending:
            decision.no_champion[coin] = pending[coin]
        else:
            decision.no_champion[coin] = "no challenger and no champion"
    decision.champions.sort(key=lambda c: (c["coin"], c["horizon"]))
    ranked = sorted(
        decision.champions, key=lambda c: (-c["net_edge_bps"], c["shadow_test"].get("q_value", 1.0))
    )
    decision.ranking = [
        {
            "rank": i + 1,
            "coin": c["coin"],
            "horizon": c["horizon"],
            "engine": c["engine"],
            "regime": c["regime"],
            "net_edge_bps": round(c["net_edge_bps"], 4),
            "confidence": None if not math.isfinite(c["confidence"]) else round(c["confidence"], 4),
            "capacity_gbp": round(c["capacity_gbp"], 2) if math.isfinite(c["capacity_gbp"]) else None,
        }
        for i, c in enumerate(ranked)
    ]
    decision.do_not_trade = _do_not_trade(universe, coin_status, challengers, active)
    return decision


def _demotion(incumbent: dict[str, Any], reason: str, retest: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "coin": incumbent["coin"],
        "horizon": incumbent["horizon"],
        "engine": incumbent["engine"],
        "model_day": incumbent["model_day"],
        "promoted_on": incumbent.get("shadow_test", {}).get("promoted_on"),
        "reason": reason,
        "retest": retest,
    }


_FIGURES = ("net_edge_bps", "gross_edge_bps", "cost_bps", "n_trades", "capacity_gbp", "p_value")


def _kept(
    incumbent: dict[str, Any], retest: dict[str, Any] | None, regime: str, day: str, conf: pd.DataFrame | None
) -> dict[str, Any]:
    """Yesterday's champion, kept: today's re-test, and today's figures once its record is mature."""
    kept = dict(incumbent)
    kept["shadow_test"] = {**incumbent["shadow_test"], "decision": "kept", "kept_on": day}
    kept["regime"] = regime
    kept["confidence"] = _confidence(conf, incumbent["coin"], incumbent["horizon"])
    kept["retest"] = retest or {"status": "no record", "since": None}
    if retest is not None:
        kept["trade_rule"] = retest["trade_rule"]  # today's cost and reference volatility
    if retest is not None and retest["mature"]:
        kept.update({k: retest[k] for k in _FIGURES})
        kept["edge_record"] = "since promotion"
    else:
        promotion = incumbent.get("promotion") or {k: incumbent.get(k) for k in _FIGURES}
        kept.update(promotion)
        kept["edge_record"] = "promotion"
    return kept


def _confidence(conf: pd.DataFrame | None, coin: str, horizon: str) -> float:
    if conf is not None and (coin, horizon) in conf.index:
        return float(conf.loc[(coin, horizon), "confidence"])
    return float("nan")


def _champion(c: Challenger, regime: str, day: str, conf: pd.DataFrame | None, how: str) -> dict[str, Any]:
    champion = {
        "coin": c.coin,
        "horizon": c.horizon,
        "engine": c.engine,
        "regime": regime,
        "model_regime": "all",
        "model_day": c.model_day,
        "net_edge_bps": float(c.net_edge_bps),
        "gross_edge_bps": float(c.gross_edge_bps),
        "cost_bps": float(c.cost_bps),
        "n_trades": int(c.n_trades),
        "capacity_gbp": float(c.capacity_gbp),
        "p_value": float(c.test["p_value"]),
        "confidence": _confidence(conf, c.coin, c.horizon),
        "shadow_test": {**c.test, "decision": how, "promoted_on": day},
        "edge_record": "promotion",
        "retest": None,
        "trade_rule": c.trade_rule,
    }
    champion["promotion"] = {k: champion[k] for k in _FIGURES}
    return champion


def _closest_miss(
    rows: list[Challenger],
    alpha: float,
    min_trades: int,
    min_edge_bps: float,
    dsr_min: float,
    min_effective_samples: float,
) -> str:
    traded = [c for c in rows if c.n_trades > 0]
    if not traded:
        cost = min(c.cost_bps for c in rows)
        return f"no engine's prediction beat the round-trip cost of {cost:.1f} bps ({len(rows)} challengers, 0 trades)"
    best = max(traded, key=lambda c: c.net_edge_bps)
    where = f"{best.engine}/{best.horizon} (trained {best.model_day}, {best.record_kind} record, vs {best.baseline})"
    if best.n_trades < min_trades:
        return f"best challenger {where} made {best.n_trades} trades < min_trades={min_trades}"
    if best.test["n_independent_trades"] < min_effective_samples:
        return (
            f"best challenger {where} has {best.test['n_independent_trades']} independent (non-overlapping) trades "
            f"({best.test['n_decisions']} overlapping decisions) < min_effective_samples={min_effective_samples:g}"
        )
    if best.net_edge_bps < min_edge_bps:
        return (
            f"best challenger {where} nets {best.net_edge_bps:.2f} bps after {best.cost_bps:.1f} bps of costs "
            f"< min_edge_after_cost_bps={min_edge_bps}"
        )
    if best.test["q_value"] >= alpha:
        return (
            f"best challenger {where} nets {best.net_edge_bps:.2f} bps but is not significant: "
            f"p={best.test['p_value']:.3g}, p_history={best.test['p_history']:.3g} at its "
            f"{best.test['trials_effective']:.2f} effective trials, BH q={best.test['q_value']:.3g} >= alpha={alpha}"
        )
    return (
        f"best challenger {where} nets {best.net_edge_bps:.2f} bps but its deflated Sharpe "
        f"{best.test['deflated_sharpe']:.3f} < {dsr_min} after {best.test['n_trials']} trials"
    )


def _do_not_trade(
    universe: pd.DataFrame, coin_status: dict[str, str], challengers: list[Challenger], active: set[str]
) -> list[dict[str, Any]]:
    entries: dict[str, list[str]] = {}
    for row in universe.itertuples():
        if not row.eligible:
            entries.setdefault(row.coin, []).append(str(row.reason))
    for coin, reason in coin_status.items():
        entries.setdefault(coin, []).append(reason)
    by_coin: dict[str, list[Challenger]] = {}
    for c in challengers:
        by_coin.setdefault(c.coin, []).append(c)
    for coin, rows in by_coin.items():
        if coin not in active or coin in coin_status:
            continue
        if sum(c.n_trades for c in rows) == 0:
            cost = min(c.cost_bps for c in rows)
            entries.setdefault(coin, []).append(
                f"costs: round trip {cost:.1f} bps exceeds every engine's predicted move"
            )
    return [{"coin": coin, "reasons": reasons} for coin, reasons in sorted(entries.items())]
