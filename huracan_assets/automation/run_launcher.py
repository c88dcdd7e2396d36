"""The run launcher of the single-machine deployment (``dagster_home/dagster.yaml``).

Dagster's ``DefaultRunLauncher`` starts each run's worker process through the code server but
cannot tell the daemon's run monitoring whether that process is still alive, so a run whose
worker was killed stays ``STARTED`` and keeps its slot in the queue until ``max_runtime_seconds``.
This launcher is the default one plus that answer: the worker's process id is recorded on the
run's ``RUN_START`` event, and a process that no longer exists (or is a zombie) is a failed
worker. It only holds where the daemon and the workers share one machine, which is what this
instance configuration is for; a cluster uses its own launcher (Kubernetes, Docker, ...).
"""

import os
from pathlib import Path

import dagster as dg
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (killed, not yet reaped by its parent) is not alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        # the state is the first field after the parenthesised command name
        return stat.read_text().rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
    return True


class LocalRunLauncher(dg.DefaultRunLauncher):
    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        records = self._instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_START)
        event = records[-1].dagster_event if records else None
        pid = event.pid if event is not None else None
        if pid is None:
            # not started yet: the monitoring's start timeout covers a worker that never starts
            return CheckRunHealthResult(WorkerStatus.RUNNING, "worker has not reported yet")
        if process_alive(pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"worker process {pid} is running")
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"worker process {pid} of run {run.run_id} is gone (killed or crashed)"
        )
