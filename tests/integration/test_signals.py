"""Signals: SIGHUP applies a valid configuration and keeps the old one (still serving) when the
new one is broken; SIGTERM stops accepting, lets running clients finish and loses no committed
transaction; SIGINT closes at once."""

import os
import signal
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from admin_client import AdminClient, metric_value
from harness.ports import port_accepts
from harness.util import backend_identity, client_env, pgbench, wait_for

CLIENTS = 4


def reloads(instance, result: str) -> float:
    exposition = AdminClient(instance).metrics()
    return metric_value(exposition, "storegate_config_reloads_total", {"result": result}) or 0


def test_sighup_with_a_broken_config_keeps_serving(storegate, registry):
    instance = storegate()
    dsn = instance.dsn("alpha", password=registry.passwords["app"])
    rejected = reloads(instance, "rejected")
    with open(instance.config_path) as original:
        good = original.read()
    with open(instance.config_path, "a") as broken:
        broken.write("\n[pool.unknown_section]\nmode = \"sometimes\"\n")
    instance.reload()
    wait_for(lambda: "reload rejected" in instance.log_tail(100), what="the rejected reload")
    assert instance.alive()
    assert backend_identity(dsn) == ("shared_db", registry.clusters["shared"].port)
    assert reloads(instance, "rejected") == rejected + 1

    applied = reloads(instance, "ok")
    with open(instance.config_path, "w") as fixed:
        fixed.write(good.replace('level = "info"', 'level = "debug"'))
    instance.reload()
    wait_for(lambda: reloads(instance, "ok") == applied + 1, what="the applied reload")
    assert backend_identity(dsn) == ("shared_db", registry.clusters["shared"].port)


@pytest.fixture
def inserts_table(registry):
    gamma = registry.stores["gamma"]
    cluster = gamma.cluster
    cluster.execute("CREATE TABLE IF NOT EXISTS shutdown_rows (id bigserial PRIMARY KEY, "
                    "client int)", dbname=gamma.database)
    cluster.execute("ALTER TABLE shutdown_rows OWNER TO sg_dedicated", dbname=gamma.database)
    cluster.execute("TRUNCATE shutdown_rows", dbname=gamma.database)
    return lambda: cluster.execute("SELECT count(*) FROM shutdown_rows",
                                   dbname=gamma.database)[0][0]


def run_pgbench(instance, registry, script: str, seconds: int):
    gamma = registry.stores["gamma"]
    env = client_env(registry.passwords["app"], PGOPTIONS=f"-c storegate.store={gamma.id}")
    return pgbench(["-n", "-f", script, "-c", CLIENTS, "-j", 2, "-T", seconds,
                    "-h", instance.host, "-p", instance.port, "-U", "app", "app"], env=env)


def test_sigterm_under_load_loses_no_committed_transaction(storegate, registry, run_dir,
                                                           inserts_table):
    instance = storegate({"server": {"shutdown_timeout_ms": 120000},
                          "pool": {"size": CLIENTS + 1}})
    script = os.path.join(run_dir, "shutdown-insert.sql")
    with open(script, "w") as out:
        out.write("BEGIN;\nINSERT INTO shutdown_rows (client) VALUES (:client_id);\nCOMMIT;\n")
    with ThreadPoolExecutor(1) as pool:
        bench = pool.submit(run_pgbench, instance, registry, script, 8)
        wait_for(lambda: inserts_table() > 0, timeout=30, what="the load to start")
        instance.process.send_signal(signal.SIGTERM)
        wait_for(lambda: not port_accepts(instance.host, instance.port), timeout=30,
                 what="the listener to close")
        assert AdminClient(instance).get("/readyz", token=None)[0] in (503, None)
        result = bench.result(timeout=120)
    assert result.returncode == 0, result.output
    assert result.failed == 0, result.output
    assert result.processed > 0
    assert instance.process.wait(timeout=60) == 0
    assert inserts_table() == result.processed


# SIGTERM waits for clients up to server.shutdown_timeout, then closes them; SIGINT closes at
# once, so its shutdown timeout is far beyond what the test waits for the exit.
@pytest.mark.parametrize("signum,timeout_ms", [(signal.SIGTERM, 1000), (signal.SIGINT, 600000)],
                         ids=["sigterm_after_the_timeout", "sigint_at_once"])
def test_idle_clients_are_closed(storegate, registry, signum, timeout_ms):
    instance = storegate({"server": {"shutdown_timeout_ms": timeout_ms}})
    conn = psycopg.connect(instance.dsn("alpha", password=registry.passwords["app"]),
                           autocommit=True)
    try:
        conn.execute("SELECT 1")
        instance.process.send_signal(signum)
        assert instance.process.wait(timeout=60) == 0
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    finally:
        conn.close()


def test_sighup_keeps_the_admin_listener_and_says_so(storegate, registry):
    instance = storegate({"admin": {"token": "before"}})
    admin = AdminClient(instance, "before")
    assert admin.get("/v1/pools")[0] == 200
    with open(instance.config_path) as current:
        text = current.read()
    host, port = instance.admin_address
    moved = text.replace(f'"{host}:{port}"', f'"{host}:{port + 1}"').replace('"before"',
                                                                          '"after"')
    assert moved != text
    with open(instance.config_path, "w") as out:
        out.write(moved)
    instance.reload()
    wait_for(lambda: "key=admin.listen reason=needs_restart" in instance.log_tail(100),
             what="the restart notice")
    assert admin.get("/v1/pools", token="after")[0] == 200
    assert admin.get("/v1/pools", token="before")[0] == 401
