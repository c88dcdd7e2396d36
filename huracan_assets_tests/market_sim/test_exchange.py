import pickle
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from huracan_assets.core.features import compute_features
from huracan_assets.core.labels import compute_labels
from huracan_assets.market_sim import PRIMARY_VENDOR, SECONDARY_VENDOR, SimulatedExchange
from huracan_assets_tests.conftest import utc

DAY = date(2025, 6, 10)


def test_same_seed_same_bytes_and_a_longer_history_never_changes_earlier_bars():
    a = SimulatedExchange(seed=3, n_coins=8).ohlcv("SOL", utc(DAY), utc(DAY, 24))
    b_exchange = SimulatedExchange(seed=3, n_coins=8)
    b_exchange.ohlcv(
        "SOL", utc(DAY + timedelta(days=300)), utc(DAY + timedelta(days=301))
    )  # extends the cache
    b = b_exchange.ohlcv("SOL", utc(DAY), utc(DAY, 24))
    pd.testing.assert_frame_equal(a, b)
    mine = SimulatedExchange(seed=3, n_coins=8).ohlcv("SOL", utc(DAY), utc(DAY, 24), vendor=SECONDARY_VENDOR)
    other = SimulatedExchange(seed=4, n_coins=8).ohlcv("SOL", utc(DAY), utc(DAY, 24), vendor=SECONDARY_VENDOR)
    assert not np.allclose(mine["close"], other["close"])


def test_it_keeps_a_bounded_number_of_paths_and_serves_the_same_bars_after_dropping_one():
    exchange = SimulatedExchange(seed=3, n_coins=6, paths_kept=2)
    first = exchange.ohlcv("SOL", utc(DAY), utc(DAY, 24))
    for coin in [s.coin for s in exchange.coins if s.coin != "SOL"]:
        exchange.ohlcv(coin, utc(DAY), utc(DAY, 24))
    assert len(exchange._paths) == 2 and "SOL" not in exchange._paths
    pd.testing.assert_frame_equal(exchange.ohlcv("SOL", utc(DAY), utc(DAY, 24)), first)
    assert list(exchange._paths)[-1] == "SOL"  # the one served last is kept


def test_a_pickled_exchange_serves_the_same_bars_without_carrying_its_paths():
    exchange = SimulatedExchange(seed=3, n_coins=6)
    bars = exchange.ohlcv("SOL", utc(DAY), utc(DAY, 24))
    copy = pickle.loads(pickle.dumps(exchange))  # what a task sent to a Dask worker carries
    assert not copy._paths
    pd.testing.assert_frame_equal(copy.ohlcv("SOL", utc(DAY), utc(DAY, 24)), bars)


def test_a_coin_is_the_same_whatever_the_number_of_coins():
    small = SimulatedExchange(seed=7, n_coins=5).coin("SOL")
    large = SimulatedExchange(seed=7, n_coins=40).coin("SOL")
    assert small == large


def test_power_law_volume_and_spreads_widen_when_volume_is_thin():
    ex = SimulatedExchange(seed=7, n_coins=30)
    tickers = ex.tickers(utc(DAY, 24))
    tickers = tickers[tickers["symbol"] != "GBP/USDT"].sort_values("quote_volume", ascending=False)
    volume = tickers["quote_volume"].to_numpy()
    assert volume[0] / np.median(volume) > 20  # heavy head
    spread = ((tickers["ask"] - tickers["bid"]) / ((tickers["ask"] + tickers["bid"]) / 2) * 1e4).to_numpy()
    rho = pd.Series(np.log(volume)).corr(pd.Series(spread), method="spearman")
    assert rho < -0.6


def test_some_coins_list_part_way_and_have_no_bars_before():
    ex = SimulatedExchange(seed=7, n_coins=30)
    late = [c for c in ex.coins if c.listed_at is not None]
    assert late
    coin = late[0]
    before = ex.ohlcv(coin.coin, coin.listed_at - timedelta(days=2), coin.listed_at)
    after = ex.ohlcv(coin.coin, coin.listed_at, coin.listed_at + timedelta(days=1))
    assert before.empty and len(after) > 0
    assert coin.symbol not in set(ex.markets(coin.listed_at - timedelta(hours=1))["symbol"])


