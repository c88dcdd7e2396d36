"""The scale-out pieces, through the command users run: per-coin work on a real Dask cluster
and run metrics on a real Prometheus Pushgateway.

* ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1 run a day for ``huracan daily``
  (``HURACAN_COMPUTE__MODE=dask``). One worker is killed while it trains a coin; the scheduler
  reruns its task on the other, and the day's models are byte for byte the in-process day's.
* The in-process day pushes its metrics to Debian's ``prometheus-pushgateway`` on 127.0.0.1
  (``HURACAN_METRICS__PUSHGATEWAY_URL``); they are read back from its ``/metrics`` and checked
  against what the day wrote.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from huracan_assets.automation.local_daemon import BIN, REPO
from huracan_assets.resources.metrics import MetricsResource
from huracan_assets_tests.commands import SMALL, free_port, huracan_daily, logical_model_path

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
    """Watch the scheduler; the moment a worker is processing a ``train_and_stage`` task (the models step), SIGKILL it."""
    from dask.distributed import Client

    with Client(address, timeout=60) as client:
        pids = client.run(os.getpid)
        while not stop.is_set():
            for worker, keys in client.processing().items():
                if any(str(k).startswith("train_and_stage-") for k in keys):
                    os.kill(pids[worker], signal.SIGKILL)
                    killed.append(pids[worker])
                    return
            time.sleep(0.02)


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp_path = tmp_path_factory.mktemp("pushgateway")
    binary = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
    assert binary, "prometheus-pushgateway is not installed (.ci/run installs the Debian package)"
    url = f"http://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [binary, f"--web.listen-address={url.removeprefix('http://')}"],
        stdout=(tmp_path / "pushgateway.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=2).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, (
                    tmp_path / "pushgateway.log"
                ).read_text()
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def _samples(url: str) -> dict[tuple[str, frozenset], float]:
    text = urllib.request.urlopen(f"{url}/metrics", timeout=10).read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("huracan_")
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    matches = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert len(matches) == 1, f"{name} {labels}: {len(matches)} samples"
    return matches[0]


def _daily(root: Path, **settings: str) -> tuple[subprocess.CompletedProcess, Path]:
    done, storage = huracan_daily(root, DAY, SIMULATOR__N_COINS=COINS, **settings)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done, storage


@dataclass
class Day:
    root: Path
    done: subprocess.CompletedProcess
    storage: Path
    samples: dict


@pytest.fixture(scope="module")
def in_process_day(tmp_path_factory: pytest.TempPathFactory, pushgateway: str) -> Day:
    """The day in process (the default), pushing its metrics: the reference for the Dask day."""
    root = tmp_path_factory.mktemp("in_process")
    done, storage = _daily(root, METRICS__PUSHGATEWAY_URL=pushgateway)
    return Day(root, done, storage, _samples(pushgateway))


def _model_files(storage: Path) -> dict[str, str]:
    """Every stored model file of the day (relative path -> sha256)."""
    folder = storage / "models" / f"date={DAY}"
    return {
        logical_model_path(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_a_day_on_a_dask_cluster_survives_a_killed_worker_and_matches_in_process(
    tmp_path: Path, cluster: Cluster, in_process_day: Day
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

    local_storage = in_process_day.storage
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


def test_a_day_pushes_its_run_metrics_and_logs_each_champion_decision(in_process_day: Day):
    storage = in_process_day.storage
    champions = json.loads((storage / "champions" / f"date={DAY}" / "data.json").read_text())
    export = json.loads((storage / "dropbox_export" / f"date={DAY}" / "data.json").read_text())
    samples = in_process_day.samples

    daily = {"job": "huracan", "dagster_job": "daily_coins_job"}
    reports = {"job": "huracan", "dagster_job": "daily_reports_job"}
    # one histogram observation per coin trained on the day, and every run and step succeeded
    trained = len(champions["trained_coins"])
    assert trained > 0
    assert _value(samples, "huracan_train_seconds_count", **daily) == trained
    assert _value(samples, "huracan_train_seconds_sum", **daily) > 0
    for job in ("universe_job", "history_job", "daily_coins_job", "daily_reports_job"):
        assert _value(samples, "huracan_runs_total", dagster_job=job, status="success") == 1
    assert _value(samples, "huracan_steps_total", **daily, step="models", status="success") == 1
    assert not [k for k in samples if k[0] == "huracan_steps_total" and ("status", "failure") in k[1]]
    assert _value(samples, "huracan_export_bytes_total", **reports) == export["bytes_written"] > 0
    # the history the day's steps read: every partition of the models' look-back window was stored
    # (a hit), one per coin x day of the window for each of features and labels
    window = trained * int(SMALL["LOOKBACK_DAYS"])
    for asset in ("features", "labels"):
        hits = _value(samples, "huracan_history_partitions_loaded_total", **daily, asset=asset, served="hit")
        assert hits >= window, (asset, hits, window)
    assert not [
        k
        for k in samples
        if k[0] == "huracan_history_partitions_loaded_total" and ("served", "refused") in k[1]
    ]
    assert _value(samples, "huracan_run_last_finished_timestamp_seconds", **reports) > time.time() - 900

    # a DecisionEvent line per decision: each coin left without a champion is a skip with its reason
    kinds = {
        kind: _value(samples, "huracan_champion_decisions_total", **reports, kind=kind)
        for kind in ("promotion", "keep", "demotion", "skip")
        if any(k[0] == "huracan_champion_decisions_total" and ("kind", kind) in k[1] for k in samples)
    }
    assert kinds.get("skip", 0) == len(champions["no_champion"])
    assert kinds.get("promotion", 0) + kinds.get("keep", 0) == len(champions["champions"])
    instance = dg.DagsterInstance.from_config(str(in_process_day.root / "home"))
    run = instance.get_runs(filters=dg.RunsFilter(job_name="daily_reports_job"), limit=1)[0]
    lines = [r.user_message for r in instance.all_logs(run.run_id) if r.user_message.startswith("event=")]
    for coin, reason in champions["no_champion"].items():
        assert f"event=skip day={DAY} coin={coin} reason={reason!r}" in lines


@dg.asset
def trivial(metrics: MetricsResource) -> int:
    metrics.run.export_bytes.inc(1)
    return 1


def test_a_pushgateway_that_does_not_answer_costs_a_warning_not_the_run(tmp_path: Path):
    dead = f"http://127.0.0.1:{free_port()}"
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [trivial], instance=instance, resources={"metrics": MetricsResource(pushgateway_url=dead)}
        )
        assert result.success
        warnings = [
            r.user_message
            for r in instance.all_logs(result.run_id)
            if "metrics_push_failed" in r.user_message
        ]
    assert len(warnings) == 1 and f"pushgateway={dead}" in warnings[0]


def test_a_scheduler_that_does_not_answer_fails_the_step_naming_the_address(tmp_path: Path):
    address = f"tcp://127.0.0.1:{free_port()}"
    done, _ = huracan_daily(
        tmp_path, DAY, COMPUTE__MODE="dask", COMPUTE__DASK_ADDRESS=address, COMPUTE__CONNECT_TIMEOUT_S="2"
    )
    assert done.returncode != 0
    assert f"{address}: no Dask scheduler answered within 2 s" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
