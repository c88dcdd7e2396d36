"""Round-trip trading costs in bps: fees, spread, square-root impact, funding, borrow.

For one round trip (enter and exit, both as taker):

* fees      = 2 * taker_bps
* spread    = 2 * half-spread = quoted spread (or an estimate from candles when no book is known)
* slippage  = 2 * k * sigma_daily_bps * sqrt(notional / ADV)   (square-root impact law)
* funding   = perpetuals: the 8 h settlements the position spans (zero for spot)
* borrow    = spot shorts: short_borrow_bps_per_day * holding days (or no shorts at all)

:class:`CostModel` is one coin-day's costs (the run day's: the universe filter, capacity, the
trade rule the consumer is given). A record's decisions each pay their own
(:class:`DecisionCosts`, built by :meth:`CostContext.for_record`): the spread of the decision's
own day and the impact of its own trailing 24 h volume and volatility, so a test on a window of
days is not charged the run day's quote for every decision (the universe admits a coin on a
cheap day, which understated the window's costs; README "Costs per decision").

``capacity`` is the notional at which the net edge falls to the required minimum.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from datetime import timedelta

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class CostModel:
    taker_bps: float
    spread_bps: float
    daily_vol_bps: float
    adv_usdt: float
    order_notional_usdt: float
    slippage_k: float
    funding_bps_per_day: float = 0.0

    def slippage_bps(self, notional_usdt: float | None = None) -> float:
        notional = self.order_notional_usdt if notional_usdt is None else notional_usdt
        if self.adv_usdt <= 0 or not math.isfinite(self.adv_usdt):
            return float("inf")
        return 2.0 * self.slippage_k * self.daily_vol_bps * math.sqrt(notional / self.adv_usdt)

    def breakdown(self, holding_days: float) -> dict[str, float]:
        fees = 2.0 * self.taker_bps
        spread = self.spread_bps
        slippage = self.slippage_bps()
        funding = self.funding_bps_per_day * holding_days
        return {
            "fees_bps": fees,
            "spread_bps": spread,
            "slippage_bps": slippage,
            "funding_bps": funding,
            "total_bps": fees + spread + slippage + funding,
        }

    def total_bps(self, holding_days: float) -> float:
        return self.breakdown(holding_days)["total_bps"]

    def capacity_usdt(self, gross_edge_bps: float, min_edge_bps: float, holding_days: float) -> float:
        """Notional (USDT) at which gross - costs == min_edge; 0 when even a tiny order fails."""
        fixed = 2.0 * self.taker_bps + self.spread_bps + self.funding_bps_per_day * holding_days
        room = gross_edge_bps - min_edge_bps - fixed
        if room <= 0 or self.slippage_k <= 0 or self.daily_vol_bps <= 0:
            return 0.0 if room <= 0 else float("inf")
        return self.adv_usdt * (room / (2.0 * self.slippage_k * self.daily_vol_bps)) ** 2

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def funding_bps_per_day(rates: list[float] | tuple[float, ...], days: float) -> float:
    """Funding per day (bps) over a window of ``days`` from each settlement's rate (a fraction per
    settlement, every 8 h on Binance USD-M): ``sum(|rate|) * 1e4 / days``.

    Absolute rates: a model trades both sides, and the side that pays is charged (conservative
    for the side that receives). NaN when the window holds no settlement.
    """
    finite = [abs(float(r)) for r in rates if math.isfinite(float(r))]
    if not finite or days <= 0:
        return float("nan")
    return sum(finite) * 1e4 / days


def coin_cost_model(
    *,
    taker_bps: float,
    spread_bps: float,
    adv_usdt: float,
    bar_vol_bps: float,
    bars_per_day: int,
    order_notional_usdt: float,
    slippage_k: float,
    funding_bps_per_day: float = 0.0,
) -> CostModel:
    """Cost model of one coin-day: daily vol from the per-bar vol (sqrt-time scaling)."""
    return CostModel(
        taker_bps=taker_bps,
        spread_bps=spread_bps,
        daily_vol_bps=bar_vol_bps * math.sqrt(bars_per_day),
        adv_usdt=adv_usdt,
        order_notional_usdt=order_notional_usdt,
        slippage_k=slippage_k,
        funding_bps_per_day=funding_bps_per_day,
    )


@dataclass(frozen=True)
class DecisionCosts:
    """Round-trip costs of every decision of a record, each from the decision's own time (bps).

    Arrays are aligned with the record's decisions (one per decision):

    * ``fees_bps``: 2 x taker (the venue's, the same for every decision);
    * ``spread_bps``: the spread of the decision's own day (the day's quote or estimate, carried
      with its bars and features), not the spread of the day the test runs;
    * ``slippage_bps``: square-root impact 2 k sigma_daily sqrt(notional / ADV), with sigma and
      ADV the decision's own trailing 24 h realised volatility and quote volume;
    * ``funding_long_bps``: perpetuals, the funding a long pays over its holding: the sum of the
      8 h settlements the position spans (entry <= settlement time < exit), signed (a short pays
      the opposite: it receives what a long pays); zero on spot;
    * ``funding_flat_bps``: funding charged to either side where a source has no settlement
      history (the venue's configured ``funding_bps_per_day`` x holding days); zero otherwise;
    * ``funding_ante_bps``: the funding the trade rule expects at decision time (|last settled
      rate| x settlements the position will span, or ``funding_flat_bps``): the rule cannot know
      the settlements to come;
    * ``borrow_bps``: spot, what a short pays to borrow the coin over its holding
      (``short_borrow_bps_per_day`` x holding days); ``shorts=False``: shorts are not taken.
    """

    fees_bps: np.ndarray
    spread_bps: np.ndarray
    slippage_bps: np.ndarray
    funding_long_bps: np.ndarray
    funding_flat_bps: np.ndarray
    funding_ante_bps: np.ndarray
    borrow_bps: np.ndarray
    shorts: bool = True

    def __len__(self) -> int:
        return len(self.spread_bps)

    def subset(self, mask: np.ndarray) -> DecisionCosts:
        """The costs of the decisions selected by ``mask`` (a boolean or index array)."""
        pick = {k: getattr(self, k)[mask] for k in _ARRAYS}
        return DecisionCosts(**pick, shorts=self.shorts)

    def rule_bps(self) -> np.ndarray:
        """The round trip the trade rule weighs a prediction against, per decision (a long's;
        a short adds ``borrow_bps``, see :meth:`rule_bps_for`)."""
        return (
            self.fees_bps
            + self.spread_bps
            + self.slippage_bps
            + self.funding_flat_bps
            + self.funding_ante_bps
        )

    def rule_bps_for(self, pred_bps: np.ndarray) -> np.ndarray:
        """The rule's cost on the side each prediction points to (a short also borrows)."""
        short = np.asarray(pred_bps, dtype=float) < 0
        return self.rule_bps() + np.where(short, self.borrow_bps, 0.0)

    def allowed(self, pos: np.ndarray) -> np.ndarray:
        """``pos`` with shorts removed where shorts are not taken."""
        pos = np.asarray(pos, dtype=float)
        return pos if self.shorts else np.where(pos < 0, 0.0, pos)

    def charged_bps(self, pos: np.ndarray) -> np.ndarray:
        """What each decision pays at position ``pos`` (+1 / -1 / 0): fees, spread, impact and flat
        funding on either side, signed funding, and borrowing on a short."""
        pos = np.asarray(pos, dtype=float)
        flat = self.fees_bps + self.spread_bps + self.slippage_bps + self.funding_flat_bps
        return np.abs(pos) * flat + pos * self.funding_long_bps + np.where(pos < 0, self.borrow_bps, 0.0)

    def breakdown(self, pos: np.ndarray) -> dict[str, float]:
        """Mean of each part over the decisions taken at ``pos`` (every decision as a long when
        none is taken), bps per round trip; ``funding_bps`` is what the positions paid, signed."""
        pos = np.asarray(pos, dtype=float)
        taken = pos != 0
        if not taken.any():
            taken, pos = np.ones(len(pos), dtype=bool), np.ones(len(pos))
        if not len(pos):
            return dict.fromkeys(
                ("fees_bps", "spread_bps", "slippage_bps", "funding_bps", "borrow_bps", "total_bps"),
                float("nan"),
            )
        side = pos[taken]
        parts = {
            "fees_bps": float(np.mean(self.fees_bps[taken])),
            "spread_bps": float(np.mean(self.spread_bps[taken])),
            "slippage_bps": float(np.mean(self.slippage_bps[taken])),
            "funding_bps": float(np.mean(side * self.funding_long_bps[taken] + self.funding_flat_bps[taken])),
            "borrow_bps": float(np.mean(np.where(side < 0, self.borrow_bps[taken], 0.0))),
        }
        parts["total_bps"] = float(np.mean(self.charged_bps(pos)[taken]))
        return parts

    def capacity_usdt(
        self, pos: np.ndarray, gross_edge_bps: float, min_edge_bps: float, order_notional_usdt: float
    ) -> float:
        """Notional (USDT) at which the mean net edge of the trades at ``pos`` falls to ``min_edge``:
        each trade's impact scales with sqrt(notional / ``order_notional_usdt``), the rest is fixed."""
        pos = np.asarray(pos, dtype=float)
        taken = pos != 0
        if not taken.any():
            return 0.0
        slip = float(np.mean(self.slippage_bps[taken]))
        fixed = float(np.mean(self.charged_bps(pos)[taken])) - slip
        room = gross_edge_bps - min_edge_bps - fixed
        if room <= 0 or not math.isfinite(room):
            return 0.0
        if slip <= 0:
            return float("inf")
        return order_notional_usdt * (room / slip) ** 2


_ARRAYS = (
    "fees_bps",
    "spread_bps",
    "slippage_bps",
    "funding_long_bps",
    "funding_flat_bps",
    "funding_ante_bps",
    "borrow_bps",
)


@dataclass(frozen=True)
class FundingHistory:
    """A perpetual's settlements: ``times`` (UTC, datetime64[ns]) and ``rates`` (a fraction per
    settlement, what a long pays; negative: a long receives), in time order."""

    times: np.ndarray
    rates: np.ndarray

    @classmethod
    def from_json(cls, text: str) -> FundingHistory | None:
        """From the universe's ``funding_settlements`` column (:meth:`to_json`); None when empty."""
        if not isinstance(text, str) or not text:
            return None
        data = json.loads(text)
        times = np.asarray(data["t"], dtype="int64").astype("datetime64[s]").astype("datetime64[ns]")
        order = np.argsort(times, kind="stable")
        return cls(times[order], np.asarray(data["r"], dtype=float)[order])

    def to_json(self) -> str:
        seconds = self.times.astype("datetime64[s]").astype("int64")
        return json.dumps({"t": [int(s) for s in seconds], "r": [float(r) for r in self.rates]})

    def spanned(self, entry: np.ndarray, exit_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sum of the rates, count) of the settlements with entry <= time < exit, per position."""
        cumulative = np.concatenate([[0.0], np.cumsum(self.rates)])
        first = np.searchsorted(self.times, entry, side="left")
        last = np.searchsorted(self.times, exit_, side="left")
        return cumulative[last] - cumulative[first], (last - first).astype(float)

    def last_settled(self, at: np.ndarray) -> np.ndarray:
        """The rate of the newest settlement at or before each time ``at`` (NaN before the first)."""
        index = np.searchsorted(self.times, at, side="right") - 1
        return np.where(index >= 0, self.rates[np.clip(index, 0, None)], np.nan)


def decision_costs(
    cost: CostModel,
    *,
    decision_time: np.ndarray,
    spread_bps: np.ndarray | None,
    quote_volume_24h: np.ndarray | None,
    bar_vol_bps: np.ndarray | None,
    bars_per_day: int,
    bar: np.timedelta64,
    fill_delay_bars: int,
    horizon_bars: int,
    funding: FundingHistory | None = None,
    funding_flat_bps_per_day: float = 0.0,
    borrow_bps_per_day: float = 0.0,
    shorts: bool = True,
) -> DecisionCosts:
    """Per-decision costs (:class:`DecisionCosts`) of a record.

    ``decision_time``: the bars' open times (UTC, datetime64); a decision at the close of bar t
    fills at the close of bar t + ``fill_delay_bars`` and exits ``horizon_bars`` later.
    ``spread_bps``, ``quote_volume_24h`` (USDT) and ``bar_vol_bps`` (per bar) are the decision's
    own; where one is missing (NaN, or a record stored before they were kept) the day's
    ``cost`` (the run day's spread, ADV and volatility) stands in for it. ``funding``: the coin's
    settlements (perpetuals); ``funding_flat_bps_per_day``: a venue without history;
    ``borrow_bps_per_day``: spot shorts.
    """
    times = np.asarray(decision_time, dtype="datetime64[ns]")
    n = len(times)
    holding_days = horizon_bars * (bar / np.timedelta64(1, "D"))

    def own(values: np.ndarray | None, fallback: float) -> np.ndarray:
        out = np.full(n, float(fallback)) if values is None else np.asarray(values, dtype=float).copy()
        bad = ~np.isfinite(out) | (out < 0)
        out[bad] = fallback
        return out

    spread = own(spread_bps, cost.spread_bps)
    adv = own(quote_volume_24h, cost.adv_usdt)
    adv[adv <= 0] = cost.adv_usdt
    daily_vol = own(bar_vol_bps, cost.daily_vol_bps / math.sqrt(bars_per_day)) * math.sqrt(bars_per_day)
    with np.errstate(divide="ignore", invalid="ignore"):
        slippage = 2.0 * cost.slippage_k * daily_vol * np.sqrt(cost.order_notional_usdt / adv)
    slippage[~np.isfinite(slippage)] = float("inf")
    zeros = np.zeros(n)
    if funding is not None and n:
        entry = times + (1 + fill_delay_bars) * bar
        exit_ = entry + horizon_bars * bar
        paid, count = funding.spanned(entry, exit_)
        last = funding.last_settled(times + bar)
        long_bps = paid * 1e4
        ante = np.abs(np.nan_to_num(last, nan=float(np.mean(np.abs(funding.rates))))) * count * 1e4
        flat = zeros
    else:
        long_bps, ante = zeros, zeros
        flat = np.full(n, funding_flat_bps_per_day * holding_days)
    return DecisionCosts(
        fees_bps=np.full(n, 2.0 * cost.taker_bps),
        spread_bps=spread,
        slippage_bps=slippage,
        funding_long_bps=long_bps,
        funding_flat_bps=flat,
        funding_ante_bps=ante,
        borrow_bps=np.full(n, borrow_bps_per_day * holding_days),
        shorts=shorts,
    )


@dataclass(frozen=True)
class CostContext:
    """What a record's per-decision costs are built from (:meth:`for_record`): the run day's cost
    model (the fallback for what a record does not carry), the bar grid and fill delay, the
    coin's funding settlements (perpetuals) or flat funding, and the spot short's borrow rate."""

    cost: CostModel
    bars_per_day: int
    bar: timedelta
    fill_delay_bars: int
    funding: FundingHistory | None = None
    funding_flat_bps_per_day: float = 0.0
    borrow_bps_per_day: float = 0.0
    shorts: bool = True

    def for_record(self, record: pd.DataFrame, horizon_bars: int) -> DecisionCosts:
        """Costs of each row of ``record`` (decision_time, and where kept: spread_bps,
        quote_volume_24h, vol_24h_bps), in the record's row order."""

        def column(name: str) -> np.ndarray | None:
            return record[name].to_numpy(dtype=float) if name in record else None

        return decision_costs(
            self.cost,
            decision_time=pd.to_datetime(record["decision_time"], utc=True).dt.tz_localize(None).to_numpy(),
            spread_bps=column("spread_bps"),
            quote_volume_24h=column("quote_volume_24h"),
            bar_vol_bps=column("vol_24h_bps"),
            bars_per_day=self.bars_per_day,
            bar=np.timedelta64(int(self.bar.total_seconds()), "s"),
            fill_delay_bars=self.fill_delay_bars,
            horizon_bars=horizon_bars,
            funding=self.funding,
            funding_flat_bps_per_day=self.funding_flat_bps_per_day,
            borrow_bps_per_day=self.borrow_bps_per_day,
            shorts=self.shorts,
        )
