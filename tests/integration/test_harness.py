"""The harness checked against PostgreSQL itself, so that a failing proxy test points at the
proxy: the SCRAM/md5 secrets it writes into users files, its raw wire client and cancel."""

import threading
import tomllib

import psycopg
import pytest

from harness import scram, toml_writer, wire
from harness.util import wait_for


def test_scram_verifier_is_accepted_by_postgres(clusters):
    shared = clusters["shared"]
    shared.create_role("harness_scram", scram.verifier("s3cret pw"))
    with psycopg.connect(shared.dsn("postgres", "harness_scram", "s3cret pw")) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "harness_scram"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(shared.dsn("postgres", "harness_scram", "wrong"))


def test_md5_hash_is_accepted_by_postgres(clusters):
    dedicated = clusters["dedicated"]
    dedicated.create_role("harness_md5", scram.md5_hash("harness_md5", "pw5"), method="md5")
    with psycopg.connect(dedicated.dsn("postgres", "harness_md5", "pw5")) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "harness_md5"


@pytest.mark.parametrize("cluster, role, method", [("shared", "harness_wire_scram", "scram"),
                                                   ("dedicated", "harness_wire_md5", "md5")])
def test_wire_client_authenticates_against_postgres(clusters, cluster, role, method):
    server = clusters[cluster]
    server.create_role(role, "wirepw", method=method)
    with wire.WireClient(server.host, server.port) as client:
        result = client.startup({"user": role, "database": "postgres"}, "wirepw")
        assert result.ok, result.error
        assert result.backend_pid > 0
        assert result.parameters["server_version"].startswith("15")
        assert client.query("SELECT 1 + 1")[0] == [["2"]]
    with wire.WireClient(server.host, server.port) as client:
        result = client.startup({"user": role, "database": "postgres"}, "nope")
        assert result.error["code"] == "28P01"


def test_wire_cancel_request_cancels_a_postgres_query(clusters):
    shared = clusters["shared"]
    shared.create_role("harness_cancel", "cancelpw")
    client = wire.WireClient(shared.host, shared.port)
    session = client.startup({"user": "harness_cancel", "database": "postgres"}, "cancelpw")
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(r=client.query("SELECT pg_sleep(30)")))
    worker.start()
    wait_for(lambda: any("pg_sleep" in (row[4] or "") and row[3] == "active"
                         for row in shared.backends("postgres")), what="pg_sleep to run")
    wire.send_cancel(shared.host, shared.port, session.backend_pid, session.backend_secret)
    worker.join(60)
    client.close()
    assert outcome["r"][1]["code"] == "57014"


def test_toml_writer_round_trips():
    document = {
        "server": {"listen": "127.0.0.1:6432", "threads": 2},
        "registry": {"dsn": "host=127.0.0.1 password='a\"b\\\\c'"},
        "routing": {"sources": ["options", "user"], "user_separator": "."},
        "pool": {"size": 4, "db": {"shared.1": {"mode": "transaction"}}},
        "flags": {"on": True, "ratio": 0.5},
    }
    assert tomllib.loads(toml_writer.dumps(document)) == document


def test_cluster_kill_backend_and_restart(clusters):
    shared = clusters["shared"]
    conn = shared.connect()
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    assert shared.kill_backend(pid)
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    conn.close()
    shared.restart()
    assert shared.execute("SELECT 1")[0][0] == 1
