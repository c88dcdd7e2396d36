"""Benchmark script (not collected by pytest): can a planted 1d edge pass the champion test at all?

    python -m huracan_assets_tests.benchmarks.bench_1d_power [--seed 1] [--coins 6] [--edges 25 50 100 400]

An upper bound on the power of the 1d test on the validation market (``huracan validate``): the
*oracle* prediction E[label | latent x] (``SimulatedExchange.expected_return_bps``; no model can
do better, and the flow engine reads x itself), traded by the consensus's acting rule at a round
trip of 2 x taker fee + the simulator's spread at fill and exit + 3 bps of impact + the spot
borrow on shorts, on windows of consecutive hourly decisions of a record's length cut from the
planted coins' simulated paths (4 years). Each window gets the champion test's one-sided HAC
test (``hac_mean_tests``, h = 24) and deflated Sharpe ratio (n / h effective samples, as
``test_challengers``); a row prints the median t and the share of windows with p < 1e-3 (about
what Benjamini–Hochberg over a day's 60-255 trials asks of a 1d challenger when a few others are
significant too) and with DSR >= ``dsr_min``, and both.

Record lengths: the 1d shadow (``shadow_days_for("1d")``, 23 days), ``max_shadow_days`` (30), and
the cold-start record of a 60-day (``huracan validate``'s default) and a 150-day look-back
(base.yaml's): half the window. Trials for the deflated Sharpe ratio: 72 on day 1 (6 coins x 4
engines x 3 horizons, cold start), 255 on a shadow day (the 1h/4h keys' counts have grown).

It also prints the 1d label's variance parts per unit of drift scale c, the reason the per-trade
Sharpe ratio of even the oracle cannot grow past about 0.42 however large the plant: the planted
drift's own future innovations over the 24 held bars are noise that scales with c.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pandas as pd

from huracan_assets.config import load_settings
from huracan_assets.core.stats import deflated_sharpe, hac_mean_tests
from huracan_assets.market_sim import SimulatedExchange


def label_parts(rho: float, h: int, m: int) -> dict[str, float]:
    """Per unit of drift scale c: the sd of the predictable part c x sum rho^j and of the future
    innovations of x over the held bars (the label's noise from the plant itself)."""
    s1 = float(np.sum(rho ** np.arange(m, m + h)))
    # sum_{j=m}^{m+h-1} x[t+j] - E[. | x[t]] = sum over innovations i = 1..m+h-1 of
    # sqrt(1 - rho^2) eta_i sum_{j=max(i,m)}^{m+h-1} rho^(j-i)
    weights = [
        math.sqrt(1 - rho**2) * sum(rho ** (j - i) for j in range(max(i, m), m + h)) for i in range(1, m + h)
    ]
    return {"predictable_sd": s1, "innovation_sd": math.sqrt(sum(w * w for w in weights))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--coins", type=int, default=6)
    parser.add_argument("--edges", type=float, nargs="+", default=[25.0, 50.0, 100.0, 400.0])
    parser.add_argument("--days", type=int, default=1500, help="simulated days per coin")
    args = parser.parse_args()
    settings = load_settings()
    h, m = settings.horizon_bars["1d"], settings.fill_delay_bars
    fee, threshold = settings.fee, settings.risk.signal_threshold
    borrow = fee.short_borrow_bps_per_day if fee.spot_shorts == "borrow" else float("nan")
    records = [
        (f"1d shadow, {settings.shadow_days_for('1d')} days", settings.shadow_days_for("1d"), 255),
        (
            f"max_shadow_days, {settings.champions.max_shadow_days} days",
            settings.champions.max_shadow_days,
            255,
        ),
        ("cold start, 60-day look-back", 30, 72),
        ("cold start, 150-day look-back", 75, 72),
    ]
    rho = SimulatedExchange(seed=args.seed, n_coins=args.coins, layout="validation").rho
    parts = label_parts(rho, h, m)
    e_abs = math.sqrt(2 / math.pi)
    ceiling = (
        e_abs
        * parts["predictable_sd"]
        / math.hypot(parts["innovation_sd"], parts["predictable_sd"] * math.sqrt(1 - 2 / math.pi))
    )
    print(
        f"1d label per unit drift scale c: predictable sd {parts['predictable_sd']:.2f}, plant's own "
        f"innovations sd {parts['innovation_sd']:.2f}; per-trade Sharpe of the always-in oracle as the "
        f"plant grows: at most {ceiling:.2f} (bar noise adds to the denominator)"
    )
    for edge in args.edges:
        exchange = SimulatedExchange(
            seed=args.seed, n_coins=args.coins, layout="validation", planted_edge_bps=edge
        )
        for name, days, trials in records:
            n_dec = days * settings.bars_per_day - 2 * (
                h + m
            )  # the embargo at the start, unresolved labels at the end
            cells = []
            for spec in exchange.coins:
                if not spec.planted_family:
                    continue
                path = exchange._path(spec, args.days)
                t = np.arange(len(path.close) - m - h)
                expected = exchange.expected_return_bps(
                    spec.coin, pd.to_datetime(path.open_time[t], utc=True), h, m
                )
                label = np.log(path.close[t + m + h] / path.close[t + m]) * 1e4
                cost = (
                    2 * fee.taker_bps
                    + (path.spread_bps[t + m] + path.spread_bps[t + m + h]) / 2
                    + 3.0
                    + np.where(expected < 0, borrow, 0.0)
                )
                pos = np.where(np.abs(np.tanh(expected / cost)) >= threshold, np.sign(expected), 0.0)
                if fee.spot_shorts == "none":
                    pos = np.where(pos < 0, 0.0, pos)
                net = pos * label - np.abs(pos) * cost
                k = len(net) // n_dec
                x = net[: k * n_dec].reshape(k, n_dec)
                t_stat, p = hac_mean_tests(x, h)
                dsr = np.array(
                    [
                        deflated_sharpe(x[i], n_trials=trials, sr_variance=h / n_dec, n_effective=n_dec / h)[
                            "dsr"
                        ]
                        for i in range(k)
                    ]
                )
                passes = dsr >= settings.champions.dsr_min
                cells.append(
                    f"{spec.coin} x{spec.planted_edge_bps / edge:.2f}: net {np.mean(net[pos != 0]):.0f} bps/trade, "
                    f"t {np.median(t_stat):.2f}, p<1e-3 {np.mean(p < 1e-3):.2f}, DSR {np.mean(passes):.2f}, "
                    f"both {np.mean(passes & (p < 1e-3)):.2f} ({k} windows)"
                )
            print(
                f"edge {edge:g} bps, {name} ({n_dec} decisions, {trials} trials): " + "; ".join(cells),
                flush=True,
            )


if __name__ == "__main__":
    main()
