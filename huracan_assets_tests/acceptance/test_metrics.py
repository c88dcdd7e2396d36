"""Run metrics reach a real Prometheus Pushgateway (the Debian ``prometheus-pushgateway``, started
on 127.0.0.1): ``huracan daily`` with ``HURACAN_METRICS__PUSHGATEWAY_URL`` set, then the metrics
read back from the gateway's ``/metrics`` and checked against what the day wrote."""

import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from huracan_assets.resources.metrics import MetricsResource
from huracan_assets_tests.commands import free_port, huracan_daily

pytestmark = pytest.mark.acceptance

DAY = "2025-11-20"


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
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


def test_a_day_pushes_its_run_metrics_and_logs_each_champion_decision(tmp_path: Path, pushgateway: str):
    done, storage = huracan_daily(tmp_path, DAY, SIMULATOR__N_COINS="5", METRICS__PUSHGATEWAY_URL=pushgateway)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    champions = json.loads((storage / "champions" / f"date={DAY}" / "data.json").read_text())
    export = json.loads((storage / "dropbox_export" / f"date={DAY}" / "data.json").read_text())
    samples = _samples(pushgateway)

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
    assert _value(samples, "huracan_run_last_finished_timestamp_seconds", **reports) > time.time() - 900

    # a DecisionEvent line per decision: each coin left without a champion is a skip with its reason
    kinds = {
        kind: _value(samples, "huracan_champion_decisions_total", **reports, kind=kind)
        for kind in ("promotion", "keep", "demotion", "skip")
        if any(k[0] == "huracan_champion_decisions_total" and ("kind", kind) in k[1] for k in samples)
    }
    assert kinds.get("skip", 0) == len(champions["no_champion"])
    assert kinds.get("promotion", 0) + kinds.get("keep", 0) == len(champions["champions"])
    instance = dg.DagsterInstance.from_config(str(tmp_path / "home"))
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
