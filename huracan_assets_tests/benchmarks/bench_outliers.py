"""False alarms and caught bad prints of the outlier rule (``core/bars.py``, rule 6; README, "Bars").

On a validation market (no data faults: every bar held is a false alarm) and on a default market
whose coins are all faulty (the simulator's bad prints: one close off by 15% on 4% of coin-days,
found by comparing with the same market without faults), every full day of every coin goes
through ``validate_day`` with base.yaml's ``outlier_z``.

    python -m huracan_assets_tests.benchmarks.bench_outliers [--days 80] [--coins 10]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import numpy as np

from huracan_assets.config import load_settings
from huracan_assets.core.bars import validate_day
from huracan_assets.market_sim import SimulatedExchange

START = datetime(2025, 3, 1, tzinfo=UTC)


def measure(layout: str, seed: int, coins: int, days: int, outlier_z: float) -> dict[str, int]:
    faulty = 1.0 if layout == "market" else 0.0
    exchange = SimulatedExchange(seed=seed, n_coins=coins, layout=layout, faulty_fraction=faulty)
    clean = SimulatedExchange(seed=seed, n_coins=coins, layout=layout, faulty_fraction=0.0)
    out = {"bars": 0, "false_alarms": 0, "prints": 0, "caught": 0}
    end = START + timedelta(days=days)
    for spec in exchange.coins:
        raw = exchange.ohlcv(spec.coin, START, end).drop_duplicates("open_time", keep="last")
        truth = clean.ohlcv(spec.coin, START, end).set_index("open_time")["close"]
        for i in range(days):
            day = (START + timedelta(days=i)).date()
            rows = raw[
                (raw["open_time"] >= START + timedelta(days=i))
                & (raw["open_time"] < START + timedelta(days=i + 1))
            ]
            if len(rows) != 24:  # the simulator's gaps: another rule
                continue
            frame, _ = validate_day(
                rows.reset_index(drop=True),
                coin=spec.coin,
                day=day,
                bar=timedelta(hours=1),
                max_repair_bars=3,
                outlier_z=outlier_z,
            )
            bad = ~np.isclose(
                rows["close"].to_numpy(), truth.reindex(rows["open_time"]).to_numpy(), rtol=1e-9
            )
            held = frame["outlier"].to_numpy(dtype=bool)
            out["bars"] += len(rows)
            out["false_alarms"] += int((held & ~bad).sum())
            out["prints"] += int(bad.sum())
            out["caught"] += int((held & bad).sum())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=80)
    parser.add_argument("--coins", type=int, default=10)
    args = parser.parse_args()
    z = load_settings().outlier_z
    for layout, seed in (
        ("validation", 1),
        ("validation", 2),
        ("validation", 3),
        ("market", 7),
        ("market", 8),
    ):
        m = measure(layout, seed, args.coins, args.days, z)
        print(
            f"layout={layout} seed={seed} coins={args.coins} days={args.days} bars={m['bars']} "
            f"false_alarms={m['false_alarms']} bad_prints={m['prints']} caught={m['caught']}"
        )


if __name__ == "__main__":
    main()
