"""Fixtures for the identity tests: one PostgreSQL cluster for the run, and a fresh database per
test holding the registry tables (`storegate registry init`), the identity schema (`storegate
identity init`) and two tenants with stores."""

import os
import uuid

import pytest

from harness.pg import PgCluster

from .support import IdentityDb, seeded_database


@pytest.fixture(scope="session")
def identity_cluster(run_dir):
    cluster = PgCluster(os.path.join(run_dir, "identity"), "identity")
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def idb(identity_cluster, binary) -> IdentityDb:
    """A fresh database with the identity schema and tenants "acme" (stores acme-s1, acme-s2)
    and "globex" (globex-s1, globex-s2)."""
    return seeded_database(identity_cluster, binary)


@pytest.fixture
def bare_db(identity_cluster, binary):
    """Factory of empty databases (no registry tables): (name, dsn)."""

    def make():
        name = "bare_" + uuid.uuid4().hex[:12]
        identity_cluster.create_db(name)
        return name, (f"host={identity_cluster.socket_dir} port={identity_cluster.port} "
                      f"user=postgres dbname={name}")

    return make
