"""Materialise one day of the whole graph through Dagster, history included (``huracan daily``).

The day follows the one plan (``automation/plan.py`` -> ``core/day_plan.py``), the same one the
daemon's ``new_coin_sensor`` requests as a backfill:

1. ``universe_job`` for the day, unless ``coin_universe[day]`` exists and was built for this
   market (its code version);
2. coins the universe names that are new join the ``coins`` partitions;
3. ``history_job`` for each block of the plan: one run per asset over every coin that misses
   the same days (a fresh instance: three runs; new coins: three runs);
4. ``daily_coins_job`` for the day, all coins, one run;
5. ``daily_reports_job`` for the day: champions, integrity report, export.

Runs go through a :class:`Launcher`. ``CodeLocationLauncher`` (the command's) makes runs that
belong to the ``huracan`` code location, exactly as the UI would: they are listed on the Jobs
page and can be re-executed there. ``InProcessLauncher`` runs an ad-hoc ``Definitions`` (the
statistical validation and the benchmark, which use their own markets and folders).
"""

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import dagster as dg
from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

from huracan_assets.automation.jobs import RERUN_OF_TAG, coins_range_tags, job_checks, range_tags
from huracan_assets.automation.plan import plan_for, universe_is_current
from huracan_assets.automation.runs import coin_of, refused_partitions, run_failures
from huracan_assets.config import HuracanSettings
from huracan_assets.core.day_plan import missing_blocks
from huracan_assets.core.integrity import window_line
from huracan_assets.partitions import COINS, build_partitions, coin_day_key
from huracan_assets.resources.storage import JsonIOManager, ModelIOManager, ParquetIOManager

# the console shows warnings and errors; every event still goes to the instance's event log (the UI)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
CODE_LOCATION = "huracan"
DEFINITIONS_MODULE = "huracan_assets.definitions"


# Dagster's switch (EventLogStorage.supports_partition_subset_in_asset_materialization_planned_events)
# for ONE planned event per asset holding the run's partition subset, instead of one per partition
PLANNED_AS_SUBSET = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
# the look-back history runs (thousands of partitions) are planned with one event per asset
SUBSET_PLANNED_JOBS = ("history_job",)


@contextlib.contextmanager
def planned_as_subset(on: bool) -> Iterator[None]:
    """Plan the run's materializations as one event per asset (the run's partition subset).

    A history run over 4,185 partitions otherwise writes 4,185 planned events before it starts
    (98 s on SQLite here). The price, in Dagster 1.13: while such a run is in flight or after it
    failed, the UI shows its partitions as missing rather than in progress or failed (the run's
    own page still shows its range and status); ``huracan daily`` reports the failure itself and
    its plan re-runs missing partitions. Runs of the day (a few dozen partitions) keep one
    planned event per partition.
    """
    if not on:
        yield
        return
    before = os.environ.get(PLANNED_AS_SUBSET)
    os.environ[PLANNED_AS_SUBSET] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(PLANNED_AS_SUBSET, None)
        else:
            os.environ[PLANNED_AS_SUBSET] = before


class RunFailedError(RuntimeError):
    """A Dagster run of the daily flow failed; the message names the job and the failing steps."""


class DayInProgressError(RuntimeError):
    """Another ``huracan daily`` holds this instance; the message names its day, process and runs."""


DAY_LOCK_NAME = "huracan-daily.lock"


def runs_in_progress(instance: dg.DagsterInstance) -> list[str]:
    """``<run id> (<job>)`` of every run of this instance that is queued or running."""
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=list(IN_PROGRESS_RUN_STATUSES)))
    return [f"{r.dagster_run.run_id} ({r.dagster_run.job_name})" for r in records]


