"""Applications reach the identity functions through storegate: a tenant-level connection
(-c storegate.tenant=<tenant>) lands in the tenant's common database, where identity.*
works with plain SQL under the backend's own, unprivileged role."""

import random
import subprocess
import threading

import psycopg
import pytest
from psycopg.types.json import Jsonb

from .support import ident

WORKERS = 4  # the test configuration's pool size: every worker holds a server connection


@pytest.fixture(scope="module")
def common_db(registry, binary):
    """The topology's common database (acme_common) with the registry tables, the tenant and
    its stores copied in, and the identity schema; its backend role may use the app role."""
    shared = registry.clusters["shared"]
    dsn = f"host={shared.socket_dir} port={shared.port} user=postgres dbname=acme_common"
    for command in (["registry", "init"], ["identity", "init"]):
        result = subprocess.run([binary, *command, "--dsn", dsn], capture_output=True, text=True,
                                timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        if command[0] == "registry":
            copy_tenant(shared, registry)
    shared.execute("GRANT storegate_identity_app TO sg_shared", dbname="acme_common")
    return shared


def copy_tenant(shared, registry) -> None:
    with shared.connect("acme_common") as conn:
        conn.execute("INSERT INTO tenants (id, name, slug) VALUES (%s, 'Acme Retail', %s) "
                     "ON CONFLICT DO NOTHING", [registry.tenant_id, registry.tenant_slug])
        for store in registry.stores.values():
            conn.execute("INSERT INTO stores (id, tenant_id, slug, name) VALUES (%s, %s, %s, %s) "
                         "ON CONFLICT DO NOTHING",
                         [store.id, registry.tenant_id, store.slug, store.name])


def tenant_connection(proxy, registry) -> psycopg.Connection:
    dsn = proxy.dsn(password=registry.passwords["app"],
                    options=f"-c storegate.tenant={registry.tenant_slug}")
    return psycopg.connect(dsn, autocommit=True)


def resolve(conn, registry, store: str, identities: list):
    row = conn.execute("SELECT customer_id, outcome FROM identity.resolve_customer(%s, %s, %s)",
                       [registry.tenant_id, registry.stores[store].id, Jsonb(identities)]
                       ).fetchone()
    return (str(row[0]) if row[0] else None, row[1])


def test_a_tenant_connection_resolves_customers_across_stores(proxy, registry, common_db):
    with tenant_connection(proxy, registry) as conn:
        assert conn.execute("SELECT current_database(), current_user").fetchone() == (
            "acme_common", "sg_shared")
        customer, outcome = resolve(conn, registry, "alpha", [ident("email", "Via@Proxy.example")])
        assert outcome == "created"
        assert resolve(conn, registry, "gamma", [ident("email", "via@proxy.example"),
                                                 ident("external", "pos:1")]) == (customer,
                                                                                  "linked")
        assert str(conn.execute("SELECT identity.find_customer(%s, 'external', 'POS:1')",
                                [registry.tenant_id]).fetchone()[0]) == customer
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT identity_value FROM identity_pii.customer_identities")
    stores = common_db.execute("SELECT s.slug FROM identity.customer_profiles p "
                               "JOIN stores s ON s.id = p.store_id WHERE p.customer_id = %s "
                               "ORDER BY 1", [customer], dbname="acme_common")
    assert stores == [("alpha",), ("gamma",)]


def test_concurrent_tenant_connections_make_one_customer_per_person(proxy, registry, common_db):
    persons, errors, outcomes = 300, [], []
    start = threading.Barrier(WORKERS)

    def work(number: int) -> None:
        rng = random.Random(number)
        order = list(range(persons))
        rng.shuffle(order)
        try:
            with tenant_connection(proxy, registry) as conn:
                start.wait()
                for person in order:
                    identities = [ident("email", f"proxy{person}@example.com"),
                                  ident("external", f"loyalty:{person}-{rng.randint(0, 1)}")]
                    outcomes.append(resolve(conn, registry, rng.choice(["alpha", "beta"]),
                                            identities)[1])
        except psycopg.Error as error:
            errors.append(f"{error.sqlstate} {error}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert outcomes.count("created") == persons
    assert common_db.execute("SELECT count(DISTINCT customer_id) FROM "
                             "identity_pii.customer_identities WHERE identity_value LIKE "
                             "'proxy%@example.com'", dbname="acme_common") == [(persons,)]
    assert common_db.execute("SELECT count(*) FROM (SELECT split_part(identity_value, '-', 1) "
                             "FROM identity_pii.customer_identities WHERE identity_value LIKE "
                             "'loyalty:%' GROUP BY 1 HAVING count(DISTINCT customer_id) > 1) s",
                             dbname="acme_common") == [(0,)]
