"""The deployment left alone: a real ``dagster-daemon`` with automation turned on runs a
simulated day by itself, picks up the two coins the market lists that day with their whole
history, and ends with the same champions, models and export as ``huracan daily``.

The day before is made by ``huracan daily`` on a fresh instance; the daemon's instance is a copy
of it, so the daemon starts from a deployment with history, as it does every day after the
first. (Its first day on an empty instance follows the same plan: every coin is new then, and
the new coins' path is the one this test runs.)

The simulated clock is explicit: ``HURACAN_CLOCK`` is the code location's "now" (its last day
partition is the last day the clock has closed), so moving to the next day is restarting the
daemon with the clock one day on, as midnight would do for a deployment on real time.
"""

import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from dagster._core.scheduler.instigation import TickStatus

from huracan_assets.automation.local_daemon import (
    BIN,
    REPO,
    DaemonError,
    environment,
    run_until_exported,
    start_daemon,
    start_sensors,
)
from huracan_assets_tests.commands import SMALL, logical_model_path

pytestmark = pytest.mark.acceptance

DAYS = [("2025-11-19", "2025-11-20T00:00:00Z", 4), ("2025-11-20", "2025-11-21T00:00:00Z", 6)]


def _environment(home: Path, exports: Path, clock: str, coins: int) -> dict[str, str]:
    return environment(
        home, **SMALL, CLOCK=clock, SIMULATOR__N_COINS=str(coins), PUBLISHER__EXPORT_ROOT=str(exports)
    )


def _new_home(root: Path) -> Path:
    home = root / "dagster_home"
    home.mkdir(parents=True)
    # the instance configuration that ships (queued runs, run monitoring, run retries)
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return home


@dataclass
class Deployment:
    home: Path
    exports: Path
    instance: dg.DagsterInstance


@pytest.fixture(scope="module")
def first_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The day before, through ``huracan daily`` on a fresh instance (the command's root)."""
    root = tmp_path_factory.mktemp("command")
    _new_home(root)
    _command_day(root, *DAYS[0])
    return root


def _command_day(root: Path, day: str, clock: str, coins: int) -> Path:
    done = subprocess.run(
        [str(BIN / "huracan"), "daily", "--date", day],
        cwd=REPO,
        env=_environment(root / "dagster_home", root / "exports", clock, coins),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def command_day(
    first_day: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Future[Path]]]:
    """A copy of the first day's root for the daemon, and the day itself through ``huracan daily``
    on the original, started in the background: the daemon's day is mostly waiting for its ticks."""
    seeded = tmp_path_factory.mktemp("daemon")
    shutil.copytree(first_day, seeded, dirs_exist_ok=True, symlinks=True)
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield seeded, pool.submit(_command_day, first_day, *DAYS[1])


@pytest.fixture(scope="module")
def deployment(command_day: tuple[Path, Future[Path]]) -> Iterator[Deployment]:
    root = command_day[0]
    home, exports, log = root / "dagster_home", root / "exports", root / "daemon.log"
    day, clock, coins = DAYS[1]
    env = _environment(home, exports, clock, coins)
    start_sensors(env)
    try:
        run_until_exported(env, exports, day, log)
    except DaemonError as error:
        pytest.fail(f"{day}: {error}\n{log.read_text()[-3000:]}")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield Deployment(home, exports, instance)


@pytest.fixture(scope="module")
def by_command(command_day: tuple[Path, Future[Path]]) -> Path:
    return command_day[1].result(timeout=1200)


def test_no_failed_tick_and_no_failed_run(deployment: Deployment):
    runs = deployment.instance.get_runs()
    assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), [
        (r.job_name, r.status) for r in runs if r.status != dg.DagsterRunStatus.SUCCESS
    ]
    states = deployment.instance.all_instigator_state()
    names = {s.instigator_name for s in states}
    assert {"huracan_automation", "new_coin_sensor", "daily_flow_sensor"} <= names
    ticks = [t for s in states for t in deployment.instance.get_ticks(s.instigator_origin_id, s.selector_id)]
    assert ticks, "the daemon evaluated no sensor"
    failed = [(t.instigator_name, t.error) for t in ticks if t.status == TickStatus.FAILURE]
    assert not failed, failed
    # the day's runs were the daemon's: requested by the sensors, none by the command
    day = DAYS[1][0]
    launched = {
        r.tags.get("dagster/sensor_name")
        for r in runs
        if r.tags.get("huracan/day") == day or r.tags.get("dagster/partition") == day
    }
    assert {"huracan_automation", "new_coin_sensor", "daily_flow_sensor"} <= launched, launched