def test_all_four_regimes_occur_and_panic_is_more_volatile():
    ex = SimulatedExchange(seed=7, n_coins=6)
    start, end = utc(date(2024, 6, 1)), utc(date(2025, 6, 1))
    regimes = ex.regimes("SOL", start, end)
    bars = ex.ohlcv("SOL", start, end, vendor=SECONDARY_VENDOR).set_index("open_time")
    assert set(regimes.unique()) == {"trend", "range", "panic", "illiquid"}
    ret = np.log(bars["close"]).diff()
    vol = ret.groupby(regimes.reindex(ret.index)).std()
    assert vol["panic"] > 2 * vol["range"]
    volume = bars["quote_volume"].groupby(regimes.reindex(bars.index)).mean()
    assert volume["illiquid"] < 0.3 * volume["range"]


def test_faults_only_on_faulty_coins_and_only_from_the_primary_vendor():
    ex = SimulatedExchange(seed=7, n_coins=30)
    start, end = utc(date(2025, 1, 1)), utc(date(2025, 7, 1))
    faulty = next(c for c in ex.coins if c.faulty and c.listed_at is None)
    clean = next(c for c in ex.coins if not c.faulty and c.listed_at is None)
    expected = int((end - start) / timedelta(hours=1))
    raw = ex.ohlcv(faulty.coin, start, end)
    assert raw["open_time"].duplicated().any()  # duplicated candles
    assert raw["open_time"].nunique() < expected  # missing candles
    assert len(ex.ohlcv(clean.coin, start, end)) == expected
    secondary = ex.ohlcv(faulty.coin, start, end, vendor=SECONDARY_VENDOR)
    assert len(secondary) == expected and not secondary["open_time"].duplicated().any()


def test_second_vendor_disagrees_slightly_and_sometimes_clearly():
    ex = SimulatedExchange(seed=7, n_coins=6)
    start, end = utc(date(2025, 1, 1)), utc(date(2025, 12, 1))
    a = ex.ohlcv("BTC", start, end, vendor=PRIMARY_VENDOR).set_index("open_time")["close"]
    b = ex.ohlcv("BTC", start, end, vendor=SECONDARY_VENDOR).set_index("open_time")["close"]
    diff = (a / b - 1).abs() * 1e4
    assert 0.3 < diff.median() < 3
    assert (diff > 40).sum() >= 2


def test_planted_flow_signal_is_carried_by_the_taker_ratio_and_matches_the_documented_truth():
    ex = SimulatedExchange(
        seed=11, n_coins=20, planted_fraction=1.0, planted_edge_bps=40.0, faulty_fraction=0.0
    )
    coin = next(c for c in ex.coins if c.planted_family == "flow" and c.listed_at is None)
    bars = ex.ohlcv(coin.coin, utc(date(2024, 3, 1)), utc(date(2025, 9, 1)), vendor=SECONDARY_VENDOR)
    feats = compute_features(bars, timedelta(hours=1))
    labels = compute_labels(feats["close"], bar=timedelta(hours=1), horizon_bars={"4h": 4}, fill_delay_bars=1)
    joined = feats.join(labels.set_index("decision_time"), how="inner")
    oracle = np.sign(joined["taker_ratio"] - 0.5) * joined["fwd_return_bps"]
    truth = ex.planted_truth(coin.coin, 4, fill_delay_bars=1)
    stderr = oracle.std() / np.sqrt(len(oracle) / 4)
    assert truth > 0
    assert abs(oracle.mean() - truth) < 3 * stderr + 0.1 * truth


def test_unplanted_coin_has_no_edge_in_the_same_feature():
    ex = SimulatedExchange(
        seed=11, n_coins=20, planted_fraction=0.0, faulty_fraction=0.0, random_walk_fraction=1.0
    )
    coin = ex.coins[5]
    assert coin.planted_family is None and coin.random_walk
    bars = ex.ohlcv(coin.coin, utc(date(2024, 3, 1)), utc(date(2025, 9, 1)), vendor=SECONDARY_VENDOR)
    feats = compute_features(bars, timedelta(hours=1))
    labels = compute_labels(feats["close"], bar=timedelta(hours=1), horizon_bars={"4h": 4}, fill_delay_bars=1)
    joined = feats.join(labels.set_index("decision_time"), how="inner")
    oracle = np.sign(joined["taker_ratio"] - 0.5) * joined["fwd_return_bps"]
    assert ex.planted_truth(coin.coin, 4) == 0.0
    assert abs(oracle.mean()) < 3 * oracle.std() / np.sqrt(len(oracle) / 4)


