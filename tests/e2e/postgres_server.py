"""A private PostgreSQL server for a test: its own cluster (initdb), on a free loopback port, no socket file.

Uses Debian's ``postgresql`` package (``apt-get install postgresql``; its programs live in
``/usr/lib/postgresql/<version>/bin``). PostgreSQL refuses to run as root, so under root the cluster
belongs to the ``postgres`` user the package creates, in a folder of its own under the system's temporary
folder (pytest's folders are private to root); otherwise it lives under the test's ``tmp_path``. Password
authentication (SCRAM) even on loopback, as a real server would ask.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2

from tests.e2e.dagster_dev import free_port

PROGRAMS = ("initdb", "pg_ctl")
SERVER_USER = "postgres"
START_TIMEOUT = 60


@dataclass(frozen=True)
class PostgresServer:
    """Where the server listens and the database the test may use."""

    host: str
    port: int
    user: str
    password: str
    database: str

    def environment(self) -> dict[str, str]:
        """The ``DAGSTER_PG_*`` variables docs/deploy/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": self.database,
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
        }

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple]:
        """Rows of one query, on a connection of its own."""
        with contextlib.closing(self._connect(self.database)) as connection, connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def _connect(self, database: str) -> psycopg2.extensions.connection:
        return psycopg2.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=database
        )


def programs_folder() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: on PATH, else the newest Debian version's."""
    found = shutil.which(PROGRAMS[0])
    if found and shutil.which(PROGRAMS[1]):
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return versions[-1].parent if versions else None


@contextlib.contextmanager
def running_postgres(tmp_path: Path, programs: Path) -> Iterator[PostgresServer]:
    """Create a cluster, start it, create database ``dagster``; stop the server and remove it on exit."""
    as_root = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="d365-postgres-")) if as_root else tmp_path / "postgres"
    folder.mkdir(exist_ok=True)
    user = SERVER_USER if as_root else None
    server = PostgresServer("127.0.0.1", free_port(), "dagster", secrets.token_urlsafe(16), "dagster")
    password_file, data, log = folder / "password", folder / "data", folder / "server.log"
    password_file.write_text(server.password, encoding="utf-8")
    if user:
        entry = pwd.getpwnam(user)
        for path in (folder, password_file):
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def run(*argv: str) -> None:
        subprocess.run(
            [str(programs / argv[0]), *argv[1:]],
            user=user, cwd=folder, check=True, capture_output=True, timeout=START_TIMEOUT,
        )  # fmt: skip

    options = f"-c listen_addresses={server.host} -p {server.port} -c unix_socket_directories=''"
    try:
        run("initdb", "-D", str(data), "-U", server.user, f"--pwfile={password_file}",
            "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip
        run("pg_ctl", "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", str(START_TIMEOUT), "start")
        try:
            with contextlib.closing(server._connect("postgres")) as connection:
                connection.autocommit = True
                with connection.cursor() as cursor:
                    cursor.execute(f"CREATE DATABASE {server.database}")
            yield server
        finally:
            run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
    except subprocess.CalledProcessError as exc:
        output = (exc.stdout or b"").decode(errors="replace") + (exc.stderr or b"").decode(errors="replace")
        server_log = log.read_text(errors="replace") if log.exists() else ""
        raise AssertionError(f"{exc.cmd[0]} failed ({exc.returncode}):\n{output}\n{server_log}") from exc
    finally:
        if as_root:
            shutil.rmtree(folder, ignore_errors=True)
