"""Benchmark: one day for N simulated coins through Dagster, and the same core calls in a plain loop.

    huracan bench --coins 10

Both paths start from the same prepared state (universe, coins, bars/features/labels of the
look-back window, and the whole day before — the coins' cold start — materialised once and not
timed), so the timed day is an ordinary warm day. Both compute the day's bars, features, labels,
models, scores, consensus, champions, integrity report (its look-back window and heat-map
included) and export, and write the same Parquet, model and export files: the bench exits 1 unless
every file of the day's export but the manifest is byte for byte the same on both sides
(``differing_exports``). The last line is

    overhead_ratio=<dagster wall / loop wall> peak_rss_mb=<peak RSS of this process>
    core_s_per_coin_day=<CPU seconds of the plain loop per coin-day, all horizons and engines>
    daemon_ratio=<the day's runs launched by the daemon / the same runs by huracan daily>
    dask_speedup=<the training step on 1 Dask worker / on W workers>
    parallel_ceiling=<a pure-Python loop on 1 process / on W processes: what this machine allows>
    fresh_coin_ratio=<fresh coins' 150-day history through Dagster / the same core calls in a loop>
    [s_per_coin_<N>=… s_per_coin_ratio_<N>_<n>=… cpu_per_coin_ratio_<N>_<n>=… rss_ratio_<N>_<n>=…]

``daemon_ratio`` compares the deployment's two doors on one warm day, on two copies of one
prepared instance: ``huracan daily`` (runs executed in its own process) against a real
``dagster-daemon`` with automation on (each run in a worker process the daemon launches). It is
the sum of the runs' own durations (start to end, as the instance records them), so it counts
what each run costs and not the sensors' polling; the daemon's time until the export is
printed beside it.
"""

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd

from huracan_assets.automation.instance import INSTANCE_OVERRIDES
from huracan_assets.checks.asset_checks import raw_schema_outcomes, source_quality_outcomes
from huracan_assets.checks.loading import read_stored_attrs
from huracan_assets.checks.schemas import FeaturesSchema, LabelsSchema, ValidatedBarsSchema
from huracan_assets.checks.validation import validate_partitions
from huracan_assets.config import HuracanSettings, load_settings
from huracan_assets.core.features import features_hash
from huracan_assets.core.publishing import ExportPlan, LocalFolderPublisher
from huracan_assets.core.scoring import empty_scores
from huracan_assets.definitions import build_definitions
from huracan_assets.orchestration import DayResult, DayRunner, InProcessLauncher
from huracan_assets.partitions import build_partitions, coin_day_key
from huracan_assets.resources.market_data import MarketDataResource
from huracan_assets.resources.storage import JsonIOManager, ModelIOManager, ParquetIOManager, split_key
from huracan_assets.steps.bars import CoinTask, market_listings, task_days, validate_coin
from huracan_assets.steps.champions import champions_for_day
from huracan_assets.steps.consensus import consensus_for_day
from huracan_assets.steps.export import export_files
from huracan_assets.steps.features import features_attrs, features_by_day
from huracan_assets.steps.frames import CODE_HASH, day_of
from huracan_assets.steps.integrity import integrity_for_day, window_days
from huracan_assets.steps.labels import labels_by_day
from huracan_assets.steps.models import eligible, not_eligible, train_for_day
from huracan_assets.steps.scores import score_for_day, scored_model_days

# the scale table's market: every simulated coin liquid (the default market has about 28 coins
# that pass the universe filter whatever the number simulated, so its 400-coin day would train 28)
SCALE_LAYOUT = "validation"
# a fresh coin's whole history: the default look-back
FRESH_COIN_DAYS = 150


def _days_back(day: str, n: int) -> list[str]:
    end = date.fromisoformat(day)
    return [(end - timedelta(days=i)).isoformat() for i in range(n, -1, -1)]


def _stored_keys(parquet: ParquetIOManager, asset: str, coin: str, day: str, days_back: int) -> list[str]:
    """``coin``'s stored partitions of ``asset`` from ``days_back`` days before ``day`` to ``day``."""
    keys = [str(coin_day_key(d, coin)) for d in _days_back(day, days_back)]
    return [k for k in keys if parquet.exists(dg.AssetKey(asset), k)]


