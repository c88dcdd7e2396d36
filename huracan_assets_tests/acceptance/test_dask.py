"""Per-coin work on a real Dask cluster: ``dask scheduler`` and two ``dask worker`` processes on
127.0.0.1, driven by ``huracan daily`` with ``HURACAN_COMPUTE__MODE=dask``. One worker is killed
while it trains a coin; the scheduler reruns its task on the other worker, and the day's models
are byte for byte the ones an in-process run makes."""

import hashlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from huracan_assets.automation.local_daemon import BIN, REPO
from huracan_assets_tests.commands import free_port, huracan_daily

pytestmark = pytest.mark.acceptance

DAY = "2025-11-20"
COINS = "6"


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers, self.scheduler]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """``dask scheduler`` + two ``dask worker`` processes (one thread each, no nanny: a killed
    worker stays dead, so its tasks must move to the other one)."""
    from dask.distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path / "dask"
    logs.mkdir()
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    scheduler = subprocess.Popen(
        [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        stdout=(logs / "scheduler.log").open("w"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    running = Cluster(address, scheduler)
    try:
        for n in range(2):
            running.workers.append(
                subprocess.Popen(
                    [
                        str(BIN / "dask"),
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        "--no-dashboard",
                        "--name",
                        f"w{n}",
                        "--local-directory",
                        str(logs / f"w{n}"),
                    ],
                    stdout=(logs / f"worker{n}.log").open("w"),
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=REPO,
                )
            )
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield running
    finally:
        running.stop()


def _kill_a_worker_while_it_trains(address: str, stop: threading.Event, killed: list[int]) -> None:
    """Watch the scheduler; the moment a worker is processing a ``train_for_day`` task, SIGKILL it."""
    from dask.distributed import Client

    with Client(address, timeout=60) as client:
        pids = client.run(os.getpid)
        while not stop.is_set():
            for worker, keys in client.processing().items():
                if any(str(k).startswith("train_for_day-") for k in keys):
                    os.kill(pids[worker], signal.SIGKILL)
                    killed.append(pids[worker])
                    return
            time.sleep(0.02)


def _daily(root: Path, **settings: str) -> tuple[subprocess.CompletedProcess, Path]:
    done, storage = huracan_daily(root, DAY, SIMULATOR__N_COINS=COINS, **settings)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done, storage


def _model_files(storage: Path) -> dict[str, str]:
    """Every stored model file of the day (relative path -> sha256)."""
    folder = storage / "models" / f"date={DAY}"
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_day_on_a_dask_cluster_survives_a_killed_worker_and_matches_in_process(
    tmp_path: Path, cluster: Cluster
):
    stop, killed = threading.Event(), []
    watcher = threading.Thread(target=_kill_a_worker_while_it_trains, args=(cluster.address, stop, killed))
    watcher.start()
    try:
        on_dask, dask_storage = _daily(
            tmp_path / "dask", COMPUTE__MODE="dask", COMPUTE__DASK_ADDRESS=cluster.address
        )
    finally:
        stop.set()
        watcher.join(timeout=30)
    assert len(killed) == 1, "no worker was caught training: the models step never reached the cluster"
    assert sum(w.poll() is not None for w in cluster.workers) == 1  # the killed one stayed dead

    _, local_storage = _daily(tmp_path / "local")
    dask_models, local_models = _model_files(dask_storage), _model_files(local_storage)
    cbm = [name for name in local_models if name.endswith(".cbm")]
    assert cbm, "the in-process run trained no model"
    # every coin's models came back, byte for byte the in-process ones
    assert dask_models == local_models
    champions = [
        json.loads((storage / "champions" / f"date={DAY}" / "data.json").read_text())["champions"]
        for storage in (dask_storage, local_storage)
    ]
    assert champions[0] == champions[1]
    assert "Huracan daily run" in on_dask.stdout


def test_a_scheduler_that_does_not_answer_fails_the_step_naming_the_address(tmp_path: Path):
    address = f"tcp://127.0.0.1:{free_port()}"
    done, _ = huracan_daily(
        tmp_path, DAY, COMPUTE__MODE="dask", COMPUTE__DASK_ADDRESS=address, COMPUTE__CONNECT_TIMEOUT_S="2"
    )
    assert done.returncode != 0
    assert f"{address}: no Dask scheduler answered within 2 s" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
