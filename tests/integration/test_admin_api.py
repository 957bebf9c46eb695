"""The HTTP admin API: the bearer token guards /v1/, each endpoint's JSON shape, pause and
resume through the registry, route changes guarded by the registry version, errors as JSON."""

import os
import secrets
import subprocess
import uuid

import psycopg
import pytest

from admin_client import AdminClient, metric_value
from harness.storegate import StoregateFactory
from harness.util import wait_for

TOKEN = secrets.token_hex(16)
READ_ENDPOINTS = ["/v1/stores", "/v1/stores/alpha", "/v1/pools", "/v1/clients", "/v1/servers",
                  "/v1/stats", "/v1/instances"]


@pytest.fixture(scope="module")
def instance(registry, binary, run_dir):
    factory = StoregateFactory(registry, binary, run_dir)
    yield factory({"admin": {"token": "env:SG_ADMIN_TOKEN"}}, env={"SG_ADMIN_TOKEN": TOKEN})
    factory.stop_all()


@pytest.fixture(scope="module")
def admin(instance):
    return AdminClient(instance, TOKEN)


@pytest.fixture
def client_of(instance, registry):
    """Opens client connections through storegate; closes them after the test."""
    opened = []

    def connect(slug: str) -> psycopg.Connection:
        conn = psycopg.connect(instance.dsn(slug, password=registry.passwords["app"],
                                            application_name="admin-api-test"), autocommit=True)
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


def registry_row(registry, query: str, params=None):
    return registry.clusters["registry"].execute(query, params, dbname=registry.registry_db)


@pytest.mark.parametrize("path", READ_ENDPOINTS)
def test_v1_needs_the_bearer_token(admin, path):
    before = metric_value(admin.metrics(), "storegate_admin_unauthorized_total")
    assert admin.get(path, token=None)[0] == 401
    status, answer = admin.get(path, token=TOKEN + "x")
    assert status == 401
    assert "error" in answer
    after = metric_value(admin.metrics(), "storegate_admin_unauthorized_total")
    assert after == before + 2


@pytest.mark.parametrize("method,path", [("POST", "/v1/stores/alpha/pause"),
                                         ("PUT", "/v1/stores/alpha/route"),
                                         ("POST", "/v1/reload")])
def test_actions_need_the_bearer_token(admin, registry, method, path):
    assert admin.request(method, path, body={}, token=None)[0] == 401
    paused = registry_row(registry, "SELECT paused FROM stores WHERE slug = 'alpha'")[0][0]
    assert paused is False


@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/readyz"])
def test_probes_are_open(admin, path):
    assert admin.get(path, token=None)[0] == 200


def test_readyz_and_healthz_answer_json(admin):
    assert admin.get("/readyz", token=None)[1] == {"ready": True}
    assert admin.get("/healthz", token=None)[1] == {"status": "ok"}


def test_stores_list_routes_and_states(admin, registry):
    answer = admin.ok("GET", "/v1/stores")
    assert answer["total"] == len(answer["stores"]) == len(registry.stores)
    assert isinstance(answer["registry_version"], int)
    by_slug = {row["slug"]: row for row in answer["stores"]}
    assert by_slug["alpha"]["db_key"] == "shared1"
    assert by_slug["alpha"]["kind"] == "shared"
    assert by_slug["gamma"]["kind"] == "dedicated"
    assert by_slug["alpha"]["state"] == "active"
    assert by_slug["alpha"]["id"] == registry.stores["alpha"].id
    for key in ("clients", "cl_active", "cl_waiting", "pinned", "paused", "tenant_id", "name"):
        assert key in by_slug["beta"]
    page = admin.ok("GET", "/v1/stores?offset=1&limit=2")
    assert [row["slug"] for row in page["stores"]] == sorted(by_slug)[1:3]


def test_store_detail_counts_its_clients(admin, registry, client_of):
    conn = client_of("gamma")
    conn.execute("SELECT 1")
    by_slug = admin.ok("GET", "/v1/stores/gamma")
    by_id = admin.ok("GET", f"/v1/stores/{registry.stores['gamma'].id}")
    assert by_slug["id"] == by_id["id"] == registry.stores["gamma"].id
    assert by_slug["clients"] == 1 and by_slug["cl_active"] == 1
    assert by_slug["backend"]["db_key"] == "dedicated1"
    assert by_slug["backend"]["database"] == "store_gamma"
    assert set(by_slug["pinning"]) == {"listen", "advisory_lock", "temp_table",
                                       "with_hold_cursor", "sql_prepare"}
    assert admin.get("/v1/stores/no-such-store")[0] == 404


