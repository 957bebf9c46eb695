"""Transaction pooling keeps per-client session state apart: settings a client makes follow it
to whichever server connection runs its next transaction and are never seen by another client,
and state that cannot move (LISTEN, session advisory locks, temporary tables, WITH HOLD
cursors, SQL PREPARE) pins the client to its server connection, or is refused with
pool.pinning = "error"."""

import psycopg
import pytest

from harness import extended as x
from harness.storegate import StoregateFactory

POOL = 2
ZONES = ("UTC", "America/New_York", "Asia/Tokyo", "Europe/Berlin")
SETTINGS = ("SELECT current_setting('search_path'), current_setting('application_name'), "
            "current_setting('TimeZone'), pg_backend_pid()")


@pytest.fixture(scope="module")
def factory(registry, binary, run_dir):
    made = StoregateFactory(registry, binary, run_dir)
    yield made
    made.stop_all()


@pytest.fixture(scope="module")
def txn_proxy(factory):
    return factory({"pool": {"mode": "transaction", "size": POOL}})


@pytest.fixture(scope="module")
def strict_proxy(factory):
    return factory({"pool": {"mode": "transaction", "size": POOL, "pinning": "error"}})


def gamma_dsn(proxy, registry) -> str:
    return proxy.dsn(registry.stores["gamma"].id, password=registry.passwords["app"])


def defaults(registry) -> tuple:
    gamma = registry.stores["gamma"]
    dsn = gamma.cluster.dsn(gamma.database, "sg_dedicated", registry.passwords["sg_dedicated"])
    with psycopg.connect(dsn) as conn:
        return conn.execute(SETTINGS).fetchone()[:3]


def expected_settings(index: int) -> tuple:
    return (f"s{index}, public", f"client{index}", ZONES[index % len(ZONES)])


def test_settings_follow_their_client_only(txn_proxy, registry):
    dsn = gamma_dsn(txn_proxy, registry)
    clients = [psycopg.connect(dsn, autocommit=True) for _ in range(16)]
    bystander = psycopg.connect(dsn, autocommit=True)
    untouched = defaults(registry)
    try:
        for index, conn in enumerate(clients):
            conn.execute(f"SET search_path = s{index}, public")
            conn.execute(f"SET application_name = 'client{index}'")
            conn.execute(f"SET TimeZone = '{ZONES[index % len(ZONES)]}'")
        pids = [set() for _ in clients]
        for round_ in range(4):
            holder = clients[round_ % len(clients)]
            with holder.transaction():  # keeps one server connection busy: the rest hop
                row = holder.execute(SETTINGS).fetchone()
                assert row[:3] == expected_settings(round_), round_
                pids[round_].add(row[3])
                for index, conn in enumerate(clients):
                    if conn is holder:
                        continue
                    row = conn.execute(SETTINGS).fetchone()
                    assert row[:3] == expected_settings(index), (round_, index)
                    pids[index].add(row[3])
                    with conn.transaction():
                        row = conn.execute(SETTINGS).fetchone()
                        assert row[:3] == expected_settings(index), (round_, index)
                        pids[index].add(row[3])
                    assert bystander.execute(SETTINGS).fetchone()[:3] == untouched
        # Each holder ran on one server connection in its own round and on the other one in
        # any round whose holder got the first: with four rounds and two server connections
        # at least three holders have used both.
        assert sum(len(p) >= 2 for p in pids[:4]) >= 3, pids
    finally:
        for conn in clients + [bystander]:
            conn.close()


def test_reset_returns_to_the_clients_own_start(txn_proxy, registry):
    dsn = gamma_dsn(txn_proxy, registry)
    with psycopg.connect(dsn, autocommit=True, application_name="from_startup") as conn:
        conn.execute("SET application_name = 'changed'")
        assert conn.execute("SHOW application_name").fetchone()[0] == "changed"
        conn.execute("RESET application_name")
        with psycopg.connect(dsn) as other:  # takes the other server connection
            other.execute("SELECT 1")
            for _ in range(3):
                assert conn.execute("SHOW application_name").fetchone()[0] == "from_startup"
            conn.execute("SET application_name = 'again'")
            conn.execute("RESET ALL")
            assert conn.execute("SHOW application_name").fetchone()[0] == "from_startup"