@contextlib.contextmanager
def one_day_at_a_time(
    home: Path, day: str, instance: dg.DagsterInstance, wait: bool, log: Callable[[str], None] = print
) -> Iterator[None]:
    """Hold the instance for ``day``: one ``huracan daily`` at a time per ``DAGSTER_HOME``.

    A day trains on the models of the day before and compares against yesterday's champions, so
    two days at once would read each other's half-written state (measured: the later day took
    its coins for cold starts). The second command refuses at once, naming the day that holds
    the instance, its process and its runs in progress (:class:`DayInProgressError`); with
    ``wait`` it waits for it instead, then runs. An exclusive ``flock`` on
    ``$DAGSTER_HOME/huracan-daily.lock``: the kernel drops it when its holder dies, kill -9 included.
    """
    handle = (home / DAY_LOCK_NAME).open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another day"
            runs = runs_in_progress(instance)
            waits_for = f"{holder}; runs in progress: {', '.join(runs) if runs else 'none at this moment'}"
            if not wait:
                raise DayInProgressError(
                    f"{day}: this instance is running {waits_for}. Days run one at a time (a day starts from "
                    "the models of the day before): run again when it is done, or pass --wait"
                ) from None
            log(f"event=waiting_for_day day={day} holder={holder!r} runs={','.join(runs) or '-'}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"day {day} (pid {os.getpid()})\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock


@dataclass
class DayResult:
    day: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    champions: dict[str, Any] = field(default_factory=dict)
    export: dict[str, Any] = field(default_factory=dict)
    integrity: dict[str, Any] = field(default_factory=dict)
    coins_added: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Launcher(Protocol):
    defs: dg.Definitions

    def execute(
        self, instance: dg.DagsterInstance, job_name: str, tags: dict[str, str], assets: list[str] | None
    ) -> tuple[str, bool]:
        """Run ``job_name`` to completion; returns (run id, success)."""


class InProcessLauncher:
    """Runs an ad-hoc ``Definitions`` in this process (runs without a code-location origin)."""

    def __init__(self, defs: dg.Definitions) -> None:
        self.defs = defs

    def execute(
        self, instance: dg.DagsterInstance, job_name: str, tags: dict[str, str], assets: list[str] | None
    ) -> tuple[str, bool]:
        job = self.defs.resolve_job_def(job_name)
        if assets:
            selection = {dg.AssetKey(a) for a in assets}
            job = job.get_subset(asset_selection=selection, asset_check_selection=job_checks(job, selection))
        with planned_as_subset(job_name in SUBSET_PLANNED_JOBS):
            outcome = job.execute_in_process(
                run_config=QUIET, instance=instance, tags=tags, raise_on_error=False
            )
        return outcome.run_id, outcome.success


class CodeLocationLauncher:
    """Runs of the ``huracan`` code location (``workspace.yaml``), executed in this process.

    Each run is created with the same origin the webserver and the daemon give their runs, so
    the UI lists it under its job and can re-execute it; it then executes here, in this
    process, like the run worker would, without a subprocess per run. The code location is
    built from the environment (``HURACAN_*``), as the webserver's is.
    """

    def __init__(self, working_directory: str | None = None) -> None:
        from dagster._core.definitions.reconstruct import ReconstructableRepository
        from dagster._core.definitions.repository_definition.valid_definitions import (
            SINGLETON_REPOSITORY_NAME,
        )
        from dagster._core.remote_origin import (
            ManagedGrpcPythonEnvCodeLocationOrigin,
            RemoteRepositoryOrigin,
        )
        from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

        working_directory = working_directory or os.getcwd()
        self.repository = ReconstructableRepository.for_module(DEFINITIONS_MODULE, "defs", working_directory)
        self.defs = __import__(DEFINITIONS_MODULE, fromlist=["defs"]).defs
        location = ManagedGrpcPythonEnvCodeLocationOrigin(
            LoadableTargetOrigin(
                executable_path=sys.executable,
                module_name=DEFINITIONS_MODULE,
                working_directory=working_directory,
            ),
            location_name=CODE_LOCATION,
        )
        self.repository_origin = RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME)

    def execute(
        self, instance: dg.DagsterInstance, job_name: str, tags: dict[str, str], assets: list[str] | None
    ) -> tuple[str, bool]:
        from dagster._core.execution.api import create_execution_plan, execute_run
        from dagster._core.remote_origin import RemoteJobOrigin
        from dagster._core.snap import snapshot_from_execution_plan

        recon_job = self.repository.get_reconstructable_job(job_name)
        job = self.defs.resolve_job_def(job_name)
        selection = {dg.AssetKey(a) for a in assets} if assets else None
        checks = None
        if selection:
            # what instance.create_run_for_job does, with the run's checks named (it cannot name
            # them, and an asset subset left without them gets every check of its assets)
            checks = job_checks(job, selection)
            recon_job = recon_job.get_subset(asset_selection=selection, asset_check_selection=checks)
            job = job.get_subset(asset_selection=selection, asset_check_selection=checks)
        plan = create_execution_plan(job, run_config=QUIET, instance_ref=instance.get_ref(), tags=tags)
        with planned_as_subset(job_name in SUBSET_PLANNED_JOBS):
            run = instance.create_run(
                job_name=job.name,
                run_id=None,
                run_config=QUIET,
                op_selection=None,
                asset_selection=selection,
                asset_check_selection=checks,
                resolved_op_selection=None,
                step_keys_to_execute=plan.step_keys_to_execute,
                status=None,
                tags=tags,
                root_run_id=None,
                parent_run_id=None,
                job_snapshot=job.get_job_snapshot(),
                execution_plan_snapshot=snapshot_from_execution_plan(plan, job.get_job_snapshot_id()),
                parent_job_snapshot=job.get_parent_job_snapshot(),
                remote_job_origin=RemoteJobOrigin(self.repository_origin, job_name),
                job_code_origin=recon_job.get_python_origin(),
                asset_graph=job.asset_layer.asset_graph,
            )
        result = execute_run(recon_job, run, instance)
        return run.run_id, result.success


