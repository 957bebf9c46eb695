"""Malformed and abusive input: truncated and oversized frames, wrong lengths, startup packets
without a user, plain bytes after an encryption answer, a slowloris startup, a client that
never reads, and connection floods. Each is answered with its documented error or a close,
while a well-behaved client keeps running queries on the same storegate without an error."""

import os
import socket
import struct
import threading
import time

import psycopg
import pytest

from harness import wire

MAX_MESSAGE = 1 << 20
PER_ADDR = 40
SSL_REQUEST = struct.pack("!ii", 8, 80877103)
GSSENC_REQUEST = struct.pack("!ii", 8, 80877104)
CLOSED = "closed"


class SteadyClient(threading.Thread):
    """Runs a query in a loop on one connection and records any failure."""

    def __init__(self, dsn: str):
        super().__init__(daemon=True)
        self.dsn = dsn
        self.stop = threading.Event()
        self.queries = 0
        self.errors = []

    def run(self):
        try:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                while not self.stop.is_set():
                    assert conn.execute("SELECT 1").fetchone()[0] == 1
                    self.queries += 1
                    time.sleep(0.01)
        except Exception as e:  # noqa: BLE001 - any failure is what the test reports
            self.errors.append(repr(e))


@pytest.fixture(scope="module")
def hostile(registry, binary, run_dir):
    from harness.storegate import StoregateFactory
    factory = StoregateFactory(registry, binary, run_dir)
    instance = factory({"server": {"startup_timeout_ms": 1000, "max_message_size": MAX_MESSAGE,
                                   "max_client_conn_per_addr": PER_ADDR}})
    steady = SteadyClient(instance.dsn("alpha", password=registry.passwords["app"]))
    steady.start()
    yield instance
    steady.stop.set()
    steady.join(30)
    factory.stop_all()
    assert steady.errors == [], steady.errors
    assert steady.queries > 0


def outcome(instance, data: bytes, then_close_write: bool = False) -> str:
    """The SQLSTATE of the ErrorResponse storegate answers `data` with, or CLOSED."""
    with socket.create_connection((instance.host, instance.port), timeout=15) as sock:
        try:
            sock.sendall(data)
            if then_close_write:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            return CLOSED
        client = wire.WireClient.__new__(wire.WireClient)
        client.sock = sock
        for kind, payload in client.read_until_closed():
            if kind == b"E":
                return wire.parse_error_fields(payload)["code"]
        return CLOSED


def startup(params: dict) -> bytes:
    return wire.startup_packet(params)


def raw_startup(body: bytes, version: int = 196608) -> bytes:
    return struct.pack("!ii", len(body) + 8, version) + body


def client_hello_like() -> bytes:
    return bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]) + b"\0" * 64


STARTUP_CASES = {
    "length_zero": (struct.pack("!i", 0) + b"\0" * 8, {"08P01"}),
    "length_three": (struct.pack("!i", 3) + b"\0" * 8, {"08P01"}),
    "length_below_header": (struct.pack("!ii", 7, 196608), {"08P01"}),
    "length_negative": (struct.pack("!ii", -8, 196608), {"08P01"}),
    "length_huge": (struct.pack("!ii", 0x7FFFFFFF, 196608), {"08P01"}),
    "length_over_startup_limit": (struct.pack("!ii", 20000, 196608) + b"a" * 20000, {"08P01"}),
    "protocol_2": (raw_startup(b"user\0app\0\0", version=0x20000), {"08P01"}),
    "protocol_4": (raw_startup(b"user\0app\0\0", version=0x40000), {"08P01"}),
    "no_user": (raw_startup(b"database\0app\0\0"), {"08P01", "28000"}),
    "empty_user": (raw_startup(b"user\0\0\0"), {"08P01", "28000"}),
    "no_parameters": (raw_startup(b"\0"), {"08P01", "28000"}),
    "key_without_value": (raw_startup(b"user\0app\0database\0"), {"08P01"}),
    "unterminated_list": (raw_startup(b"user\0app\0"), {"08P01"}),
    "garbage": (os.urandom(64) + b"\xff" * 1000, {"08P01", CLOSED}),
    "tls_bytes_after_N": (SSL_REQUEST + client_hello_like(), {"08P01"}),
    "startup_pipelined_after_ssl_request": (SSL_REQUEST + startup({"user": "app"}), {"08P01"}),
    "startup_pipelined_after_gssenc": (GSSENC_REQUEST + startup({"user": "app"}), {"08P01"}),
    "cancel_unknown_key": (struct.pack("!iiii", 16, 80877102, 1, 2), {CLOSED}),
    "cancel_truncated": (struct.pack("!iii", 16, 80877102, 1), {CLOSED, "08P01"}),
    "half_a_length": (b"\0\0", {CLOSED}),
    "nothing": (b"", {CLOSED}),
}