def plain_loop(
    day: str,
    coins: list[str],
    settings: HuracanSettings,
    market: MarketDataResource,
    base: Path,
    export_root: Path,
) -> dict:
    """The day's per-coin and per-day core calls, in a loop, on the same storage layout."""
    parquet, model_store = ParquetIOManager(base_dir=str(base)), ModelIOManager(base_dir=str(base))
    json_store = JsonIOManager(base_dir=str(base))
    client = market.client()
    partitions = build_partitions(settings)
    fhash = features_hash()
    universe = parquet.read_window(dg.AssetKey("coin_universe"), [day])
    listed = universe.set_index("coin")
    key_of = {c: str(coin_day_key(day, c)) for c in coins}
    all_scores, all_events = [], []
    day_qualities: dict[str, dict] = {}
    checked: dict[str, list[pd.DataFrame]] = {"validated_bars": [], "features": [], "labels": []}

    def window(asset: str, days_back: int, coin: str) -> pd.DataFrame:
        return parquet.read_window(dg.AssetKey(asset), _stored_keys(parquet, asset, coin, day, days_back))

    def stored(coin: str, d: str):
        key = str(coin_day_key(d, coin))
        return (
            model_store.read_partition(dg.AssetKey("models"), key)
            if model_store.exists(dg.AssetKey("models"), key)
            else None
        )

    for coin in coins:
        key = key_of[coin]
        is_listed = coin in listed.index
        listed_at = listed.loc[coin, "listed_at"] if is_listed else None
        listed_at = (
            None if listed_at is None or pd.isna(listed_at) else pd.Timestamp(listed_at).to_pydatetime()
        )
        status = str(listed.loc[coin, "status"]) if is_listed and "status" in listed else "TRADING"
        frame, quality = validate_coin(
            CoinTask(coin, [(key, date.fromisoformat(day), listed_at, is_listed, status)], client, settings)
        )[key]
        frame.attrs = {"quality": quality.to_dict()}
        day_qualities[key] = quality.to_dict()
        parquet.write_partition(dg.AssetKey("validated_bars"), key, frame)
        checked["validated_bars"].append(frame.assign(date=day, symbol=coin))
        features = features_by_day(
            window("validated_bars", partitions.feature_warmup_days, coin), settings.bar, [key]
        )[key]
        features.attrs = features_attrs(features, fhash)
        parquet.write_partition(dg.AssetKey("features"), key, features)
        checked["features"].append(features.assign(date=day, symbol=coin))
        labels = labels_by_day(window("features", partitions.label_lookback_days, coin), settings, [key])[key]
        parquet.write_partition(dg.AssetKey("labels"), key, labels)
        checked["labels"].append(labels.assign(date=day, symbol=coin))
        row = listed.loc[[coin]].reset_index() if is_listed else pd.DataFrame()
        yesterday = stored(coin, _days_back(day, 1)[0])
        # as the models asset: an eligible coin trains, any other is stored as skipped, with why
        if eligible(row):
            trained = train_for_day(
                coin,
                day,
                window("features", settings.lookback_days, coin),
                window("labels", settings.lookback_days, coin),
                settings,
                fhash,
                cold_start=yesterday is None or yesterday.status != "trained",
            )
        else:
            trained = not_eligible(coin, day, fhash, row)
        model_store.write_partition(dg.AssetKey("models"), key, trained)
        # as the scores asset: every coin of the day's universe is scored (an ineligible coin's
        # recent models too); as the consensus asset: every coin
        scores = empty_scores()
        if is_listed:
            scored = scored_model_days(date.fromisoformat(day), settings)
            recent = [m for d in sorted(scored) if (m := stored(coin, d)) is not None]
            scores = score_for_day(
                coin,
                recent,
                window("features", partitions.longest_shadow_days, coin),
                window("labels", partitions.longest_shadow_days, coin),
                row.iloc[0],
                settings,
                day,
            )
        events = consensus_for_day(
            stored(coin, day), yesterday, features.assign(date=day, symbol=coin), scores, day, settings
        )
        parquet.write_partition(dg.AssetKey("scores"), key, scores)
        parquet.write_partition(dg.AssetKey("consensus"), key, events)
        all_scores.append(scores.assign(date=day))
        all_events.append(events.assign(date=day))
    # the same Pandera validations the asset checks run, as the integrity report's outcomes
    outcomes: dict[str, dict[str, str]] = {}
    for name, schema in (
        ("validated_bars", ValidatedBarsSchema),
        ("features", FeaturesSchema),
        ("labels", LabelsSchema),
    ):
        outcome = validate_partitions(schema, pd.concat(checked[name], ignore_index=True))
        for key in outcome.checked:
            outcomes.setdefault(split_key(key)[1], {})[f"{name}_schema"] = (
                "fail" if key in outcome.failing else "pass"
            )
    scores = pd.concat(all_scores, ignore_index=True) if all_scores else pd.DataFrame()
    events = pd.concat(all_events, ignore_index=True) if all_events else pd.DataFrame()
    models = {
        (c, d): m
        for c in coins
        for d in _days_back(day, partitions.max_champion_age_days)
        if (m := stored(c, d)) is not None
    }
    previous_day = _days_back(day, 1)[0]
    previous = (
        json_store.read_partition(dg.AssetKey("champions"), previous_day)
        if json_store.exists(dg.AssetKey("champions"), previous_day)
        else None
    )
    longest = settings.longest_shadow_days
    shadow_features = pd.concat([window("features", longest, c) for c in coins], ignore_index=True)
    shadow_labels = pd.concat([window("labels", longest, c) for c in coins], ignore_index=True)
    doc = champions_for_day(day, previous, models, shadow_features, shadow_labels, events, universe, settings)
    for name, check in (
        ("validated_bars_raw_schema", raw_schema_outcomes),
        ("validated_bars_source_quality", source_quality_outcomes),
    ):
        for key, outcome in check(day_qualities)[0].items():
            outcomes.setdefault(split_key(key)[1], {})[name] = "pass" if outcome.passed else "fail"
    # the report over the models' window: every coin-day's stored quality record (Parquet footers)
    # and the window's universes, as the data_integrity_report asset reads them
    days = window_days(day, settings.lookback_days)
    stored_attrs = {
        key: read_stored_attrs(parquet, dg.AssetKey("validated_bars"), key)
        if parquet.exists(dg.AssetKey("validated_bars"), key)
        else None
        for d in days
        for key in (str(coin_day_key(d, c)) for c in coins)
    }
    built = [d for d in days if parquet.exists(dg.AssetKey("coin_universe"), d)]
    universes = parquet.read_window(dg.AssetKey("coin_universe"), built)
    integrity = integrity_for_day(day, days, stored_attrs, {day: outcomes}, universes)
    day_features = shadow_features[shadow_features["date"] == day]
    files, window_span, _ = export_files(
        day, doc, models, scores, events, integrity, universe, fhash, day_features
    )
    plan = ExportPlan.create(
        day, files, features_hash=fhash, code_hash=CODE_HASH, training_window=window_span, created_at="bench"
    )
    LocalFolderPublisher(export_root).publish(plan)
    return doc


