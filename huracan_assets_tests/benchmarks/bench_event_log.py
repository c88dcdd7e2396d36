"""Bytes the instance writes per partition of a history run, as the run grows.

    python -m huracan_assets_tests.benchmarks.bench_event_log [--coins 10,30,100] [--days 150]

For each N: a fresh SQLite instance, the day's universe (every simulated coin eligible), then the
history run of ``validated_bars`` for the N simulated coins over their look-back window (``huracan daily``'s first
history run, the one whose asset checks used to plan a row per partition holding the whole run).
Prints the instance's bytes (``history/``: run shards and the index) per partition and seconds per
partition, one line per N, and a last line ``bytes_per_partition=<N>:<b>,... growth=<last/first>``.
"""

import argparse
import tempfile
import time
from pathlib import Path

import dagster as dg

from huracan_assets.automation.instance import INSTANCE_OVERRIDES
from huracan_assets.automation.jobs import range_tags
from huracan_assets.automation.plan import plan_for
from huracan_assets.config import load_settings
from huracan_assets.definitions import build_definitions
from huracan_assets.orchestration import InProcessLauncher
from huracan_assets.partitions import COINS, build_partitions, coin_day_key
from huracan_assets.resources.market_data import MarketDataResource

DAY = "2025-11-20"


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def measure(coins: int, days: int) -> tuple[int, int, float]:
    """(partitions, instance bytes, seconds) of the validated_bars history run for ``coins``."""
    root = Path(tempfile.mkdtemp(prefix=f"huracan-eventlog-{coins}-"))
    # every simulated coin eligible (the simulator's volumes fall off as a power law): N coins, N in the run
    settings = load_settings(
        lookback_days=days,
        simulator={"n_coins": coins},
        min_liquidity_gbp=0,
        max_spread_bps=10_000,
        publisher={"export_root": str(root / "exports")},
    )
    market = MarketDataResource(
        sim_coins=coins, timeframe=settings.timeframe, sim_seed=settings.simulator.seed
    )
    launcher = InProcessLauncher(
        build_definitions(settings, market_data=market, storage_dir=str(root / "storage"))
    )
    home = root / "home"
    home.mkdir()
    instance = dg.DagsterInstance.local_temp(str(home), overrides=INSTANCE_OVERRIDES)
    launcher.execute(instance, "universe_job", {"dagster/partition": DAY}, None)
    plan = plan_for(instance, build_partitions(settings), DAY)
    instance.add_dynamic_partitions(COINS.name, list(plan.coins_to_add))
    block = next(
        b for b in plan_for(instance, build_partitions(settings), DAY).history if b.asset == "validated_bars"
    )
    before = _bytes(home / "history")
    started = time.perf_counter()
    run_id, ok = launcher.execute(
        instance,
        "history_job",
        range_tags(str(coin_day_key(*block.start)), str(coin_day_key(*block.end))),
        ["validated_bars"],
    )
    seconds = time.perf_counter() - started
    if not ok:
        raise RuntimeError(f"history run {run_id} failed")
    return block.partitions, _bytes(home / "history") - before, seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--coins", default="10,30,100")
    parser.add_argument("--days", type=int, default=150)
    args = parser.parse_args()
    figures = []
    for n in (int(c) for c in args.coins.split(",")):
        partitions, size, seconds = measure(n, args.days)
        figures.append((n, size / partitions))
        print(
            f"coins={n} partitions={partitions} instance_bytes={size} bytes_per_partition={size / partitions:.0f} "
            f"s_per_partition={seconds / partitions:.4f}",
            flush=True,
        )
    per = ",".join(f"{n}:{b:.0f}" for n, b in figures)
    print(f"bytes_per_partition={per} growth={figures[-1][1] / figures[0][1]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
