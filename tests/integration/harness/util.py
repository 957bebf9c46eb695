"""Small helpers the tests share: polling for a condition, and running PostgreSQL's own
client programs (psql, pgbench) as subprocesses."""

import os
import re
import subprocess
import time
from dataclasses import dataclass

from .pg import pg_program


def wait_for(condition, timeout: float = 15.0, interval: float = 0.05, what: str = "condition"):
    """Polls until condition() returns something truthy and returns it. Used to wait for a
    state, never to assert on durations."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


def client_env(password: str | None = None, **extra) -> dict:
    """Environment for libpq programs: no stray PG* settings from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if password is not None:
        env["PGPASSWORD"] = password
    env.update({k: str(v) for k, v in extra.items()})
    return env


def psql(dsn: str, command: str, env: dict | None = None, timeout: float = 60):
    """Runs one command with psql; returns the CompletedProcess (stdout unaligned, no header)."""
    argv = [pg_program("psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dsn,
            "-c", command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          env=env or client_env(), check=False)


@dataclass
class PgbenchResult:
    returncode: int
    output: str
    processed: int = -1
    expected: int = -1
    failed: int = -1


def pgbench(args: list, env: dict, timeout: float = 180) -> PgbenchResult:
    argv = [pg_program("pgbench")] + [str(a) for a in args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                          check=False)
    result = PgbenchResult(done.returncode, done.stdout + done.stderr)
    processed = re.search(r"number of transactions actually processed: (\d+)(?:/(\d+))?",
                          result.output)
    if processed:
        result.processed = int(processed.group(1))
        result.expected = int(processed.group(2) or processed.group(1))
    failed = re.search(r"number of failed transactions: (\d+)", result.output)
    if failed:
        result.failed = int(failed.group(1))
    return result


def backend_identity(dsn: str) -> tuple:
    """(current_database(), inet_server_port()) of the server session behind `dsn`: which
    backend database a connection really landed on."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        return tuple(conn.execute("SELECT current_database(), inet_server_port()").fetchone())


def vanish(conn) -> None:
    """Drops a psycopg connection the way a crashed client does: the socket goes away without
    a Terminate message."""
    import socket

    sock = socket.socket(fileno=os.dup(conn.fileno()))
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    try:
        conn.close()
    except Exception:
        pass  # libpq may report the broken socket; the point is that it is gone