def test_pools_clients_and_servers_show_a_connected_client(admin, registry, client_of):
    conn = client_of("alpha")
    backend_pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]

    pools = {row["database"]: row for row in admin.ok("GET", "/v1/pools")["pools"]}
    assert pools["shared1"]["cl_active"] >= 1
    assert pools["shared1"]["sv_active"] >= 1
    assert pools["shared1"]["user"] == "sg_shared"
    assert pools["shared1"]["pool_mode"] == "session"

    clients = [row for row in admin.ok("GET", "/v1/clients")["clients"]
               if row["application_name"] == "admin-api-test"]
    assert len(clients) == 1
    client = clients[0]
    assert (client["store"], client["db_key"], client["state"]) == ("alpha", "shared1", "active")
    assert client["user"] == "app" and client["remote_pid"] == backend_pid
    assert client["addr"] == "127.0.0.1" and client["source"] == "options"

    servers = admin.ok("GET", "/v1/servers")["servers"]
    mine = [row for row in servers if row["remote_pid"] == backend_pid]
    assert len(mine) == 1
    assert mine[0]["state"] == "active" and mine[0]["link"] == client["id"]
    assert mine[0]["database"] == "shared1"


def test_stats_count_transactions(admin, client_of):
    conn = client_of("beta")
    for _ in range(3):
        conn.execute("SELECT 1")
    rows = {row["database"]: row for row in admin.ok("GET", "/v1/stats")["stats"]}
    assert rows["shared1"]["total_xact_count"] >= 3
    assert rows["shared1"]["total_query_count"] >= 3
    assert rows["shared1"]["total_received"] > 0 and rows["shared1"]["total_sent"] > 0


def test_instances_lists_this_instance(admin, instance, registry):
    def listed():
        answer = admin.ok("GET", "/v1/instances")
        return [row for row in answer["instances"] if row["self"]]

    mine = wait_for(listed, what="this instance in storegate_instances")
    assert mine[0]["admin_address"] and mine[0]["address"]
    assert isinstance(mine[0]["applied_version"], int)
    version = subprocess.run([instance.binary, "--version"], capture_output=True,
                             text=True, check=True).stdout.split()[-1]
    assert mine[0]["storegate_version"] == version


def test_pause_and_resume_change_the_registry(admin, registry):
    beta_id = registry.stores["beta"].id
    try:
        answer = admin.ok("POST", "/v1/stores/beta/pause")
        assert answer["store"]["paused"] is True and answer["changed"] is True
        assert registry_row(registry, "SELECT paused FROM stores WHERE id = %s",
                            [beta_id])[0][0] is True
        assert admin.ok("GET", "/v1/stores/beta")["state"] == "paused"
        again = admin.ok("POST", "/v1/stores/beta/pause")
        assert again["changed"] is False

        answer = admin.ok("POST", "/v1/stores/beta/resume")
        assert answer["store"]["paused"] is False and answer["version"] > 0
        assert registry_row(registry, "SELECT paused FROM stores WHERE id = %s",
                            [beta_id])[0][0] is False
        assert admin.ok("GET", "/v1/stores/beta")["state"] == "active"
        actions = registry_row(
            registry, "SELECT action, actor FROM storegate_audit WHERE store_id = %s "
            "AND action IN ('pause', 'resume') ORDER BY id DESC LIMIT 2", [beta_id])
        assert [row[0] for row in actions] == ["resume", "pause"]
        assert all(row[1].startswith("http 127.0.0.1:") for row in actions)
    finally:
        registry_row(registry, "UPDATE stores SET paused = false WHERE id = %s", [beta_id])


def test_pause_of_an_unknown_store_is_404(admin):
    status, answer = admin.request("POST", f"/v1/stores/{uuid.uuid4()}/pause")
    assert status == 404 and "does not exist" in answer["error"]


def stable_version(admin, registry) -> int:
    """The registry version once this instance has applied every change."""
    def settled():
        current = registry_row(registry, "SELECT version FROM storegate_registry_version")[0][0]
        seen = admin.ok("GET", "/v1/stores/beta")["registry_version"]
        return seen if seen == current else None

    return wait_for(settled, what="storegate to apply the registry version")


def test_route_change_with_a_stale_version_is_refused(admin, registry):
    beta = registry.stores["beta"]
    version = stable_version(admin, registry)
    status, answer = admin.request("PUT", "/v1/stores/beta/route",
                                   {"db_key": "dedicated1", "version": version - 1})
    assert status == 409, answer
    assert answer["version"] == version
    assert registry_row(registry, "SELECT db_key FROM store_db_routing WHERE store_id = %s",
                        [beta.id])[0][0] == "shared1"
    try:
        moved = admin.ok("PUT", "/v1/stores/beta/route",
                         {"db_key": "dedicated1", "version": version})
        assert moved["old_db_key"] == "shared1" and moved["store"]["db_key"] == "dedicated1"
        assert moved["version"] > version
        # The route is in the registry; this instance applies it from the notification.
        wait_for(lambda: admin.ok("GET", "/v1/stores/beta")["backend"]["db_key"] == "dedicated1",
                 what="the new route")
        # The version the move was refused at is stale now as well.
        assert admin.request("PUT", "/v1/stores/beta/route",
                             {"db_key": "shared1", "version": version})[0] == 409
    finally:
        registry_row(registry, "UPDATE store_db_routing SET db_key = 'shared1' "
                     "WHERE store_id = %s", [beta.id])
    wait_for(lambda: admin.ok("GET", "/v1/stores/beta")["db_key"] == "shared1",
             what="the restored route")


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"db_key": "shared1"}',
                                  b'{"db_key": 7, "version": 1}',
                                  b'{"db_key": "shared1", "version": -1}'])