def test_set_through_the_extended_protocol(txn_proxy, registry):
    """Drivers such as pgjdbc send SET as Parse/Bind/Execute/Sync: the setting must follow the
    client like a simple-protocol SET, and never leak to the next client of the server."""
    gamma = registry.stores["gamma"]
    untouched = defaults(registry)
    client = x.ExtendedClient(txn_proxy.host, txn_proxy.port)
    result = client.startup({"user": "app", "database": "app",
                             "options": f"-c storegate.store={gamma.id}"},
                            registry.passwords["app"])
    assert result.ok, result.error
    others = [psycopg.connect(gamma_dsn(txn_proxy, registry), autocommit=True)
              for _ in range(3)]
    try:
        client.send(x.parse("", "SET application_name = 'extended'") + x.bind("", "")
                    + x.execute() + x.sync())
        assert client.read_until_ready() == [("1",), ("2",), ("C", "SET"), ("Z", "I")]
        for conn in others:
            assert conn.execute(SETTINGS).fetchone()[:3] == untouched
            with conn.transaction():
                conn.execute("SELECT 1")
                client.send(x.query("SHOW application_name"))
                assert client.read_until_ready()[1] == ("D", ("extended",))
    finally:
        client.close()
        for conn in others:
            conn.close()


PINS = {
    "listen": ["LISTEN txn_channel"],
    "advisory_lock": ["SELECT pg_advisory_lock(4242)"],
    "temp_table": ["CREATE TEMP TABLE txn_scratch (a int)"],
    "with_hold_cursor": ["BEGIN", "DECLARE held CURSOR WITH HOLD FOR SELECT 1", "COMMIT"],
    "sql_prepare": ["PREPARE txn_plan AS SELECT 1"],
}


@pytest.mark.parametrize("reason", sorted(PINS))
def test_pinning_keeps_one_server_connection(txn_proxy, registry, reason):
    dsn = gamma_dsn(txn_proxy, registry)
    with psycopg.connect(dsn, autocommit=True) as pinned, \
            psycopg.connect(dsn, autocommit=True) as other:
        for statement in PINS[reason]:
            pinned.execute(statement)
        pid = pinned.execute("SELECT pg_backend_pid()").fetchone()[0]
        for _ in range(4):
            # The other client can only run on the connection the pinned one does not hold.
            other_pid = other.execute("SELECT pg_backend_pid()").fetchone()[0]
            assert other_pid != pid
            assert pinned.execute("SELECT pg_backend_pid()").fetchone()[0] == pid
        if reason == "temp_table":
            pinned.execute("INSERT INTO txn_scratch VALUES (1)")
        if reason == "with_hold_cursor":
            assert pinned.execute("FETCH held").fetchone() == (1,)
        if reason == "sql_prepare":
            assert pinned.execute("EXECUTE txn_plan").fetchone() == (1,)


