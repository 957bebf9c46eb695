"""Metrics: a real Prometheus scrapes storegate during a pgbench run and finds the transaction
and pool series with their labels; promtool finds nothing to criticise in the exposition; the
error counters move when clients misbehave; per-store series stay within their limit."""

import json
import os
import re
import shutil
import socket
import subprocess

import psycopg
import pytest

from admin_client import AdminClient, metric_value
from harness.storegate import StoregateFactory
from harness.util import client_env, pgbench, wait_for
from prometheus_server import PrometheusServer

CLIENTS = 4
# One explicit transaction of four statements: storegate counts 1 transaction, 4 queries.
SCRIPT = "BEGIN;\nSELECT 1;\nSELECT pg_backend_pid();\nCOMMIT;\n"


@pytest.fixture(scope="module")
def instance(registry, binary, run_dir):
    factory = StoregateFactory(registry, binary, run_dir)
    yield factory({"pool": {"size": CLIENTS + 2}, "admin": {"store_metrics_limit": 1}})
    factory.stop_all()


@pytest.fixture(scope="module")
def admin(instance):
    return AdminClient(instance)


@pytest.fixture(scope="module")
def prometheus(instance, run_dir):
    if not os.path.exists("/usr/bin/prometheus") and not shutil.which("prometheus"):
        pytest.fail("the prometheus package is not installed (scripts/install-deps.sh)")
    host, port = instance.admin_address
    server = PrometheusServer(run_dir, [f"{host}:{port}"]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bench(instance, registry, prometheus, run_dir):
    """A pgbench run against store gamma while Prometheus scrapes; returns its result."""
    script = os.path.join(run_dir, "metrics-bench.sql")
    with open(script, "w") as out:
        out.write(SCRIPT)
    wait_for(lambda: prometheus.target_health() == ["up"], timeout=30,
             what="prometheus to scrape storegate")
    gamma = registry.stores["gamma"]
    env = client_env(registry.passwords["app"], PGOPTIONS=f"-c storegate.store={gamma.id}")
    result = pgbench(["-n", "-f", script, "-c", CLIENTS, "-j", 2, "-T", 5,
                      "-h", instance.host, "-p", instance.port, "-U", "app", "app"], env=env)
    assert result.returncode == 0, result.output
    assert result.processed > 0 and result.failed in (0, -1), result.output
    return result


def test_prometheus_finds_transaction_series(prometheus, bench):
    series = wait_for(
        lambda: [(m, v) for m, v in prometheus.query(
            'storegate_transactions_total{db_key="dedicated1"}') if v >= bench.processed],
        timeout=30, what="the transaction count in prometheus")
    labels, value = series[0]
    assert labels["job"] == "storegate" and labels["db_key"] == "dedicated1"
    queries = prometheus.query('storegate_queries_total{db_key="dedicated1"}')
    assert queries and queries[0][1] >= 4 * bench.processed
    buckets = prometheus.series(
        'storegate_transaction_duration_seconds_bucket{db_key="dedicated1"}')
    assert {s["le"] for s in buckets} >= {"0.001", "1", "+Inf"}
    count = prometheus.query('storegate_transaction_duration_seconds_count{db_key="dedicated1"}')
    assert count and count[0][1] >= bench.processed


def test_prometheus_finds_pool_series(prometheus, bench):
    servers = wait_for(
        lambda: prometheus.query('storegate_server_connections{db_key="dedicated1"}'),
        timeout=30, what="server connection series")
    assert {labels["state"] for labels, _ in servers} == {"active", "idle"}
    assert sum(value for _, value in servers) >= 1
    waits = prometheus.query('storegate_pool_wait_duration_seconds_count{db_key="dedicated1"}')
    assert waits and waits[0][1] >= CLIENTS
    busiest = prometheus.query(
        'max_over_time(storegate_client_connections{state="active"}[10m])')
    assert busiest and busiest[0][1] >= 1
    connected = prometheus.query("storegate_registry_connected")
    assert connected and connected[0][1] == 1


def test_promtool_accepts_the_exposition(admin, bench):
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    exposition = admin.metrics()
    done = subprocess.run([promtool, "check", "metrics"], input=exposition, text=True,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "" and done.stderr.strip() == "", done.stdout + done.stderr


def test_metric_names_follow_the_conventions(admin, bench):
    exposition = admin.metrics()
    types = {}
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
    assert types, exposition[:500]
    for name, kind in types.items():
        assert name.startswith("storegate_"), name
        if kind == "counter":
            assert name.endswith("_total"), name
        if kind == "histogram":
            assert name.endswith("_seconds"), name


def test_per_store_series_stay_within_the_limit(instance, admin, registry, bench):
    with psycopg.connect(instance.dsn("alpha", password=registry.passwords["app"]),
                         autocommit=True) as conn:
        for _ in range(5):
            conn.execute("SELECT 1")
    admin.metrics()  # a scrape attributes the activity since the previous one
    exposition = admin.metrics()
    stores = [line for line in exposition.splitlines()
              if line.startswith("storegate_store_transactions_total{")]
    labels = {line.split('store="')[1].split('"')[0] for line in stores}
    assert "other" in labels
    assert len(labels - {"other"}) <= 1, labels
    per_store = sum(float(line.rsplit(" ", 1)[1]) for line in stores)
    per_db_key = sum(metric_value(exposition, "storegate_transactions_total", {"db_key": k}) or 0
                     for k in ("shared1", "dedicated1"))
    assert per_store == per_db_key


def counter(admin, name: str, labels: dict) -> float:
    return metric_value(admin.metrics(), name, labels) or 0.0


def test_failures_are_counted(instance, admin, registry):
    wrong = counter(admin, "storegate_auth_failures_total", {"reason": "wrong_password"})
    unknown = counter(admin, "storegate_routing_decisions_total",
                      {"source": "options", "result": "unknown"})
    startup = counter(admin, "storegate_protocol_errors_total", {"kind": "startup"})

    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(instance.dsn("alpha", password="not-the-password"))
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(instance.dsn("no-such-store", password=registry.passwords["app"]))
    with socket.create_connection((instance.host, instance.port), timeout=10) as sock:
        sock.sendall(b"\x00\x00\x00\x08\x00\x09\x00\x00")  # protocol version 9.0
        sock.recv(1024)

    assert counter(admin, "storegate_auth_failures_total",
                   {"reason": "wrong_password"}) == wrong + 1
    assert counter(admin, "storegate_routing_decisions_total",
                   {"source": "options", "result": "unknown"}) == unknown + 1
    assert counter(admin, "storegate_protocol_errors_total", {"kind": "startup"}) == startup + 1


def test_client_states_follow_sessions(instance, admin, registry):
    before = counter(admin, "storegate_client_connections", {"state": "active"})
    with psycopg.connect(instance.dsn("gamma", password=registry.passwords["app"])) as conn:
        conn.execute("SELECT 1")
        assert counter(admin, "storegate_client_connections", {"state": "active"}) == before + 1
    wait_for(lambda: counter(admin, "storegate_client_connections", {"state": "active"}) == before,
             what="the client to leave")


DASHBOARD = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "docs", "grafana-dashboard.json")


def dashboard_expressions() -> list:
    with open(DASHBOARD) as source:
        dashboard = json.load(source)
    return [target["expr"] for panel in dashboard["panels"]
            for target in panel.get("targets", [])]


def test_dashboard_queries_run_on_existing_metrics(admin, prometheus, bench):
    exposition = admin.metrics()
    exported = {line.split(" ")[2] for line in exposition.splitlines()
                if line.startswith("# TYPE ")}
    expressions = dashboard_expressions()
    assert len(expressions) > 20
    for expr in expressions:
        for name in re.findall(r"storegate_[a-z_]+", expr):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in exported or base in exported, f"{name} in {expr}"
        concrete = (expr.replace("$__rate_interval", "1m").replace("$instance", ".*")
                    .replace("$db_key", ".*"))
        assert prometheus.query_status(concrete) == "success", concrete


def test_transaction_pooling_reports_idle_and_pinned_clients(storegate, registry):
    instance = storegate({"pool": {"mode": "transaction"}, "admin": {"token": "metrics-test"}})
    admin = AdminClient(instance, "metrics-test")
    with psycopg.connect(instance.dsn("alpha", password=registry.passwords["app"]),
                         autocommit=True) as conn:
        conn.execute("SELECT 1")
        wait_for(lambda: counter(admin, "storegate_client_connections", {"state": "idle"}) == 1,
                 what="the client to be idle between transactions")
        assert counter(admin, "storegate_client_pinned", {"reason": "listen"}) == 0
        conn.execute("LISTEN storegate_metrics_test")
        wait_for(lambda: counter(admin, "storegate_client_pinned", {"reason": "listen"}) == 1,
                 what="the LISTEN pin")
        pools = {row["database"]: row for row in admin.ok("GET", "/v1/pools")["pools"]}
        assert pools["shared1"]["pool_mode"] == "transaction"
    wait_for(lambda: counter(admin, "storegate_client_pinned", {"reason": "listen"}) == 0,
             what="the pin to go with the client")
