"""Query cancellation through storegate (protocol docs, "Canceling Requests in Progress")."""

import threading

import psycopg
import pytest

from harness import wire
from harness.util import wait_for


def run_in_thread(conn, query: str) -> tuple:
    """Starts `query` on a thread; returns (thread, outcome dict with 'rows' or 'error')."""
    outcome = {}

    def work():
        try:
            outcome["rows"] = conn.execute(query).fetchall()
        except psycopg.Error as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=work)
    thread.start()
    return thread, outcome


def wait_until_running(cluster, pid: int, fragment: str) -> None:
    wait_for(lambda: any(row[0] == pid and row[3] == "active" and fragment in (row[4] or "")
                         for row in cluster.backends()), what=f"'{fragment}' to run")


@pytest.mark.parametrize("slug", ["alpha", "gamma"])
def test_cancel_interrupts_a_running_query(proxy, registry, slug):
    store = registry.stores[slug]
    conn = psycopg.connect(proxy.dsn(slug, password=registry.passwords["app"]), autocommit=True)
    server_pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    thread, outcome = run_in_thread(conn, "SELECT pg_sleep(30)")
    wait_until_running(store.cluster, server_pid, "pg_sleep(30)")
    conn.cancel()
    thread.join(60)
    assert isinstance(outcome.get("error"), psycopg.errors.QueryCanceled), outcome
    assert outcome["error"].sqlstate == "57014"
    assert conn.execute("SELECT 1").fetchone()[0] == 1  # the session goes on
    conn.close()


def test_stale_cancel_key_does_not_cancel_the_next_client(storegate, registry):
    instance = storegate({"pool": {"size": 1}})
    password = registry.passwords["app"]
    shared = registry.clusters["shared"]
    with wire.WireClient(instance.host, instance.port) as first:
        session = first.startup({"user": "app", "database": "app",
                                 "options": "-c storegate.store=alpha"}, password)
        assert session.ok, session.error
        first_server_pid = first.query("SELECT pg_backend_pid()")[0][0][0]
        first.terminate()

    conn = psycopg.connect(instance.dsn("alpha", password=password), autocommit=True)
    server_pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    assert str(server_pid) == first_server_pid  # same server connection, new client
    thread, outcome = run_in_thread(conn, "SELECT pg_sleep(3), 'finished'")
    wait_until_running(shared, server_pid, "pg_sleep(3)")
    wire.send_cancel(instance.host, instance.port, session.backend_pid, session.backend_secret)
    wire.send_cancel(instance.host, instance.port, server_pid, 12345)  # a guessed key
    thread.join(60)
    assert "error" not in outcome, outcome
    assert outcome["rows"][0][1] == "finished"
    conn.close()
