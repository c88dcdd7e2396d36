"""Consensus of engines and the regime gate: bounded score, duplicates do not double-count,
reliability weights, decayed gates, per-row masks, stand-aside when no engine qualifies."""

import json

import numpy as np
import pandas as pd
import pytest

from huracan_assets.core.consensus import (
    LEVELS,
    adaptive_threshold,
    combine,
    consensus_path,
    engine_weights,
    level_of,
)
from huracan_assets.core.gate import age_weights, engine_reliability, regime_gate
from huracan_assets.core.regimes import REGIMES
from huracan_assets.core.scoring import SCORE_COLUMNS, empty_scores

# two orthogonal, zero-mean vote patterns: their correlation is exactly 0
WALSH_A = np.array([1, -1, 1, -1, 1, -1, 1, -1], dtype=float)
WALSH_B = np.array([1, 1, -1, -1, 1, 1, -1, -1], dtype=float)
DAY = "2025-03-31"


def _s(votes: pd.DataFrame, reliability: dict[str, float]) -> np.ndarray:
    weights = engine_weights(votes, reliability)
    s, _ = combine(votes.to_numpy(), np.array([weights[e] for e in votes.columns]))
    return s


# -- combine / engine_weights -----------------------------------------------------------------
def test_score_and_confidence_stay_in_bounds_for_random_inputs():
    rng = np.random.default_rng(0)
    for _ in range(300):
        rows, engines = int(rng.integers(1, 30)), int(rng.integers(1, 6))
        votes = np.tanh(rng.normal(0, 3, (rows, engines)))
        weights = rng.exponential(1.0, engines) * (rng.uniform(size=engines) < 0.8)
        s, confidence = combine(votes, weights)
        assert s.shape == confidence.shape == (rows,)
        assert ((s >= -1) & (s <= 1)).all()
        assert ((confidence >= 0) & (confidence <= 1 + 1e-12)).all()
        # the weighted mean of votes can never exceed the largest |vote| with positive weight
        if weights.sum() > 0:
            assert (np.abs(s) <= np.abs(votes[:, weights > 0]).max(axis=1) + 1e-12).all()
        else:
            assert (s == 0).all()


def test_per_row_weights_combine_each_row_with_its_own_weights():
    rng = np.random.default_rng(5)
    votes = np.tanh(rng.normal(0, 2, (40, 4)))
    weights = rng.exponential(1.0, (40, 4)) * (rng.uniform(size=(40, 4)) < 0.6)
    weights[3] = 0.0  # a row where nobody may vote
    s, confidence = combine(votes, weights)
    for i in range(len(votes)):
        row_s, row_c = combine(votes[i : i + 1], weights[i])
        assert s[i] == pytest.approx(row_s[0], abs=1e-12)
        assert confidence[i] == pytest.approx(row_c[0], abs=1e-12)
        if weights[i].sum() > 0:
            expected = float(votes[i] @ weights[i] / weights[i].sum())
            assert s[i] == pytest.approx(expected, abs=1e-12)
    assert s[3] == 0.0 and confidence[3] == 0.0
    assert ((s >= -1) & (s <= 1)).all()


def test_engine_weights_for_random_votes_are_bounded_by_reliability():
    rng = np.random.default_rng(1)
    for _ in range(100):
        names = [f"e{i}" for i in range(int(rng.integers(1, 6)))]
        votes = pd.DataFrame(np.tanh(rng.normal(0, 2, (20, len(names)))), columns=names)
        reliability = {e: float(rng.normal(1.0, 2.0)) for e in names}
        weights = engine_weights(votes, reliability)
        for e in names:
            assert 0.0 <= weights[e] <= max(0.0, reliability[e]) + 1e-12


def test_exact_duplicate_shares_one_engines_weight_and_leaves_s_unchanged():
    votes = pd.DataFrame({"A": np.tanh(0.8 * WALSH_A), "B": np.tanh(-1.3 * WALSH_B)})
    assert votes.corr().loc["A", "B"] == pytest.approx(0.0, abs=1e-12)
    reliability = {"A": 2.0, "B": 2.0}
    single = engine_weights(votes, reliability)
    assert single == pytest.approx({"A": 2.0, "B": 2.0})

    doubled_votes = votes.assign(A2=votes["A"])
    doubled = engine_weights(doubled_votes, reliability | {"A2": 2.0})
    assert doubled["A"] == pytest.approx(1.0) and doubled["A2"] == pytest.approx(1.0)
    assert doubled["A"] + doubled["A2"] == pytest.approx(single["A"])
    assert doubled["B"] == pytest.approx(single["B"])
    np.testing.assert_allclose(
        _s(doubled_votes, reliability | {"A2": 2.0}), _s(votes, reliability), atol=1e-12
    )


