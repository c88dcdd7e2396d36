"""Trials counted over a coin's history: the persistent count per coin x engine x horizon, its
alpha spending and the deflated Sharpe ratio's number of trials."""

import math

import numpy as np
import pandas as pd
import pytest

from huracan_assets.core import champions as core
from huracan_assets.core.champions import Challenger, alpha_share, new_share, trial_key, updated_trials
from huracan_assets.core.stats import benjamini_hochberg

DAY = "2025-03-08"


def challenger(
    coin: str, engine: str, start: str, seed: int, *, days: int = 7, edge: float = 6.0
) -> Challenger:
    rng = np.random.default_rng(seed)
    n = 24 * days
    returns = np.where(rng.uniform(size=n) < 0.5, edge + 20.0 * rng.normal(size=n), 0.0)
    traded = returns != 0
    return Challenger(
        coin=coin,
        horizon="1h",
        engine=engine,
        model_day=start,
        record_kind="shadow",
        horizon_bars=1,
        returns=returns,
        baseline_returns=np.zeros(n),
        baseline="no trade",
        n_trades=int(traded.sum()),
        net_edge_bps=float(returns[traded].mean()),
        gross_edge_bps=float(returns[traded].mean()) + 20.0,
        cost_bps=20.0,
        capacity_gbp=1e6,
        all_decisions_gross_bps=0.0,
        decision_times=pd.date_range(start, periods=n, freq="h", tz="UTC"),
    )


def run(challengers, trials=None):
    core.test_challengers(
        challengers,
        alpha=0.05,
        min_trades=30,
        min_edge_bps=2.0,
        dsr_min=0.5,
        min_effective_samples=20,
        trials=trials,
    )
    return challengers


def test_alpha_shares_sum_to_one_over_a_keys_history():
    assert alpha_share(1.0) == pytest.approx(6 / math.pi**2)
    assert alpha_share(1.14) == alpha_share(2.0) == pytest.approx(6 / (4 * math.pi**2))
    assert sum(alpha_share(k) for k in range(1, 200_000)) == pytest.approx(1.0, abs=1e-5)


def test_a_record_counts_only_the_share_no_earlier_test_covered():
    times = pd.date_range("2025-03-01", periods=168, freq="h", tz="UTC")
    assert new_share(times, None) == 1.0
    assert new_share(times, times[-1].isoformat()) == 0.0
    assert new_share(times, times[143].isoformat()) == pytest.approx(24 / 168)


def test_first_trials_count_one_each_and_spend_their_first_share():
    day = run([challenger("BTC", "flow", "2025-03-01", 1), challenger("ETH", "flow", "2025-03-01", 2)])
    for c in day:
        assert c.test["trials_effective"] == 1.0 and c.test["trials_tested_before"] == 0
        assert c.test["p_history"] == pytest.approx(min(1.0, c.test["p_value"] * math.pi**2 / 6))
        assert c.test["n_trials"] == 2
    q = benjamini_hochberg(np.array([c.test["p_history"] for c in day]))
    assert [c.test["q_value"] for c in day] == pytest.approx(list(q))


def test_the_count_persists_and_raises_the_bar_day_after_day():
    first = run([challenger("BTC", "flow", "2025-03-01", 1)])
    ledger = updated_trials({}, first, "2025-03-08")
    entry = ledger[trial_key("BTC", "flow", "1h")]
    assert entry["tests"] == 1 and entry["effective"] == 1.0 and entry["first_day"] == "2025-03-08"
    # the next day's record overlaps 6/7 of the tested one: it counts 1/7 of a trial, at k = 2
    second = run([challenger("BTC", "flow", "2025-03-02", 1)], ledger)[0]
    assert second.test["trial_share"] == pytest.approx(1 / 7)
    assert second.test["trials_effective"] == pytest.approx(1 + 1 / 7)
    assert second.test["alpha_share"] == pytest.approx(6 / (4 * math.pi**2))
    assert second.test["p_history"] == pytest.approx(
        min(1.0, second.test["p_value"] / second.test["alpha_share"])
    )
    ledger = updated_trials(ledger, [second], "2025-03-09")
    assert ledger[trial_key("BTC", "flow", "1h")]["tests"] == 2
    # a key with a long history: the deflated Sharpe counts its trials, not just today's challenger
    ledger[trial_key("BTC", "flow", "1h")]["effective"] = 40.0
    late = run(
        [challenger("BTC", "flow", "2025-03-20", 1), challenger("ETH", "flow", "2025-03-20", 2)], ledger
    )
    assert late[0].test["n_trials"] == math.ceil(41.0 + 1.0)
    assert (
        late[0].test["sharpe_threshold"]
        > run([challenger("BTC", "flow", "2025-03-20", 1)])[0].test["sharpe_threshold"]
    )
    assert late[0].test["p_history"] == pytest.approx(
        min(1.0, late[0].test["p_value"] * math.pi**2 * 41**2 / 6)
    )


def test_a_strong_edge_still_qualifies_after_a_long_history_and_a_weak_one_no_longer_does():
    ledger = {
        trial_key(c, "flow", "1h"): {
            "tests": 60,
            "effective": 9.0,
            "covered_until": "2025-03-01T00:00:00+00:00",
        }
        for c in ("BTC", "ETH")
    }
    fresh = run(
        [
            challenger("BTC", "flow", "2025-03-10", 3, edge=12.0),
            challenger("ETH", "flow", "2025-03-10", 4, edge=3.0),
        ]
    )
    late = run(
        [
            challenger("BTC", "flow", "2025-03-10", 3, edge=12.0),
            challenger("ETH", "flow", "2025-03-10", 4, edge=3.0),
        ],
        ledger,
    )
    assert fresh[0].test["qualifies"] and late[0].test["qualifies"]
    assert late[1].test["q_value"] > fresh[1].test["q_value"]
