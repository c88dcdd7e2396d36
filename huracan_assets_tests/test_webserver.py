"""The Dagster webserver starts on this code location and shows what a run made."""

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import httpx
import pytest

from huracan_assets.automation.instance import MINIMAL_DAGSTER_YAML
from huracan_assets.definitions import build_definitions
from huracan_assets.resources.market_data import MarketDataResource
from huracan_assets_tests.commands import free_port
from huracan_assets_tests.conftest import small_settings

REPO = Path(__file__).resolve().parents[1]


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    response = httpx.post(
        f"http://127.0.0.1:{port}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
    )
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def wait_for_webserver(process: subprocess.Popen, port: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"webserver exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.5)
    pytest.fail(f"webserver did not answer within {seconds:.0f} s")


@pytest.fixture
def webserver(tmp_path: Path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(MINIMAL_DAGSTER_YAML)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HURACAN_")}
    env["DAGSTER_HOME"] = str(home)
    # a universe partition made outside the server, on the same instance, as the CLI would
    with dg.DagsterInstance.from_config(str(home)) as instance:
        defs = build_definitions(
            small_settings(),
            market_data=MarketDataResource(sim_coins=4),
            storage_dir=str(tmp_path / "storage"),
        )
        assert (
            defs.resolve_job_def("universe_job")
            .execute_in_process(instance=instance, partition_key="2025-11-20")
            .success
        )
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_webserver",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_webserver(process, port)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_webserver_serves_the_code_location_and_its_history(webserver):
    port = webserver
    deadline = time.monotonic() + 90
    while True:  # the code location loads in the background after the server answers
        data = graphql(
            port,
            "{ repositoriesOrError { __typename ... on RepositoryConnection { nodes { name "
            "jobs { name description } schedules { name } sensors { name } } } } }",
        )
        nodes = data["repositoriesOrError"].get("nodes") or []
        if nodes or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert nodes, data
    repo = nodes[0]
    assert {"universe_job", "daily_coins_job", "history_job", "daily_reports_job"} <= {
        j["name"] for j in repo["jobs"]
    }
    # with only the webserver up a launched run waits in the queue: every job's page says why
    assert all(
        "dagster-daemon run" in j["description"] for j in repo["jobs"] if not j["name"].startswith("__")
    ), [j["name"] for j in repo["jobs"]]
    assert not repo["schedules"], "the daily flow is declarative automation"
    assert {"huracan_automation", "new_coin_sensor", "daily_flow_sensor"} <= {
        s["name"] for s in repo["sensors"]
    }

    assets = graphql(port, "{ assetNodes { assetKey { path } } }")["assetNodes"]
    keys = {"/".join(a["assetKey"]["path"]) for a in assets}
    assert {
        "coin_universe",
        "validated_bars",
        "models",
        "champions",
        "dropbox_export",
        "data_integrity_report",
    } <= keys

    history = graphql(
        port,
        '{ assetOrError(assetKey: {path: ["coin_universe"]}) { ... on Asset { assetMaterializations(limit: 5) { partition } } } }',
    )
    partitions = [m["partition"] for m in history["assetOrError"]["assetMaterializations"]]
    assert partitions == ["2025-11-20"]