def test_duplicate_pair_with_unequal_reliability_still_does_not_double():
    votes = pd.DataFrame({"A": np.tanh(0.5 * WALSH_A), "B": np.tanh(2.0 * WALSH_B)})
    reliability = {"A": 3.0, "B": 1.5}
    doubled_votes = votes.assign(A2=votes["A"])
    doubled = engine_weights(doubled_votes, reliability | {"A2": 3.0})
    assert doubled["A"] + doubled["A2"] == pytest.approx(engine_weights(votes, reliability)["A"])
    np.testing.assert_allclose(
        _s(doubled_votes, reliability | {"A2": 3.0}), _s(votes, reliability), atol=1e-12
    )


def test_more_reliable_engine_gets_more_weight():
    votes = pd.DataFrame({"strong": np.tanh(WALSH_A), "weak": np.tanh(WALSH_B)})
    weights = engine_weights(votes, {"strong": 4.0, "weak": 1.0})
    assert weights["strong"] > weights["weak"] > 0
    assert weights["strong"] / weights["weak"] == pytest.approx(4.0)
    # with correlated votes both share the same overlap, so the order holds too
    rng = np.random.default_rng(2)
    base = rng.normal(0, 1, 50)
    votes = pd.DataFrame({"strong": np.tanh(base), "weak": np.tanh(base + rng.normal(0, 0.5, 50))})
    weights = engine_weights(votes, {"strong": 4.0, "weak": 1.0})
    assert weights["strong"] > weights["weak"] > 0


def test_engines_without_positive_t_get_zero_weight_and_do_not_dilute_others():
    votes = pd.DataFrame(
        {"A": np.tanh(WALSH_A), "neg": np.tanh(WALSH_A), "zero": np.tanh(WALSH_B), "nan": WALSH_B}
    )
    weights = engine_weights(votes, {"A": 2.0, "neg": -1.5, "zero": 0.0, "nan": float("nan")})
    assert weights["neg"] == weights["zero"] == weights["nan"] == 0.0
    # "neg" is a copy of A but does not vote, so it does not halve A's weight
    assert weights["A"] == pytest.approx(2.0)
    # engines missing from the reliability map do not vote either
    assert engine_weights(votes, {"A": 1.0})["zero"] == 0.0
    assert set(engine_weights(votes, {}).values()) == {0.0}


def test_level_of_follows_the_threshold_bands():
    thr = np.full(6, 0.4)
    s = np.array([0.0, 0.19, 0.2, -0.4, 0.59, -0.61])
    assert list(level_of(s, thr)) == ["none", "none", "weak", "moderate", "moderate", "strong"]


def test_adaptive_threshold_is_clipped_between_half_and_double():
    thr = adaptive_threshold(np.array([10.0, 50.0, 100.0, 400.0, np.nan]), 0.3, 100.0)
    np.testing.assert_allclose(thr, [0.15, 0.15, 0.3, 0.6, 0.3])
    np.testing.assert_allclose(adaptive_threshold(np.array([1.0, 2.0]), 0.3, float("nan")), [0.3, 0.3])


# -- gate and reliability -----------------------------------------------------------------------
def score_row(
    engine, *, regime="all", model_regime="all", model_day=DAY, n_trades=100, net=0.0, t=0.0, horizon="1h"
):
    row = dict.fromkeys(SCORE_COLUMNS, float("nan"))
    row.update(
        coin="SOL",
        model_day=model_day,
        record_kind="shadow",
        horizon=horizon,
        engine=engine,
        model_regime=model_regime,
        regime=regime,
        n_decisions=500,
        n_trades=n_trades,
        net_edge_bps=net,
        t_stat=t,
    )
    return row


def scores(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows)[SCORE_COLUMNS]


def test_age_weights_halve_per_half_life_and_never_exceed_one():
    days = pd.Series(["2025-03-31", "2025-03-24", "2025-03-17", "2025-03-10", "2025-04-02"])
    np.testing.assert_allclose(age_weights(days, DAY, 7.0), [1.0, 0.5, 0.25, 0.125, 1.0])
    np.testing.assert_allclose(age_weights(days[:2], DAY, 14.0), [1.0, 2**-0.5])