def test_daemon_picked_up_two_new_coins_with_their_history(deployment: Deployment):
    coins = list(deployment.instance.get_dynamic_partitions("coins"))
    assert len(coins) == 6, coins
    new = coins[4:]
    storage = deployment.home / "storage" / "huracan"
    for coin in new:
        history = sorted((storage / "validated_bars").glob(f"date=*/symbol={coin}/data.parquet"))
        # the whole look-back window before the second day, plus both days' own bars at most
        assert len(history) >= 10, (coin, len(history))
        rows = [len(pd.read_parquet(p)) for p in history]
        assert min(rows) > 0, (coin, rows)
        models = json.loads(
            (storage / "models" / "date=2025-11-20" / f"symbol={coin}" / "bundle.json").read_text()
        )
        assert models["status"] == "trained", models.get("reason")
    # their history came from new_coin_sensor: one range run per history asset over both coins, each
    # over their whole window (multi-partition ranges are rectangles), not a run per day
    history_runs = [r for r in deployment.instance.get_runs() if r.tags.get("huracan/coins") == ",".join(new)]
    assert len(history_runs) == 3, [(r.job_name, r.tags) for r in history_runs]
    for run in history_runs:
        start, end = (
            run.tags["dagster/asset_partition_range_start"],
            run.tags["dagster/asset_partition_range_end"],
        )
        assert start.split("|")[0] < end.split("|")[0], (start, end)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _models(root: Path, day: str) -> dict[str, str]:
    folder = root / "storage" / "huracan" / "models" / f"date={day}"
    return {logical_model_path(p.relative_to(folder)): _digest(p) for p in sorted(folder.rglob("*.cbm"))}


def _export(exports: Path, day: str) -> dict[str, str]:
    manifest = json.loads((exports / day / "manifest.json").read_text())
    # reports that carry the creation time differ by their timestamps only
    return {f["path"]: f["sha256"] for f in manifest["files"] if f["path"].endswith((".cbm", "ranking.json"))}


def test_daemon_results_equal_the_command(deployment: Deployment, by_command: Path):
    for day, _, _ in DAYS[1:]:  # the first day is the command's in both
        daemon_models = _models(deployment.home, day)
        assert daemon_models and daemon_models == _models(by_command / "dagster_home", day), day
        assert _export(deployment.exports, day) == _export(by_command / "exports", day), day
        daemon_champions = json.loads((deployment.exports / day / "reports" / "ranking.json").read_text())
        command_champions = json.loads(
            (by_command / "exports" / day / "reports" / "ranking.json").read_text()
        )
        assert daemon_champions == command_champions


LAUNCH = (
    "mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename "
    "... on LaunchRunSuccess { run { runId } } ... on PythonError { message stack } } }"
)
STALE = (
    "query($key: AssetKeyInput!, $partition: String!) { assetNodeOrError(assetKey: $key) { "
    "... on AssetNode { staleStatus(partition: $partition) "
    "staleCauses(partition: $partition) { key { path } partitionKey reason } } } }"
)


def _stale(port: int, asset: str, partition: str) -> tuple[str, list[tuple[str, str, str]]]:
    """(staleStatus, [(asset, partition, reason) of each root cause]) as the UI shows them."""
    from huracan_assets_tests.test_webserver import graphql

    node = graphql(port, STALE, {"key": {"path": [asset]}, "partition": partition})["assetNodeOrError"]
    causes = [("/".join(c["key"]["path"]), c["partitionKey"] or "", c["reason"]) for c in node["staleCauses"]]
    return node["staleStatus"], causes


def _partition_run(job: str, day: str, coin: str) -> dict:
    """launchRun's parameters for one job over one day|coin partition, as the UI's launchpad sends them."""
    tags = {
        "dagster/partition": f"{day}|{coin}",
        "dagster/partition/date": day,
        "dagster/partition/symbol": coin,
    }
    return {
        "selector": {"repositoryLocationName": "huracan", "repositoryName": "__repository__", "jobName": job},
        "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
    }


def _wait_for_run(home: Path, run_id: str, seconds: float = 300) -> dg.DagsterRun:
    deadline = time.monotonic() + seconds
    with dg.DagsterInstance.from_config(str(home)) as instance:
        while time.monotonic() < deadline:
            run = instance.get_run_by_id(run_id)
            if run is not None and run.is_finished:
                return run
            time.sleep(2)
    pytest.fail(f"run {run_id} did not finish within {seconds:.0f} s")


