"""TLS towards backends: a cluster with ssl on that refuses plain connections, reached with
sslmode verify-full against the test CA (host name checked, SNI sent), require, and refused
with prefer's opposite, disable."""

import os
import shutil
import tempfile
import uuid

import psycopg
import pytest

from harness import lifecycle
from harness.pg import PgCluster
from tls_ca import CertAuthority

BACKEND_PASSWORD = "tls-backend-secret"


@pytest.fixture(scope="module")
def tls_cluster(run_dir):
    ca = CertAuthority(tempfile.mkdtemp(prefix="backend-ca-", dir=run_dir))
    # Named localhost only: connecting by address then fails verify-full's name check.
    cert, key = ca.issue("pgserver", "localhost", dns=("localhost",))
    base = tempfile.mkdtemp(prefix="pg-tls-", dir=run_dir)
    os.chmod(base, 0o755)
    cluster = PgCluster(base, "tlsdb", {"ssl": "on", "ssl_cert_file": "'server.crt'",
                                         "ssl_key_file": "'server.key'"})
    for src, name in ((cert, "server.crt"), (key, "server.key")):
        dest = os.path.join(cluster.data_dir, name)
        shutil.copy(src, dest)
        os.chmod(dest, 0o600)
        lifecycle.chown_postgres(dest)
    hba = os.path.join(cluster.data_dir, "pg_hba.conf")
    with open(hba, "w") as out:
        out.write("local all all trust\n"
                  "hostssl all all 127.0.0.1/32 scram-sha-256\n"
                  "hostnossl all all 127.0.0.1/32 reject\n")
    lifecycle.chown_postgres(hba)
    cluster.start()
    cluster.create_role("sg_tls", BACKEND_PASSWORD, "scram")
    cluster.create_db("tls_db", "sg_tls")
    yield cluster, ca
    cluster.stop()


REGISTRY = """
[[backends]]
db_key = "{db_key}"
kind = "dedicated"
host = "{host}"
port = {port}
database_name = "tls_db"
username = "sg_tls"
password_secret_ref = "env:SG_TLS_PW"
{sslmode}

[[tenants]]
id = "{tenant}"
name = "TLS"
slug = "tls"
common_db_key = "{db_key}"

[[stores]]
id = "{store}"
tenant_id = "{tenant}"
slug = "secure"
name = "Secure Store"
status = "active"
db_key = "{db_key}"
"""


def proxy_for(storegate, run_dir, cluster, ca, host, sslmode, default=None):
    path = os.path.join(run_dir, f"registry-tls-{uuid.uuid4().hex[:8]}.toml")
    with open(path, "w") as out:
        out.write(REGISTRY.format(db_key="tls1", host=host, port=cluster.port,
                                  sslmode=f'sslmode = "{sslmode}"' if sslmode else "",
                                  tenant=uuid.uuid4(), store=uuid.uuid4()))
    tls = {"server_ca_file": ca.ca_cert}
    if default:
        tls["server_sslmode"] = default
    return storegate({"registry": {"dsn": None, "file": path}, "tls": tls},
                     env={"SG_TLS_PW": BACKEND_PASSWORD})


def query_ssl(instance, registry):
    dsn = instance.dsn("secure", password=registry.passwords["app"])
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT ssl, version FROM pg_stat_ssl "
                            "WHERE pid = pg_backend_pid()").fetchone()


@pytest.mark.parametrize("host,sslmode", [("localhost", "verify-full"),
                                          ("127.0.0.1", "verify-ca"),
                                          ("localhost", "verify-ca"),
                                          ("localhost", "require")])
def test_backend_reached_over_tls(storegate, registry, run_dir, tls_cluster, host, sslmode):
    cluster, ca = tls_cluster
    instance = proxy_for(storegate, run_dir, cluster, ca, host, sslmode)
    ssl_on, version = query_ssl(instance, registry)
    assert ssl_on is True and version.startswith("TLSv1.")


def test_default_sslmode_applies_to_db_keys_without_their_own(storegate, registry, run_dir,
                                                              tls_cluster):
    cluster, ca = tls_cluster
    instance = proxy_for(storegate, run_dir, cluster, ca, "localhost", None, "verify-full")
    assert query_ssl(instance, registry)[0] is True


def test_verify_full_refuses_a_name_the_certificate_does_not_hold(storegate, registry, run_dir,
                                                                  tls_cluster):
    cluster, ca = tls_cluster
    instance = proxy_for(storegate, run_dir, cluster, ca, "127.0.0.1", "verify-full")
    with pytest.raises(psycopg.OperationalError, match="TLS handshake"):
        query_ssl(instance, registry)


def test_verify_ca_refuses_another_ca(storegate, registry, run_dir, tls_cluster):
    cluster, _ = tls_cluster
    other = CertAuthority(tempfile.mkdtemp(prefix="other-backend-ca-", dir=run_dir))
    instance = proxy_for(storegate, run_dir, cluster, other, "localhost", "verify-ca")
    with pytest.raises(psycopg.OperationalError, match="TLS handshake"):
        query_ssl(instance, registry)


def test_disable_is_refused_by_a_tls_only_server(storegate, registry, run_dir, tls_cluster):
    cluster, ca = tls_cluster
    instance = proxy_for(storegate, run_dir, cluster, ca, "localhost", "disable")
    with pytest.raises(psycopg.OperationalError):
        query_ssl(instance, registry)
