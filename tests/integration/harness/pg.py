"""Throwaway PostgreSQL clusters on free loopback ports: initdb, start, stop, roles, databases."""

import os
import subprocess
import tempfile

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from . import lifecycle
from .ports import free_port

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
SUPERUSER = "postgres"
# sockaddr_un.sun_path is 108 bytes including the terminator.
_MAX_SOCKET_PATH = 100


def pg_program(name: str) -> str:
    return os.path.join(PG_BIN, name)


def _run(argv: list, what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}): {result.stderr or result.stdout}")


class PgCluster:
    """One PostgreSQL server: local connections trust, TCP needs a password (scram-sha-256 by
    default, md5 or trust for roles created with that method)."""

    def __init__(self, base_dir: str, name: str, settings: dict | None = None):
        self.name = name
        self.dir = os.path.join(os.path.abspath(base_dir), name)
        self.data_dir = os.path.join(self.dir, "data")
        self.log_file = os.path.join(self.dir, "postgres.log")
        self.host = "127.0.0.1"
        self.port = free_port()
        self.socket_dir = self.dir
        self._settings = settings or {}
        self._hba_roles: dict = {}  # role -> "md5" | "trust"
        self._running = False
        self._initdb()

    def __repr__(self) -> str:
        return f"PgCluster({self.name}, port={self.port})"

    def _initdb(self) -> None:
        os.makedirs(self.dir, exist_ok=True)
        lifecycle.chown_postgres(self.dir)
        if not lifecycle.postgres_can_enter(self.dir):
            raise RuntimeError(f"the postgres OS user cannot enter {self.dir}; use another base_dir")
        if len(os.path.join(self.dir, f".s.PGSQL.{self.port}")) > _MAX_SOCKET_PATH:
            self.socket_dir = tempfile.mkdtemp(prefix="sgpg-")
            os.chmod(self.socket_dir, 0o755)
            lifecycle.chown_postgres(self.socket_dir)
        argv = [pg_program("initdb"), "-D", self.data_dir, "-U", SUPERUSER, "-E", "UTF8",
                "--locale=C", "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256"]
        _run(lifecycle.as_postgres(argv), f"initdb {self.name}")
        self._write_conf()
        self._write_hba()

    def _write_conf(self) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "max_connections": "200",
            "shared_buffers": "32MB",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "log_line_prefix": "'%m [%p] %q%u@%d '",
            "log_connections": "on",
            "log_disconnections": "on",
        }
        settings.update({k: str(v) for k, v in self._settings.items()})
        lines = [f"{key} = {value}" for key, value in settings.items()]
        with open(os.path.join(self.data_dir, "postgresql.conf"), "a") as conf:
            conf.write("\n# storegate test harness\n" + "\n".join(lines) + "\n")

    def _write_hba(self) -> None:
        lines = ["local all all trust"]
        for role, method in self._hba_roles.items():
            for net in ("127.0.0.1/32", "::1/128"):
                lines.append(f'host all "{role}" {net} {method}')
        for net in ("127.0.0.1/32", "::1/128"):
            lines.append(f"host all all {net} scram-sha-256")
            lines.append(f"host replication all {net} scram-sha-256")
        path = os.path.join(self.data_dir, "pg_hba.conf")
        with open(path, "w") as hba:
            hba.write("\n".join(lines) + "\n")
        lifecycle.chown_postgres(path)

    def _pg_ctl(self, *args: str) -> list:
        return lifecycle.as_postgres([pg_program("pg_ctl"), "-D", self.data_dir, *args])

    def start(self) -> None:
        lifecycle.register(self)
        _run(self._pg_ctl("-l", self.log_file, "-w", "-t", "60", "start"), f"start {self.name}")
        self._running = True

    def stop(self) -> None:
        if not self._running:
            lifecycle.unregister(self)
            return
        fast = subprocess.run(self._pg_ctl("-m", "fast", "-w", "-t", "30", "stop"),
                              capture_output=True, check=False)
        if fast.returncode != 0:
            subprocess.run(self._pg_ctl("-m", "immediate", "-w", "stop"),
                           capture_output=True, check=False)
        self._running = False
        lifecycle.unregister(self)

    def restart(self) -> None:
        self.stop()
        self.start()

    def detach(self) -> None:
        """Leaves the server running after this process exits (the demo)."""
        lifecycle.unregister(self)

    def connect(self, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
        """Superuser connection over the Unix socket (trust)."""
        return psycopg.connect(host=self.socket_dir, port=self.port, user=SUPERUSER,
                               dbname=dbname, autocommit=True, **kwargs)

    def execute(self, query, params=None, dbname: str = "postgres"):
        """Runs one statement as superuser; returns its rows, or None when it returns none."""
        with self.connect(dbname) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else None

    def dsn(self, dbname: str, user: str, password: str | None = None) -> str:
        """libpq conninfo for a TCP connection, as an application or storegate would use."""
        return make_conninfo(host=self.host, port=self.port, dbname=dbname, user=user,
                             password=password)

    def create_role(self, name: str, password: str, method: str = "scram", **attrs) -> None:
        """Creates a LOGIN role whose TCP connections authenticate with `method` (scram, md5 or
        trust). Extra keyword attributes (superuser=True, ...) become role options."""
        options = " ".join(key.upper() for key, on in attrs.items() if on)
        encryption = "md5" if method == "md5" else "scram-sha-256"
        with self.connect() as conn:
            conn.execute(sql.SQL("SET password_encryption = {}").format(sql.Literal(encryption)))
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} " + options).format(
                sql.Identifier(name), sql.Literal(password)))
        if method in ("md5", "trust"):
            self._hba_roles[name] = method
            self._write_hba()
            self.execute("SELECT pg_reload_conf()")

    def create_db(self, name: str, owner: str | None = None) -> None:
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if owner:
            query += sql.SQL(" OWNER {}").format(sql.Identifier(owner))
        self.execute(query)

    def kill_backend(self, pid: int) -> bool:
        """Terminates one server process (pg_terminate_backend); True when it existed."""
        return bool(self.execute("SELECT pg_terminate_backend(%s)", [pid])[0][0])

    def backends(self, dbname: str | None = None) -> list:
        """(pid, usename, datname, state, query) of client backends, optionally of one db."""
        return self.execute(
            "SELECT pid, usename, datname, state, query FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
            "AND (%s::text IS NULL OR datname = %s)", [dbname, dbname])

    def log_tail(self, lines: int = 40) -> str:
        return lifecycle.tail(self.log_file, lines)