def test_a_run_of_the_command_is_listed_under_its_job_and_reexecutes_from_the_ui(by_command: Path):
    """The webserver lists the command's runs under the code location's job and re-executes one
    (``launchRunReexecution``); the daemon dequeues it and it succeeds. Then the UI's lineage:
    what a rebuilt coin-day makes stale, down to the export."""
    from huracan_assets_tests.test_webserver import free_port, graphql, wait_for_webserver

    home = by_command / "dagster_home"
    day, clock, coins = DAYS[-1]
    env = _environment(home, by_command / "exports", clock, coins)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        coins_added = list(instance.get_dynamic_partitions("coins"))[4:]
        # the labels history of the coins the second day added: a run huracan daily made
        (parent,) = [
            r
            for r in instance.get_runs(filters=dg.RunsFilter(job_name="history_job"))
            if r.tags.get("dagster/asset_partition_range_end") == f"2025-11-19|{coins_added[-1]}"
            and r.asset_selection == {dg.AssetKey("labels")}
        ]
    port = free_port()
    webserver = subprocess.Popen(
        [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    daemon = start_daemon(env)
    try:
        wait_for_webserver(webserver, port)
        listed = graphql(
            port,
            '{ pipelineOrError(params: {repositoryLocationName: "huracan", repositoryName: "__repository__", '
            'pipelineName: "history_job"}) { __typename ... on Pipeline { runs { runId } } } }',
        )["pipelineOrError"]
        assert listed["__typename"] == "Pipeline", listed
        assert parent.run_id in {r["runId"] for r in listed["runs"]}
        launched = graphql(
            port,
            "mutation($id: String!) { launchRunReexecution(reexecutionParams: {parentRunId: $id, strategy: ALL_STEPS})"
            " { __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message stack } } }",
            {"id": parent.run_id},
        )["launchRunReexecution"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run = _wait_for_run(home, launched["run"]["runId"])
        assert run.status == dg.DagsterRunStatus.SUCCESS, run.status
        assert run.parent_run_id == parent.run_id and run.tags.get("dagster/asset_partition_range_start")

        # lineage: the same logic (code version) on the same inputs gives the same data version, so
        # re-executing the labels history changed nothing downstream
        coin = coins_added[-1]
        assert _stale(port, "models", f"{day}|{coin}") == ("FRESH", [])
        # one coin-day rebuilt from the market: its bars get a new data version (a content hash),
        # and everything that reads them directly, or reads what was rebuilt, is stale, the export too
        launched = graphql(port, LAUNCH, {"params": _partition_run("daily_coins_job", day, coin)})[
            "launchRun"
        ]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        assert _wait_for_run(home, launched["run"]["runId"]).status == dg.DagsterRunStatus.SUCCESS
        for asset in ("champions", "data_integrity_report", "dropbox_export"):
            status, causes = _stale(port, asset, day)
            assert status == "STALE", (asset, status)
            # the root cause is the rebuilt coin-day's new bars or what was rebuilt from them
            assert any(partition == f"{day}|{coin}" for _, partition, _ in causes), (asset, causes)
        assert _stale(port, "scores", f"{day}|{coin}")[0] == "FRESH"
        # a coin that was not rebuilt is not stale
        assert _stale(port, "models", f"{day}|{coins_added[0]}") == ("FRESH", [])
    finally:
        for process in (daemon, webserver):
            process.terminate()
            process.wait(timeout=60)


def test_the_daemons_day_runs_carry_the_one_day_at_a_time_tag(deployment: Deployment):
    """The queue (the shipped dagster.yaml's tag_concurrency_limits, loaded by this daemon) starts
    one run with this tag at a time: the daemon's day runs must carry it."""
    from huracan_assets.automation.jobs import DAY_FLOW_TAG

    day_runs = [  # the daemon's (the day before's are the command's, copied with the instance)
        r
        for r in deployment.instance.get_runs()
        if r.job_name in ("daily_coins_job", "daily_reports_job") and r.tags.get("dagster/sensor_name")
    ]
    assert day_runs and all(r.tags.get(DAY_FLOW_TAG) for r in day_runs), [
        (r.job_name, r.tags) for r in day_runs
    ]
    history = [
        r
        for r in deployment.instance.get_runs()
        if r.job_name == "history_job" and r.tags.get("dagster/sensor_name")
    ]
    assert history and not any(DAY_FLOW_TAG in r.tags for r in history)
