"""Champion choice on hand-built scores: promotion, written reasons, BH, do-not-trade, ranking."""

import numpy as np
import pandas as pd
import pytest

from huracan_assets.core.champions import TEST_NAME, choose_champions
from huracan_assets.core.scoring import SCORE_COLUMNS

ALPHA = 0.05
MIN_TRADES = 30
MIN_EDGE = 2.0
COST = 24.0


def score(coin, horizon, engine, *, n_trades, net, p, regime="all", all_gross=None):
    row = dict.fromkeys(SCORE_COLUMNS, float("nan"))
    row.update(
        coin=coin,
        horizon=horizon,
        engine=engine,
        regime=regime,
        n_decisions=500,
        n_trades=n_trades,
        net_edge_bps=net if n_trades else float("nan"),
        gross_edge_bps=net + COST if n_trades else float("nan"),
        cost_bps=COST,
        fees_bps=20.0,
        spread_bps=3.0,
        slippage_bps=1.0,
        funding_bps=0.0,
        p_value=p,
        t_stat=float("nan") if p >= 1 else 3.0 if p < 0.01 else 0.5,
        capacity_gbp=250_000.0,
        all_decisions_gross_bps=all_gross if all_gross is not None else net + COST,
    )
    return row


def hand_bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg written out: q_(i) = min over k >= i of p_(k) * m / k."""
    m = len(p)
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


def base_rows() -> list[dict]:
    rows = [
        # BTC: two qualifying 1h engines (the higher net edge wins) and a qualifying 4h engine
        score("BTC", "1h", "flow", n_trades=300, net=8.0, p=1e-7),
        score("BTC", "1h", "momentum", n_trades=280, net=5.0, p=1e-6),
        score("BTC", "4h", "breakout", n_trades=120, net=12.0, p=1e-5),
        # ETH: traded plenty, every engine loses after costs
        score("ETH", "1h", "flow", n_trades=150, net=-3.0, p=0.9),
        score("ETH", "1h", "momentum", n_trades=90, net=-1.0, p=0.7),
        # SOL: a good edge, but too few trades
        score("SOL", "1h", "flow", n_trades=12, net=15.0, p=1e-4),
        # XRP: a marginal p among many ordinary ones
        score("XRP", "1h", "flow", n_trades=200, net=3.0, p=0.04),
        # LINK: no engine ever beat the cost
        score("LINK", "1h", "flow", n_trades=0, net=0.0, p=1.0, all_gross=5.0),
        score("LINK", "1h", "momentum", n_trades=0, net=0.0, p=1.0, all_gross=-7.0),
        # a per-regime row is never a challenger, however good it looks
        score("ETH", "1h", "flow", n_trades=80, net=30.0, p=1e-9, regime="trend"),
        # a coin that is not active today is not a challenger either
        score("DOT", "1h", "flow", n_trades=300, net=50.0, p=1e-9),
    ]
    # many ordinary challengers (p around 0.5) that a marginal p must beat under BH
    for i in range(20):
        rows.append(score("XRP", "4h", f"filler{i}", n_trades=100, net=1.0, p=0.45 + 0.005 * i))
    return rows


ACTIVE = ["ADA", "BTC", "DOGE", "ETH", "LINK", "SOL", "XRP"]
UNIVERSE = pd.DataFrame(
    {
        "coin": ["BTC", "ETH", "SOL", "XRP", "LINK", "DOGE", "ADA", "PEPE", "USDC"],
        "eligible": [True] * 7 + [False, False],
        "reason": ["eligible"] * 7
        + ["liquidity 120,000 GBP < min_liquidity_gbp 2,000,000 GBP", "stablecoin or fiat base"],
    }
)
CONSENSUS = pd.DataFrame(
    {
        "coin": ["BTC", "BTC"],
        "horizon": ["1h", "4h"],
        "S": [0.5, -0.2],
        "confidence": [0.8, 0.6],
        "level": ["strong", "weak"],
    }
)


def decide(rows: list[dict], active=ACTIVE, coin_status=None):
    return choose_champions(
        "2025-03-04",
        pd.DataFrame(rows)[SCORE_COLUMNS],
        active_coins=list(active),
        coin_status=coin_status
        if coin_status is not None
        else {"DOGE": "training skipped: 40 rows < min_train_rows=200"},
        consensus=CONSENSUS,
        regimes={"BTC": "trend"},
        universe=UNIVERSE,
        alpha=ALPHA,
        min_trades=MIN_TRADES,
        min_edge_bps=MIN_EDGE,
    )


@pytest.fixture(scope="module")
def decision():
    return decide(base_rows())


def test_significant_challenger_is_promoted_with_its_shadow_test(decision):
    champions = {(c["coin"], c["horizon"]): c for c in decision.champions}
    assert set(champions) == {("BTC", "1h"), ("BTC", "4h")}
    btc = champions[("BTC", "1h")]
    assert btc["engine"] == "flow"  # the higher net edge of the two qualifiers
    assert btc["net_edge_bps"] == 8.0 and btc["n_trades"] == 300
    assert btc["regime"] == "trend" and btc["model_regime"] == "all"
    assert btc["confidence"] == 0.8
    shadow = btc["shadow_test"]
    assert shadow["test"] == TEST_NAME and shadow["decision"] == "promoted"
    assert shadow["p_value"] == 1e-7 and shadow["alpha"] == ALPHA
    # the q-value is BH across every "all"-regime challenger of the active coins
    pool = pd.DataFrame(base_rows())
    pool = pool[(pool["regime"] == "all") & pool["coin"].isin(ACTIVE)].reset_index(drop=True)
    assert decision.challengers == len(pool)
    q = hand_bh(pool["p_value"].to_numpy(dtype=float))
    expected_q = q[(pool["coin"] == "BTC").to_numpy() & (pool["engine"] == "flow").to_numpy()][0]
    assert shadow["q_value"] == pytest.approx(expected_q)
    assert shadow["p_value"] <= shadow["q_value"] < ALPHA


def test_all_negative_edges_name_the_min_edge_rule(decision):
    reason = decision.no_champion["ETH"]
    assert "min_edge_after_cost_bps=2.0" in reason
    assert "momentum/1h" in reason  # the closest miss is the least-bad engine
    assert "-1.00 bps" in reason


def test_too_few_trades_names_min_trades(decision):
    reason = decision.no_champion["SOL"]
    assert "12 trades" in reason and f"min_trades={MIN_TRADES}" in reason


def test_benjamini_hochberg_makes_a_marginal_p_insignificant(decision):
    reason = decision.no_champion["XRP"]
    assert "not significant" in reason and "p=0.04" in reason
    # alone, the same challenger would have qualified: the correction is what rejects it
    alone = decide(
        [score("XRP", "1h", "flow", n_trades=200, net=3.0, p=0.04)], active=["XRP"], coin_status={}
    )
    assert [(c["coin"], c["engine"]) for c in alone.champions] == [("XRP", "flow")]
    assert alone.champions[0]["shadow_test"]["q_value"] == pytest.approx(0.04)


def test_every_active_coin_has_a_champion_or_a_reason(decision):
    with_champion = {c["coin"] for c in decision.champions}
    assert with_champion | set(decision.no_champion) == set(ACTIVE)
    assert not with_champion & set(decision.no_champion)
    assert all(decision.no_champion.values())
    assert decision.no_champion["DOGE"].startswith("training skipped")
    assert decision.no_champion["ADA"] == "no challengers were scored"
    assert "ever beat the round-trip cost of 24.0 bps" in decision.no_champion["LINK"]
    assert "DOT" not in decision.no_champion and "DOT" not in with_champion


def test_do_not_trade_lists_ineligible_skipped_and_cost_bound_coins(decision):
    entries = {e["coin"]: e["reasons"] for e in decision.do_not_trade}
    assert entries["PEPE"] == ["liquidity 120,000 GBP < min_liquidity_gbp 2,000,000 GBP"]
    assert entries["USDC"] == ["stablecoin or fiat base"]
    assert entries["DOGE"] == ["training skipped: 40 rows < min_train_rows=200"]
    assert any("exceeds every engine's predicted move" in r for r in entries["LINK"])
    assert "BTC" not in entries and "ETH" not in entries
    assert [e["coin"] for e in decision.do_not_trade] == sorted(entries)


def test_ranking_is_sorted_by_net_edge(decision):
    ranking = decision.ranking
    assert [r["rank"] for r in ranking] == list(range(1, len(ranking) + 1))
    edges = [r["net_edge_bps"] for r in ranking]
    assert edges == sorted(edges, reverse=True)
    assert [(r["coin"], r["horizon"]) for r in ranking] == [("BTC", "4h"), ("BTC", "1h")]
    assert ranking[0]["confidence"] == 0.6 and ranking[0]["capacity_gbp"] == 250_000.0


def test_no_scores_at_all_gives_reasons_for_everyone():
    empty = pd.DataFrame(columns=SCORE_COLUMNS)
    result = choose_champions(
        "2025-03-04",
        empty,
        active_coins=["BTC"],
        coin_status={},
        consensus=pd.DataFrame(),
        regimes={},
        universe=UNIVERSE.iloc[:0],
        alpha=ALPHA,
        min_trades=MIN_TRADES,
        min_edge_bps=MIN_EDGE,
    )
    assert result.champions == [] and result.challengers == 0
    assert result.no_champion == {"BTC": "no challengers were scored"}
