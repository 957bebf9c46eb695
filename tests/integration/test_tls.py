"""TLS towards clients: SSLRequest and direct TLS, libpq sslmodes against a test CA, SNI
routing, SCRAM-SHA-256-PLUS channel binding, client certificates, tls.client_mode = require,
certificate reload on SIGHUP, and psycopg and pgjdbc over TLS."""

import os
import socket
import ssl
import struct
import subprocess
import tempfile
import time

import psycopg
import pytest

from harness import wire
from harness.storegate import StoregateFactory
from tls_ca import SNI_SUFFIX, CertAuthority

JDBC_JAR = "/usr/share/java/postgresql.jar"


@pytest.fixture(scope="module")
def ca(run_dir):
    return CertAuthority(tempfile.mkdtemp(prefix="ca-", dir=run_dir))


def tls_section(ca, **extra) -> dict:
    cert, key = ca.server_pair()
    return {"tls": {"cert_file": cert, "key_file": key, **extra},
            "routing": {"sni_suffix": SNI_SUFFIX}}


@pytest.fixture(scope="module")
def tls_proxy(registry, binary, run_dir, ca):
    factory = StoregateFactory(registry, binary, run_dir)
    yield factory(tls_section(ca, ca_file=ca.ca_cert), users=registry.users(), env=registry.env)
    factory.stop_all()


def psql(instance, conninfo: str, sql: str) -> subprocess.CompletedProcess:
    return subprocess.run(["psql", "-X", "-At", "-d", conninfo, "-c", sql], capture_output=True,
                          text=True, timeout=60,
                          env=dict(os.environ, PGCONNECT_TIMEOUT="10"))


def test_psql_sslmode_require(tls_proxy, registry):
    dsn = tls_proxy.dsn("alpha", password=registry.passwords["app"], sslmode="require")
    out = psql(tls_proxy, dsn, "\\conninfo")
    assert out.returncode == 0, out.stderr
    assert "SSL connection (protocol: TLSv1." in out.stdout


def test_psql_verify_full_against_the_test_ca(tls_proxy, registry, ca):
    dsn = tls_proxy.dsn("alpha", password=registry.passwords["app"], sslmode="verify-full",
                        sslrootcert=ca.ca_cert).replace("host=127.0.0.1", "host=localhost")
    out = psql(tls_proxy, dsn, "SELECT current_database()")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "shared_db"


def test_verify_full_fails_against_another_ca(tls_proxy, registry, run_dir):
    other = CertAuthority(tempfile.mkdtemp(prefix="other-ca-", dir=run_dir))
    dsn = tls_proxy.dsn("alpha", password=registry.passwords["app"], sslmode="verify-full",
                        sslrootcert=other.ca_cert)
    out = psql(tls_proxy, dsn, "SELECT 1")
    assert out.returncode != 0
    assert "certificate verify failed" in out.stderr


def test_psycopg_over_tls_with_channel_binding(tls_proxy, registry, ca):
    dsn = tls_proxy.dsn("gamma", password=registry.passwords["app"], sslmode="verify-ca",
                        sslrootcert=ca.ca_cert, channel_binding="require")
    with psycopg.connect(dsn) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT current_database()").fetchone()[0] == "store_gamma"


def test_channel_binding_required_fails_in_plain_text(tls_proxy, registry):
    dsn = tls_proxy.dsn("gamma", password=registry.passwords["app"], sslmode="disable",
                        channel_binding="require")
    with pytest.raises(psycopg.OperationalError, match="channel binding"):
        psycopg.connect(dsn)


def test_sni_routes_to_the_store(tls_proxy, registry, ca):
    for store, database in (("alpha", "shared_db"), ("gamma", "store_gamma")):
        dsn = tls_proxy.dsn(None, password=registry.passwords["app"], sslmode="verify-full",
                            sslrootcert=ca.ca_cert, hostaddr="127.0.0.1")
        dsn = dsn.replace("host=127.0.0.1", f"host={store}.{SNI_SUFFIX}")
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == database


def test_plain_clients_still_allowed_by_default(tls_proxy, registry):
    dsn = tls_proxy.dsn("alpha", password=registry.passwords["app"], sslmode="disable")
    with psycopg.connect(dsn) as conn:
        assert not conn.pgconn.ssl_in_use


def direct_tls_socket(instance, ca, alpn=("postgresql",)) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=ca.ca_cert)
    context.set_alpn_protocols(list(alpn))
    raw = socket.create_connection((instance.host, instance.port), timeout=15)
    return context.wrap_socket(raw, server_hostname="localhost")


def test_direct_tls_with_alpn(tls_proxy, registry, ca):
    client = wire.WireClient.__new__(wire.WireClient)
    client.sock = direct_tls_socket(tls_proxy, ca)
    with client:
        assert client.sock.selected_alpn_protocol() == "postgresql"
        params = {"user": "app", "database": "app", "options": "-c storegate.store=gamma"}
        result = client.startup(params, registry.passwords["app"])
        assert result.ok, result.error
        rows, error = client.query("SELECT current_database()")
        assert error is None and rows == [["store_gamma"]]


