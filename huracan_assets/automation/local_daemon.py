"""Drive a real ``dagster-daemon`` on a local instance until a day is exported (benchmark, tests).

The deployment is the one users run: the repository's ``workspace.yaml``, the daemon started as
a process, the automation sensors turned on with ``dagster sensor start``. Nothing here is used
by the code location itself.
"""

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus

from huracan_assets.automation.jobs import ACTIVE

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class DaemonError(RuntimeError):
    """The daemon exited, a run failed, or the day was not exported in time."""


def environment(home: Path, **huracan: str) -> dict[str, str]:
    """This process's environment without HURACAN_*/DAGSTER_* variables, plus ``DAGSTER_HOME``
    and ``HURACAN_<KEY>`` for each keyword (``CLOCK="..."`` -> ``HURACAN_CLOCK``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HURACAN_", "DAGSTER_"))}
    return {**env, "DAGSTER_HOME": str(home), **{f"HURACAN_{k.upper()}": str(v) for k, v in huracan.items()}}


def start_sensors(env: Mapping[str, str]) -> None:
    """Turn automation on, as a user does in the UI: every sensor of the code location."""
    done = subprocess.run(
        [str(BIN / "dagster"), "sensor", "start", "--start-all", "-w", "workspace.yaml"],
        cwd=REPO,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=180,
    )
    if done.returncode != 0:
        raise DaemonError(f"dagster sensor start failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")


def start_daemon(env: Mapping[str, str], out: Any = subprocess.DEVNULL) -> subprocess.Popen:
    """``dagster-daemon run`` on the repository's workspace, with ``env`` (its ``DAGSTER_HOME``)."""
    return subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"],
        cwd=REPO,
        env=dict(env),
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def busy(instance: dg.DagsterInstance) -> bool:
    """Runs queued or in flight, or backfills still requested."""
    if instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE), limit=1):
        return True
    return any(b.status == BulkActionStatus.REQUESTED for b in instance.get_backfills())


def run_until_exported(
    env: Mapping[str, str],
    exports: Path,
    day: str,
    log: Path,
    deadline_s: float = 900,
    settle_s: float = 15,
) -> float:
    """Run ``dagster-daemon`` until ``exports/LATEST`` names ``day`` and nothing has been queued,
    run or backfilled for ``settle_s`` (more than two sensor intervals). Returns the seconds until the day
    was exported. Raises DaemonError naming failed runs, with their failing steps."""
    from huracan_assets.automation.runs import run_failures

    home = env["DAGSTER_HOME"]
    with log.open("a") as out:
        process = start_daemon(env, out)
    started = time.monotonic()
    exported_after = None
    quiet_since = None
    try:
        with dg.DagsterInstance.from_config(home) as instance:
            while time.monotonic() - started < deadline_s:
                if process.poll() is not None:
                    raise DaemonError(f"dagster-daemon exited with {process.returncode}: see {log}")
                failed = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
                if failed:
                    raise DaemonError(
                        "failed runs: "
                        + "; ".join(
                            f"{r.job_name} {r.run_id}: {run_failures(instance, r.run_id)}" for r in failed
                        )
                    )
                latest = exports / "LATEST"
                exported = latest.exists() and latest.read_text().strip() == day
                if exported and exported_after is None:
                    exported_after = time.monotonic() - started
                quiet = exported and not busy(instance)
                quiet_since = (quiet_since or time.monotonic()) if quiet else None
                if quiet_since and time.monotonic() - quiet_since >= settle_s:
                    return exported_after or 0.0
                time.sleep(2)
        raise DaemonError(f"the daemon did not export {day} within {deadline_s:.0f} s: see {log}")
    finally:
        process.terminate()
        process.wait(timeout=60)