def test_reliability_is_the_decayed_mean_t_of_pooled_records_only():
    frame = scores(
        [
            score_row("momentum", model_day="2025-03-31", t=4.0),
            score_row("momentum", model_day="2025-03-24", t=1.0),  # weighs half
            # neither a regime slice nor a regime model's record counts towards reliability
            score_row("momentum", regime="trend", t=50.0),
            score_row("momentum", regime="trend", model_regime="trend", t=-50.0),
            score_row("flow", t=-2.0),
            score_row("flow", horizon="4h", t=3.0),
        ]
    )
    rel = engine_reliability(frame, DAY, half_life_days=7.0)
    assert set(rel) == {("1h", "momentum"), ("1h", "flow"), ("4h", "flow")}
    assert rel[("1h", "momentum")] == pytest.approx((4.0 * 1.0 + 1.0 * 0.5) / 1.5)
    assert rel[("1h", "flow")] == pytest.approx(-2.0)
    assert rel[("4h", "flow")] == pytest.approx(3.0)
    # a shorter half-life leans further towards the recent record
    assert engine_reliability(frame, DAY, half_life_days=1.0)[("1h", "momentum")] > rel[("1h", "momentum")]
    assert engine_reliability(empty_scores(), DAY, 7.0) == {}


def test_gate_enables_an_engine_only_in_regimes_where_it_earned_its_edge():
    frame = scores(
        [
            score_row("momentum", regime="all", n_trades=300, net=1.0),
            score_row("momentum", regime="trend", n_trades=120, net=6.0),
            score_row("momentum", regime="range", n_trades=150, net=-3.0),
            # a good edge on too few trades
            score_row("flow", regime="trend", n_trades=8, net=9.0),
            # the regime's own model is judged on its own record, not on the pooled model's
            score_row("breakout", regime="panic", n_trades=80, net=12.0),
            score_row("breakout", regime="panic", model_regime="panic", n_trades=80, net=-1.0),
            score_row("mean_reversion", regime="range", model_regime="range", n_trades=60, net=4.0),
            # no trades at all never enables
            score_row("mean_reversion", regime="illiquid", n_trades=0, net=float("nan")),
        ]
    )
    gate = regime_gate(frame, DAY, min_edge_bps=2.0, min_trades=50, half_life_days=7.0)
    assert set(gate) == {("1h", r) for r in REGIMES}
    assert gate[("1h", "trend")] == {"momentum"}
    assert gate[("1h", "range")] == {"mean_reversion"}
    assert gate[("1h", "panic")] == set()
    assert gate[("1h", "illiquid")] == set()
    # lowering the trade requirement lets the thinly traded engine in; raising the edge bar shuts all
    assert (
        "flow" in regime_gate(frame, DAY, min_edge_bps=2.0, min_trades=5, half_life_days=7.0)[("1h", "trend")]
    )
    strict = regime_gate(frame, DAY, min_edge_bps=7.0, min_trades=50, half_life_days=7.0)
    assert all(not engines for engines in strict.values())


def test_gate_follows_recent_performance_through_the_decay():
    # an old, great record and a recent, losing one: the decay decides
    frame = scores(
        [
            score_row("momentum", regime="trend", model_day="2025-03-03", n_trades=100, net=20.0),
            score_row("momentum", regime="trend", model_day="2025-03-31", n_trades=100, net=-2.0),
        ]
    )
    old_w = 0.5 ** (28 / 7)  # four half-lives
    decayed = (old_w * 20.0 - 2.0) / (old_w + 1.0)
    assert decayed < 2.0
    gate = regime_gate(frame, DAY, min_edge_bps=2.0, min_trades=50, half_life_days=7.0)
    assert gate[("1h", "trend")] == set()
    # with a very long memory the old record dominates again: (20 - 2) / 2 = 9 bps
    slow = regime_gate(frame, DAY, min_edge_bps=2.0, min_trades=50, half_life_days=1e6)
    assert slow[("1h", "trend")] == {"momentum"}


def test_gate_of_no_scores_has_no_keys():
    assert regime_gate(empty_scores(), DAY, min_edge_bps=2.0, min_trades=10, half_life_days=7.0) == {}


# -- consensus_path ----------------------------------------------------------------------------
def _path_inputs(seed: int = 3, n: int = 120):
    rng = np.random.default_rng(seed)
    times = pd.date_range("2025-03-01", periods=n, freq="1h", tz="UTC")
    label = rng.normal(0, 40, n)
    preds = pd.DataFrame(
        {
            "momentum": 0.5 * label + rng.normal(0, 15, n),
            "flow": 0.3 * label + rng.normal(0, 20, n),
            "breakout": rng.normal(0, 10, n),
        },
        index=times,
    )
    regimes = pd.Series(np.array(["trend", "range", "panic"])[np.arange(n) % 3], index=times)
    vol = pd.Series(rng.uniform(20, 80, n), index=times)
    reliability = {"momentum": 3.0, "flow": 1.5, "breakout": -0.5}
    gate = {
        "trend": {"momentum", "flow", "breakout"},
        "range": {"momentum"},
        "panic": set(),
        "illiquid": set(),
    }
    return preds, regimes, vol, reliability, gate


