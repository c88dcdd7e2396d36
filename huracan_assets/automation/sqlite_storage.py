"""The SQLite instance of ``dagster_home/``, with batched and pooled event writes.

Dagster's ``SqliteEventLogStorage`` builds a new SQLAlchemy engine for every call (and a third
one per asset event to ask whether a table exists), so every statement is compiled again and
every event opens and closes two SQLite connections; it stores a materialization in three
transactions (run shard, index shard, tags). A history run materializes one event per partition
(4,185 per asset for 30 coins × 150 days): that was 26 ms per event on this machine's disk,
about 320 s of the default day.

Two changes, the tables and files unchanged (anything that reads the instance sees no difference):

- ``BatchedSqliteEventLogStorage`` keeps one engine per shard (a small pool, so the compiled
  statement cache survives) and implements ``store_event_batch``, which Dagster calls for the
  materializations of one partitioned output when event batching is on: one transaction on the
  run shard and one on the index shard for the whole batch, the asset row updated with the last
  event (what ``PostgresEventLogStorage.store_event_batch`` does). The planned events Dagster
  sends as one batch when it creates a run (one per partition and asset, one per check) are
  written the same way; stock storages write them one at a time (3 ms apiece here, 69 for a
  10-coin day).
- ``HuracanInstance`` (``automation/instance.py``) turns event batching on and makes these
  storages its default, under the instance's own folder.

SQLite's journal stays WAL; ``synchronous=NORMAL`` on these connections (in WAL mode a crash of
the process loses nothing; a power cut may lose the last commits, never corrupts the file).
"""

import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Self

import sqlalchemy as db
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.schedules import SqliteScheduleStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, QueuePool