def test_bad_route_bodies_are_400(admin, body):
    status, answer = admin.request("PUT", "/v1/stores/beta/route", raw_body=body)
    assert status == 400 and "error" in answer


def test_route_to_an_unknown_db_key_is_400(admin, registry):
    version = stable_version(admin, registry)
    status, answer = admin.request("PUT", "/v1/stores/beta/route",
                                   {"db_key": "no_such_db_key", "version": version})
    assert status == 400 and "no_such_db_key" in answer["error"]


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/v1/nothing", 404), ("GET", "/nothing", 404), ("DELETE", "/v1/pools", 405),
    ("GET", "/v1/stores/alpha/pause", 405), ("POST", "/metrics", 405),
    ("GET", "/v1/stores/%zz", 400)])
def test_unknown_paths_and_methods(admin, method, path, status):
    got, answer = admin.request(method, path)
    assert got == status
    assert "error" in answer


def test_reload_and_log_level(admin, instance):
    assert admin.ok("POST", "/v1/reload") == {"reloaded": True}
    assert admin.ok("POST", "/v1/loglevel", {"level": "debug"}) == {"log_level": "debug"}
    assert admin.request("POST", "/v1/loglevel", {"level": "loud"})[0] == 400
    assert admin.ok("POST", "/v1/loglevel", {"level": "info"}) == {"log_level": "info"}
    assert "log level changed level=debug" in instance.log_tail(200)


def test_token_from_a_file_follows_reloads(storegate, registry, run_dir):
    token_file = os.path.join(run_dir, f"admin-token-{secrets.token_hex(4)}")
    with open(token_file, "w") as out:
        out.write("first-token\n")
    instance = storegate({"admin": {"token": f"file:{token_file}"}})
    admin = AdminClient(instance, "first-token")
    assert admin.get("/v1/pools")[0] == 200
    with open(token_file, "w") as out:
        out.write("second-token\n")
    instance.reload()
    wait_for(lambda: admin.get("/v1/pools", token="second-token")[0] == 200,
             what="the reloaded token")
    assert admin.get("/v1/pools", token="first-token")[0] == 401


FILE_REGISTRY = """
version = 3

[[backends]]
db_key = "shared1"
kind = "shared"
host = "127.0.0.1"
port = {port}
database_name = "shared_db"
username = "sg_shared"
password_secret_ref = "env:SG_SHARED_PW"

[[tenants]]
id = "{tenant}"
name = "Acme Retail"
slug = "acme"

[[stores]]
id = "{store}"
tenant_id = "{tenant}"
slug = "filed"
name = "Filed Store"
status = "active"
db_key = "shared1"
"""


def test_registry_writes_need_the_postgresql_registry(storegate, registry, run_dir):
    path = os.path.join(run_dir, f"registry-{secrets.token_hex(4)}.toml")
    with open(path, "w") as out:
        out.write(FILE_REGISTRY.format(port=registry.clusters["shared"].port,
                                       tenant=uuid.uuid4(), store=uuid.uuid4()))
    instance = storegate({"registry": {"dsn": None, "file": path},
                          "admin": {"token": TOKEN}})
    admin = AdminClient(instance, TOKEN)
    assert admin.ok("GET", "/v1/stores/filed")["registry_version"] == 3
    for method, path_, body in [("POST", "/v1/stores/filed/pause", None),
                                ("POST", "/v1/stores/filed/resume", None),
                                ("PUT", "/v1/stores/filed/route",
                                 {"db_key": "shared1", "version": 3}),
                                ("GET", "/v1/instances", None)]:
        status, answer = admin.request(method, path_, body)
        assert status == 501, (method, path_, answer)
        assert "registry" in answer["error"]


def test_an_unresolvable_backend_password_is_named_only_in_the_log(storegate, registry,
                                                                      run_dir):
    """A db_connections row whose password reference cannot be resolved fails the client
    with 08006 for that db_key; which reference, and why, goes to the log only."""
    path = os.path.join(run_dir, f"registry-{secrets.token_hex(4)}.toml")
    with open(path, "w") as out:
        out.write(FILE_REGISTRY.format(port=registry.clusters["shared"].port,
                                       tenant=uuid.uuid4(), store=uuid.uuid4())
                  .replace("env:SG_SHARED_PW", "env:SG_UNSET_SECRET_NAME"))
    instance = storegate({"registry": {"dsn": None, "file": path}})
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(instance.dsn("filed", password=registry.passwords["app"])).close()
    assert "cannot resolve the password" in str(refused.value)
    assert "SG_UNSET_SECRET_NAME" not in str(refused.value)
    with open(instance.log_path) as log:
        assert "SG_UNSET_SECRET_NAME" in log.read()