@pytest.mark.parametrize("name", sorted(STARTUP_CASES))
def test_hostile_startup(hostile, name):
    data, expected = STARTUP_CASES[name]
    assert outcome(hostile, data, then_close_write=(name in ("half_a_length", "nothing",
                                                              "cancel_truncated"))) in expected


def test_slowloris_startup_is_closed(hostile):
    with socket.create_connection((hostile.host, hostile.port), timeout=30) as sock:
        sock.sendall(b"\0\0")  # two bytes of a length, then silence past startup_timeout
        assert sock.recv(100) == b""


def test_ssl_request_answered_N_then_plain_startup_works(hostile, registry):
    with wire.WireClient(hostile.host, hostile.port) as client:
        client.send(SSL_REQUEST)
        assert client.sock.recv(1) == b"N"
        result = client.startup({"user": "app", "database": "app",
                                 "options": "-c storegate.store=alpha"}, registry.passwords["app"])
        assert result.ok, result.error


def logged_in(instance, registry) -> wire.WireClient:
    client = wire.WireClient(instance.host, instance.port)
    result = client.startup({"user": "app", "database": "app",
                             "options": "-c storegate.store=alpha"}, registry.passwords["app"])
    assert result.ok, result.error
    return client


def error_after_login(instance, registry, data: bytes) -> str:
    """The SQLSTATE of the first ErrorResponse (a FATAL one from storegate, or an ERROR from
    the server after which the session goes on), or CLOSED."""
    with logged_in(instance, registry) as client:
        client.send(data)
        try:
            while True:
                kind, payload = client.read_message()
                if kind == b"E":
                    return wire.parse_error_fields(payload)["code"]
        except ConnectionError:
            return CLOSED


SESSION_CASES = {
    "length_below_four": (b"Q" + struct.pack("!i", 2), {"08P01", CLOSED}),
    "length_negative": (b"Q" + struct.pack("!i", -1), {"08P01", CLOSED}),
    "oversized_message": (b"Q" + struct.pack("!i", MAX_MESSAGE + 100) + b"x" * 100,
                          {"08P01"}),
    "unknown_message_type": (wire.message(b"\x01", b"abc"), {"08P01"}),
    "query_without_terminator": (wire.message(b"Q", b"SELECT 1"), {"08P01"}),
    "truncated_then_close": (b"Q" + struct.pack("!i", 100) + b"SELECT", {CLOSED}),
}


@pytest.mark.parametrize("name", sorted(SESSION_CASES))
def test_hostile_message_after_login(hostile, registry, name):
    data, expected = SESSION_CASES[name]
    if name == "truncated_then_close":
        with logged_in(hostile, registry) as client:
            client.send(data)
        return
    assert error_after_login(hostile, registry, data) in expected


def auth_reply(instance, payload_after_sasl: bytes) -> str:
    """Starts a login and answers the SASL request with `payload_after_sasl`."""
    with socket.create_connection((instance.host, instance.port), timeout=15) as sock:
        sock.sendall(startup({"user": "app", "database": "app",
                              "options": "-c storegate.store=alpha"}))
        client = wire.WireClient.__new__(wire.WireClient)
        client.sock = sock
        kind, payload = client.read_message()
        if kind == b"E":  # throttled by the earlier failures: refused before any exchange
            return wire.parse_error_fields(payload)["code"]
        assert kind == b"R"
        sock.sendall(payload_after_sasl)
        for kind, payload in client.read_until_closed():
            if kind == b"E":
                return wire.parse_error_fields(payload)["code"]
        return CLOSED


AUTH_CASES = {
    "query_instead_of_password": wire.message(b"Q", b"SELECT 1\0"),
    "unknown_mechanism": wire.message(b"p", b"SCRAM-SHA-1\0" + struct.pack("!i", 3) + b"abc"),
    "negative_sasl_length": wire.message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", -5)),
    "sasl_length_past_end": wire.message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", 99) + b"n"),
    "garbage_client_first": wire.message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", 5) +
                                         b"xx,yy"),
    "oversized_password_message": b"p" + struct.pack("!i", MAX_MESSAGE + 10) + b"a" * 64,
}


