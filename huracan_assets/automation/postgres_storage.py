"""dagster-postgres storages with a connection pool, for ``deploy/dagster.yaml``.

dagster-postgres builds its storages on SQLAlchemy's ``NullPool`` everywhere but the webserver:
every storage call opens a new connection (a new server process and a scram-sha-256
handshake, about 14 ms here), 4.6 connections per event in a run. These subclasses switch to
the pooled engine the webserver already uses (``optimize_for_webserver``: a ``QueuePool`` with
pre-ping and recycling) in every process: the daemon, the code server's run workers and
``huracan daily``. They are the same storages otherwise (same tables, same ``postgres_db``
config), so anything that reads the instance sees no difference.
"""

from typing import Any, Self

from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage
from dagster_postgres.utils import pg_url_from_config

POOL_RECYCLE_S = 3600  # reconnect a pooled connection after an hour (server-side idle timeouts)
MAX_OVERFLOW = 10  # connections beyond the pool's 5 during a burst


def _pooled(storage: Any) -> Any:
    # statement_timeout 0: no per-statement limit, as without the pool
    storage.optimize_for_webserver(
        statement_timeout=0, pool_recycle=POOL_RECYCLE_S, max_overflow=MAX_OVERFLOW
    )
    return storage


class PooledPostgresRunStorage(PostgresRunStorage):
    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> Self:
        return _pooled(cls(inst_data=inst_data, postgres_url=pg_url_from_config(config_value)))


class PooledPostgresEventLogStorage(PostgresEventLogStorage):
    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> Self:
        return _pooled(cls(inst_data=inst_data, postgres_url=pg_url_from_config(config_value)))


class PooledPostgresScheduleStorage(PostgresScheduleStorage):
    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> Self:
        return _pooled(cls(inst_data=inst_data, postgres_url=pg_url_from_config(config_value)))
