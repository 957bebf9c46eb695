"""Client authentication modes against the users file: SCRAM (verifier or plain secret), md5
(md5 hash or plain secret) and trust."""

import psycopg
import pytest

from harness import wire
from harness.storegate import StoregateFactory

AUTH_OK, AUTH_CLEARTEXT, AUTH_MD5, AUTH_SASL = 0, 3, 5, 10


def startup(instance, registry, user, password):
    with wire.WireClient(instance.host, instance.port) as client:
        params = {"user": user, "database": "app", "options": "-c storegate.store=gamma"}
        result = client.startup(params, password)
        if result.ok:
            rows, error = client.query("SELECT current_database()")
            assert error is None and rows == [["store_gamma"]]
            client.terminate()
        return result


@pytest.mark.parametrize("user", ["app", "plain"])
def test_scram_mode(proxy, registry, user):
    result = startup(proxy, registry, user, registry.passwords[user])
    assert result.ok, result.error
    assert result.auth_methods[0] == AUTH_SASL
    assert result.auth_methods[-1] == AUTH_OK


@pytest.fixture(scope="module")
def md5_proxy(registry, binary, run_dir):
    factory = StoregateFactory(registry, binary, run_dir)
    yield factory({"auth": {"type": "md5"}})
    factory.stop_all()


@pytest.mark.parametrize("user", ["md5user", "plain"])
def test_md5_mode(md5_proxy, registry, user):
    result = startup(md5_proxy, registry, user, registry.passwords[user])
    assert result.ok, result.error
    assert result.auth_methods[0] == AUTH_MD5


def test_md5_mode_rejects_a_wrong_password(md5_proxy, registry):
    result = startup(md5_proxy, registry, "md5user", "not-it")
    assert result.error["code"] == "28P01"


def test_md5_mode_through_libpq(md5_proxy, registry):
    dsn = md5_proxy.dsn("alpha", user="md5user", password=registry.passwords["md5user"])
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "shared_db"


def test_trust_mode_needs_no_password(storegate, registry):
    instance = storegate({"auth": {"type": "trust"}})
    result = startup(instance, registry, "app", None)
    assert result.ok, result.error
    assert result.auth_methods == [AUTH_OK]
    with psycopg.connect(instance.dsn("beta", via="database")) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "shared_db"


def test_verifier_command_makes_a_users_file_line(registry, binary, run_dir):
    """`storegate verifier USER` turns a password on standard input into a users-file line
    that logs the user in with SCRAM; the password itself appears nowhere in it."""
    import subprocess
    password = "correct horse battery staple"
    made = subprocess.run([binary, "verifier", "carol"], input=password + "\n",
                          capture_output=True, text=True, check=True)
    line = made.stdout.strip()
    assert line.startswith('"carol" "SCRAM-SHA-256$4096:') and password not in line
    name, secret = (part.strip('"') for part in line.split(" ", 1))
    factory = StoregateFactory(registry, binary, run_dir)
    try:
        instance = factory({}, users={name: secret})
        result = startup(instance, registry, "carol", password)
        assert result.ok, result.error
        assert result.auth_methods[0] == AUTH_SASL
        assert not startup(instance, registry, "carol", "wrong").ok
    finally:
        factory.stop_all()
    refused = subprocess.run([binary, "verifier", "carol"], input="", capture_output=True,
                             text=True)
    assert refused.returncode == 2 and "standard input" in refused.stderr