def _path(preds, regimes, vol, reliability, gate, **kw):
    args = dict(cost_bps=20.0, base_threshold=0.35, reference_vol=50.0, kind="simulated", acting_only=False)
    args.update(kw)
    return consensus_path("SOL", "1h", preds, regimes, vol, reliability, gate, **args)


def test_consensus_path_events_follow_gate_weights_and_levels():
    preds, regimes, vol, reliability, gate = _path_inputs()
    events = _path(preds, regimes, vol, reliability, gate)
    assert len(events) == len(preds)
    base = engine_weights(np.tanh(preds / 20.0), reliability)
    assert base["momentum"] > 0 and base["flow"] > 0 and base["breakout"] == 0.0
    for e, (t, row) in zip(events, preds.iterrows(), strict=True):
        regime = regimes[t]
        assert e.coin == "SOL" and e.horizon == "1h" and e.kind == "simulated"
        assert e.time == t.isoformat() and e.regime == regime
        # per-row gate mask: only engines enabled in the bar's regime carry weight
        for engine in preds.columns:
            expected_w = base[engine] if engine in gate[regime] else 0.0
            assert e.weights[engine] == pytest.approx(expected_w, abs=1e-6)
            assert e.votes[engine] == pytest.approx(np.tanh(row[engine] / 20.0), abs=1e-6)
        total = sum(e.weights.values())
        expected_s = sum(e.weights[k] * e.votes[k] for k in e.weights) / total if total > 0 else 0.0
        assert pytest.approx(expected_s, abs=1e-5) == e.S
        assert -1 <= e.S <= 1 and 0 <= e.confidence <= 1 and e.level in LEVELS
        thr = 0.35 * min(max(vol[t] / 50.0, 0.5), 2.0)
        assert e.threshold == pytest.approx(thr, abs=1e-6)
        a = abs(e.S)
        level = (
            "strong" if a >= 1.5 * thr else "moderate" if a >= thr else "weak" if a >= 0.5 * thr else "none"
        )
        assert e.level == level
        assert e.action == (("buy" if e.S > 0 else "sell") if level in ("strong", "moderate") else "hold")
        if regime == "range":  # momentum alone: S is its vote
            assert pytest.approx(e.votes["momentum"], abs=1e-5) == e.S
        if regime == "panic":  # nobody qualifies: stand aside
            assert (e.S, e.level, e.action) == (0.0, "none", "hold")
    assert {e.action for e in events} >= {"buy", "sell", "hold"}
    # acting_only keeps exactly the buy/sell events
    acting = _path(preds, regimes, vol, reliability, gate, acting_only=True)
    assert acting == [e for e in events if e.action != "hold"]
    parsed = json.loads(acting[0].to_json())
    assert parsed["kind"] == "simulated" and set(parsed["votes"]) == {"momentum", "flow", "breakout"}


def test_consensus_stands_aside_when_no_engine_is_enabled_anywhere():
    preds, regimes, vol, reliability, _ = _path_inputs(seed=4)
    strong = preds * 10  # votes near +-1: any enabled engine would act
    events = _path(strong, regimes, vol, reliability, dict.fromkeys(REGIMES, set()))
    assert len(events) == len(preds)
    assert {(e.S, e.level, e.action) for e in events} == {(0.0, "none", "hold")}
    assert all(set(e.weights.values()) == {0.0} for e in events)
    assert _path(strong, regimes, vol, reliability, dict.fromkeys(REGIMES, set()), acting_only=True) == []
    # the same inputs with the engines enabled do act: the stand-aside comes from the gate
    everywhere = dict.fromkeys(REGIMES, {"momentum", "flow"})
    assert _path(strong, regimes, vol, reliability, everywhere, acting_only=True)


