"""Each coin-day's bars carry the spread its decisions pay: the simulator's quote of that day (a
source that quotes past days), and the features carry it to every decision of the day."""

from datetime import date

import numpy as np
import pandas as pd

from huracan_assets.config import load_settings
from huracan_assets.market_sim.exchange import SimulatedExchange
from huracan_assets.resources.market_data import SimulatedMarketData
from huracan_assets.steps.bars import CoinTask, validate_coin
from huracan_assets.steps.features import features_by_day


def test_each_day_carries_its_own_quoted_spread_into_the_bars_and_features():
    exchange = SimulatedExchange(seed=7, n_coins=12)
    client = SimulatedMarketData(exchange)
    days = [date(2025, 6, d) for d in range(1, 9)]
    coin = "SOL"
    task = CoinTask(coin, [(f"{d}|{coin}", d, None, True, "TRADING") for d in days], client, load_settings())
    out = validate_coin(task)
    spreads = {}
    for d in days:
        frame, quality = out[f"{d}|{coin}"]
        assert quality.spread_source == "quote:day close"
        assert quality.spread_bps == exchange.true_spread_bps(coin, d)
        assert (frame["spread_bps"] == quality.spread_bps).all()
        spreads[d] = quality.spread_bps
    assert len(set(spreads.values())) > 1  # the spread moves from day to day
    bars = pd.concat([out[f"{d}|{coin}"][0] for d in days], ignore_index=True)
    keys = [f"{d}|{coin}" for d in days[3:]]
    features = features_by_day(bars, load_settings().bar, keys)
    for key in keys:
        day = date.fromisoformat(key[:10])
        assert np.allclose(features[key]["spread_bps"], spreads[day])
