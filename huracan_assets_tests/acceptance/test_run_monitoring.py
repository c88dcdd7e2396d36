"""A crashed run never blocks the queue: under a real daemon, a run whose worker is killed with
SIGKILL is marked failed by run monitoring within its poll interval, and the queued run behind
it starts."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

pytestmark = pytest.mark.acceptance

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _launch(env: dict[str, str], job: str, tags: dict[str, str]) -> None:
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
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def _wait(what: str, seconds: float, predicate) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {seconds:.0f} s")


def test_a_killed_run_is_failed_by_monitoring_and_the_next_queued_run_starts(tmp_path: Path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    config = yaml.safe_load((REPO / "dagster_home" / "dagster.yaml").read_text())
    # one slot, so a dead run would block every other run
    config["run_coordinator"]["config"]["max_concurrent_runs"] = 1
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    poll_s = config["run_monitoring"]["poll_interval_seconds"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HURACAN_", "DAGSTER_"))}
    env |= {
        "DAGSTER_HOME": str(home),
        "HURACAN_CLOCK": "2025-11-21T00:00:00Z",
        "HURACAN_SIMULATOR__N_COINS": "4",
    }
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("coins", ["BTC", "ETH", "BNB", "SOL"])
    daemon = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # a long history run, then a short one queued behind it
        _launch(
            env,
            "history_job",
            {
                "dagster/asset_partition_range_start": "2025-01-01|BTC",
                "dagster/asset_partition_range_end": "2025-06-30|SOL",
            },
        )
        _launch(env, "universe_job", {"dagster/partition": "2025-11-20"})
        with dg.DagsterInstance.from_config(str(home)) as instance:
            runs = {r.job_name: r.run_id for r in instance.get_runs()}
            victim, waiting = runs["history_job"], runs["universe_job"]

            def worker_pid() -> int | None:
                records = instance.all_logs(victim, of_type=dg.DagsterEventType.RUN_START)
                return records[-1].dagster_event.pid if records and records[-1].dagster_event else None

            _wait("the history run starts", 180, lambda: worker_pid() is not None)
            assert instance.get_run_by_id(waiting).status == dg.DagsterRunStatus.QUEUED
            os.kill(worker_pid(), signal.SIGKILL)
            detected = _wait(
                "run monitoring marks the killed run failed",
                poll_s * 2 + 30,
                lambda: instance.get_run_by_id(victim).status == dg.DagsterRunStatus.FAILURE,
            )
            assert detected <= poll_s * 2 + 30
            _wait(
                "the queued run starts and succeeds",
                180,
                lambda: instance.get_run_by_id(waiting).status == dg.DagsterRunStatus.SUCCESS,
            )
            messages = [e.message for e in instance.all_logs(victim)]
            assert any("is gone (killed or crashed)" in m for m in messages), messages[-5:]
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
        shutil.rmtree(home / "storage", ignore_errors=True)