def test_duplicate_engine_in_the_path_does_not_change_s():
    """With the other voters uncorrelated with the copied engine, a copy changes nothing."""
    n = 96
    times = pd.date_range("2025-03-01", periods=n, freq="1h", tz="UTC")
    preds = pd.DataFrame(
        {"momentum": 30 * np.tile(WALSH_A, n // 8), "flow": -25 * np.tile(WALSH_B, n // 8)}, index=times
    )
    preds["momentum"] += 10  # a bias keeps the votes' correlation at exactly 0 (tanh is applied per row)
    preds["flow"] += 10 * np.tile(WALSH_A * WALSH_B, n // 8)
    votes = np.tanh(preds / 20.0)
    assert votes.corr().loc["momentum", "flow"] == pytest.approx(0.0, abs=1e-12)
    regimes = pd.Series("trend", index=times)
    vol = pd.Series(50.0, index=times)
    reliability = {"momentum": 3.0, "flow": 1.5}
    gate = {"trend": {"momentum", "flow"}}
    one = _path(preds, regimes, vol, reliability, gate)
    two = _path(
        preds.assign(momentum_copy=preds["momentum"]),
        regimes,
        vol,
        reliability | {"momentum_copy": 3.0},
        {"trend": {"momentum", "flow", "momentum_copy"}},
    )
    assert len(one) == len(two) == n
    assert len({e.S for e in one}) > 1  # the votes do vary, so equality below is not trivial
    for a, b in zip(one, two, strict=True):
        assert pytest.approx(a.S, abs=2e-6) == b.S and b.level == a.level and b.action == a.action
        assert b.weights["momentum"] + b.weights["momentum_copy"] == pytest.approx(
            a.weights["momentum"], abs=2e-6
        )
        assert b.weights["flow"] == pytest.approx(a.weights["flow"], abs=1e-6)


def test_a_copy_never_doubles_weight_even_when_correlated_with_a_third_engine():
    """With a third engine correlated c with the copied one, the copied pair's total weight is
    2 r / (2 + c) against r / (1 + c) for the single engine: at most 4/3 of it, never twice."""
    rng = np.random.default_rng(8)
    base = rng.normal(0, 1, 200)
    votes = pd.DataFrame({"A": np.tanh(base), "C": np.tanh(base + rng.normal(0, 1.0, 200))})
    c = float(votes.corr().loc["A", "C"])
    assert 0.3 < c < 0.95
    reliability = {"A": 2.0, "C": 2.0}
    single = engine_weights(votes, reliability)
    doubled = engine_weights(votes.assign(A2=votes["A"]), reliability | {"A2": 2.0})
    pair = doubled["A"] + doubled["A2"]
    assert single["A"] == pytest.approx(2.0 / (1 + c))
    assert pair == pytest.approx(2 * 2.0 / (2 + c))
    assert single["A"] < pair <= 4 / 3 * single["A"] < 2 * single["A"]


def test_correlation_history_sets_the_correlation_cut():
    preds, regimes, vol, reliability, gate = _path_inputs(seed=7)
    # a history in which momentum and flow voted identically halves both weights
    history = pd.DataFrame({"momentum": WALSH_A * 30, "flow": WALSH_A * 30, "breakout": WALSH_B * 30})
    events = _path(preds, regimes, vol, reliability, gate, correlation_votes=history)
    trend = next(e for e in events if e.regime == "trend")
    assert trend.weights["momentum"] == pytest.approx(3.0 / 2, abs=1e-6)
    assert trend.weights["flow"] == pytest.approx(1.5 / 2, abs=1e-6)


def test_s_stays_in_bounds_over_many_random_paths():
    rng = np.random.default_rng(11)
    engines = ["a", "b", "c", "d"]
    for _ in range(60):
        n = int(rng.integers(1, 40))
        times = pd.date_range("2025-01-01", periods=n, freq="1h", tz="UTC")
        preds = pd.DataFrame(rng.normal(0, 1, (n, 4)) * rng.exponential(50, 4), index=times, columns=engines)
        regimes = pd.Series(rng.choice(REGIMES, n), index=times)
        vol = pd.Series(rng.uniform(5, 200, n), index=times)
        reliability = {e: float(rng.normal(1.0, 2.0)) for e in engines}
        gate = {r: {e for e in engines if rng.uniform() < 0.6} for r in REGIMES}
        events = _path(
            preds, regimes, vol, reliability, gate, cost_bps=float(rng.uniform(5, 40)), reference_vol=60.0
        )
        assert len(events) == n
        for e in events:
            assert -1.0 <= e.S <= 1.0 and 0.0 <= e.confidence <= 1.0 + 1e-9
            assert all(w >= 0 for w in e.weights.values())
            assert all(e.weights[k] == 0 for k in engines if k not in gate[e.regime])
            if not any(e.weights.values()):
                assert e.S == 0.0 and e.action == "hold"
