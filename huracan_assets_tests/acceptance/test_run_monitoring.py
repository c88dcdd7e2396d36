"""A crashed run never blocks the queue: under a real daemon (one run slot, so a dead run would
block every other run), a run whose process is killed with SIGKILL is marked failed within the
monitoring interval, and the queued run behind it starts.

Two kinds of process die here: the worker the daemon launched for a run (its code server sees
the signal), and ``huracan daily`` itself, which executes its runs in its own process (only run
monitoring can see that: ``LocalRunLauncher`` checks the worker's process id)."""

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml

from huracan_assets.automation.local_daemon import BIN, REPO, environment, start_daemon

pytestmark = pytest.mark.acceptance


@dataclass
class Deployment:
    home: Path
    env: dict[str, str]
    poll_s: int

    def launch(self, job: str, tags: dict[str, str]) -> None:
        done = subprocess.run(
            [
                str(BIN / "dagster"),
                "job",
                "launch",
                "-j",
                job,
                "-w",
                "workspace.yaml",
                "--tags",
                json.dumps(tags),
            ],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def _wait(what: str, seconds: float, predicate: Callable[[], bool]) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {seconds:.0f} s")


def _worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    records = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_START)
    return records[-1].dagster_event.pid if records and records[-1].dagster_event else None


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = yaml.safe_load((REPO / "dagster_home" / "dagster.yaml").read_text())
    config["run_coordinator"]["config"]["max_concurrent_runs"] = 1
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    env = environment(
        home,
        CLOCK="2025-11-21T00:00:00Z",
        SIMULATOR__N_COINS="4",
        LOOKBACK_DAYS="60",
        PUBLISHER__EXPORT_ROOT=str(tmp_path / "exports"),
    )
    daemon = start_daemon(env)
    try:
        yield Deployment(home, env, config["run_monitoring"]["poll_interval_seconds"])
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)


def _queued_run_starts_after_the_dead_one(deployment: Deployment, victim: str, waiting: str) -> list[str]:
    with dg.DagsterInstance.from_config(str(deployment.home)) as instance:
        detected = _wait(
            "the killed run is marked failed",
            deployment.poll_s * 2 + 30,
            lambda: instance.get_run_by_id(victim).status == dg.DagsterRunStatus.FAILURE,
        )
        assert detected <= deployment.poll_s * 2 + 30
        _wait(
            "the queued run starts and succeeds",
            240,
            lambda: instance.get_run_by_id(waiting).status == dg.DagsterRunStatus.SUCCESS,
        )
        return [e.message for e in instance.all_logs(victim)]


def test_a_killed_worker_fails_its_run_and_the_next_queued_run_starts(deployment: Deployment):
    with dg.DagsterInstance.from_config(str(deployment.home)) as instance:
        instance.add_dynamic_partitions("coins", ["BTC", "ETH", "BNB", "SOL"])
    deployment.launch(
        "history_job",
        {
            "dagster/asset_partition_range_start": "2025-01-01|BTC",
            "dagster/asset_partition_range_end": "2025-06-30|SOL",
        },
    )
    deployment.launch("universe_job", {"dagster/partition": "2025-11-20"})
    with dg.DagsterInstance.from_config(str(deployment.home)) as instance:
        runs = {r.job_name: r.run_id for r in instance.get_runs()}
        victim, waiting = runs["history_job"], runs["universe_job"]
        _wait("the history run starts", 180, lambda: _worker_pid(instance, victim) is not None)
        assert instance.get_run_by_id(waiting).status == dg.DagsterRunStatus.QUEUED
        os.kill(_worker_pid(instance, victim), signal.SIGKILL)
    messages = _queued_run_starts_after_the_dead_one(deployment, victim, waiting)
    assert any("terminated by signal 9" in m or "is gone" in m for m in messages), messages[-3:]


def test_a_killed_huracan_daily_does_not_hold_the_queue(deployment: Deployment):
    command = subprocess.Popen(
        [str(BIN / "huracan"), "daily", "--date", "2025-11-20"],
        cwd=REPO,
        env=deployment.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with dg.DagsterInstance.from_config(str(deployment.home)) as instance:

            def history_run() -> str | None:
                runs = instance.get_runs(
                    filters=dg.RunsFilter(job_name="history_job", statuses=[dg.DagsterRunStatus.STARTED])
                )
                return runs[0].run_id if runs else None

            _wait("huracan daily starts its history run", 180, lambda: history_run() is not None)
            victim = history_run()
            assert _worker_pid(instance, victim) == command.pid  # the command executes its runs itself
            os.kill(command.pid, signal.SIGKILL)
            command.wait(timeout=30)
            deployment.launch("universe_job", {"dagster/partition": "2025-11-19"})
            waiting = instance.get_runs(filters=dg.RunsFilter(job_name="universe_job"))[0].run_id
        messages = _queued_run_starts_after_the_dead_one(deployment, victim, waiting)
        assert any(f"worker process {command.pid} of run {victim} is gone" in m for m in messages), messages[
            -3:
        ]
    finally:
        command.kill()