class DayRunner:
    def __init__(
        self,
        launcher: Launcher,
        instance: dg.DagsterInstance,
        settings: HuracanSettings,
        log: Callable[[str], None] = print,
    ) -> None:
        self.launcher = launcher
        self.defs = launcher.defs
        self.instance = instance
        self.settings = settings
        self.log = log
        self.started = time.perf_counter()

    # -- runs ----------------------------------------------------------------------------------
    def _execute(
        self,
        job_name: str,
        tags: dict[str, str],
        label: str,
        result: DayResult,
        assets: list[str] | None = None,
    ) -> str:
        started = time.perf_counter()
        self.log(f"event=run_start job={job_name} what={label!r} elapsed_s={started - self.started:.0f}")
        run_id, success = self.launcher.execute(self.instance, job_name, tags, assets)
        seconds = time.perf_counter() - started
        result.runs.append({"job": job_name, "what": label, "run_id": run_id, "seconds": round(seconds, 1)})
        self.log(
            f"event=run job={job_name} what={label!r} run_id={run_id} seconds={seconds:.1f} success={success}"
        )
        if not success:
            failed = run_failures(self.instance, run_id)
            raise RunFailedError(
                f"{job_name} ({label}) failed in run {run_id}: {'; '.join(failed) or 'see the run in the UI'}"
            )
        return run_id

    # -- the day -------------------------------------------------------------------------------
    def run(self, day: str) -> DayResult:
        self.started = time.perf_counter()
        result = DayResult(day=day)
        coins = self.prepare(day, result)
        self.run_day(day, coins, result)
        result.seconds = time.perf_counter() - self.started
        return result

    def prepare(self, day: str, result: DayResult) -> list[str]:
        """Universe, coins and the history the day needs (the plan); returns the coins in partition order."""
        universe = self.defs.resolve_assets_def("coin_universe")
        code_version = universe.code_versions_by_key.get(dg.AssetKey("coin_universe"))
        if not universe_is_current(self.instance, day, code_version):
            self._execute("universe_job", {"dagster/partition": day}, f"coin_universe {day}", result)
        plan = plan_for(
            self.instance,
            build_partitions(self.settings),
            day,
            self._history_storage(),
            self._model_storage(),
        )
        if plan.damaged:
            shown = ",".join(plan.damaged[:20]) + (
                f",+{len(plan.damaged) - 20}" if len(plan.damaged) > 20 else ""
            )
            self.log(f"event=stored_partitions_lost day={day} count={len(plan.damaged)} rebuild={shown}")
        if plan.coins_to_add:
            self.instance.add_dynamic_partitions(COINS.name, list(plan.coins_to_add))
            result.coins_added = list(plan.coins_to_add)
            self.log(f"event=coins_added day={day} coins={','.join(plan.coins_to_add)}")
        if not plan.coins:
            raise RunFailedError(f"{day}: no eligible coins in the universe, nothing to train")
        for number, block in enumerate(plan.history, 1):
            self._execute(
                "history_job",
                range_tags(str(coin_day_key(*block.start)), str(coin_day_key(*block.end))),
                f"history {number}/{len(plan.history)}: {block.label()} = {block.partitions} partitions",
                result,
                assets=[block.asset],
            )
        for number, (model_day, block) in enumerate(plan.models, 1):
            self._execute(
                "daily_coins_job",
                coins_range_tags(model_day, block),
                f"models rebuilt {number}/{len(plan.models)}: {model_day} {','.join(block)}",
                result,
                assets=["models"],
            )
        return list(plan.coins)

    def _model_storage(self) -> ModelIOManager | None:
        """Where the models are stored (the plan checks the earlier days' folders are there)."""
        storage = self.defs.resources.get("model_io_manager")
        return storage if isinstance(storage, ModelIOManager) else None

    def _history_storage(self) -> ParquetIOManager | None:
        """Where the look-back history is stored (the plan checks its files are whole)."""
        storage = self.defs.resources.get("io_manager")
        return storage if isinstance(storage, ParquetIOManager) else None

    def run_day(self, day: str, coins: list[str], result: DayResult) -> None:
        """The day itself: every coin in one run, then the day's reports and export.

        A stored partition the run refused (damaged, foreign: moved aside, its coin failed) is
        rebuilt at once: the plan is read again (it now finds the partition lost), its history or
        models are rebuilt, and the coins concerned run again, so one re-run of a damaged day
        repairs it. Once per day: what fails again stays failed, named."""
        run_id = self._execute(
            "daily_coins_job",
            coins_range_tags(day, coins),
            f"{day} all {len(coins)} coins",
            result,
        )
        refused = refused_partitions(self.instance, run_id)
        if refused:
            self.log(
                f"event=stored_partitions_refused day={day} count={len(refused)} rebuild={','.join(refused)}"
            )
            coins = self.prepare(day, result)
            again = {coin_of(label) for label in refused}
            for block in missing_blocks(coins, set(coins) - again):
                self._execute(
                    "daily_coins_job",
                    {**coins_range_tags(day, block), RERUN_OF_TAG: run_id},
                    f"{day} again after a rebuild: {','.join(block)}",
                    result,
                )
        self._execute("daily_reports_job", {"dagster/partition": day}, f"reports {day}", result)
        storage = self.defs.resources["json_io_manager"]
        assert isinstance(storage, JsonIOManager)
        result.champions = storage.read_partition(dg.AssetKey("champions"), day)
        result.export = storage.read_partition(dg.AssetKey("dropbox_export"), day)
        result.integrity = storage.read_partition(dg.AssetKey("data_integrity_report"), day)


