"""What a finished run says about itself, read off the instance's event log: why it failed, and
which stored partitions it refused on read. Used by ``huracan daily`` (orchestration.py) and by
the daemon's ``daily_flow_sensor`` (automation/sensors.py), so both doors repair a day alike."""

import re
from typing import Any

import dagster as dg

from huracan_assets.resources.storage import split_key


def root_cause_message(error: Any) -> str:
    """The last line of the innermost error: Dagster wraps what the step raised (which names
    the file, coin or path at fault) in "Error occurred while executing op ..."."""
    while error is not None and error.cause is not None:
        error = error.cause
    lines = error.message.strip().splitlines() if error is not None else []
    return lines[-1] if lines else ""


def run_failures(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Each failed step with its root cause, and each failed blocking check with its description."""
    failed = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        error = event.event_specific_data.error if event and event.event_specific_data else None
        failed.append(f"{event.step_key if event else '?'}: {root_cause_message(error)}")
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.dagster_event.event_specific_data if record.dagster_event else None
        if (
            evaluation is not None
            and not evaluation.passed
            and evaluation.severity == dg.AssetCheckSeverity.ERROR
        ):
            failed.append(f"check {evaluation.asset_check_key.name}: {evaluation.description}")
    return failed


_REFUSED = re.compile(r"re-materialize ([a-z_]+\[\d{4}-\d{2}-\d{2}\|[^\]]+\])")


def refused_partitions(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The stored partitions a run refused on read (``features[2025-11-20|BTC]``), from its
    ``coin_failed`` log lines (each names the partition to re-materialize)."""
    found = set()
    for entry in instance.all_logs(run_id):
        if entry.user_message and "re-materialize" in entry.user_message:
            found.update(_REFUSED.findall(entry.user_message))
    return sorted(found)


def coin_of(label: str) -> str:
    """The coin of a partition label: ``features[2025-11-18|BTC]`` -> ``BTC``."""
    return str(split_key(label.split("[", 1)[1].rstrip("]"))[1])