def test_five_minute_bars_work():
    ex = SimulatedExchange(seed=7, n_coins=4, timeframe="5m")
    bars = ex.ohlcv("ETH", utc(DAY), utc(DAY, 24), vendor=SECONDARY_VENDOR)
    assert len(bars) == 288
    assert (bars["open_time"].diff().dropna() == pd.Timedelta(minutes=5)).all()
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()


def test_unknown_coin_and_naive_times_are_refused_clearly():
    ex = SimulatedExchange(seed=7, n_coins=4)
    with pytest.raises(KeyError, match="NOPE"):
        ex.ohlcv("NOPE", utc(DAY), utc(DAY, 1))
    with pytest.raises(ValueError, match="timezone"):
        ex.ohlcv("BTC", utc(DAY).replace(tzinfo=None), utc(DAY, 1))


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.9, 0.97])
def test_the_latent_ar1_is_scipys_lfilter_bit_for_bit(rho):
    from scipy.signal import lfilter

    from huracan_assets.market_sim.exchange import ar1_filter

    rng = np.random.default_rng(7)
    for n in (1, 2, 25, 8_000):
        eps = rng.standard_normal(n)
        expected = lfilter([np.sqrt(1 - rho**2)], [1.0, -rho], eps, zi=[rho * eps[0]])[0]
        assert np.array_equal(ar1_filter(eps, rho), expected), (rho, n)


def test_expected_return_is_the_labels_conditional_mean_on_planted_coins_and_zero_on_random_walks():
    """``expected_return_bps`` (the truth ``huracan validate`` scores champions' trades with):
    labels regress on it with slope 1 and no intercept, its mean size is the oracle's edge, and
    a random-walk coin's is 0."""
    ex = SimulatedExchange(seed=4, n_coins=4, layout="validation", planted_edge_bps=40.0)
    planted, walk = ex.coins[1], ex.coins[0]
    assert planted.planted_family and not walk.planted_family
    bars = ex.ohlcv(planted.coin, utc(date(2024, 2, 1)), utc(date(2025, 2, 1)))
    closes = bars.set_index("open_time")["close"]
    labels = compute_labels(closes, bar=timedelta(hours=1), horizon_bars={"4h": 4}, fill_delay_bars=1)
    expected = ex.expected_return_bps(planted.coin, labels["decision_time"], 4, 1)
    realised = labels["fwd_return_bps"].to_numpy()
    slope, intercept = np.polyfit(expected, realised, 1)
    # labels overlap by 4 bars: about n / 4 independent residuals
    residual = realised - (slope * expected + intercept)
    se_slope = residual.std() / (expected.std() * np.sqrt(len(expected) / 4))
    assert abs(slope - 1) < 4 * se_slope
    assert abs(intercept) < 4 * residual.std() / np.sqrt(len(expected) / 4)
    assert np.mean(np.abs(expected)) == pytest.approx(ex.planted_truth(planted.coin, 4, 1), rel=0.1)
    assert not np.any(ex.expected_return_bps(walk.coin, labels["decision_time"], 4, 1))


def test_true_conditions_give_the_quoted_spread_and_refuse_times_off_the_bar_grid():
    ex = SimulatedExchange(seed=4, n_coins=4, layout="validation")
    coin = ex.coins[2].coin
    times = pd.date_range(utc(DAY), periods=48, freq="1h")
    conditions = ex.true_conditions(coin, times)
    assert conditions["spread_bps"].iloc[0] == ex.true_spread_bps(coin, DAY)
    assert conditions["spread_bps"].iloc[30] == ex.true_spread_bps(coin, DAY + timedelta(days=1))
    assert (conditions["daily_vol_bps"] > 0).all() and (conditions["daily_volume_usdt"] > 0).all()
    with pytest.raises(ValueError, match="bar grid"):
        ex.true_conditions(coin, times + pd.Timedelta(minutes=30))
