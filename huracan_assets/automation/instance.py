"""Huracan's Dagster instance class (``instance_class`` in both ``dagster.yaml`` files).

It is Dagster's ``DagsterInstance`` with two defaults changed:

- **Event batching on.** Dagster writes the materializations of one partitioned output in
  batches of ``DAGSTER_EVENT_BATCH_SIZE`` (off unless set; here ``EVENT_BATCH_SIZE`` unless the
  variable says otherwise) through the storage's ``store_event_batch``: dagster-postgres's own,
  or ``BatchedSqliteEventLogStorage``'s. Events of a batch reach the log together when the
  output is stored, not one by one.
- **Its default storage** (no ``storage:`` block in ``dagster.yaml``) is
  ``HuracanSqliteStorage`` under the instance's folder: Dagster's SQLite storage with batched,
  pooled event writes (``automation/sqlite_storage.py``). A ``storage:`` or
  ``*_storage:`` block still wins, as for Dagster's own instance (``deploy/`` uses PostgreSQL).
"""

import os
from collections.abc import Mapping
from typing import Any

import yaml
from dagster._core.instance import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.sqlite_storage import _event_logs_directory
from dagster._serdes import ConfigurableClassData

EVENT_BATCH_SIZE = 1000  # materializations of one output per write
STORAGE_MODULE = "huracan_assets.automation.sqlite_storage"

# ``dagster.yaml`` for a new, empty ``$DAGSTER_HOME`` (``huracan daily`` writes it; the tests' homes)
MINIMAL_DAGSTER_YAML = (
    "instance_class:\n"
    "  module: huracan_assets.automation.instance\n"
    "  class: HuracanInstance\n"
    "telemetry:\n"
    "  enabled: false\n"
)

# the same as ``overrides`` of ``DagsterInstance.local_temp`` (temporary instances in tests and benchmarks)
INSTANCE_OVERRIDES = {
    "instance_class": {"module": "huracan_assets.automation.instance", "class": "HuracanInstance"},
    "telemetry": {"enabled": False},
}


class HuracanInstance(DagsterInstance):
    """A ``DagsterInstance`` with event batching on and ``HuracanSqliteStorage`` as default storage.

    Named in ``dagster.yaml`` (``instance_class``); a ``storage:`` block there still wins over the
    default, as for Dagster's own instance.
    """

    @classmethod
    def config_schema(cls) -> Mapping[str, Any]:
        return {}

    @staticmethod
    def config_defaults(base_dir: str) -> Mapping[str, ConfigurableClassData | None]:
        defaults = dict(InstanceRef.config_defaults(base_dir))
        defaults["storage"] = ConfigurableClassData(
            STORAGE_MODULE,
            "HuracanSqliteStorage",
            yaml.dump({"base_dir": base_dir}, default_flow_style=False),
        )
        defaults["event_log_storage"] = ConfigurableClassData(
            STORAGE_MODULE,
            "BatchedSqliteEventLogStorage",
            yaml.dump({"base_dir": _event_logs_directory(base_dir)}, default_flow_style=False),
        )
        return defaults

    def _get_event_batch_size(self) -> int:
        return int(os.getenv("DAGSTER_EVENT_BATCH_SIZE", str(EVENT_BATCH_SIZE)))
