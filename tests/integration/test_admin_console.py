"""The SQL admin console: database "storegate" as an admin user gives SHOW/PAUSE/RESUME/RELOAD
commands over the simple query protocol, answered with PgBouncer-like columns."""

import secrets
import subprocess

import psycopg
import pytest
from psycopg.pq import DiagnosticField, ExecStatus

from harness.pg import pg_program
from harness.storegate import StoregateFactory
from harness.util import backend_identity, client_env, wait_for

ADMIN_PASSWORD = secrets.token_hex(8)


@pytest.fixture(scope="module")
def instance(registry, binary, run_dir):
    factory = StoregateFactory(registry, binary, run_dir)
    users = dict(registry.users(), ops=ADMIN_PASSWORD)
    yield factory({"admin": {"admin_users": ["ops"]}}, users=users)
    factory.stop_all()


def console_dsn(instance, user: str = "ops") -> str:
    return instance.dsn(user=user, dbname="storegate", password=ADMIN_PASSWORD)


def console(instance, command: str) -> tuple:
    """(columns, rows) of one console command run by psql."""
    argv = [pg_program("psql"), "-X", "-A", "-F", "\t", "-P", "footer=off", "-v",
            "ON_ERROR_STOP=1", "-d", console_dsn(instance), "-c", command]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=client_env(),
                          check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    columns = lines[0].split("\t") if lines else []
    return columns, [dict(zip(columns, line.split("\t"))) for line in lines[1:]]


@pytest.fixture
def alpha_client(instance, registry):
    conn = psycopg.connect(instance.dsn("alpha", password=registry.passwords["app"],
                                        application_name="console-test"), autocommit=True)
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    yield pid
    conn.close()


def test_show_pools(instance, alpha_client):
    columns, rows = console(instance, "SHOW POOLS")
    for column in ("database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle",
                   "maxwait", "pool_mode"):
        assert column in columns
    shared = [row for row in rows if row["database"] == "shared1"]
    assert len(shared) == 1
    assert int(shared[0]["cl_active"]) >= 1 and int(shared[0]["sv_active"]) >= 1
    assert shared[0]["user"] == "sg_shared"


def test_show_clients_and_servers(instance, alpha_client):
    columns, clients = console(instance, "SHOW CLIENTS")
    for column in ("user", "database", "state", "addr", "port", "connect_time", "link",
                   "remote_pid", "store", "db_key", "pinned"):
        assert column in columns
    mine = [row for row in clients if row["application_name"] == "console-test"]
    assert len(mine) == 1
    assert (mine[0]["store"], mine[0]["state"]) == ("alpha", "active")
    assert int(mine[0]["remote_pid"]) == alpha_client
    assert any(row["state"] == "console" and row["user"] == "ops" for row in clients)

    columns, servers = console(instance, "SHOW SERVERS")
    for column in ("type", "user", "database", "state", "addr", "port", "link", "remote_pid"):
        assert column in columns
    linked = [row for row in servers if row["remote_pid"] == str(alpha_client)]
    assert len(linked) == 1
    assert linked[0]["state"] == "active" and linked[0]["link"] == mine[0]["id"]


def test_show_stats_and_stores(instance, alpha_client):
    columns, stats = console(instance, "SHOW STATS")
    assert columns[:3] == ["database", "total_xact_count", "total_query_count"]
    assert int({row["database"]: row for row in stats}["shared1"]["total_xact_count"]) >= 1

    columns, stores = console(instance, "SHOW STORES")
    for column in ("id", "slug", "state", "db_key", "clients", "pinned", "paused"):
        assert column in columns
    by_slug = {row["slug"]: row for row in stores}
    assert set(by_slug) == {"alpha", "beta", "gamma", "delta"}
    assert int(by_slug["alpha"]["clients"]) >= 1
    assert by_slug["gamma"]["db_key"] == "dedicated1"


def test_show_route_explains_the_backend(instance, registry):
    columns, rows = console(instance, "SHOW ROUTE gamma")
    assert len(rows) == 1
    route = rows[0]
    assert route["store"] == registry.stores["gamma"].id
    assert (route["db_key"], route["kind"], route["database"]) == ("dedicated1", "dedicated",
                                                                  "store_gamma")
    assert route["registry"] == "postgresql"
    assert int(route["registry_version"]) > 0
    assert "store_db_routing" in route["reason"]