OPEN_RUN_SHARDS = 4  # engines kept for per-run files (the index shard's is always kept)
_BATCHED = ({DagsterEventType.ASSET_MATERIALIZATION}, {DagsterEventType.ASSET_OBSERVATION})
# the planned events Dagster sends as one batch when it creates a run (``_log_asset_planned_events``)
_PLANNED = {DagsterEventType.ASSET_MATERIALIZATION_PLANNED, DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` with an engine kept per shard and batched asset-event writes."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        self._tables: set[str] = set()
        self._engines_lock = threading.Lock()
        super().__init__(base_dir, inst_data=inst_data)

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any) -> Self:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            if self._engines_pid != os.getpid():  # a forked child never shares the parent's handles
                self._engines = OrderedDict()
                self._engines_pid = os.getpid()
            engine = self._engines.pop(shard, None)
            if engine is None:
                engine = db.create_engine(
                    self.conn_string_for_shard(shard),
                    poolclass=QueuePool,
                    pool_size=1,
                    max_overflow=4,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
                )
                db.event.listen(engine, "connect", _sqlite_pragmas)
            self._engines[shard] = engine
            while len(self._engines) > OPEN_RUN_SHARDS + 1:
                oldest = next(s for s in self._engines if s != "index")
                self._engines.pop(oldest).dispose()
            return engine

    def _dispose_engines(self) -> None:
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines = OrderedDict()

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                if shard == INDEX_SHARD_NAME or not self._new_run_shard(shard):
                    self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _new_run_shard(self, shard: str) -> bool:
        """Create a new run's shard as a copy of an empty one initialised in this process; False
        when the file exists already (then ``_initdb`` checks it, as Dagster does).

        ``_initdb`` creates the tables and stamps the migration revision, and loads Alembic's 89
        migration scripts to do so: 75 ms per run here, for a file that is the same every time.
        The copy appears whole under its name (hard link of a finished file) or not at all."""
        path = self.path_for_shard(shard)
        if os.path.exists(path):
            return False
        scratch = f"{path}.{os.getpid()}.{threading.get_ident()}.new"
        with open(scratch, "wb") as handle:
            handle.write(_empty_run_shard(self))
        try:
            os.link(scratch, path)
        except OSError:  # made meanwhile by another process, or no hard links here: Dagster's way
            return False
        finally:
            os.unlink(scratch)
        return True

    def has_table(self, table_name: str) -> bool:
        # asked once per asset event by the tag writer; a table, once there, stays
        if table_name in self._tables:
            return True
        # no _db_lock: the tag writer asks from inside an index transaction that holds it
        with self._engine("index").connect() as conn:
            found = bool(conn.dialect.has_table(conn, table_name))
        if found:
            self._tables.add(table_name)
        return found

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        kinds = {event.get_dagster_event().event_type for event in events}
        run_ids = {event.run_id for event in events}
        if len(run_ids) == 1 and kinds <= _PLANNED:
            self._store_planned_batch(events)
            return
        if kinds not in _BATCHED or len(run_ids) != 1:
            super().store_event_batch(events)
            return
        events = [event for event in events if event.get_dagster_event().asset_key]
        if not events:
            return
        with self._inserted(events) as (conn, event_ids):
            self._store_asset_event_tags(conn, events, event_ids)
            # the asset's row names its latest event (as Dagster's PostgreSQL batch write does)
            self._store_asset_event(conn, events[-1], event_ids[-1])

    @contextmanager
    def _inserted(self, events: Sequence[EventLogEntry]) -> Iterator[tuple[Connection, list[int]]]:
        """One run's events inserted in its shard (one transaction), then in the index shard: the
        index transaction stays open for the caller's writes, with the events' index ids."""
        rows = [self._event_to_row(event) for event in events]
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)
        with self.index_transaction() as conn:
            result = conn.execute(
                SqlEventLogStorageTable.insert().returning(
                    SqlEventLogStorageTable.c.id, sort_by_parameter_order=True
                ),
                rows,
            )
            yield conn, [int(row[0]) for row in result.fetchall()]

    def _store_planned_batch(self, events: Sequence[EventLogEntry]) -> None:
        """A run's planned events (Dagster sends them as one batch when it creates the run): what
        ``store_event`` does for each, in one transaction per shard. Each asset's row is updated
        with its last planned event, and each planned check writes its ``asset_check_executions``
        rows as ``store_event`` would."""
        with self._inserted(events) as (conn, event_ids):
            planned = [
                (event, event_id)
                for event, event_id in zip(events, event_ids, strict=True)
                if event.get_dagster_event().event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED
                and event.get_dagster_event().asset_key
            ]
            self._store_asset_event_tags(conn, [e for e, _ in planned], [i for _, i in planned])
            last = {event.get_dagster_event().asset_key: (event, event_id) for event, event_id in planned}
            for event, event_id in last.values():
                self._store_asset_event(conn, event, event_id)
        for event, event_id in zip(events, event_ids, strict=True):
            if event.get_dagster_event().event_type == DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
                self.store_asset_check_event(event, event_id)

    def wipe(self) -> None:
        self._dispose_engines()
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()


_EMPTY_RUN_SHARD: bytes | None = None


def _empty_run_shard(storage: SqliteEventLogStorage) -> bytes:
    """The bytes of a run shard as ``_initdb`` leaves it (tables, indexes, WAL mode, the
    revision stamped), made once per process in a scratch folder."""
    global _EMPTY_RUN_SHARD
    if _EMPTY_RUN_SHARD is None:
        with tempfile.TemporaryDirectory(prefix="huracan-run-shard-") as folder:
            path = os.path.join(folder, "empty.db")
            engine = db.create_engine(f"sqlite:///{path}", poolclass=NullPool)
            storage._initdb(engine)
            engine.dispose()  # the last connection closed: the WAL is checkpointed into the file
            with open(path, "rb") as handle:
                _EMPTY_RUN_SHARD = handle.read()
    return _EMPTY_RUN_SHARD


class HuracanSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage (runs, schedules unchanged) with ``BatchedSqliteEventLogStorage``."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self.base_dir = base_dir
        self._run_storage = SqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = BatchedSqliteEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Any) -> Self:
        return cls.from_local(inst_data=inst_data, **config_value)
