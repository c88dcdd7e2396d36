"""A throw-away PostgreSQL server on 127.0.0.1 (``initdb`` + ``pg_ctl``) for the instance tests
and the instance benchmark. ``deploy/run-local.sh`` starts the deployment's own the same way.

PostgreSQL refuses to run as root. As root, every server command runs as the ``postgres`` user
(made by the Debian ``postgresql`` package) through ``setpriv``, and the data folder belongs to it.
"""

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from huracan_assets_tests.commands import free_port

SERVER_USER = "postgres"


def bindir() -> Path:
    """The folder of ``initdb``/``pg_ctl``/``postgres``: PATH, then ``pg_config --bindir``, then
    the newest ``/usr/lib/postgresql/*/bin`` (Debian keeps them off PATH)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    if shutil.which("pg_config"):
        done = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        folder = Path(done.stdout.strip())
        if done.returncode == 0 and (folder / "initdb").exists():
            return folder
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if versions:
        return Path(versions[-1]).parent
    raise FileNotFoundError("no PostgreSQL server binaries (initdb, pg_ctl): install the postgresql package")


def _as_server_user() -> list[str]:
    """The prefix that runs a server command as an unprivileged user when this process is root."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={SERVER_USER}", f"--regid={SERVER_USER}", "--init-groups", "--"]


def _reachable_by_server_user(folder: Path) -> bool:
    if os.geteuid() != 0:
        return True
    done = subprocess.run([*_as_server_user(), "test", "-x", str(folder)], capture_output=True)
    return done.returncode == 0


@dataclass
class PostgresServer:
    """A running server; ``environment()`` gives the variables ``deploy/dagster.yaml`` reads."""

    data: Path
    port: int
    password: str
    username: str = "huracan"
    db_name: str = "huracan"
    scratch: Path | None = None  # a folder made only for this server, removed when it stops

    def environment(self) -> dict[str, str]:
        return {
            "DAGSTER_PG_USERNAME": self.username,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": self.db_name,
        }

    def connect(self, db_name: str | None = None):  # noqa: ANN201 - a psycopg2 connection
        import psycopg2

        return psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.username,
            password=self.password,
            dbname=db_name or self.db_name,
        )

    def database_bytes(self) -> int:
        """``pg_database_size`` of the Dagster database: tables, indexes and TOAST, in bytes."""
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_database_size(current_database())")
                return int(cursor.fetchone()[0])
        finally:
            connection.close()

    def sessions(self) -> int:
        """Connections made to the Dagster database so far (``pg_stat_database.sessions``)."""
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_stat_force_next_flush()")
                cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
                return int(cursor.fetchone()[0])
        finally:
            connection.close()

    def stop(self) -> None:
        subprocess.run(
            [*_as_server_user(), str(bindir() / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
            cwd=self.data.parent,
            capture_output=True,
            timeout=120,
        )
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def shared_folder(prefix: str) -> Path:
    """A new temporary folder the server's user can reach (pytest's own are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


def start_postgres(folder: Path, port: int | None = None, durable: bool = True) -> PostgresServer:
    """``initdb`` a new cluster in ``folder/pgdata`` and start it on 127.0.0.1:``port`` (a free one
    by default) with a random password and a ``huracan`` database. ``durable=False`` turns off
    fsync (a test's server dies with the test). When root and the ``postgres`` user cannot enter
    ``folder`` (pytest's temporary folders are private), the cluster goes to a new folder of its
    own under the system's temporary folder, removed by ``stop()``."""
    folder.mkdir(parents=True, exist_ok=True)
    scratch = None
    if not _reachable_by_server_user(folder):
        scratch = folder = shared_folder("huracan-pg-")
    data, port = folder / "pgdata", port or free_port()
    server = PostgresServer(data=data, port=port, password=secrets.token_urlsafe(18), scratch=scratch)
    as_user, bin_ = _as_server_user(), bindir()
    data.mkdir(mode=0o700)
    pwfile = folder / "pwfile"
    pwfile.write_text(server.password + "\n")
    pwfile.chmod(0o600)
    if os.geteuid() == 0:
        for path in (data, pwfile):
            shutil.chown(path, SERVER_USER, SERVER_USER)
    try:
        subprocess.run(
            [
                *as_user,
                str(bin_ / "initdb"),
                "-D",
                str(data),
                "-U",
                server.username,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
                *([] if durable else ["--no-sync"]),
            ],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
    finally:
        pwfile.unlink()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories=''"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run(
        [*as_user, str(bin_ / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-o", options]
        + ["-w", "-t", "60", "start"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    try:
        connection = server.connect("postgres")
        connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{server.db_name}"')
        finally:
            connection.close()
    except Exception:
        server.stop()
        raise
    return server


@contextmanager
def throwaway_postgres(folder: Path, durable: bool = False) -> Iterator[PostgresServer]:
    """A server for the duration of the block, stopped (and its scratch folder removed) after."""
    server = start_postgres(folder, durable=durable)
    try:
        yield server
    finally:
        server.stop()