def test_show_instances_and_help(instance):
    columns, rows = wait_for(
        lambda: (lambda got: got if any(r["self"] == "true" for r in got[1]) else None)(
            console(instance, "SHOW INSTANCES")), what="this instance registered")
    assert "applied_version" in columns and "heartbeat_at" in columns
    columns, rows = console(instance, "SHOW HELP")
    assert columns == ["command", "description"]
    assert any(row["command"] == "PAUSE <store>" for row in rows)


def exec_simple(conn: psycopg.Connection, sql: str):
    """One simple-protocol Query (psycopg's execute() uses the extended protocol)."""
    return conn.pgconn.exec_(sql.encode())


def test_unknown_command_errors_and_the_console_stays_usable(instance):
    with psycopg.connect(console_dsn(instance)) as conn:
        bad = exec_simple(conn, "SELECT 1")
        assert bad.status == ExecStatus.FATAL_ERROR
        assert bad.error_field(DiagnosticField.SQLSTATE) == b"42601"
        good = exec_simple(conn, "SHOW HELP")
        assert good.status == ExecStatus.TUPLES_OK and good.ntuples > 5
        unknown = exec_simple(conn, "SHOW ROUTE no-such-store")
        assert unknown.error_field(DiagnosticField.SQLSTATE) == b"3D000"
        assert exec_simple(conn, "SHOW POOLS").status == ExecStatus.TUPLES_OK


def test_extended_protocol_is_refused_until_sync(instance):
    with psycopg.connect(console_dsn(instance)) as conn:
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            conn.execute("SHOW POOLS")
        assert exec_simple(conn, "SHOW STATS").status == ExecStatus.TUPLES_OK


def registry_paused(registry, slug: str) -> bool:
    return registry.clusters["registry"].execute(
        "SELECT paused FROM stores WHERE slug = %s", [slug], dbname=registry.registry_db)[0][0]


def test_pause_and_resume(instance, registry):
    try:
        with psycopg.connect(console_dsn(instance)) as conn:
            paused = exec_simple(conn, "PAUSE beta")
            assert paused.status == ExecStatus.COMMAND_OK
            assert paused.command_status == b"PAUSE"
            assert registry_paused(registry, "beta") is True
            stores = {row["slug"]: row for row in console(instance, "SHOW STORES")[1]}
            assert stores["beta"]["state"] == "paused" and stores["beta"]["paused"] == "true"

            resumed = exec_simple(conn, "RESUME beta")
            assert resumed.command_status == b"RESUME"
            assert registry_paused(registry, "beta") is False
            stores = {row["slug"]: row for row in console(instance, "SHOW STORES")[1]}
            assert stores["beta"]["state"] == "active"

            missing = exec_simple(conn, "PAUSE no-such-store")
            assert missing.error_field(DiagnosticField.SQLSTATE) == b"3D000"
    finally:
        registry.clusters["registry"].execute(
            "UPDATE stores SET paused = false WHERE slug = 'beta'", dbname=registry.registry_db)


def test_reload_and_log_level(instance):
    with psycopg.connect(console_dsn(instance)) as conn:
        assert exec_simple(conn, "RELOAD").command_status == b"RELOAD"
        assert exec_simple(conn, "SET log_level = debug").command_status == b"SET"
        bad = exec_simple(conn, "SET log_level = loud")
        assert bad.error_field(DiagnosticField.SQLSTATE) == b"22023"
        assert exec_simple(conn, "SET log_level TO 'info'").command_status == b"SET"
    assert "log level changed level=debug" in instance.log_tail(300)


def test_console_needs_the_admin_password(instance):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(instance.dsn(user="ops", dbname="storegate", password="wrong"))


def test_other_users_asking_for_storegate_are_routed_normally(instance, registry):
    dsn = instance.dsn("alpha", dbname="storegate", password=registry.passwords["app"])
    assert backend_identity(dsn) == ("shared_db", registry.clusters["shared"].port)
    with pytest.raises(psycopg.OperationalError, match="no store named"):
        psycopg.connect(instance.dsn(dbname="storegate", password=registry.passwords["app"]))
