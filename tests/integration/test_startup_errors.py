"""Startup failures: the SQLSTATE and message a client sees, read off the wire, and that
hostile startup packets cost nothing to other clients."""

import struct

import psycopg
import pytest

from harness import wire


def startup(proxy, params: dict, password: str | None):
    with wire.WireClient(proxy.host, proxy.port) as client:
        result = client.startup(dict({"database": "app"}, **params), password)
        trailing = client.read_until_closed() if result.error else []
        return result, trailing


@pytest.mark.parametrize("store", ["no-such-store", "00000000-0000-4000-8000-000000000000"])
def test_unknown_store_is_3D000_naming_it(proxy, registry, store):
    result, trailing = startup(proxy, {"user": "app", "options": f"-c storegate.store={store}"},
                               registry.passwords["app"])
    assert result.error["code"] == "3D000", result.error
    assert result.error["severity"] == "FATAL"
    assert store in result.error["message"]
    assert trailing == []  # closed right after the error


def test_no_store_and_no_default_is_08004_with_a_hint(proxy, registry):
    result, _ = startup(proxy, {"user": "app"}, registry.passwords["app"])
    assert result.error["code"] == "08004", result.error
    assert result.error["severity"] == "FATAL"
    hint = result.error.get("hint", "")
    assert "storegate.store" in hint and "store_" in hint, hint


@pytest.mark.parametrize("user", ["app", "nobody"])
def test_wrong_password_or_unknown_user_is_28P01(proxy, registry, user):
    """Both cases read the same: nothing tells which part was wrong."""
    params = {"user": user, "options": f"-c storegate.store={registry.stores['alpha'].id}"}
    result, _ = startup(proxy, params, "wrong-password")
    assert result.error["code"] == "28P01", result.error
    assert result.error["message"] == f'password authentication failed for user "{user}"'


def test_wrong_password_through_libpq(proxy, registry):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(proxy.dsn("alpha", password="wrong-password"))


def test_unreachable_backend_is_08006_naming_the_db_key(proxy, registry):
    params = {"user": "app", "options": "-c storegate.store=delta"}
    result, _ = startup(proxy, params, registry.passwords["app"])
    assert result.error["code"] == "08006", result.error
    text = " ".join(result.error.values())
    assert "dead1" in text
    for secret in registry.env.values():
        assert secret not in text
    with open(proxy.log_path, errors="replace") as log:
        logged = log.read()
    for secret in list(registry.env.values()) + [registry.passwords["app"]]:
        assert secret not in logged


@pytest.fixture(scope="module")
def bystander(proxy, registry):
    """A client in the middle of its session while others send junk."""
    conn = psycopg.connect(proxy.dsn("alpha", password=registry.passwords["app"]),
                           autocommit=True)
    yield conn
    conn.close()


BAD_STARTUPS = {
    "oversized": struct.pack("!II", 20000, wire.PROTOCOL_3_0) + b"user\0app\0",
    "length-below-minimum": struct.pack("!I", 4),
    "protocol-4.0": wire.startup_packet({"user": "app", "database": "app"}, version=4 << 16),
    "protocol-2.0": wire.startup_packet({"user": "app", "database": "app"}, version=2 << 16),
    "http-request": b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
}


@pytest.mark.parametrize("name", list(BAD_STARTUPS))
def test_bad_startup_packet_gets_08P01_then_close(proxy, bystander, name):
    with wire.WireClient(proxy.host, proxy.port) as client:
        client.send(BAD_STARTUPS[name])
        messages = client.read_until_closed()
    assert messages, "closed without an ErrorResponse"
    kind, payload = messages[0]
    assert kind == b"E"
    fields = wire.parse_error_fields(payload)
    assert fields["code"] == "08P01", fields
    assert len(messages) == 1
    assert bystander.execute("SELECT 41 + 1").fetchone()[0] == 42
