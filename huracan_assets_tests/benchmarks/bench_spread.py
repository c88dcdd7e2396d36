"""How well the EDGE spread estimate recovers the simulator's true spread (README, "Spread estimate").

For every liquid coin (24 h volume of at least ``--min-volume-usdt``) and every ``--step``-th day
of ``--days``: EDGE on the day's 1-minute candles and on the same trades as 1-hour candles,
floored at one tick, against the true quoted spread of the day. Prints the median absolute error
(bps), the median true spread, the median ratio estimate / truth and the share of coin-days whose
estimate is within a factor 1.5 of the truth, per candle size; and how many coin-days the
eligibility rule (the estimate's lower bound above ``max_spread_bps``) would exclude.

    python -m huracan_assets_tests.benchmarks.bench_spread [--days 60] [--step 3]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from huracan_assets.core.spread import edge_spread
from huracan_assets.market_sim.exchange import SimulatedExchange


def hourly(minutes: pd.DataFrame) -> pd.DataFrame:
    """The day's trades as 1-hour candles (what an exchange's 1h klines are)."""
    grouped = minutes.groupby(minutes["open_time"].dt.floor("1h"))
    out = grouped.agg(
        open=("open", "first"), high=("high", "max"), low=("low", "min"), close=("close", "last")
    )
    return out.rename_axis("open_time").reset_index()


def measure(
    exchange: SimulatedExchange, first: date, days: int, step: int, min_volume: float, max_spread: float
) -> pd.DataFrame:
    rows = []
    for offset in range(0, days, step):
        day = first + timedelta(days=offset)
        start = datetime.combine(day, datetime.min.time(), UTC)
        end = start + timedelta(days=1)
        tickers = exchange.tickers(end).set_index("symbol")
        for spec in exchange.coins:
            if spec.symbol not in tickers.index or tickers.loc[spec.symbol, "quote_volume"] < min_volume:
                continue
            minutes = exchange.minute_candles(spec.coin, start, end)
            if len(minutes) < 1440:
                continue
            truth = exchange.true_spread_bps(spec.coin, day)
            tick = exchange.tick_size(spec.coin)
            for candles, frame in (("1m", minutes), ("1h", hourly(minutes))):
                estimate = edge_spread(frame, candles, tick)
                rows.append(
                    {
                        "coin": spec.coin,
                        "day": day,
                        "candles": candles,
                        "true_bps": truth,
                        "estimate_bps": estimate.spread_bps,
                        "lower_bps": estimate.lower_bps,
                        "excluded": estimate.lower_bps > max_spread,
                    }
                )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--step", type=int, default=3)
    parser.add_argument("--first-day", default="2025-06-01")
    parser.add_argument("--min-volume-usdt", type=float, default=5e7)
    parser.add_argument("--max-spread-bps", type=float, default=25.0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    exchange = SimulatedExchange()
    frame = measure(
        exchange,
        date.fromisoformat(args.first_day),
        args.days,
        args.step,
        args.min_volume_usdt,
        args.max_spread_bps,
    )
    print(
        f"EDGE vs the simulator's true spread: {frame['coin'].nunique()} liquid coins "
        f"(24h volume >= {args.min_volume_usdt:,.0f} USDT), {frame['day'].nunique()} days from {args.first_day}"
    )
    for candles, group in frame.groupby("candles", sort=False):
        error = (group["estimate_bps"] - group["true_bps"]).abs()
        ratio = group["estimate_bps"] / group["true_bps"]
        within = ((ratio <= 1.5) & (ratio >= 1 / 1.5)).mean()
        print(
            f"  {candles} candles: {len(group)} coin-days, median |error| {error.median():.2f} bps "
            f"(median true spread {group['true_bps'].median():.2f} bps, "
            f"error/truth {np.median(error / group['true_bps']):.2f}), median estimate/truth {ratio.median():.2f}, "
            f"within a factor 1.5: {within:.0%}, excluded at max_spread_bps {args.max_spread_bps:g}: "
            f"{int(group['excluded'].sum())}"
        )
    print(f"  ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
