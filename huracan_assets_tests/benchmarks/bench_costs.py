"""What costs per decision change on the default simulated market (README, "Costs per decision").

For every coin eligible on ``--day`` (the default market: seed 7, 30 coins, base.yaml's
settings), over the windows its records cover — a shadow record of each horizon
(``shadow_days_for``: 7 days for 1h/4h, 23 for 1d) and the cold-start folds' window
(``cold_start_fraction`` x ``lookback_days``) — it compares, per decision (every hourly bar):

* the simulator's true quoted spread of the decision's day;
* the spread charged before: the run day's quote, for every decision of the window;
* the spread charged now: the spread the decision's own bars carry (``steps/bars.py``);

and the round trip (fees, spread, impact, borrow) of a 1h and a 1d trade before and now. Bars
come from the real bars step and features from the real features step.

    python -m huracan_assets_tests.benchmarks.bench_costs [--day 2025-11-20]
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

import numpy as np
import pandas as pd

from huracan_assets.config import load_settings
from huracan_assets.core.universe import universe_of_day
from huracan_assets.market_sim.exchange import SimulatedExchange
from huracan_assets.resources.market_data import SimulatedMarketData
from huracan_assets.steps.bars import CoinTask, validate_coin
from huracan_assets.steps.features import features_by_day, series_of
from huracan_assets.steps.frames import end_of_day
from huracan_assets.steps.scores import cost_context_for


def measure(day: date) -> pd.DataFrame:
    settings = load_settings()
    exchange = SimulatedExchange(
        seed=settings.simulator.seed,
        n_coins=settings.simulator.n_coins,
        planted_fraction=settings.simulator.planted_fraction,
        planted_edge_bps=settings.simulator.planted_edge_bps,
    )
    client = SimulatedMarketData(exchange)
    as_of = end_of_day(day)
    universe = universe_of_day(client, as_of, settings)[0]
    cold_days = int(settings.training.cold_start_fraction * settings.lookback_days)
    windows = {f"shadow {h}": settings.shadow_days_for(h) for h in settings.horizons}
    windows["cold start"] = cold_days
    span = max(windows.values())
    days = [day - timedelta(days=i) for i in range(span + 2, -1, -1)]
    rows = []
    for row in universe[universe["eligible"]].itertuples():
        coin = row.coin
        task = CoinTask(coin, [(f"{d}|{coin}", d, None, True, "TRADING") for d in days], client, settings)
        out = validate_coin(task)
        bars = pd.concat([f for f, _ in out.values() if len(f)], ignore_index=True)
        keys = [f"{d}|{coin}" for d in days[2:]]
        table = pd.concat(features_by_day(bars, settings.bar, keys).values(), ignore_index=True)
        table = series_of(table).dropna(subset=["vol_24h_bps", "quote_volume_24h"])
        universe_row = universe[universe["coin"] == coin].iloc[0]
        day_table = table[table["open_time"] >= pd.Timestamp(day, tz="UTC")]
        context = cost_context_for(universe_row, float(np.nanmedian(day_table["vol_24h_bps"])), settings)
        record = table.rename(columns={"open_time": "decision_time"})
        decision_day = record["decision_time"].dt.date
        truth = np.array([exchange.true_spread_bps(coin, d) for d in decision_day])
        for name, back in windows.items():
            inside = (decision_day > day - timedelta(days=back)).to_numpy()
            sub = record[inside]
            for horizon in ("1h", "1d"):
                h = settings.horizon_bars[horizon]
                now = context.for_record(sub, h)
                before = context.cost.total_bps(h * settings.bar / timedelta(days=1))
                rows.append(
                    {
                        "coin": coin,
                        "window": name,
                        "horizon": horizon,
                        "decisions": int(inside.sum()),
                        "true_spread_bps": float(truth[inside].mean()),
                        "spread_before_bps": float(context.cost.spread_bps),
                        "spread_now_bps": float(now.spread_bps.mean()),
                        "slippage_before_bps": float(context.cost.slippage_bps()),
                        "slippage_now_bps": float(now.slippage_bps.mean()),
                        "round_trip_before_bps": float(before),
                        "round_trip_now_long_bps": float(now.charged_bps(np.ones(len(sub))).mean()),
                        "round_trip_now_short_bps": float(now.charged_bps(-np.ones(len(sub))).mean()),
                    }
                )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", default="2025-11-20")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    frame = measure(date.fromisoformat(args.day))
    print(f"costs per decision on the default market, {args.day}: {frame['coin'].nunique()} eligible coins")
    print(
        "| window | days | decisions | true spread | charged before (run day's) | charged now | "
        "impact before | impact now | 1h round trip before | now (long / short) | "
        "1d round trip before | now (long / short) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    settings = load_settings()
    for window, group in frame.groupby("window", sort=False):
        one_h, one_d = group[group["horizon"] == "1h"], group[group["horizon"] == "1d"]
        w = one_h["decisions"].to_numpy(dtype=float)

        def mean(g: pd.DataFrame, column: str, weights: np.ndarray = w) -> float:
            return float(np.average(g[column], weights=weights))

        days = (
            settings.shadow_days_for(window.split()[-1])
            if window.startswith("shadow")
            else int(settings.training.cold_start_fraction * settings.lookback_days)
        )
        print(
            f"| {window} | {days} | {int(w.sum())} | {mean(one_h, 'true_spread_bps'):.1f} | "
            f"{mean(one_h, 'spread_before_bps'):.1f} | {mean(one_h, 'spread_now_bps'):.1f} | "
            f"{mean(one_h, 'slippage_before_bps'):.1f} | {mean(one_h, 'slippage_now_bps'):.1f} | "
            f"{mean(one_h, 'round_trip_before_bps'):.1f} | {mean(one_h, 'round_trip_now_long_bps'):.1f} / "
            f"{mean(one_h, 'round_trip_now_short_bps'):.1f} | {mean(one_d, 'round_trip_before_bps'):.1f} | "
            f"{mean(one_d, 'round_trip_now_long_bps'):.1f} / {mean(one_d, 'round_trip_now_short_bps'):.1f} |"
        )
    print(f"({time.perf_counter() - started:.1f} s; means over decisions, every eligible coin's hourly bars)")


if __name__ == "__main__":
    main()
