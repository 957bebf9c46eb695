"""The standard test and demo deployment: a shared backend holding two small stores and the
tenant's common database, a dedicated backend holding one large store, and a registry cluster,
with the registry seeded to route them. Tests and scripts/demo.py both build it from here."""

import os
import secrets
import subprocess
import uuid
from dataclasses import dataclass

from psycopg import sql

from . import scram
from .pg import PgCluster
from .ports import free_port


@dataclass
class Store:
    id: str
    slug: str
    name: str
    db_key: str
    database: str
    cluster: PgCluster


class Topology:
    """Build with `Topology(base_dir, binary).setup()`. Passwords are random per run; the
    backend ones reach storegate only through the environment (password_secret_ref = env:...)."""

    tenant_slug = "acme"
    registry_db = "storegate_registry"

    def __init__(self, base_dir: str, binary: str, with_unreachable: bool = True):
        self.with_unreachable = with_unreachable  # store delta on a db_key nobody serves
        self.base_dir = os.path.abspath(base_dir)
        self.binary = binary
        self.clusters = {}
        self.stores = {}
        self.tenant_id = str(uuid.uuid4())
        self.passwords = {name: secrets.token_hex(12) for name in
                          ("sg_shared", "sg_dedicated", "sg_registry", "app", "md5user", "plain")}
        self.dead_port = 0

    # --- what storegate needs -------------------------------------------------------------

    @property
    def registry_dsn(self) -> str:
        return self.clusters["registry"].dsn(self.registry_db, "sg_registry",
                                             self.passwords["sg_registry"])

    @property
    def env(self) -> dict:
        """Backend credentials, referenced by db_connections.password_secret_ref."""
        return {"SG_SHARED_PW": self.passwords["sg_shared"],
                "SG_DEDICATED_PW": self.passwords["sg_dedicated"]}

    def users(self) -> dict:
        """Client users in PgBouncer userlist form: a SCRAM verifier, an md5 hash, plain."""
        return {"app": scram.verifier(self.passwords["app"]),
                "md5user": scram.md5_hash("md5user", self.passwords["md5user"]),
                "plain": self.passwords["plain"]}

    def storegate_config(self) -> dict:
        return {
            "server": {"threads": 2, "shutdown_timeout_ms": 5000},
            "registry": {"dsn": self.registry_dsn},
            "pool": {"mode": "session", "size": 4},
            "auth": {"type": "scram-sha-256"},
            "log": {"level": "info"},
        }

    # --- building it ----------------------------------------------------------------------

    def setup(self) -> "Topology":
        return self.start_clusters().setup_registry()

    def start_clusters(self) -> "Topology":
        """The three clusters with their roles and databases; needs no storegate binary."""
        for name in ("shared", "dedicated", "registry"):
            self.clusters[name] = PgCluster(self.base_dir, name)
            self.clusters[name].start()
        self._create_backends()
        return self

    def setup_registry(self) -> "Topology":
        """`storegate registry init` on the registry database, then the routing rows."""
        self.init_registry()
        self._seed_registry()
        return self

    def stop(self) -> None:
        for cluster in reversed(list(self.clusters.values())):
            cluster.stop()

    def _create_backends(self) -> None:
        shared, dedicated, registry = (self.clusters[n] for n in ("shared", "dedicated", "registry"))
        shared.create_role("sg_shared", self.passwords["sg_shared"], "scram")
        shared.create_db("shared_db", "sg_shared")
        shared.create_db("acme_common", "sg_shared")
        dedicated.create_role("sg_dedicated", self.passwords["sg_dedicated"], "md5")
        dedicated.create_db("store_gamma", "sg_dedicated")
        registry.create_role("sg_registry", self.passwords["sg_registry"], "scram")
        registry.create_db(self.registry_db, "sg_registry")
        self.dead_port = free_port()  # nothing listens there: the unreachable backend

    def init_registry(self) -> str:
        result = subprocess.run(
            [self.binary, "registry", "init", "--dsn", self.registry_dsn],
            capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"storegate registry init failed ({result.returncode}):\n"
                               f"{result.stdout}{result.stderr}")
        return result.stdout

    def _backend_rows(self) -> list:
        shared, dedicated = self.clusters["shared"], self.clusters["dedicated"]
        rows = [
            ("shared1", "shared", shared.port, "shared_db", "sg_shared", "env:SG_SHARED_PW"),
            ("acme_common", "shared", shared.port, "acme_common", "sg_shared",
             "env:SG_SHARED_PW"),
            ("dedicated1", "dedicated", dedicated.port, "store_gamma", "sg_dedicated",
             "env:SG_DEDICATED_PW"),
        ]
        if self.with_unreachable:
            rows.append(("dead1", "dedicated", self.dead_port, "store_delta", "sg_shared",
                         "env:SG_SHARED_PW"))
        return rows

    def _seed_registry(self) -> None:
        plan = [("alpha", "Alpha Outlet", "shared1", "shared"),
                ("beta", "Beta Corner", "shared1", "shared"),
                ("gamma", "Gamma Megastore", "dedicated1", "dedicated"),
                ("delta", "Delta Offline", "dead1", "dedicated")]
        if not self.with_unreachable:
            plan.pop()
        databases = {row[0]: row[3] for row in self._backend_rows()}
        with self.clusters["registry"].connect(self.registry_db) as conn, conn.transaction():
            conn.execute(sql.SQL("SET ROLE sg_registry"))
            for row in self._backend_rows():
                conn.execute(
                    "INSERT INTO db_connections (db_key, kind, host, port, database_name, "
                    "username, password_secret_ref, status) "
                    "VALUES (%s, %s, '127.0.0.1', %s, %s, %s, %s, 'active')", row)
            conn.execute("INSERT INTO tenants (id, name, slug, common_db_key) "
                         "VALUES (%s, 'Acme Retail', %s, 'acme_common')",
                         [self.tenant_id, self.tenant_slug])
            for slug, name, db_key, cluster in plan:
                store = Store(str(uuid.uuid4()), slug, name, db_key, databases[db_key],
                              self.clusters[cluster])
                conn.execute("INSERT INTO stores (id, tenant_id, slug, name, status) "
                             "VALUES (%s, %s, %s, %s, 'active')",
                             [store.id, self.tenant_id, slug, name])
                conn.execute("INSERT INTO store_db_routing (store_id, db_key) VALUES (%s, %s)",
                             [store.id, db_key])
                self.stores[slug] = store