def summary_lines(result: DayResult) -> list[str]:
    champions = result.champions
    export = result.export
    summary = {}
    location = Path(export.get("location", ""))
    summary_path = location / "reports" / "summary.json"
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
    # a champion whose stored model did not load and predict was dropped by the export
    dropped = export.get("champions_dropped", {})
    exported = sorted({c["coin"] + "/" + c["horizon"] for c in champions.get("champions", [])} - set(dropped))
    lines = [
        f"Huracan daily run for {result.day} ({result.seconds:.0f} s, {len(result.runs)} Dagster runs)",
        f"  coins in the universe : {champions.get('markets', 0)} markets, {len(champions.get('active_coins', []))} eligible",
        f"  coins trained         : {len(champions.get('trained_coins', []))}",
        f"  champions exported    : {len(exported)} ({', '.join(exported) or 'none'})",
    ]
    for name, reason in sorted(dropped.items()):
        lines.append(f"    - {name} dropped: {reason}")
    demotions = champions.get("demotions", [])
    lines.append(f"  champions demoted     : {len(demotions)}")
    for gone in demotions:
        lines.append(
            f"    - {gone['coin']}/{gone['horizon']} ({gone['engine']}@{gone['model_day']}): {gone['reason']}"
        )
    lines.append(f"  coins skipped         : {len(champions.get('no_champion', {}))}")
    for coin, reason in sorted(champions.get("no_champion", {}).items()):
        lines.append(f"    - {coin}: {reason}")
    dnt = champions.get("do_not_trade", [])
    lines.append(
        f"  do-not-trade          : {len(dnt)} coins ({', '.join(e['coin'] for e in dnt[:12])}{' …' if len(dnt) > 12 else ''})"
    )
    integrity = result.integrity
    totals = integrity.get("day_totals", integrity.get("totals", {}))
    if "day_totals" in integrity:
        lines.append(
            f"  data integrity        : {window_line(integrity['totals'], integrity.get('window', []))}"
        )
    lines.append(
        f"  the day itself        : {totals.get('coins_with_problems', 0)} coins with problems, "
        f"{totals.get('gaps_repaired', 0)} bars repaired, {totals.get('days_dropped', 0)} days dropped, "
        f"{totals.get('quarantined', 0)} quarantined, {totals.get('stale', 0)} stale, "
        f"{totals.get('missing', 0)} missing, {totals.get('outliers', 0)} outliers, "
        f"{totals.get('vendor_mismatches', 0)} vendor mismatches"
    )
    empty_days = result.integrity.get("look_back_universe", {}).get("days_without_eligible", [])
    if empty_days:
        shown = ", ".join(empty_days[:8]) + (
            f" and {len(empty_days) - 8} more" if len(empty_days) > 8 else ""
        )
        lines.append(f"  look-back days without an eligible coin (not blocking): {len(empty_days)} ({shown})")
    where = "dry run: nothing written" if export.get("dry_run") else export.get("location", "")
    lines.append(f"  export                : {where}")
    if summary:
        lines.append(
            f"  features_hash         : {summary.get('features_hash', '')[:16]}…  code_hash {summary.get('code_hash', '')[:16]}…"
        )
    return lines
