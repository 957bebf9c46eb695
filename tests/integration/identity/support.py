"""Helpers of the identity tests: a database with the identity schema, driven from SQL and from
the command line."""

import os
import subprocess
import uuid
from dataclasses import dataclass, field

import psycopg

from harness.pg import PgCluster


@dataclass
class Tenant:
    id: str
    slug: str
    stores: list = field(default_factory=list)  # store uuids, slugs are <tenant slug>-s<n>


class IdentityDb:
    """One database with the identity schema installed, and helpers to use it from SQL and
    from the command line."""

    def __init__(self, cluster: PgCluster, binary: str, name: str):
        self.cluster = cluster
        self.binary = binary
        self.name = name
        self.dsn = f"host={cluster.socket_dir} port={cluster.port} user=postgres dbname={name}"
        self.tenants = []

    def connect(self, **kwargs) -> psycopg.Connection:
        return self.cluster.connect(self.name, **kwargs)

    def query(self, sql: str, params=None) -> list:
        with self.connect() as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def value(self, sql: str, params=None):
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def cli(self, *args: str, dsn: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        """Runs `storegate identity ARGS --dsn DSN`."""
        argv = [self.binary, "identity", *args] + (["--dsn", self.dsn] if dsn else [])
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)

    def add_tenant(self, slug: str, store_count: int = 2) -> Tenant:
        tenant = Tenant(str(uuid.uuid4()), slug)
        with self.connect() as conn:
            conn.execute("INSERT INTO tenants (id, name, slug) VALUES (%s, %s, %s)",
                         [tenant.id, slug.title(), slug])
            for n in range(1, store_count + 1):
                store = str(uuid.uuid4())
                conn.execute("INSERT INTO stores (id, tenant_id, slug, name) VALUES (%s, %s, %s, %s)",
                             [store, tenant.id, f"{slug}-s{n}", f"{slug} store {n}"])
                tenant.stores.append(store)
        self.tenants.append(tenant)
        return tenant

    def resolve(self, tenant: Tenant, store: str, identities: list, source: str = "test"):
        """identity.resolve_customer through SQL; returns (customer_id or None, outcome)."""
        with self.connect() as conn:
            row = conn.execute("SELECT customer_id, outcome FROM identity.resolve_customer("
                               "%s, %s, %s::jsonb, %s)",
                               [tenant.id, store, psycopg.types.json.Jsonb(identities), source]
                               ).fetchone()
        return (str(row[0]) if row[0] else None, row[1])


def ident(kind: str, value: str, verified: bool = True) -> dict:
    return {"type": kind, "value": value, "verified": verified}


def fresh_database(cluster: PgCluster, binary: str) -> IdentityDb:
    name = "identity_" + uuid.uuid4().hex[:12]
    cluster.create_db(name)
    db = IdentityDb(cluster, binary, name)
    registry = subprocess.run([binary, "registry", "init", "--dsn", db.dsn],
                              capture_output=True, text=True, timeout=120, check=False)
    assert registry.returncode == 0, registry.stderr
    init = db.cli("init")
    assert init.returncode == 0, init.stderr
    return db


def seeded_database(cluster: PgCluster, binary: str) -> IdentityDb:
    """fresh_database with tenants "acme" (stores acme-s1, acme-s2) and "globex"."""
    db = fresh_database(cluster, binary)
    db.add_tenant("acme")
    db.add_tenant("globex")
    return db
