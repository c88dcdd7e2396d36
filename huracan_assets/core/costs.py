"""Round-trip trading costs in bps: fees, spread, square-root impact, funding.

For one round trip (enter and exit, both as taker):

* fees      = 2 * taker_bps
* spread    = 2 * half-spread = quoted spread (or an OHLC estimate when no book is known)
* slippage  = 2 * k * sigma_daily_bps * sqrt(notional / ADV)   (square-root impact law)
* funding   = funding_bps_per_day * holding_days               (zero for spot)

On perpetuals ``funding_bps_per_day`` comes from the coin's funding history over the look-back
window, settlement by settlement (:func:`funding_bps_per_day`); the configured constant is the
fallback for a source without history.

``capacity`` is the notional at which the net edge falls to the required minimum.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


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
