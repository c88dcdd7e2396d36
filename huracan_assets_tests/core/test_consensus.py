"""Consensus of engines: bounded score, duplicates do not double-count, reliability weights."""

import numpy as np
import pandas as pd
import pytest

from huracan_assets.core.consensus import (
    LEVELS,
    adaptive_threshold,
    coin_consensus,
    combine,
    engine_weights,
    level_of,
)

# two orthogonal, zero-mean vote patterns: their correlation is exactly 0
WALSH_A = np.array([1, -1, 1, -1, 1, -1, 1, -1], dtype=float)
WALSH_B = np.array([1, 1, -1, -1, 1, 1, -1, -1], dtype=float)


def _s(votes: pd.DataFrame, reliability: dict[str, float]) -> np.ndarray:
    weights = engine_weights(votes, reliability)
    s, _ = combine(votes.to_numpy(), np.array([weights[e] for e in votes.columns]))
    return s


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


def _consensus_inputs(seed: int = 3, n: int = 120):
    rng = np.random.default_rng(seed)
    times = pd.date_range("2025-03-01", periods=n, freq="1h", tz="UTC")
    label = rng.normal(0, 40, n)
    vol = rng.uniform(20, 80, n)
    preds = {
        "momentum": 0.5 * label + rng.normal(0, 15, n),
        "flow": 0.3 * label + rng.normal(0, 20, n),
        "breakout": rng.normal(0, 10, n),
    }
    oof = pd.concat(
        [
            pd.DataFrame(
                {"decision_time": times, "engine": e, "pred_bps": p, "label_bps": label, "vol_24h_bps": vol}
            )
            for e, p in preds.items()
        ],
        ignore_index=True,
    )
    live_time = times[-1] + pd.Timedelta(hours=1)
    latest = pd.DataFrame({"decision_time": live_time, "engine": list(preds), "pred_bps": [35.0, 20.0, -5.0]})
    return oof, latest, {"momentum": 3.0, "flow": 1.5, "breakout": -0.5}


def test_coin_consensus_events_are_consistent():
    oof, latest, reliability = _consensus_inputs()
    events, summary = coin_consensus(
        "SOL", "1h", oof, latest, reliability, cost_bps=20.0, base_threshold=0.35
    )
    live = [e for e in events if e.kind == "live"]
    simulated = [e for e in events if e.kind == "oof"]
    assert len(live) == 1 and events[-1] is live[0]
    assert live[0].time == latest["decision_time"].iloc[0].isoformat()
    assert simulated, "the skilled engines should act at least once"
    assert {e.action for e in simulated} <= {"buy", "sell"}
    assert summary["oof_actions"] == len(simulated)
    for e in events:
        assert e.coin == "SOL" and e.horizon == "1h"
        assert -1 <= e.S <= 1 and 0 <= e.confidence <= 1
        assert e.level in LEVELS
        assert e.weights["breakout"] == 0.0  # negative t does not vote
        a, thr = abs(e.S), e.threshold
        expected = (
            "strong" if a >= 1.5 * thr else "moderate" if a >= thr else "weak" if a >= 0.5 * thr else "none"
        )
        assert e.level == expected
        if e.level in ("strong", "moderate"):
            assert e.action == ("buy" if e.S > 0 else "sell")
        else:
            assert e.action == "hold"
        assert 0.5 * 0.35 - 1e-9 <= thr <= 2 * 0.35 + 1e-9
    # the live S is the weighted vote of the latest predictions
    w = live[0].weights
    votes = {e: np.tanh(p / 20.0) for e, p in zip(latest["engine"], latest["pred_bps"], strict=True)}
    expected_s = sum(w[e] * votes[e] for e in w) / sum(w.values())
    assert pytest.approx(expected_s, abs=1e-6) == live[0].S
    assert live[0].action == "buy"  # both voting engines point up
    # the summary's net edge is acting on the consensus after cost
    by_time = oof.drop_duplicates("decision_time").set_index("decision_time")["label_bps"]
    net = [(1 if e.action == "buy" else -1) * by_time[pd.Timestamp(e.time)] - 20.0 for e in simulated]
    assert summary["oof_net_edge_bps"] == pytest.approx(np.mean(net))


def test_json_round_trip_of_an_event():
    import json

    oof, latest, reliability = _consensus_inputs(seed=4)
    events, _ = coin_consensus("SOL", "4h", oof, latest, reliability, cost_bps=20.0, base_threshold=0.35)
    parsed = json.loads(events[-1].to_json())
    assert parsed["kind"] == "live" and set(parsed["votes"]) == {"momentum", "flow", "breakout"}
