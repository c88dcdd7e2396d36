"""Proofs that the pipeline refuses to invent edge, on the core calls without Dagster.

Markets come from ``SimulatedExchange(layout="validation")``: even coins are pure random
walks, odd coins carry a planted component. The core calls are the ones the assets make
(cold-start purged walk-forward record, costs, HAC tests with Benjamini–Hochberg across the
day, deflated Sharpe). Finding the planted edges, and the size of the edge reported for them,
is proven through the whole graph by ``huracan validate`` (``test_validate.py``).
"""

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from huracan_assets.config import load_settings
from huracan_assets.core.engines import Engine
from huracan_assets.market_sim import SimulatedExchange
from huracan_assets.steps.models import training_params
from huracan_assets.validation import (
    challengers_from_record,
    coin_inputs,
    cold_start_models,
    core_challengers,
)

pytestmark = pytest.mark.acceptance
DAY = date(2025, 6, 1)


def settings(**extra):
    return load_settings(lookback_days=60, training={"iterations": 80, "thread_count": 2}, **extra)


def test_null_market_gives_at_most_one_false_champion_per_100_challengers_and_no_edge():
    s = settings()
    # 6 coins (72 challengers): the false-champion rate over many more, through the graph and
    # against each champion's truth, is huracan validate's (acceptance/test_validate.py, README)
    exchange = SimulatedExchange(seed=11, n_coins=6, layout="validation", planted_edge_bps=0.0)
    challengers = core_challengers(exchange, [c.coin for c in exchange.coins], DAY, s, training_params(s))
    assert len(challengers) >= 60
    false_champions = sum(c.test["qualifies"] for c in challengers)
    assert false_champions <= len(challengers) / 100
    # Coins are the independent units (a coin's engines and horizons share one price path).
    # What the models claim before costs, over every decision, is indistinguishable from zero ...
    coins = sorted({c.coin for c in challengers})
    gross = np.array(
        [np.mean([c.all_decisions_gross_bps for c in challengers if c.coin == coin]) for coin in coins]
    )
    assert abs(gross.mean()) < 3 * gross.std(ddof=1) / np.sqrt(len(gross))
    # ... and the net edge reported for the trades taken is what costs make it: minus the cost
    traded = [c for c in challengers if c.n_trades >= 10]
    per_coin = [[c.net_edge_bps + c.cost_bps for c in traded if c.coin == coin] for coin in coins]
    gross_per_trade = np.array([np.mean(v) for v in per_coin if v])
    assert len(gross_per_trade) >= 5
    assert abs(gross_per_trade.mean()) < 3 * gross_per_trade.std(ddof=1) / np.sqrt(len(gross_per_trade))


def test_labels_permuted_in_time_carry_no_out_of_sample_edge():
    s = settings()
    exchange = SimulatedExchange(seed=5, n_coins=4, layout="validation", planted_edge_bps=60.0)
    coin = exchange.coins[1].coin
    assert exchange.coin(coin).planted_family
    features, labels = coin_inputs(exchange, coin, DAY, s)
    real = challengers_from_record(
        coin, cold_start_models(features, labels, coin, DAY, s, training_params(s)), exchange, s
    )
    shuffled = labels.copy()
    rng = np.random.default_rng(0)
    for idx in shuffled.groupby("horizon").groups.values():
        shuffled.loc[idx, "fwd_return_bps"] = rng.permutation(shuffled.loc[idx, "fwd_return_bps"].to_numpy())
    permuted = challengers_from_record(
        coin, cold_start_models(features, shuffled, coin, DAY, s, training_params(s)), exchange, s
    )
    real_gross = np.mean([c.all_decisions_gross_bps for c in real])
    fake_gross = np.array([c.all_decisions_gross_bps for c in permuted])
    assert real_gross > 20  # the planted signal is there ...
    assert abs(fake_gross.mean()) < max(
        5.0, 3 * fake_gross.std(ddof=1) / np.sqrt(len(fake_gross))
    )  # ... and gone


def _clock_leak_ic(seed: int, purge: bool) -> float:
    """IC of a model that only sees a sample clock, on 1d labels, over 20 walk-forward folds."""
    s = load_settings(lookback_days=60, horizons=["1d"], training={"iterations": 120, "thread_count": 2})
    exchange = SimulatedExchange(seed=seed, n_coins=2, layout="validation", planted_edge_bps=0.0)
    features, labels = coin_inputs(exchange, "V000", DAY, s)
    features = features.assign(clock=np.arange(len(features), dtype=float))
    params = replace(training_params(s), cold_start_folds=20, min_train_rows=50)
    models = cold_start_models(
        features, labels, "V000", DAY, s, params, engines=(Engine("leaky", ("clock",)),), purge=purge
    )
    record = models.record
    return float(np.corrcoef(record["pred_bps"], record["label_bps"])[0, 1])


def test_purge_and_embargo_neutralise_a_leaky_feature_and_switching_them_off_shows_the_inflation():
    """The leaky feature is a sample clock: it tells the model *when* a sample is, nothing about prices.

    Without the purge, the training samples just before each test fold have 1d labels that run
    into the fold, so a model that maps "late in the training data" to their labels predicts the
    fold's own (overlapping) labels: an out-of-sample edge that is pure leakage. With the purge
    and an embargo of horizon + latency, those samples are dropped and the clock predicts nothing.
    """
    seeds = (3, 4, 6)
    purged = np.array([_clock_leak_ic(seed, purge=True) for seed in seeds])
    leaky = np.array([_clock_leak_ic(seed, purge=False) for seed in seeds])
    assert leaky.mean() > 0.25
    assert purged.mean() < 0.05
    assert (leaky > purged).all()