def differing_exports(day: str, dagster_root: Path, loop_root: Path) -> list[str]:
    """The files of ``day``'s export folder that differ between the Dagster day and the plain
    loop (missing on one side included); the manifest is left out (its ``created_at`` and
    signature are the run's own). Empty: the loop made every file the day's runs made."""
    names = {
        str(path.relative_to(root / day))
        for root in (dagster_root, loop_root)
        for path in (root / day).rglob("*")
        if path.is_file() and path.name != "manifest.json"
    }
    return sorted(
        name
        for name in names
        if not (dagster_root / day / name).is_file()
        or not (loop_root / day / name).is_file()
        or (dagster_root / day / name).read_bytes() != (loop_root / day / name).read_bytes()
    )


def _run_seconds(instance: dg.DagsterInstance, after: float) -> tuple[float, int]:
    """Sum of the durations of the runs that started after ``after`` (a timestamp), and their count."""
    records = [
        r
        for r in instance.get_run_records()
        if r.start_time is not None and r.start_time >= after and r.end_time
    ]
    return sum(r.end_time - r.start_time for r in records), len(records)


def daemon_ratio(coins: int, lookback_days: int, day: str, workdir: Path) -> tuple[float, float, float]:
    """(daemon_ratio, daemon seconds until the export, command wall seconds) for a warm ``day``."""
    import subprocess

    from huracan_assets.automation.local_daemon import (
        BIN,
        REPO,
        environment,
        run_until_exported,
        start_sensors,
    )

    previous = _days_back(day, 1)[0]
    first = workdir / "command"
    (first / "home").mkdir(parents=True)
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", first / "home" / "dagster.yaml")

    def env(root: Path, clock_day: str) -> dict[str, str]:
        clock = f"{(date.fromisoformat(clock_day) + timedelta(days=1)).isoformat()}T00:00:00Z"
        return environment(
            root / "home",
            CLOCK=clock,
            LOOKBACK_DAYS=str(lookback_days),
            SIMULATOR__N_COINS=str(coins),
            PUBLISHER__EXPORT_ROOT=str(root / "exports"),
        )

    def daily(root: Path, when: str) -> float:
        started = time.perf_counter()
        subprocess.run(
            [str(BIN / "huracan"), "daily", "--date", when],
            cwd=REPO,
            env=env(root, when),
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started

    print(f"daemon: preparing {previous} through huracan daily (not timed) ...", flush=True)
    daily(first, previous)
    second = workdir / "daemon"
    shutil.copytree(first, second)  # the instance, its storage and the export root
    mark = time.time()
    command_wall = daily(first, day)
    with dg.DagsterInstance.from_config(str(first / "home")) as instance:
        command_s, command_runs = _run_seconds(instance, mark)
    daemon_env = env(second, day)
    start_sensors(daemon_env)
    mark = time.time()
    exported_after = run_until_exported(daemon_env, second / "exports", day, workdir / "daemon.log")
    with dg.DagsterInstance.from_config(str(second / "home")) as instance:
        daemon_s, daemon_runs = _run_seconds(instance, mark)
    print(
        f"daemon:  runs={daemon_runs} run_s={daemon_s:.1f} exported_after_s={exported_after:.1f}; "
        f"command: runs={command_runs} run_s={command_s:.1f} wall={command_wall:.1f}s",
        flush=True,
    )
    return daemon_s / command_s, exported_after, command_wall


def _import_step_modules() -> None:
    import catboost  # noqa: F401

    import huracan_assets.steps.models  # noqa: F401


def _burn(_: int) -> float:
    """A fixed pure-Python CPU loop; its own wall seconds."""
    started, total = time.perf_counter(), 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


def parallel_ceiling(workers: int, tasks: int = 8, repeat: int = 1) -> float:
    """What ``workers`` processes give over one on this machine for independent CPU work (a pure
    Python loop, no I/O, no shared state): the most ``dask_speedup`` can reach here. A VM's cores
    are not always whole cores (a busy host, shared caches); on a machine with ``workers`` free
    cores it is close to ``workers``."""
    import multiprocessing

    walls = []
    for n in (1, workers):
        with multiprocessing.get_context("spawn").Pool(n) as pool:
            pool.map(_burn, range(n))  # processes up
            best = float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                pool.map(_burn, range(tasks), chunksize=1)
                best = min(best, time.perf_counter() - started)
            walls.append(best)
    return walls[0] / walls[1]


def dask_speedup(
    day: str, coins: list[str], settings: HuracanSettings, base: Path, workers: int, repeat: int = 1
) -> tuple[float, float]:
    """The day's training step as the ``models`` asset runs it on Dask (each task carries its
    coin's window as paths, reads them on the worker, trains with one thread per fit and writes
    its models to a staging folder there: ``loading(train_and_stage)``), on a LocalCluster of 1
    worker and of ``workers`` workers; returns the two wall times, each the shortest of ``repeat``
    (the clusters are started and warmed before the clock starts). Both clusters must write the
    same model files."""
    from huracan_assets.resources.compute import ComputeResource
    from huracan_assets.resources.storage import WindowPart, loading
    from huracan_assets.steps.models import train_and_stage

    parquet = ParquetIOManager(base_dir=str(base))
    single = settings.model_copy(
        update={"training": settings.training.model_copy(update={"thread_count": 1})}
    )
    fhash = features_hash()

    def part(asset: str, coin: str) -> WindowPart:
        keys = _stored_keys(parquet, asset, coin, day, settings.lookback_days)
        return WindowPart(base_dir=str(base), asset_path=(asset,), keys=tuple(keys))

    walls, written = [], []
    for n in (1, workers):
        staging = base / f".bench-dask-{n}"
        items = [
            (str(staging / c), c, day, part("features", c), part("labels", c), single, fhash, False)
            for c in coins
        ]
        compute = ComputeResource(mode="dask", n_workers=n)
        try:
            # workers up, and warm as a long-lived cluster's are: the step's modules imported
            compute.client().run(_import_step_modules)
            best = float("inf")
            for _ in range(repeat):
                shutil.rmtree(staging, ignore_errors=True)
                started = time.perf_counter()
                results = compute.map(loading(train_and_stage), items, keys=coins)
                best = min(best, time.perf_counter() - started)
                failed = [r for r in results if not hasattr(r, "folder")]
                if failed:
                    raise RuntimeError(f"dask_speedup: {len(failed)} coin(s) failed: {failed[:3]}")
            walls.append(best)
            written.append(
                {str(f.relative_to(staging)): f.read_bytes() for f in sorted(staging.rglob("*.cbm"))}
            )
        finally:
            compute.teardown_after_execution(None)
            shutil.rmtree(staging, ignore_errors=True)
    if written[0] != written[1] or not written[0]:
        raise RuntimeError(f"dask_speedup: 1 and {workers} workers wrote different model files")
    return walls[0], walls[1]


def history_loop(
    coin: str, keys: dict[str, list[str]], settings: HuracanSettings, market: MarketDataResource, base: Path
) -> None:
    """A coin's history without Dagster: the core calls of ``validated_bars``, ``features`` and
    ``labels`` for the partition keys each asset holds (one range, as the history run computes
    it: the coin's candles fetched once, features over the whole window then cut by day), the
    same Parquet writes and the same Pandera validations as their checks."""
    parquet = ParquetIOManager(base_dir=str(base))
    client = market.client()
    bar_keys = keys["validated_bars"]
    listings = {d: market_listings(client, d) for d in sorted({day_of(k) for k in bar_keys})}
    checked = []
    fhash = features_hash()
    task = CoinTask(coin, task_days(coin, bar_keys, listings), client, settings)
    for key, (frame, quality) in validate_coin(task).items():
        frame.attrs = {"quality": quality.to_dict()}
        parquet.write_partition(dg.AssetKey("validated_bars"), key, frame)
        checked.append(frame.assign(date=split_key(key)[0], symbol=coin))
    validate_partitions(ValidatedBarsSchema, pd.concat(checked, ignore_index=True))
    for asset, schema, compute_days, source, extra in (
        ("features", FeaturesSchema, features_by_day, "validated_bars", settings.bar),
        ("labels", LabelsSchema, labels_by_day, "features", settings),
    ):
        window = parquet.read_window(dg.AssetKey(source), keys[source])
        made = compute_days(window, extra, keys[asset])
        for key, frame in made.items():
            if asset == "features":  # what the asset records with each partition
                frame.attrs = features_attrs(frame, fhash)
            parquet.write_partition(dg.AssetKey(asset), key, frame)
        validate_partitions(
            schema,
            pd.concat(
                [f.assign(date=split_key(k)[0], symbol=coin) for k, f in made.items()], ignore_index=True
            ),
        )


def fresh_coin_ratio(lookback_days: int, day: str, workdir: Path, coins: int = 2) -> tuple[float, float, int]:
    """Fresh coins' whole history through Dagster against its bare compute.

    On an empty instance whose market lists ``coins`` coins (every coin liquid; the simulator
    has at least 2), ``huracan daily``'s preparation of ``day`` after the universe run (not
    timed): the history plan and the history runs of ``validated_bars``, ``features`` and
    ``labels`` over the look-back window and its warm-up, as they run for any coin new to the
    universe. The bare compute is :func:`history_loop`, coin after coin, on the partition keys
    those runs materialised, into a storage of its own. Returns (Dagster seconds, loop seconds,
    partitions)."""
    workdir.mkdir(parents=True, exist_ok=True)
    ready = _open(coins, lookback_days, day, workdir, layout=SCALE_LAYOUT)
    result = DayResult(day=day)
    ready.runner._execute("universe_job", {"dagster/partition": day}, f"coin_universe {day}", result)
    started = time.perf_counter()
    new = ready.runner.prepare(day, result)
    dagster_s = time.perf_counter() - started
    if len(new) != coins or not any(r["job"] == "history_job" for r in result.runs):
        raise RuntimeError(f"fresh coins: expected {coins} new coins' history runs, got {new} {result.runs}")
    parquet = ParquetIOManager(base_dir=str(workdir / "storage"))
    stored = {
        asset: sorted(
            k
            for k in ready.runner.instance.get_materialized_partitions(dg.AssetKey(asset))
            if parquet.exists(dg.AssetKey(asset), k)
        )
        for asset in ("validated_bars", "features", "labels")
    }
    started = time.perf_counter()
    for coin in new:
        keys = {asset: [k for k in ks if split_key(k)[1] == coin] for asset, ks in stored.items()}
        history_loop(coin, keys, ready.settings, ready.market, workdir / "loop_storage")
    loop_s = time.perf_counter() - started
    # the loop did the same work: it wrote the same files, byte for byte
    loop = ParquetIOManager(base_dir=str(workdir / "loop_storage"))
    for asset, asset_keys in stored.items():
        for key in asset_keys:
            ours, theirs = (m.partition_path(dg.AssetKey(asset), key).read_bytes() for m in (parquet, loop))
            if ours != theirs:
                raise RuntimeError(f"fresh coins: {asset}[{key}] differs between Dagster and the loop")
    return dagster_s, loop_s, sum(len(k) for k in stored.values())


@dataclass
class _Prepared:
    settings: HuracanSettings
    market: MarketDataResource
    runner: DayRunner
    coins: list[str]


def _open(coins: int, lookback_days: int, day: str, workdir: Path, layout: str = "market") -> _Prepared:
    """The bench's settings, definitions, instance (``workdir/home``, created when missing) and
    runner; ``coins`` is filled by whoever prepares the day. ``layout``: the simulator's market
    (``market``: the default, about 28 coins liquid enough to trade whatever ``coins`` is;
    ``validation``: every coin liquid, so every simulated coin is eligible and trained)."""
    settings = load_settings(
        lookback_days=lookback_days,
        simulator={"n_coins": coins},
        publisher={"export_root": str(workdir / "exports")},
    )
    market = MarketDataResource(
        sim_coins=coins, timeframe=settings.timeframe, sim_seed=settings.simulator.seed, sim_layout=layout
    )
    defs = build_definitions(settings, market_data=market, storage_dir=str(workdir / "storage"))
    (workdir / "home").mkdir(exist_ok=True)
    instance = dg.DagsterInstance.local_temp(str(workdir / "home"), overrides=INSTANCE_OVERRIDES)
    runner = DayRunner(InProcessLauncher(defs), instance, settings, log=lambda _: None)
    return _Prepared(settings, market, runner, [])


def _prepare(coins: int, lookback_days: int, day: str, workdir: Path, layout: str = "market") -> _Prepared:
    """An instance in ``workdir`` holding the history of the look-back window and the day before
    (the coins' cold start), ready for ``day`` as an ordinary warm day; not timed."""
    ready = _open(coins, lookback_days, day, workdir, layout)
    prepared = DayResult(day=day)
    print(
        f"preparing {coins} coins x {lookback_days} days of history and the day before (cold start), not timed ...",
        flush=True,
    )
    previous = _days_back(day, 1)[0]
    ready.runner.prepare(previous, prepared)
    ready.runner.run_day(previous, list(ready.runner.instance.get_dynamic_partitions("coins")), prepared)
    ready.coins = ready.runner.prepare(day, prepared)
    return ready


def warm_day(
    coins: int, lookback_days: int, day: str, layout: str = SCALE_LAYOUT, prepared: Path | None = None
) -> dict[str, float]:
    """One warm day of ``coins`` simulated coins through Dagster (``huracan daily``'s runs), as a
    day starts in production: in a fresh process, on an instance another process prepared (or a
    copy of ``prepared``, a folder ``--prepare`` made). Its wall and CPU time and this process's
    peak RSS (imports, definitions and the day). A run that fails raises (``RunFailedError``), so
    every figure is of a complete day."""
    workdir = Path(tempfile.mkdtemp(prefix="huracan-warm-day-"))
    try:
        if prepared is not None:
            shutil.copytree(prepared, workdir, symlinks=True, dirs_exist_ok=True)
            ready_coins = json.loads((workdir / "coins.json").read_text())["coins"]
        else:
            command = [sys.executable, "-m", "huracan_assets.bench", "--prepare"]
            command += [str(coins), str(lookback_days), day, str(workdir), layout]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            if done.returncode != 0 or not lines:
                raise RuntimeError(
                    f"preparing {coins} coins failed (rc {done.returncode}): {done.stderr[-2000:]}"
                )
            ready_coins = json.loads(lines[-1])["coins"]
        ready = _open(coins, lookback_days, day, workdir, layout)
        ready.coins = ready_coins
        started, cpu = time.perf_counter(), time.process_time()
        result = DayResult(day=day)
        ready.runner.run_day(day, ready.coins, result)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        return {
            "coins": len(ready.coins),
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "s_per_coin": round(wall / max(len(ready.coins), 1), 4),
            "cpu_s_per_coin": round(cpu / max(len(ready.coins), 1), 4),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "runs": len(result.runs),
            "champions": len(result.champions.get("champions", [])),
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def scale_table(sizes: list[int], lookback_days: int, day: str) -> list[dict[str, float]]:
    """``warm_day`` at each size, each in a fresh Python process (so one size's memory never
    counts against another's), smallest first."""
    rows = []
    for n in sorted(sizes):
        command = [
            sys.executable,
            "-m",
            "huracan_assets.bench",
            "--warm-day",
            str(n),
            str(lookback_days),
            day,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            raise RuntimeError(f"warm day of {n} coins failed (rc {done.returncode}): {done.stderr[-2000:]}")
        row = json.loads(lines[-1])
        print(
            f"warm day: coins={row['coins']} wall={row['wall_s']:.1f}s cpu={row['cpu_s']:.1f}s "
            f"s_per_coin={row['s_per_coin']:.3f} cpu_s_per_coin={row['cpu_s_per_coin']:.3f} "
            f"peak_rss_mb={row['peak_rss_mb']:.0f} runs={row['runs']}",
            flush=True,
        )
        rows.append(row)
    return rows


def run_bench(
    coins: int,
    lookback_days: int = 60,
    day: str = "2025-11-20",
    daemon: bool = True,
    workers: int = 2,
    scale: list[int] | None = None,
    repeat: int = 3,
) -> int:
    """Every timed figure is the shortest of ``repeat`` runs (the Dagster day and the plain loop
    alternate, each run of the day again over the same prepared state): on a shared machine the
    shortest is the one least slowed by others, and a ratio of two single runs moved by ±0.2
    between runs here."""
    workdir = Path(tempfile.mkdtemp(prefix="huracan-bench-"))
    try:
        ready = _prepare(coins, lookback_days, day, workdir)
        settings, market, runner, all_coins = ready.settings, ready.market, ready.runner, ready.coins

        dagster_wall = dagster_cpu = loop_wall = loop_cpu = float("inf")
        for attempt in range(1, repeat + 1):
            started, cpu = time.perf_counter(), time.process_time()
            dagster_result = DayResult(day=day)
            runner.run_day(day, all_coins, dagster_result)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            dagster_wall, dagster_cpu = min(dagster_wall, wall), min(dagster_cpu, cpu)

            started, cpu = time.perf_counter(), time.process_time()
            loop_doc = plain_loop(
                day, all_coins, settings, market, workdir / "storage", workdir / "loop_exports"
            )
            loop_run, loop_run_cpu = time.perf_counter() - started, time.process_time() - cpu
            loop_wall, loop_cpu = min(loop_wall, loop_run), min(loop_cpu, loop_run_cpu)
            print(f"run {attempt}/{repeat}: dagster {wall:.1f}s, loop {loop_run:.1f}s", flush=True)

        differing = differing_exports(day, workdir / "exports", workdir / "loop_exports")
        same = not differing and [(c["coin"], c["horizon"], c["engine"]) for c in loop_doc["champions"]] == [
            (c["coin"], c["horizon"], c["engine"]) for c in dagster_result.champions["champions"]
        ]
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"coins={len(all_coins)} lookback_days={lookback_days} day={day}")
        print(f"dagster: wall={dagster_wall:.1f}s cpu={dagster_cpu:.1f}s runs={len(dagster_result.runs)}")
        print(f"loop:    wall={loop_wall:.1f}s cpu={loop_cpu:.1f}s")
        print(
            f"champions: dagster={len(dagster_result.champions['champions'])} loop={len(loop_doc['champions'])} same={same}"
        )
        exported = sum(1 for p in (workdir / "exports" / day).rglob("*") if p.is_file())
        print(
            f"exports: {exported} files of {day}; the loop's differ from Dagster's (manifest aside): "
            f"{', '.join(differing) or 'none'}"
        )
        one, many = dask_speedup(day, all_coins, settings, workdir / "storage", workers, repeat)
        ceiling = parallel_ceiling(workers, repeat=repeat)
        print(
            f"training step on dask: 1 worker {one:.1f}s, {workers} workers {many:.1f}s ({len(all_coins)} coins); "
            f"this machine's ceiling for {workers} processes (a pure-Python loop): x{ceiling:.2f}"
        )
        fresh = [fresh_coin_ratio(FRESH_COIN_DAYS, day, workdir / f"fresh{i}") for i in range(repeat)]
        fresh_s, fresh_loop_s = min(f[0] for f in fresh), min(f[1] for f in fresh)
        fresh_partitions = fresh[0][2]
        print(
            f"fresh coins' history ({FRESH_COIN_DAYS} days, 2 coins, {fresh_partitions} partitions): "
            f"dagster {fresh_s:.1f}s, loop {fresh_loop_s:.1f}s"
        )
        ratio = daemon_ratio(coins, lookback_days, day, workdir / "deployment")[0] if daemon else float("nan")
        scaled = ""
        if scale:
            rows = scale_table(scale, lookback_days, day)
            small, large = rows[0], rows[-1]
            scaled = (
                f" s_per_coin_{large['coins']}={large['s_per_coin']:.3f}"
                f" s_per_coin_ratio_{large['coins']}_{small['coins']}={large['s_per_coin'] / small['s_per_coin']:.2f}"
                f" cpu_per_coin_ratio_{large['coins']}_{small['coins']}="
                f"{large['cpu_s_per_coin'] / small['cpu_s_per_coin']:.2f}"
                f" rss_ratio_{large['coins']}_{small['coins']}={large['peak_rss_mb'] / small['peak_rss_mb']:.2f}"
            )
        print(
            f"overhead_ratio={dagster_wall / loop_wall:.3f} peak_rss_mb={peak_rss_mb:.0f} "
            f"core_s_per_coin_day={loop_cpu / max(len(all_coins), 1):.3f} daemon_ratio={ratio:.3f} "
            f"dask_speedup={one / many:.2f} parallel_ceiling={ceiling:.2f} "
            f"fresh_coin_ratio={fresh_s / fresh_loop_s:.2f}{scaled}"
        )
        return 0 if same else 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":  # the scale table's child processes (``scale_table``, ``warm_day``)
    if len(sys.argv) in (5, 6) and sys.argv[1] == "--warm-day":
        on = Path(sys.argv[5]) if len(sys.argv) == 6 else None
        print(json.dumps(warm_day(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], prepared=on)), flush=True)
    elif len(sys.argv) in (6, 7) and sys.argv[1] == "--prepare":
        folder = Path(sys.argv[5])
        folder.mkdir(parents=True, exist_ok=True)
        layout = sys.argv[6] if len(sys.argv) == 7 else SCALE_LAYOUT
        prepared = _prepare(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], folder, layout)
        (folder / "coins.json").write_text(json.dumps({"coins": prepared.coins}))
        print(json.dumps({"coins": prepared.coins}), flush=True)
    else:
        sys.exit(
            "usage: python -m huracan_assets.bench --warm-day COINS LOOKBACK_DAYS DAY [PREPARED_DIR]\n"
            "       python -m huracan_assets.bench --prepare COINS LOOKBACK_DAYS DAY DIR [LAYOUT]"
        )
