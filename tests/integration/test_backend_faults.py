"""A backend process that dies fails only its own client; the pool heals."""

import subprocess

import psycopg
import pytest

from harness.pg import pg_program
from harness.util import client_env, psql, wait_for


def test_killed_server_process_fails_only_its_client(proxy, registry):
    password = registry.passwords["app"]
    shared = registry.clusters["shared"]
    victim = psycopg.connect(proxy.dsn("alpha", password=password), autocommit=True)
    neighbour = psycopg.connect(proxy.dsn("beta", password=password), autocommit=True)
    other_backend = psycopg.connect(proxy.dsn("gamma", password=password), autocommit=True)
    victim_pid = victim.execute("SELECT pg_backend_pid()").fetchone()[0]

    assert shared.kill_backend(victim_pid)
    with pytest.raises(psycopg.OperationalError):
        victim.execute("SELECT 1")
    victim.close()

    assert neighbour.execute("SELECT current_database()").fetchone()[0] == "shared_db"
    assert other_backend.execute("SELECT current_database()").fetchone()[0] == "store_gamma"
    neighbour.close()
    other_backend.close()

    done = psql(proxy.dsn("alpha"), "SELECT pg_backend_pid()", env=client_env(password))
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) != victim_pid


def test_psql_killed_mid_query_does_not_break_the_store(proxy, registry):
    password = registry.passwords["app"]
    gamma = registry.stores["gamma"]
    argv = [pg_program("psql"), "-X", "-d", proxy.dsn("gamma"), "-c", "SELECT pg_sleep(60)"]
    child = subprocess.Popen(argv, env=client_env(password), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    wait_for(lambda: any("pg_sleep(60)" in (row[4] or "") and row[3] == "active"
                         for row in gamma.cluster.backends("store_gamma")),
             what="psql's query to run")
    child.kill()
    child.wait()
    with psycopg.connect(proxy.dsn("gamma", password=password)) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "store_gamma"
