"""A deterministic simulated spot exchange quoted in USDT.

What it models (all deterministic from ``seed``; the same call always returns the same bytes):

* **Coins and liquidity.** ``n_coins`` base assets with power-law (Zipf, exponent 1.7)
  typical 24h quote volume; BTC and ETH are the most liquid. The quoted bid/ask spread
  widens as volume thins: ``spread_bps = 1.5 + 60 / sqrt(volume_usdt / 1e6)`` times a
  regime factor. About 15% of coins are listed part-way through the history.
* **Regimes** (a daily Markov chain per coin): ``trend`` (a weak directional drift of
  ``trend_drift_bps`` per bar, direction drawn per episode), ``range`` (lower volatility),
  ``panic`` (volatility x3, jumps of about 6 sigma with probability 2% per bar, volume x2.5,
  spread x2) and ``illiquid`` (volume x0.15, spread x4). ``random_walk`` coins (a share
  ``random_walk_fraction`` of the unplanted ones) keep the
  volatility/volume/spread regimes but have zero drift of any kind: they are martingales.
* **Planted predictable component** (``planted_family`` not None): a latent AR(1) signal
  ``x`` (unit variance, persistence ``rho`` per hour, half-life about 6.6 h) drives the drift
  of the *next* bar: ``drift[s] = c * x[s-1]`` (bps). ``c`` is set so that the *oracle* trade —
  decide at the close of bar t in the direction of ``sign(x[t])``, fill at the close of bar t+m
  (m = fill delay in bars, 1 with 1h bars and a 1m latency), exit h bars later — earns
  ``planted_edge_bps`` gross at the 1h horizon (``c`` is about 1.4 x that per bar, against a
  bar volatility of about 50-100 bps). :meth:`SimulatedExchange.planted_truth` gives the
  oracle's expected gross edge in bps for any horizon and fill delay:
  ``c * sqrt(2/pi) * sum_{j=m}^{m+h-1} rho**j``; :meth:`SimulatedExchange.expected_return_bps`
  gives, for any decision, the expected label given the state at the decision:
  ``c * x[t] * sum_{j=m}^{m+h-1} rho**j`` (what ``huracan validate`` scores a champion's own
  trades with).

  How the plant shows in the feature families. The simulator writes ``x`` itself into one
  observable of the planted family:

  ========  =====================================  ======================================
  family    feature that carries x itself          how the simulator writes it
  ========  =====================================  ======================================
  flow      taker-buy ratio of the bar             ``taker_buy / volume = 0.5 + 0.1*x``
  breakout  wick imbalance ``(lower-upper)/range``  lower wick share ``= (1 + tanh x)/2``
  ========  =====================================  ======================================

  On an unplanted coin (and on a coin planted in the other family) that observable is drawn
  from independent noise with the same distribution. But the drift is persistent, so it also
  makes the coin's returns autocorrelated, and every feature of past prices sees it: on the
  validation market (seed 1, 4 planted coins, 120 days) the correlation of a feature with
  ``x`` is about 0.4-0.6 for every momentum feature (``mom_4h`` 0.62), the mean-reversion
  features (``ema_gap_12h`` 0.61, ``rsi_14`` 0.52: positive, the price sits above its average
  after a drift up) and ``range_pos_24h`` (0.51) of the breakout family, on planted coins of
  either family; the wick imbalance 0.78 (0.83 over 4h) only on breakout coins; the taker-buy
  ratio 1.0 (0.91 over 4h, 0.67 as a 24h z-score) only on flow coins. Volume, volatility ratios
  and the Parkinson ratio carry nothing (|corr| < 0.1; volume grows with |return|, not its
  sign). So every engine can find a planted coin through its returns; the planted family's
  engine sees x directly and best. On unplanted coins every feature's correlation with ``x``
  is 0 (|corr| < 0.02 measured).
* **Data faults** (only on ``faulty`` coins, only in the primary vendor's feed, never in the
  true path): missing candles (runs of 1-3 bars, and now and then a run longer than any sane
  repair limit), single-bar outliers (one close and high/low off by ~15%), duplicated candles
  (re-sent with a slightly different volume) and the odd out-of-order delivery.
* **A second vendor** (``sim-secondary``) that reports the same bars with ~1 bp of price noise
  and, on about 2% of days, one bar that is clearly off (~60 bps).
* **1-minute candles** (:meth:`SimulatedExchange.minute_candles`): the trades inside each bar.
  The mid price is a Brownian bridge from the bar's open to its close whose excursions are
  stretched to touch the bar's high and low (a monotone map: more local variance, no drift,
  which would bias a spread estimate); each minute holds ``PRINTS_PER_MINUTE`` trades at the mid
  plus or minus half the bar's true spread (the side drawn per trade), the mid kept half a
  spread inside the bar's range. So the minutes aggregate back to the bar's high, low and
  volumes exactly and to its open and close within half a spread (a whole one where the bar
  opens or closes at its high or low: the bars are mid prices, the minutes trades), and the bid/ask bounce in them is the true spread: what a spread estimator
  should recover.
* **Price ticks**: each market's ``tick_size`` (its ``PRICE_FILTER``) is a power of ten about
  1e-6 of its first price (0.01 for BTC at 60,000): a fraction of a bp.
* **GBP**: a ``GBP/USDT`` market quoting USDT per GBP (around 1.27) for volume conversion.
* **Delistings** (``delisted={"XRP": when}``): from ``when`` on the market's status is ``BREAK``,
  it has no ticker and no candles.
* **Funding rates** of the USDT-margined perpetual of every coin, every 8 h (00:00, 08:00,
  16:00 UTC): ``0.0001 + 0.1 * (8h log return)`` clipped to +-0.0075 (a fraction per 8 h).

Bars are half-open ``[open_time, open_time + timeframe)`` in UTC; ``timeframe`` must divide a
day (1h by default; 5m works). Everything is generated per day from per-day seeded streams and
filtered forward from ``genesis``, so a longer history never changes an earlier bar.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from itertools import accumulate

import numpy as np
import pandas as pd

PRIMARY_VENDOR = "sim-primary"
SECONDARY_VENDOR = "sim-secondary"
PLANTED_FAMILIES = ("flow", "breakout")
REGIMES = ("trend", "range", "panic", "illiquid")
BAR_COLUMNS = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "trades",
    "taker_buy_base",
    "taker_buy_quote",
    "vendor",
]

_KNOWN_NAMES = [
    "BTC",
    "ETH",
    "BNB",
    "SOL",
    "XRP",
    "DOGE",
    "ADA",
    "TRX",
    "AVAX",
    "LINK",
    "DOT",
    "LTC",
    "BCH",
    "NEAR",
    "UNI",
    "ATOM",
    "XLM",
    "ETC",
    "FIL",
    "APT",
    "ARB",
    "OP",
    "INJ",
    "SUI",
    "SEI",
    "TIA",
    "PEPE",
    "WIF",
    "FET",
    "RNDR",
    "AAVE",
    "ALGO",
    "SAND",
    "MANA",
    "AXS",
    "GALA",
    "EGLD",
    "HBAR",
    "ICP",
    "KAS",
    "LDO",
    "MKR",
    "RUNE",
    "STX",
    "THETA",
    "VET",
    "XTZ",
    "ZEC",
    "CRV",
    "DYDX",
]

# daily regime transitions, rows = from, cols = to (trend, range, panic, illiquid)
_TRANSITIONS = np.array(
    [
        [0.80, 0.15, 0.04, 0.01],
        [0.12, 0.80, 0.04, 0.04],
        [0.25, 0.35, 0.40, 0.00],
        [0.05, 0.25, 0.00, 0.70],
    ]
)
_REGIME_VOL = np.array([1.0, 0.7, 3.0, 0.8])
_REGIME_VOLUME = np.array([1.1, 0.9, 2.5, 0.15])
_REGIME_SPREAD = np.array([1.0, 1.0, 2.0, 4.0])
_RHO_PER_HOUR = 0.9
_DEFAULT_FILL_DELAY = 1  # bar closes from decision to fill with 1h bars and a 1m latency
PRINTS_PER_MINUTE = 6  # trades simulated inside each 1-minute candle
MINUTE = timedelta(minutes=1)


def ar1_filter(eps: np.ndarray, rho: float) -> np.ndarray:
    """x[t] = sqrt(1 - rho²)·eps[t] + rho·x[t-1], started at x[-1] = eps[0] (stationary).

    The same floating-point operations in the same order as
    ``scipy.signal.lfilter([sqrt(1 - rho²)], [1, -rho], eps, zi=[rho * eps[0]])``, so the same
    bits (a test compares them); written out because importing ``scipy.signal`` costs every
    process that loads the code location about a second."""
    scaled = (math.sqrt(1 - rho**2) * eps).tolist()
    if not scaled:
        return np.empty(0)
    first = scaled[0] + rho * float(eps[0])
    steps = accumulate(scaled[1:], lambda previous, step: step + rho * previous, initial=first)
    return np.fromiter(steps, dtype=float, count=len(scaled))


@dataclass(frozen=True)
class CoinSpec:
    """One simulated base asset. Prices in USDT, volumes in USDT per 24h, vol as a fraction per day."""

    coin: str
    index: int
    base_price: float
    daily_volume_usdt: float
    daily_vol: float
    listed_at: datetime | None
    planted_family: str | None
    planted_edge_bps: float
    faulty: bool
    random_walk: bool

    @property
    def symbol(self) -> str:
        return f"{self.coin}/USDT"


@dataclass
class _Path:
    """The full simulated history of one coin from genesis, one row per bar."""

    open_time: np.ndarray  # int64 ns
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    taker_ratio: np.ndarray
    trades: np.ndarray
    spread_bps: np.ndarray
    regime: np.ndarray  # int codes into REGIMES
    n_days: int
    signal: np.ndarray  # the latent AR(1) x per bar (it drives prices only on planted coins)
    trend_drift_bps: np.ndarray  # the trend regime's drift per bar (0 on random-walk coins)


class SimulatedExchange:
    """Deterministic simulated exchange. See the module docstring for what it models."""

    def __init__(
        self,
        seed: int = 7,
        n_coins: int = 30,
        timeframe: str | timedelta = "1h",
        genesis: date = date(2024, 1, 1),
        planted_fraction: float = 0.4,
        planted_edge_bps: float = 25.0,
        faulty_fraction: float = 0.3,
        listing_fraction: float = 0.15,
        trend_drift_bps: float = 1.5,
        random_walk_fraction: float = 0.0,
        coin_names: list[str] | None = None,
        corrupt: dict[str, tuple[str, ...] | list[str]] | None = None,
        layout: str = "market",
        delisted: dict[str, datetime] | None = None,
        paths_kept: int = 32,
    ) -> None:
        from huracan_assets.config.settings import parse_duration

        self.seed = int(seed)
        self.n_coins = int(n_coins)
        self.bar = parse_duration(timeframe) if isinstance(timeframe, str) else timeframe
        if timedelta(days=1) % self.bar:
            raise ValueError(f"timeframe {timeframe!r} does not divide one day")
        self.bars_per_day = int(timedelta(days=1) / self.bar)
        self.genesis = genesis
        self.planted_fraction = planted_fraction
        self.planted_edge_bps = planted_edge_bps
        self.faulty_fraction = faulty_fraction
        self.listing_fraction = listing_fraction
        self.trend_drift_bps = trend_drift_bps
        self.random_walk_fraction = random_walk_fraction
        self._names = coin_names
        if layout not in ("market", "validation"):
            raise ValueError(f"layout must be 'market' or 'validation', got {layout!r}")
        self.layout = layout
        unknown = {k for kinds in (corrupt or {}).values() for k in kinds} - set(CORRUPTIONS)
        if unknown:
            raise ValueError(f"unknown corruption kind(s) {sorted(unknown)}; known: {list(CORRUPTIONS)}")
        self.corrupt = {coin: tuple(kinds) for coin, kinds in (corrupt or {}).items()}
        self.delisted = {coin: pd.Timestamp(when).to_pydatetime() for coin, when in (delisted or {}).items()}
        # the paths of the ``paths_kept`` coins served last (about 1.6 MB each at two years of
        # hourly bars): a market of 400 coins would otherwise hold every coin's path for ever; one
        # dropped is generated again when asked for, the same bars (seeded per coin and day)
        self._paths: OrderedDict[str, _Path] = OrderedDict()
        self._paths_lock = threading.Lock()
        self.paths_kept = max(1, int(paths_kept))
        self.rho = _RHO_PER_HOUR ** (self.bar / timedelta(hours=1))

    # ------------------------------------------------------------------ coins
    def __getstate__(self) -> dict:
        """Pickled (a task sent to a Dask worker carries its client) without the generated paths,
        which the worker generates again, the same bars, and without the lock."""
        state = self.__dict__.copy()
        state["_paths"] = OrderedDict()
        del state["_paths_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._paths_lock = threading.Lock()

    def _rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *key])

    @cached_property
    def coins(self) -> list[CoinSpec]:
        """The coins, each drawn from its own seeded stream: a coin is the same whatever ``n_coins`` is."""
        if self.layout == "validation":
            return self._validation_coins()
        names = list(self._names or _KNOWN_NAMES)
        names += [f"SIM{i:03d}" for i in range(len(names), self.n_coins)]
        genesis = datetime.combine(self.genesis, datetime.min.time(), UTC)
        specs = []
        for i, name in enumerate(names[: self.n_coins]):
            rng = self._rng(0, i)
            u = rng.uniform(size=6)
            # power law (Zipf, exponent 1.7): the top coin trades ~2 bn USDT a day, rank 30 a few million
            volume = max(2e5, 2e9 * (i + 1) ** -1.7 * float(np.exp(rng.normal(0, 0.25))))
            major = i < 2
            listed_at = None
            if not major and u[0] < self.listing_fraction:
                listed_at = genesis + timedelta(days=int(230 + u[1] * 470))
            # plant only in coins liquid enough to trade (rank < 20), never in BTC/ETH
            planted = not major and i < 20 and u[2] < self.planted_fraction
            random_walk = not planted and not major and u[3] < self.random_walk_fraction
            specs.append(
                CoinSpec(
                    coin=name,
                    index=i,
                    base_price=(60000.0, 3000.0)[i]
                    if major
                    else float(np.exp(np.log(0.05) + u[4] * np.log(1e4))),
                    daily_volume_usdt=volume,
                    daily_vol=(0.02, 0.028)[i] if major else float(0.025 + 0.035 * u[5]),
                    listed_at=listed_at,
                    planted_family=PLANTED_FAMILIES[i % len(PLANTED_FAMILIES)] if planted else None,
                    planted_edge_bps=self.planted_edge_bps if planted else 0.0,
                    faulty=not major and rng.uniform() < self.faulty_fraction,
                    random_walk=random_walk,
                )
            )
        return specs

    def _validation_coins(self) -> list[CoinSpec]:
        """The proof market: even coins are pure random walks, odd coins carry a planted edge of varied size.

        No data faults, no late listings, no trend drift, every coin liquid: what differs between
        coins is only whether a predictable component exists and how strong it is
        (``planted_edge_bps`` x 0.5 .. 2).
        """
        specs = []
        for i in range(self.n_coins):
            rng = self._rng(0, 1000 + i)
            u = rng.uniform(size=3)
            planted = i % 2 == 1
            specs.append(
                CoinSpec(
                    coin=f"V{i:03d}",
                    index=i,
                    base_price=float(np.exp(np.log(0.5) + u[0] * np.log(1e3))),
                    daily_volume_usdt=float(4e8 * (i + 1) ** -0.3),
                    daily_vol=float(0.025 + 0.02 * u[1]),
                    listed_at=None,
                    planted_family=PLANTED_FAMILIES[(i // 2) % len(PLANTED_FAMILIES)] if planted else None,
                    planted_edge_bps=self.planted_edge_bps * (0.5 + 1.5 * u[2]) if planted else 0.0,
                    faulty=False,
                    random_walk=True,
                )
            )
        return specs

    def coin(self, coin: str) -> CoinSpec:
        for spec in self.coins:
            if spec.coin == coin:
                return spec
        raise KeyError(f"unknown coin {coin!r} on the simulated exchange")

    # ------------------------------------------------------------------ truth
    def planted_truth(
        self, coin: str, horizon_bars: int, fill_delay_bars: int = _DEFAULT_FILL_DELAY
    ) -> float:
        """Expected gross edge in bps of the oracle trade sign(x) for this coin (0 if nothing planted)."""
        spec = self.coin(coin)
        if not spec.planted_family:
            return 0.0
        return self._drift_scale(spec) * _edge_factor(self.rho, horizon_bars, fill_delay_bars)

    def _drift_scale(self, spec: CoinSpec) -> float:
        one_hour = int(timedelta(hours=1) / self.bar)
        return spec.planted_edge_bps / _edge_factor(self.rho, one_hour, _DEFAULT_FILL_DELAY)

    def _bar_positions(
        self, spec: CoinSpec, times: pd.DatetimeIndex | pd.Series, extra_bars: int
    ) -> tuple[_Path, np.ndarray]:
        """The path (long enough for ``extra_bars`` after the last time) and each time's bar index."""
        stamps = pd.DatetimeIndex(pd.to_datetime(times, utc=True)).as_unit("ns")
        if not len(stamps):
            return self._path(spec, 1), np.empty(0, dtype=np.int64)
        last = (stamps.max() + extra_bars * self.bar).date()
        path = self._path(spec, self._day_index(last) + 1)
        idx = np.searchsorted(path.open_time, stamps.asi8)
        if (idx >= len(path.open_time)).any() or (
            path.open_time[np.minimum(idx, len(path.open_time) - 1)] != stamps.asi8
        ).any():
            raise ValueError(f"{spec.coin}: times not on the simulator's {self.bar} bar grid")
        return path, idx

    def expected_return_bps(
        self,
        coin: str,
        decision_times: pd.DatetimeIndex | pd.Series,
        horizon_bars: int,
        fill_delay_bars: int = _DEFAULT_FILL_DELAY,
    ) -> np.ndarray:
        """The truth behind a label: E[label | the simulator's state at the decision], bps per decision.

        ``decision_times``: open times of the decision bars (the decision is taken at the bar's
        close); the label is ``ln(close[t+m+h] / close[t+m])`` (``core/labels.py``). With the
        planted drift ``drift[s] = c * x[s-1]`` and ``E[x[t+j] | x[t]] = rho**j * x[t]``, the
        planted part is ``c * x[t] * sum_{j=m}^{m+h-1} rho**j``; the trend regime's drift over the
        held bars is added as the path has it (none on random-walk coins, so none on the
        validation market). Noise and jumps have zero mean. 0 on a coin without a plant or trend.
        """
        spec = self.coin(coin)
        path, idx = self._bar_positions(spec, decision_times, fill_delay_bars + horizon_bars + 1)
        if not len(idx):
            return np.empty(0)
        out = np.zeros(len(idx))
        if spec.planted_family:
            j = np.arange(fill_delay_bars, fill_delay_bars + horizon_bars)
            out += self._drift_scale(spec) * float(np.sum(self.rho**j)) * path.signal[idx]
        if not spec.random_walk:
            cumulative = np.concatenate([[0.0], np.cumsum(path.trend_drift_bps)])
            start, stop = idx + fill_delay_bars + 1, idx + fill_delay_bars + horizon_bars + 1
            out += cumulative[stop] - cumulative[start]
        return out

    def true_conditions(self, coin: str, times: pd.DatetimeIndex | pd.Series) -> pd.DataFrame:
        """What the simulator knows of the market at each bar (open times): ``spread_bps`` (the true
        quoted spread, bps of the mid), ``daily_vol_bps`` (the coin's volatility in the bar's regime,
        bps per day), ``daily_volume_usdt`` (its typical 24h volume in that regime) and ``regime``."""
        spec = self.coin(coin)
        path, idx = self._bar_positions(spec, times, 0)
        regime = path.regime[idx]
        return pd.DataFrame(
            {
                "spread_bps": path.spread_bps[idx],
                "daily_vol_bps": spec.daily_vol * 1e4 * _REGIME_VOL[regime],
                "daily_volume_usdt": spec.daily_volume_usdt * _REGIME_VOLUME[regime],
                "regime": [REGIMES[r] for r in regime],
            },
            index=pd.DatetimeIndex(pd.to_datetime(times, utc=True)),
        )

    # ------------------------------------------------------------------ paths
    def _day_index(self, day: date) -> int:
        return (day - self.genesis).days

    def _path(self, spec: CoinSpec, n_days: int) -> _Path:
        with self._paths_lock:
            cached = self._paths.get(spec.coin)
            if cached is not None and cached.n_days >= n_days:
                self._paths.move_to_end(spec.coin)
                return cached
        # grow in blocks: generation is prefix-stable, so generating ahead changes nothing already served
        n_days = -(-max(n_days, 1) // 256) * 256
        path = self._generate(spec, n_days)
        with self._paths_lock:
            self._paths[spec.coin] = path
            self._paths.move_to_end(spec.coin)
            while len(self._paths) > self.paths_kept:
                self._paths.popitem(last=False)
        return path

    def _generate(self, spec: CoinSpec, n_days: int) -> _Path:
        bpd = self.bars_per_day
        n = n_days * bpd
        # per-day seeded streams: a longer history never changes an earlier bar
        streams = [self._rng(1, spec.index, d) for d in range(n_days)]
        daily_u = np.array([s.uniform(size=4) for s in streams])
        noise = np.concatenate([s.standard_normal((6, bpd)) for s in streams], axis=1)
        jumps_u = np.concatenate([s.uniform(size=bpd) for s in streams])

        regime_day = np.empty(n_days, dtype=np.int8)
        trend_sign = np.empty(n_days)
        state, sign = 1, 1.0
        cumulative = _TRANSITIONS.cumsum(axis=1)
        for d in range(n_days):
            new_state = int(np.searchsorted(cumulative[state], daily_u[d, 0] * cumulative[state, -1]))
            if new_state == 0 and state != 0:
                sign = 1.0 if daily_u[d, 1] < 0.5 else -1.0
            state = new_state
            regime_day[d], trend_sign[d] = state, sign
        regime = np.repeat(regime_day, bpd)
        sigma_bar_bps = spec.daily_vol / math.sqrt(bpd) * 1e4 * _REGIME_VOL[regime]

        drift = np.zeros(n)
        if not spec.random_walk:
            drift += np.where(regime == 0, self.trend_drift_bps * np.repeat(trend_sign, bpd), 0.0)
        trend = drift.copy()
        # latent AR(1) with unit stationary variance (stationary start)
        eps = noise[0]
        x = ar1_filter(eps, self.rho)
        if spec.planted_family:
            drift[1:] += self._drift_scale(spec) * x[:-1]
        jumps = np.where((regime == 2) & (jumps_u < 0.02), 6.0 * sigma_bar_bps * np.sign(noise[1]), 0.0)
        log_ret_bps = drift + sigma_bar_bps * noise[1] + jumps
        log_close = math.log(spec.base_price) + np.cumsum(log_ret_bps) / 1e4
        close = np.exp(log_close)
        open_ = np.concatenate([[spec.base_price], close[:-1]])

        wick_total = np.abs(noise[2]) * sigma_bar_bps * 0.8 / 1e4 + 1e-5
        if spec.planted_family == "breakout":
            lower_share = (1 + np.tanh(x)) / 2
        else:
            lower_share = 1 / (1 + np.exp(-noise[3]))  # logistic of independent noise: same spread
        body_high = np.maximum(open_, close)
        body_low = np.minimum(open_, close)
        high = body_high * np.exp(wick_total * (1 - lower_share))
        low = body_low * np.exp(-wick_total * lower_share)

        if spec.planted_family == "flow":
            taker_ratio = np.clip(0.5 + 0.1 * x, 0.05, 0.95)
        else:
            taker_ratio = np.clip(0.5 + 0.1 * noise[4], 0.05, 0.95)

        volume_usdt = (
            spec.daily_volume_usdt
            / bpd
            * _REGIME_VOLUME[regime]
            * np.exp(0.35 * noise[5] - 0.06)
            * (1 + 0.5 * np.abs(log_ret_bps) / np.maximum(sigma_bar_bps, 1e-9))
            / 1.4
        )
        vwap = (open_ + high + low + close) / 4
        volume = volume_usdt / vwap
        trades = np.maximum(1, np.round(volume_usdt / 400.0)).astype(np.int64)
        daily_volume = np.repeat(volume_usdt.reshape(n_days, bpd).sum(axis=1), bpd)
        spread_bps = (1.5 + 60.0 / np.sqrt(np.maximum(daily_volume, 1.0) / 1e6)) * _REGIME_SPREAD[regime]

        start = pd.Timestamp(self.genesis, tz="UTC").value
        open_time = start + np.arange(n, dtype=np.int64) * int(self.bar.total_seconds() * 1e9)
        return _Path(
            open_time,
            open_,
            high,
            low,
            close,
            volume,
            taker_ratio,
            trades,
            spread_bps,
            regime,
            n_days,
            x,
            trend,
        )

    # ------------------------------------------------------------------ public feed
    def listed(self, spec: CoinSpec, at: datetime) -> bool:
        return spec.listed_at is None or spec.listed_at <= at

    def trading(self, spec: CoinSpec, at: datetime) -> bool:
        """Listed at ``at`` and not delisted before it."""
        delisted = self.delisted.get(spec.coin)
        return self.listed(spec, at) and (delisted is None or pd.Timestamp(at) < pd.Timestamp(delisted))

    def markets(self, as_of: datetime) -> pd.DataFrame:
        """Spot markets at ``as_of``: symbol, base, quote, status ("TRADING"), listed_at, tick_size (USDT)."""
        rows = [
            {
                "symbol": s.symbol,
                "base": s.coin,
                "quote": "USDT",
                "status": "TRADING" if self.trading(s, as_of) else "BREAK",
                "listed_at": s.listed_at,
                "tick_size": self.tick_size(s.coin),
            }
            for s in self.coins
            if self.listed(s, as_of)
        ]
        rows.append(
            {
                "symbol": "GBP/USDT",
                "base": "GBP",
                "quote": "USDT",
                "status": "TRADING",
                "listed_at": None,
                "tick_size": self.tick_size("GBP"),
            }
        )
        return pd.DataFrame(rows)

    def tick_size(self, coin: str) -> float:
        """The market's price tick (USDT): a power of ten about 1e-6 of the coin's first price."""
        if coin == "GBP":
            return 0.0001
        return float(10.0 ** (math.floor(math.log10(self.coin(coin).base_price)) - 6))

    def tickers(self, as_of: datetime) -> pd.DataFrame:
        """24h tickers at ``as_of``: symbol, quote_volume (USDT over the last 24h), bid, ask, last."""
        rows = []
        end = pd.Timestamp(as_of)
        start_ns = (end - pd.Timedelta(days=1)).value
        for spec in self.coins:
            if not self.trading(spec, as_of):
                continue
            path = self._path(spec, self._day_index((end - pd.Timedelta(1, "ns")).date()) + 1)
            lo = int(np.searchsorted(path.open_time, start_ns, side="left"))
            hi = int(np.searchsorted(path.open_time, end.value, side="left"))
            if spec.listed_at is not None:
                lo = max(
                    lo, int(np.searchsorted(path.open_time, pd.Timestamp(spec.listed_at).value, side="left"))
                )
            if hi <= lo:
                continue
            sl = slice(lo, hi)
            vwap = (path.open[sl] + path.high[sl] + path.low[sl] + path.close[sl]) / 4
            last = float(path.close[hi - 1])
            half = last * path.spread_bps[hi - 1] / 2e4
            rows.append(
                {
                    "symbol": spec.symbol,
                    "quote_volume": float((path.volume[sl] * vwap).sum()),
                    "bid": last - half,
                    "ask": last + half,
                    "last": last,
                }
            )
        rate = self.gbp_rate(as_of)
        rows.append(
            {
                "symbol": "GBP/USDT",
                "quote_volume": 5e7,
                "bid": rate * 0.9999,
                "ask": rate * 1.0001,
                "last": rate,
            }
        )
        return pd.DataFrame(rows)

    def gbp_rate(self, as_of: datetime) -> float:
        """USDT per GBP at ``as_of`` (a slow deterministic wander around 1.27)."""
        days = (pd.Timestamp(as_of).normalize().date() - self.genesis).days
        return float(1.27 * math.exp(0.03 * math.sin(days / 37.0)))

    def gbp_ohlcv(self, start: datetime, end: datetime) -> pd.DataFrame:
        """``GBP/USDT`` candles (USDT per GBP), flat within a day at :meth:`gbp_rate`; ``BAR_COLUMNS``."""
        times = pd.date_range(
            pd.Timestamp(start).ceil(self.bar), pd.Timestamp(end), freq=self.bar, inclusive="left"
        )
        rate = np.array([self.gbp_rate(t.to_pydatetime()) for t in times])
        volume = np.full(len(times), 1e5)
        return pd.DataFrame(
            {
                "open_time": times,
                "open": rate,
                "high": rate * 1.0002,
                "low": rate * 0.9998,
                "close": rate,
                "volume": volume,
                "quote_volume": volume * rate,
                "trades": np.full(len(times), 100, dtype=np.int64),
                "taker_buy_base": volume / 2,
                "taker_buy_quote": volume * rate / 2,
                "vendor": PRIMARY_VENDOR,
            }
        )[BAR_COLUMNS]

    def _true_bars(self, spec: CoinSpec, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        end_day = (end - pd.Timedelta(1, "ns")).date()
        path = self._path(spec, self._day_index(end_day) + 1)
        lo = int(np.searchsorted(path.open_time, start.value, side="left"))
        hi = int(np.searchsorted(path.open_time, end.value, side="left"))
        if spec.listed_at is not None:
            lo = max(
                lo, int(np.searchsorted(path.open_time, pd.Timestamp(spec.listed_at).value, side="left"))
            )
        sl = slice(lo, max(lo, hi))
        volume = path.volume[sl]
        vwap = (path.open[sl] + path.high[sl] + path.low[sl] + path.close[sl]) / 4
        taker = volume * path.taker_ratio[sl]
        return pd.DataFrame(
            {
                "open_time": pd.to_datetime(path.open_time[sl], utc=True),
                "open": path.open[sl],
                "high": path.high[sl],
                "low": path.low[sl],
                "close": path.close[sl],
                "volume": volume,
                "quote_volume": volume * vwap,
                "trades": path.trades[sl],
                "taker_buy_base": taker,
                "taker_buy_quote": taker * vwap,
            }
        )

    def ohlcv(self, coin: str, start: datetime, end: datetime, vendor: str = PRIMARY_VENDOR) -> pd.DataFrame:
        """Candles with ``start <= open_time < end`` as the vendor delivers them (faults included).

        Columns: ``BAR_COLUMNS``; prices in USDT, ``volume`` in base units, ``quote_volume`` in USDT.
        """
        spec = self.coin(coin)
        start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
        if start_ts.tzinfo is None or end_ts.tzinfo is None:
            raise ValueError("ohlcv: start and end must be timezone-aware (UTC)")
        delisted = self.delisted.get(coin)
        if delisted is not None:
            end_ts = min(end_ts, pd.Timestamp(delisted))
        bars = self._true_bars(spec, start_ts, max(start_ts, end_ts))
        if vendor == PRIMARY_VENDOR:
            bars = self._inject_faults(spec, bars) if spec.faulty else bars
        elif vendor == SECONDARY_VENDOR:
            bars = self._second_vendor(spec, bars)
        else:
            raise ValueError(
                f"unknown vendor {vendor!r}; the simulator serves {PRIMARY_VENDOR}, {SECONDARY_VENDOR}"
            )
        bars = bars.copy()
        bars["vendor"] = vendor
        bars = bars[BAR_COLUMNS].reset_index(drop=True)
        if vendor == PRIMARY_VENDOR and coin in self.corrupt:
            bars = _corrupt(bars, self.corrupt[coin])
        return bars

    def true_spread_bps(self, coin: str, day: date) -> float:
        """The coin's true quoted spread on ``day`` (bps of the mid; constant within a day)."""
        spec = self.coin(coin)
        path = self._path(spec, self._day_index(day) + 1)
        return float(path.spread_bps[self._day_index(day) * self.bars_per_day])

    def minute_candles(self, coin: str, start: datetime, end: datetime) -> pd.DataFrame:
        """1-minute candles of trade prices with ``start <= open_time < end`` (``BAR_COLUMNS``).

        Built from the true bars (no vendor faults) of every whole day the window touches, from
        per-day seeded streams (the same minute whatever the window). See the module docstring.
        """
        spec = self.coin(coin)
        start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
        delisted = self.delisted.get(coin)
        if delisted is not None:
            end_ts = min(end_ts, pd.Timestamp(delisted))
        if end_ts <= start_ts:
            return pd.DataFrame(columns=BAR_COLUMNS)
        days = pd.date_range(start_ts.floor("D"), (end_ts - pd.Timedelta(1, "ns")).floor("D"), freq="D")
        frames = [self._minutes_of_day(spec, day) for day in days]
        frames = [f for f in frames if len(f)]
        if not frames:
            return pd.DataFrame(columns=BAR_COLUMNS)
        out = pd.concat(frames, ignore_index=True)
        out = out[(out["open_time"] >= start_ts) & (out["open_time"] < end_ts)]
        return out.reset_index(drop=True)

    def _minutes_of_day(self, spec: CoinSpec, day: pd.Timestamp) -> pd.DataFrame:
        bars = self._true_bars(spec, day, day + pd.Timedelta(days=1))
        if bars.empty:
            return bars
        path = self._path(spec, self._day_index(day.date()) + 1)
        first = int(np.searchsorted(path.open_time, bars["open_time"].iloc[0].value))
        spread = path.spread_bps[first : first + len(bars)]
        regime = path.regime[first : first + len(bars)]
        rng = self._rng(4, spec.index, self._day_index(day.date()))
        n_bars, per_bar, k = len(bars), max(1, int(self.bar / MINUTE)), PRINTS_PER_MINUTE
        steps = per_bar * k
        o, h, lo, c = (np.log(bars[col].to_numpy(dtype=float)) for col in ("open", "high", "low", "close"))
        sigma = spec.daily_vol / math.sqrt(self.bars_per_day * steps) * _REGIME_VOL[regime]
        # a bar narrower than its spread quotes inside its range: the bounce shrinks to fit
        half = np.minimum(spread / 2e4, (h - lo) / 2)
        top, bottom = (h - half)[:, None], (lo + half)[:, None]
        # the mid: a Brownian bridge from the bar's open to its close, its excursions above the body
        # stretched (or shrunk) to reach the bar's high less half a spread, and below it its low: a
        # monotone map, so the path gains local variance but no drift (drift would bias the estimate)
        grid = np.arange(steps + 1)[None, :] / steps
        walk = np.cumsum(
            np.concatenate([np.zeros((n_bars, 1)), rng.standard_normal((n_bars, steps))], axis=1), axis=1
        )
        walk = (walk - grid * walk[:, -1:]) * sigma[:, None]
        mid = o[:, None] + grid * (c - o)[:, None] + walk
        body_high, body_low = np.maximum(o, c)[:, None], np.minimum(o, c)[:, None]
        peak, trough = mid.max(axis=1, keepdims=True), mid.min(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            up = np.where(peak > body_high, (top - body_high) / (peak - body_high), 1.0)
            down = np.where(trough < body_low, (body_low - bottom) / (body_low - trough), 1.0)
        mid = np.where(mid > body_high, body_high + (mid - body_high) * up, mid)
        mid = np.where(mid < body_low, body_low - (body_low - mid) * down, mid)
        # prints at steps 0 .. steps-1 and the close at the last: the bar's first and last trades
        # are its open and close mid plus or minus half a spread
        mid = np.clip(np.concatenate([mid[:, :1], mid[:, 2:]], axis=1), bottom, top)
        side = np.where(rng.uniform(size=mid.shape) < 0.5, -1.0, 1.0)
        rows = np.arange(n_bars)
        # the bar's high and low are trades: a buy at the mid's peak, a sell at its trough, never
        # the bar's first or last trade (a bar without an excursion gets them at a random step)
        inner = mid[:, 1:-1] if steps > 2 else mid
        shift = 1 if steps > 2 else 0
        anywhere = rng.integers(0, inner.shape[1], n_bars) + shift
        at_peak = np.where(peak[:, 0] > body_high[:, 0], inner.argmax(axis=1) + shift, anywhere)
        at_trough = np.where(trough[:, 0] < body_low[:, 0], inner.argmin(axis=1) + shift, anywhere)
        at_trough = np.where((at_trough == at_peak) & (steps > 3), np.where(at_peak > 1, 1, 2), at_trough)
        mid[rows, at_peak], side[rows, at_peak] = top[:, 0], 1.0
        mid[rows, at_trough], side[rows, at_trough] = bottom[:, 0], -1.0
        prints = np.exp(mid + side * half[:, None]).reshape(n_bars * per_bar, k)
        open_m, close_m = prints[:, 0], prints[:, -1]
        high_m, low_m = prints.max(axis=1), prints.min(axis=1)
        weights = rng.gamma(2.0, size=(n_bars, per_bar))
        weights = (weights / weights.sum(axis=1, keepdims=True)).ravel()
        repeat = np.repeat(np.arange(n_bars), per_bar)
        volume = bars["volume"].to_numpy()[repeat] * weights
        quote = bars["quote_volume"].to_numpy()[repeat] * weights
        taker = bars["taker_buy_base"].to_numpy()[repeat] * weights
        taker_quote = bars["taker_buy_quote"].to_numpy()[repeat] * weights
        trades = np.maximum(1, np.round(bars["trades"].to_numpy()[repeat] * weights)).astype(np.int64)
        offsets = np.tile(np.arange(per_bar, dtype=np.int64), n_bars) * int(MINUTE.total_seconds() * 1e9)
        times = bars["open_time"].astype("int64").to_numpy()[repeat] + offsets
        return pd.DataFrame(
            {
                "open_time": pd.to_datetime(times, utc=True),
                "open": open_m,
                "high": high_m,
                "low": low_m,
                "close": close_m,
                "volume": volume,
                "quote_volume": quote,
                "trades": trades,
                "taker_buy_base": taker,
                "taker_buy_quote": taker_quote,
                "vendor": PRIMARY_VENDOR,
            }
        )[BAR_COLUMNS]

    def funding_rates(self, coin: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Funding of the coin's USDT-margined perpetual with ``start <= funding_time < end``.

        Columns: ``funding_time`` (UTC, every 8 h), ``funding_rate`` (a fraction per 8 h),
        ``mark_price`` (USDT). Deterministic: ``0.0001 + 0.1 * log(close / close 8 h earlier)``,
        clipped to +-0.0075.
        """
        spec = self.coin(coin)
        start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
        delisted = self.delisted.get(coin)
        if delisted is not None:
            end_ts = min(end_ts, pd.Timestamp(delisted))
        first = start_ts.ceil("8h")
        times = pd.date_range(first, max(first, end_ts), freq="8h", inclusive="left")
        bars = self._true_bars(spec, start_ts - pd.Timedelta(hours=8) - self.bar, max(start_ts, end_ts))
        if bars.empty or not len(times):
            return pd.DataFrame(
                {
                    "funding_time": pd.Series(dtype="datetime64[ns, UTC]"),
                    "funding_rate": pd.Series(dtype="float64"),
                    "mark_price": pd.Series(dtype="float64"),
                }
            )
        close = bars.set_index("open_time")["close"]
        # the close of the bar that ends at each funding time, and 8 h before it
        now = close.asof(times - self.bar)
        before = close.asof(times - pd.Timedelta(hours=8) - self.bar)
        rate = np.clip(0.0001 + 0.1 * np.log(now.to_numpy() / before.to_numpy()), -0.0075, 0.0075)
        frame = pd.DataFrame({"funding_time": times, "funding_rate": rate, "mark_price": now.to_numpy()})
        return frame.dropna().reset_index(drop=True)

    def regimes(self, coin: str, start: datetime, end: datetime) -> pd.Series:
        """The simulator's true regime label per bar (for tests and documentation)."""
        spec = self.coin(coin)
        bars = self._true_bars(spec, pd.Timestamp(start), pd.Timestamp(end))
        path = self._path(spec, self._day_index((pd.Timestamp(end) - pd.Timedelta(1, "ns")).date()) + 1)
        idx = np.searchsorted(path.open_time, bars["open_time"].astype("int64").to_numpy())
        return pd.Series([REGIMES[i] for i in path.regime[idx]], index=bars["open_time"], name="regime")

    # ------------------------------------------------------------------ faults and vendors
    def _per_day(self, bars: pd.DataFrame, stream: int, spec: CoinSpec):
        days = bars["open_time"].dt.floor("D")
        for day, idx in bars.groupby(days).groups.items():
            yield day, np.asarray(idx), self._rng(stream, spec.index, self._day_index(day.date()))

    def _inject_faults(self, spec: CoinSpec, bars: pd.DataFrame) -> pd.DataFrame:
        if bars.empty:
            return bars
        bars = bars.copy()
        drop: list[int] = []
        extra: list[pd.DataFrame] = []
        for _, idx, rng in self._per_day(bars, 2, spec):
            u = rng.uniform(size=6)
            if u[0] < 0.06:  # a short gap, repairable
                length = int(rng.integers(1, 4))
                first = int(rng.integers(0, max(1, len(idx) - length)))
                drop.extend(idx[first : first + length])
            if u[1] < 0.01:  # a long gap: the day cannot be repaired
                length = max(8, len(idx) // 3)
                first = int(rng.integers(0, max(1, len(idx) - length)))
                drop.extend(idx[first : first + length])
            if u[2] < 0.04:  # a single-bar outlier print
                i = int(idx[int(rng.integers(1, len(idx)))]) if len(idx) > 1 else int(idx[0])
                factor = 1.15 if u[3] < 0.5 else 1 / 1.15
                bars.loc[i, "close"] *= factor
                bars.loc[i, "high"] = max(bars.loc[i, "high"], bars.loc[i, "close"])
                bars.loc[i, "low"] = min(bars.loc[i, "low"], bars.loc[i, "close"])
            if u[4] < 0.05:  # a duplicated candle, re-sent with a slightly different volume
                i = int(idx[int(rng.integers(0, len(idx)))])
                dup = bars.loc[[i]].copy()
                dup["volume"] *= 1.001
                extra.append(dup)
        out = pd.concat([bars.drop(index=drop), *extra])
        # duplicates arrive after the original, as a vendor re-send would
        return out.sort_values("open_time", kind="stable").reset_index(drop=True)

    def _second_vendor(self, spec: CoinSpec, bars: pd.DataFrame) -> pd.DataFrame:
        if bars.empty:
            return bars
        bars = bars.copy()
        noise = np.empty(len(bars))
        for _, idx, rng in self._per_day(bars, 3, spec):
            pos = bars.index.get_indexer(idx)
            noise[pos] = rng.normal(0, 1.0, len(idx))  # ~1 bp of disagreement
            if rng.uniform() < 0.02:
                noise[pos[int(rng.integers(0, len(idx)))]] = 60.0 * (1 if rng.uniform() < 0.5 else -1)
        factor = 1 + noise / 1e4
        for column in ("open", "high", "low", "close"):
            bars[column] = bars[column] * factor
        return bars


CORRUPTIONS = (
    "nan",  # a NaN close at 03:00 every day
    "high_lt_low",  # high below low at 05:00 every day
    "negative",  # a negative open at 07:00 every day
    "duplicates",  # the 09:00 candle sent twice with different volume
    "out_of_order",  # the day's candles delivered in reverse
    "strings",  # prices as strings, one of them "n/a"
    "missing_column",  # no taker_buy_base column
    "empty",  # no candles at all (a delisted or broken feed)
)


def _corrupt(bars: pd.DataFrame, kinds: tuple[str, ...]) -> pd.DataFrame:
    """Deliberately broken deliveries for one coin (tests and demos of the bad-input paths)."""
    bars = bars.copy()
    hour = bars["open_time"].dt.hour
    if "empty" in kinds:
        return bars.iloc[0:0]
    if "nan" in kinds:
        bars.loc[hour == 3, "close"] = np.nan
    if "high_lt_low" in kinds:
        swap = hour == 5
        bars.loc[swap, ["high", "low"]] = bars.loc[swap, ["low", "high"]].to_numpy()
    if "negative" in kinds:
        bars.loc[hour == 7, "open"] = -bars.loc[hour == 7, "open"]
    if "duplicates" in kinds:
        dup = bars[hour == 9].copy()
        dup["volume"] *= 1.5
        bars = pd.concat([bars, dup], ignore_index=True)
    if "out_of_order" in kinds:
        bars = bars.iloc[::-1].reset_index(drop=True)
    if "strings" in kinds:
        bars["close"] = bars["close"].map(repr).astype(object)
        bars.loc[bars["open_time"].dt.hour == 11, "close"] = "n/a"
    if "missing_column" in kinds:
        bars = bars.drop(columns=["taker_buy_base"])
    return bars


def _edge_factor(rho: float, horizon_bars: int, fill_delay_bars: int) -> float:
    """E|x| * sum of rho**j over the bars the trade holds: expected edge per unit drift scale."""
    j = np.arange(fill_delay_bars, fill_delay_bars + horizon_bars)
    return math.sqrt(2 / math.pi) * float(np.sum(rho**j))
