"""``deploy/run-local.sh`` starts the whole deployment as plain processes on 127.0.0.1 (PostgreSQL,
a Dask scheduler and two workers, the code server, webserver and daemon, on ``deploy/dagster.yaml``),
a run launched from the webserver goes through the queue, the daemon and the code server into
PostgreSQL, and ``stop`` leaves no process behind. ``deploy/docker-compose.yaml`` and the
Dockerfile run the script's own ``run NAME`` for each service."""

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
import pytest
import yaml

from huracan_assets.automation.local_daemon import REPO, environment
from huracan_assets.config.settings import HuracanSettings
from huracan_assets_tests.commands import SMALL
from huracan_assets_tests.postgres_server import shared_folder
from huracan_assets_tests.test_webserver import graphql

pytestmark = pytest.mark.acceptance

SCRIPT = REPO / "deploy" / "run-local.sh"
SERVICES = ["postgres", "scheduler", "worker-1", "worker-2", "code-server", "webserver", "daemon"]
DAY = "2025-11-20"
# dask once this checkout's settings know compute.mode (issue 9); until then the runs stay in process
COMPUTE = "dask" if "compute" in HuracanSettings.model_fields else "in_process"

LOCATION = (
    "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus locationOrLoadError { "
    "__typename ... on RepositoryLocation { repositories { name jobs { name } } } } } } } }"
)
DAEMONS = "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"
LAUNCH = (
    "mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename "
    "... on LaunchRunSuccess { run { runId } } ... on PythonError { message stack } } }"
)
RUN_STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


