"""Prometheus metrics of each run, pushed to a Pushgateway when the run's steps are done.

One registry per run (``setup_for_execution``), pushed from ``teardown_after_execution``: that
is the end of the run's execution in every process that executes runs (``huracan daily``, the
daemon's run workers), since every job runs its steps in one process. The push replaces the
Pushgateway group ``{job="huracan", dagster_job=<job>}``: what it holds is the last run of each
job, with the time it finished (``huracan_run_last_finished_timestamp_seconds``), as Prometheus
recommends for batch jobs. Prometheus scrapes the Pushgateway; nothing is pushed when
``metrics.pushgateway_url`` is empty.

A Pushgateway that does not answer costs one warning line in the run's log; it never fails a
run whose work is done.
"""

from __future__ import annotations

import time
from typing import Any

import dagster as dg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, push_to_gateway
from pydantic import PrivateAttr

# CatBoost fits of one coin-day take from a fraction of a second (tests) to minutes (production)
TRAIN_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
PUSH_TIMEOUT_S = 10.0


class RunMetrics:
    """The metrics of one run, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.train_seconds = Histogram(
            "huracan_train_seconds",
            "Wall time of one coin-day's training (every engine x horizon x regime fit)",
            buckets=TRAIN_BUCKETS,
            registry=r,
        )
        self.runs = Counter("huracan_runs", "Runs finished, by outcome", ["status"], registry=r)
        self.steps = Counter(
            "huracan_steps", "Steps finished, by step and outcome", ["step", "status"], registry=r
        )
        self.coin_failures = Counter(
            "huracan_coin_failures",
            "Coins whose work failed in a step (the others went on)",
            ["asset"],
            registry=r,
        )
        self.history_loads = Counter(
            "huracan_history_partitions_loaded",
            "Partitions of the run's step inputs (the look-back windows), by how stored history "
            "served them: hit (stored, read), miss (never materialised), refused (failed verification)",
            ["asset", "served"],
            registry=r,
        )
        self.export_bytes = Counter("huracan_export_bytes", "Bytes the export wrote to its store", registry=r)
        self.decisions = Counter(
            "huracan_champion_decisions", "Champion decisions of the day, by kind", ["kind"], registry=r
        )
        self.finished = Gauge(
            "huracan_run_last_finished_timestamp_seconds",
            "When the run's steps finished (Unix time)",
            registry=r,
        )
        self.run_seconds = Gauge("huracan_run_seconds", "Wall time of the run's execution", registry=r)
        self.started = time.time()


class MetricsResource(dg.ConfigurableResource):
    """Collects the run's metrics; pushes them when ``pushgateway_url`` is set (see module docstring)."""

    pushgateway_url: str = ""

    _run: RunMetrics | None = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: Any) -> MetricsResource:
        return cls(pushgateway_url=settings.metrics.pushgateway_url)

    @property
    def run(self) -> RunMetrics:
        if self._run is None:
            self._run = RunMetrics()
        return self._run

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._run = RunMetrics()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        run = self.run
        dagster_run = context.run
        if dagster_run is not None:
            from huracan_assets.resources.storage import take_load_counts

            for (asset, served), n in take_load_counts(dagster_run.run_id).items():
                run.history_loads.labels(asset=asset, served=served).inc(n)
        if dagster_run is not None and context.instance is not None:
            failed = count_steps(run, context.instance, dagster_run.run_id)
            run.runs.labels(status="failure" if failed else "success").inc()
        run.finished.set(time.time())
        run.run_seconds.set(time.time() - run.started)
        if self.pushgateway_url and dagster_run is not None:
            try:
                push(self.pushgateway_url, dagster_run.job_name, run.registry)
            except OSError as exc:
                context.log.warning(
                    f"event=metrics_push_failed pushgateway={self.pushgateway_url} error={type(exc).__name__}: {exc}"
                )
        self._run = None


def count_steps(run: RunMetrics, instance: dg.DagsterInstance, run_id: str) -> int:
    """Count the run's finished steps by outcome from its event log; returns the failures."""
    failed = 0
    for event_type, status in (
        (dg.DagsterEventType.STEP_SUCCESS, "success"),
        (dg.DagsterEventType.STEP_FAILURE, "failure"),
    ):
        for record in instance.all_logs(run_id, of_type=event_type):
            run.steps.labels(step=record.step_key or "?", status=status).inc()
            failed += status == "failure"
    return failed


def push(url: str, dagster_job: str, registry: CollectorRegistry) -> None:
    push_to_gateway(
        url,
        job="huracan",
        grouping_key={"dagster_job": dagster_job},
        registry=registry,
        timeout=PUSH_TIMEOUT_S,
    )