def test_direct_tls_without_alpn_is_closed(tls_proxy, ca):
    sock = direct_tls_socket(tls_proxy, ca, alpn=("http/1.1",))
    with sock:
        sock.sendall(wire.startup_packet({"user": "app", "database": "app"}))
        assert sock.recv(100) == b""


def test_require_mode_refuses_plain_clients(storegate, registry, ca):
    instance = storegate(tls_section(ca, client_mode="require"), users=registry.users(),
                         env=registry.env)
    plain = instance.dsn("alpha", password=registry.passwords["app"], sslmode="disable")
    with pytest.raises(psycopg.OperationalError, match="only TLS"):
        psycopg.connect(plain)
    encrypted = instance.dsn("alpha", password=registry.passwords["app"], sslmode="require")
    with psycopg.connect(encrypted) as conn:
        assert conn.execute("SELECT 1").fetchone()[0] == 1


def test_certificate_authentication(storegate, registry, ca):
    instance = storegate(dict(tls_section(ca, ca_file=ca.ca_cert), auth={"type": "cert"}),
                         env=registry.env)
    cert, key = ca.issue("client-app", "app")
    good = instance.dsn("gamma", sslmode="require", sslcert=cert, sslkey=key)
    with psycopg.connect(good) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "store_gamma"
    other_cert, other_key = ca.issue("client-other", "someone")
    wrong = instance.dsn("gamma", sslmode="require", sslcert=other_cert, sslkey=other_key)
    with pytest.raises(psycopg.OperationalError, match="28P01|authentication failed"):
        psycopg.connect(wrong)
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        psycopg.connect(instance.dsn("gamma", sslmode="require"))


def served_certificate_cn(instance) -> str:
    with socket.create_connection((instance.host, instance.port), timeout=15) as raw:
        raw.sendall(struct.pack("!ii", 8, 80877103))
        assert raw.recv(1) == b"S"
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with context.wrap_socket(raw) as tls:
            der = tls.getpeercert(binary_form=True)
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject"],
                         input=der, capture_output=True, check=True)
    return out.stdout.decode()


def test_certificate_reload_on_sighup(storegate, registry, run_dir):
    ca = CertAuthority(tempfile.mkdtemp(prefix="reload-ca-", dir=run_dir))
    instance = storegate(tls_section(ca), users=registry.users(), env=registry.env)
    assert "CN = localhost" in served_certificate_cn(instance)
    cert, key = ca.issue("renewed", "renewed.example")
    os.replace(cert, instance.config["tls"]["cert_file"])
    os.replace(key, instance.config["tls"]["key_file"])
    instance.reload()
    deadline = time.monotonic() + 30
    subject = ""
    while time.monotonic() < deadline and "renewed.example" not in subject:
        subject = served_certificate_cn(instance)
        time.sleep(0.2)
    assert "renewed.example" in subject


JAVA_PROGRAM = """
import java.sql.*;
public class TlsQuery {
    public static void main(String[] args) throws Exception {
        try (Connection c = DriverManager.getConnection(args[0], args[1], args[2]);
             Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT current_database()")) {
            r.next();
            System.out.println(r.getString(1));
        }
    }
}
"""


@pytest.mark.skipif(not os.path.exists(JDBC_JAR), reason="pgjdbc is not installed")
def test_pgjdbc_over_tls(tls_proxy, registry, ca, run_dir):
    build = tempfile.mkdtemp(prefix="jdbc-", dir=run_dir)
    with open(os.path.join(build, "TlsQuery.java"), "w") as out:
        out.write(JAVA_PROGRAM)
    subprocess.run(["javac", "-cp", JDBC_JAR, "-d", build, os.path.join(build, "TlsQuery.java")],
                   check=True, capture_output=True, timeout=120)
    url = (f"jdbc:postgresql://localhost:{tls_proxy.port}/app?ssl=true&sslmode=verify-full"
           f"&sslrootcert={ca.ca_cert}&options=-c%20storegate.store%3Dgamma")
    out = subprocess.run(["java", "-cp", f"{JDBC_JAR}:{build}", "TlsQuery", url, "app",
                          registry.passwords["app"]], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "store_gamma"


def test_auth_query_reads_verifiers_from_the_registry(storegate, registry, ca):
    from harness import scram
    reg = registry.clusters["registry"]
    with reg.connect(registry.registry_db) as conn:
        conn.execute("DROP TABLE IF EXISTS tls_auth_users")
        conn.execute("CREATE TABLE tls_auth_users (usename text PRIMARY KEY, passwd text)")
        conn.execute("INSERT INTO tls_auth_users VALUES ('app', %s)",
                     (scram.verifier(registry.passwords["app"]),))
        conn.execute("GRANT SELECT ON tls_auth_users TO sg_registry")
    query = "SELECT usename, passwd FROM tls_auth_users WHERE usename = $1"
    instance = storegate(dict(tls_section(ca), auth={"auth_query": query}), users={})
    dsn = instance.dsn("gamma", password=registry.passwords["app"], sslmode="require",
                       channel_binding="require")
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "store_gamma"
    for user, password in (("app", "wrong"), ("nobody", "x")):
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(instance.dsn("gamma", user=user, password=password,
                                         sslmode="require"))