@pytest.mark.parametrize("reason", sorted(PINS))
def test_pinning_error_refuses(strict_proxy, registry, reason):
    dsn = gamma_dsn(strict_proxy, registry)
    with psycopg.connect(dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as refused:
            for statement in PINS[reason]:
                conn.execute(statement)
        assert refused.value.sqlstate == "0A000", refused.value
        conn.rollback()
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        assert conn.execute("SELECT 'still usable'").fetchone() == ("still usable",)


def raw_client(proxy, registry, **params) -> x.ExtendedClient:
    client = x.ExtendedClient(proxy.host, proxy.port)
    startup = {"user": "app", "database": "app",
               "options": f"-c storegate.store={registry.stores['gamma'].id}", **params}
    result = client.startup(startup, registry.passwords["app"])
    assert result.ok, result.error
    return client


def show(client, name: str) -> str:
    client.send(x.query(f"SHOW {name}"))
    answers = client.read_until_ready()
    assert answers[-1] == ("Z", "I"), answers
    return answers[1][1][0]


def test_startup_parameter_names_are_case_insensitive(factory, registry):
    """A startup parameter (TimeZone, as pgjdbc sends it) and a later SET of the same setting
    in lower case are one setting: the next client of the server connection gets its own."""
    single = factory({"pool": {"mode": "transaction", "size": 1}})
    first = raw_client(single, registry, TimeZone="Asia/Tokyo")
    second = raw_client(single, registry, TimeZone="Asia/Tokyo")
    try:
        assert show(first, "TimeZone") == "Asia/Tokyo"
        first.send(x.query("SET timezone = 'Europe/Berlin'"))
        assert first.read_until_ready()[-1] == ("Z", "I")
        assert show(first, "TimeZone") == "Europe/Berlin"
        assert show(second, "TimeZone") == "Asia/Tokyo"
        first.send(x.query("RESET TimeZone"))
        assert first.read_until_ready()[-1] == ("Z", "I")
        assert show(second, "TimeZone") == "Asia/Tokyo"
        assert show(first, "TimeZone") == "Asia/Tokyo"
    finally:
        first.close()
        second.close()


PROBE = ("SELECT coalesce(current_setting('app.tenant', true), ''), "
         "current_setting('default_transaction_read_only'), current_setting('search_path'), "
         "current_setting('client_encoding'), current_user::text, pg_backend_pid()")


@pytest.fixture(scope="module")
def single_proxy(factory):
    """One server connection: whatever a client leaves on it, the next client gets."""
    return factory({"pool": {"mode": "transaction", "size": 1}})


@pytest.mark.parametrize("statement", [
    "SELECT set_config('app.tenant', 'tenant-42', false)",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    "SET search_path = leaked; SELECT 1",
    "SET NAMES 'LATIN1'",
])
def test_session_state_storegate_cannot_carry_never_reaches_another_client(
        single_proxy, registry, statement):
    """Settings changed in ways storegate does not follow by name (set_config(), SET SESSION
    CHARACTERISTICS, SET among other statements) are reset before the server connection runs
    anyone else's transaction; SET NAMES is carried like SET client_encoding."""
    dsn = gamma_dsn(single_proxy, registry)
    with psycopg.connect(dsn, autocommit=True) as clean:
        expected = clean.execute(PROBE).fetchone()
    with psycopg.connect(dsn, autocommit=True) as setter:
        setter.execute(statement)
        pid = setter.execute("SELECT pg_backend_pid()").fetchone()[0]
        if "NAMES" in statement:
            assert setter.execute("SHOW client_encoding").fetchone()[0] == "LATIN1"
    with psycopg.connect(dsn, autocommit=True) as other:
        seen = other.execute(PROBE).fetchone()
        assert seen[-1] == pid  # the same server connection
        assert seen[:-1] == expected[:-1]


def test_login_reports_the_clients_own_settings(single_proxy, registry):
    """The greeting of a transaction-pooled login (ParameterStatus) describes the session the
    client will get, not settings an earlier client of the same server connection left."""
    from harness import wire
    gamma = registry.stores["gamma"]
    base = {"user": "app", "database": "app", "options": f"-c storegate.store={gamma.id}"}
    with wire.WireClient(single_proxy.host, single_proxy.port) as first:
        result = first.startup(dict(base, TimeZone="Asia/Tokyo", application_name="first"),
                               registry.passwords["app"])
        assert result.ok and result.parameters["TimeZone"] == "Asia/Tokyo"
        pid = first.query("SELECT pg_backend_pid()")[0][0][0]
        first.terminate()
    with wire.WireClient(single_proxy.host, single_proxy.port) as second:
        result = second.startup(base, registry.passwords["app"])
        assert result.ok, result.error
        rows, error = second.query("SELECT current_setting('TimeZone'), "
                                   "current_setting('application_name'), pg_backend_pid()")
        second.terminate()
    assert error is None and rows[0][2] == pid  # the same server connection
    assert result.parameters["TimeZone"] == rows[0][0] != "Asia/Tokyo"
    assert result.parameters.get("application_name", "") == rows[0][1] == ""