@dataclass
class Deployment:
    state: Path
    env: dict[str, str]
    settings: dict[str, str]  # deploy.env: the ports the script chose
    pids: dict[str, int]

    @property
    def web_port(self) -> int:
        return int(self.settings["HURACAN_DEPLOY_WEB_PORT"])

    def instance_env(self) -> dict[str, str]:
        lines = (self.state / "instance.env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if line)


def _script(command: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), command], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def _group_alive(pid: int) -> bool:
    """A process of the service's process group (the service and its children) still exists."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    state = shared_folder("huracan-deploy-")  # the PostgreSQL server's user must reach it
    env = environment(
        state / "dagster_home",
        **SMALL,
        SIMULATOR__N_COINS="4",
        DEPLOY_STATE=str(state),
        DEPLOY_COMPUTE=COMPUTE,
    )
    try:
        started = _script("start", env)
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        settings = dict(line.split("=", 1) for line in (state / "deploy.env").read_text().splitlines())
        pids = {name: int((state / "pids" / f"{name}.pid").read_text()) for name in SERVICES}
        yield Deployment(state, env, settings, pids)
    finally:
        # test_stop_ends_every_process stops it; this is for a failure or a run of one test
        _script("stop", env)
        shutil.rmtree(state, ignore_errors=True)


def test_start_prints_the_addresses_and_every_service_runs(deployment: Deployment):
    assert all(_group_alive(pid) for pid in deployment.pids.values()), deployment.pids
    status = _script("status", deployment.env, timeout=60)
    assert status.returncode == 0, status.stdout
    assert [line.split()[:3] for line in status.stdout.splitlines()[: len(SERVICES)]] == [
        [name, str(deployment.pids[name]), "running"] for name in SERVICES
    ]
    # PostgreSQL runs as its own unprivileged user when the script runs as root
    owner = Path(f"/proc/{deployment.pids['postgres']}").stat().st_uid
    assert owner != 0


def test_the_code_server_gets_the_callers_settings_and_the_compute_mode(deployment: Deployment):
    environ = dict(
        item.split("=", 1)
        for item in Path(f"/proc/{deployment.pids['code-server']}/environ").read_text().split("\0")
        if "=" in item
    )
    assert environ["HURACAN_SIMULATOR__N_COINS"] == "4"
    assert environ["DAGSTER_HOME"] == str(deployment.state / "dagster_home")
    assert not [k for k in environ if k.startswith("HURACAN_DEPLOY_")]
    if COMPUTE == "dask":
        address = f"tcp://127.0.0.1:{deployment.settings['HURACAN_DEPLOY_DASK_PORT']}"
        assert (environ["HURACAN_COMPUTE__MODE"], environ["HURACAN_COMPUTE__DASK_ADDRESS"]) == (
            "dask",
            address,
        )
    else:
        assert "HURACAN_COMPUTE__MODE" not in environ


def test_two_dask_workers_of_one_thread_each(deployment: Deployment):
    from distributed import Client

    address = f"tcp://127.0.0.1:{deployment.settings['HURACAN_DEPLOY_DASK_PORT']}"
    with Client(address, timeout=30) as client:
        workers = client.scheduler_info()["workers"]
    assert sorted(w["name"] for w in workers.values()) == ["worker-1", "worker-2"]
    assert [w["nthreads"] for w in workers.values()] == [1, 1]
    assert all(address.startswith("tcp://127.0.0.1:") for address in workers)


def test_the_webserver_loads_the_code_location_and_the_daemon_is_healthy(deployment: Deployment):
    (entry,) = graphql(deployment.web_port, LOCATION)["workspaceOrError"]["locationEntries"]
    assert (entry["name"], entry["loadStatus"]) == ("huracan", "LOADED"), entry
    (repository,) = entry["locationOrLoadError"]["repositories"]
    jobs = {job["name"] for job in repository["jobs"]}
    assert {"universe_job", "history_job", "daily_coins_job", "daily_reports_job"} <= jobs
    deadline = time.monotonic() + 90
    while True:
        statuses = graphql(deployment.web_port, DAEMONS)["instance"]["daemonHealth"]["allDaemonStatuses"]
        unhealthy = [s["daemonType"] for s in statuses if s["required"] and not s["healthy"]]
        if not unhealthy or time.monotonic() > deadline:
            break
        time.sleep(2)
    required = {s["daemonType"] for s in statuses if s["required"]}
    assert required >= {"QUEUED_RUN_COORDINATOR", "MONITORING", "SENSOR", "SCHEDULER"}
    assert unhealthy == []


def test_a_run_launched_from_the_webserver_succeeds_and_lands_in_postgres(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
):
    params = {
        "selector": {
            "repositoryLocationName": "huracan",
            "repositoryName": "__repository__",
            "jobName": "universe_job",
        },
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": DAY}]},
    }
    launched = graphql(deployment.web_port, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + 240
    status = None
    while time.monotonic() < deadline:
        status = graphql(deployment.web_port, RUN_STATUS, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(1)
    log = (deployment.state / "logs" / "daemon.log").read_text()[-3000:]
    assert status == "SUCCESS", (status, log)

    # the same run, read from PostgreSQL with the variables the script left for a shell
    for key, value in deployment.instance_env().items():
        monkeypatch.setenv(key, value)
    with dg.DagsterInstance.from_config(os.environ["DAGSTER_HOME"]) as instance:
        from dagster_postgres import PostgresRunStorage

        assert isinstance(instance.run_storage, PostgresRunStorage)
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        # queued by the webserver, dequeued by the daemon, launched by the code server
        types = [e.dagster_event_type for e in instance.all_logs(run_id)]
        assert types.index(dg.DagsterEventType.RUN_ENQUEUED) < types.index(dg.DagsterEventType.RUN_START)
        event = instance.get_latest_materialization_event(dg.AssetKey("coin_universe"))
        assert event is not None and event.run_id == run_id
        assert event.asset_materialization.partition == DAY
    home = deployment.state / "dagster_home"
    assert not (home / "history").exists() and not (home / "schedules").exists()


def test_stop_ends_every_process(deployment: Deployment):
    """Webserver, daemon, code server (and any run worker it started), workers, scheduler and
    PostgreSQL: no process of any service's process group is left, and the ports are closed."""
    stopped = _script("stop", deployment.env, timeout=400)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert [name for name, pid in deployment.pids.items() if _group_alive(pid)] == []
    assert list((deployment.state / "pids").iterdir()) == []
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{deployment.web_port}/server_info", timeout=2)
    status = _script("status", deployment.env, timeout=60)
    assert status.returncode == 1 and status.stdout.count("stopped") == len(SERVICES), status.stdout


def test_compose_and_dockerfile_run_the_scripts_commands():
    """Each container runs ``run-local.sh run NAME`` for one of the script's services, all of them."""
    compose = yaml.safe_load((REPO / "deploy" / "docker-compose.yaml").read_text())
    commands = sorted(service["command"][0] for service in compose["services"].values())
    assert commands == sorted(SERVICES)
    assert all(len(service["command"]) == 1 for service in compose["services"].values())
    assert {service.get("network_mode") for service in compose["services"].values()} == {"host"}
    dockerfile = (REPO / "deploy" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["deploy/run-local.sh", "run"]' in dockerfile