@pytest.fixture(scope="module")
def auth_target(registry, binary, run_dir):
    """Its own instance: failed logins here throttle 127.0.0.1, which would fail the logins of
    the other tests."""
    from harness.storegate import StoregateFactory
    factory = StoregateFactory(registry, binary, run_dir)
    yield factory({"server": {"max_message_size": MAX_MESSAGE}})
    factory.stop_all()


@pytest.mark.parametrize("name", sorted(AUTH_CASES))
def test_hostile_authentication(auth_target, name):
    assert auth_reply(auth_target, AUTH_CASES[name]) in {"08P01", "28P01"}


def test_repeated_auth_failures_are_throttled(auth_target, registry):
    for _ in range(7):
        with wire.WireClient(auth_target.host, auth_target.port) as client:
            result = client.startup({"user": "app", "database": "app",
                                     "options": "-c storegate.store=alpha"}, "wrong")
            assert result.error["code"] == "28P01"
    with open(auth_target.log_path) as log:
        assert "reason=throttled" in log.read()
    # The right password is refused too while the address is throttled, with the same error.
    with wire.WireClient(auth_target.host, auth_target.port) as client:
        result = client.startup({"user": "app", "database": "app",
                                 "options": "-c storegate.store=alpha"}, registry.passwords["app"])
        assert result.error["code"] == "28P01"


@pytest.fixture
def fresh_target(registry, binary, run_dir):
    """An instance of its own, so that no earlier failed login counts against 127.0.0.1."""
    from harness.storegate import StoregateFactory
    factory = StoregateFactory(registry, binary, run_dir)
    yield factory({})
    factory.stop_all()


def test_handshakes_abandoned_before_a_password_are_not_failures(fresh_target, registry):
    """psql connects once without a password, sees the request for one and comes back after
    prompting; health checks do the same. No password was tried, so nothing is throttled."""
    params = {"user": "app", "database": "app", "options": "-c storegate.store=alpha"}
    for attempt in range(8):
        with socket.create_connection((fresh_target.host, fresh_target.port)) as sock:
            sock.sendall(wire.startup_packet(params))
            assert sock.recv(1) == b"R"  # asked for a password
            if attempt % 2:
                sock.sendall(wire.message(b"X", b""))
    with wire.WireClient(fresh_target.host, fresh_target.port) as client:
        result = client.startup(params, registry.passwords["app"])
        assert result.error is None, result.error
    with open(fresh_target.log_path) as log:
        assert "reason=throttled" not in log.read()


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_client_that_never_reads_keeps_memory_bounded(hostile, registry):
    """About 400 MB of result towards a client that reads nothing: the relay stops reading
    the server once the client's socket is full, so storegate's memory stays put."""
    before = rss_kib(hostile.process.pid)
    with logged_in(hostile, registry) as client:
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.send(wire.message(b"Q", b"SELECT repeat('x', 4000) FROM generate_series(1, "
                                       b"100000)\0"))
        peak = before
        for _ in range(30):
            time.sleep(0.2)
            peak = max(peak, rss_kib(hostile.process.pid))
    assert peak - before < 64 * 1024, (before, peak)


def test_connection_flood_gets_53300(hostile):
    """Last in the module: the flood's abandoned logins count as failures from 127.0.0.1."""
    socks = []
    try:
        for _ in range(PER_ADDR + 10):
            socks.append(socket.create_connection((hostile.host, hostile.port), timeout=15))
        codes = []
        for sock in socks:
            sock.sendall(startup({"user": "app", "database": "app"}))
        for sock in socks:
            client = wire.WireClient.__new__(wire.WireClient)
            client.sock = sock
            kind, payload = client.read_message()
            codes.append(wire.parse_error_fields(payload)["code"] if kind == b"E" else kind)
        # Workers accept in parallel, so which ones are refused varies; how many does not (the
        # steady client holds one slot, earlier tests' closing sessions maybe a few more).
        refused = codes.count("53300")
        assert refused >= 10, codes
        assert codes.count(b"R") + refused == len(codes), codes
    finally:
        for sock in socks:
            sock.close()
