"""Transaction pooling at the protocol level: the same bytes sent to storegate and straight to
the store's PostgreSQL must get the same answers (types, rows, command tags, SQLSTATEs and
messages, transaction status), while the proxy moves the client between server connections
and re-prepares its statements under internal names."""

import socket
import struct

import psycopg
import pytest

from harness import extended as x
from harness.storegate import StoregateFactory

POOL = 2
INT4PL_OID = 177  # int4pl(int4, int4), a built-in function with a fixed OID


@pytest.fixture(scope="module")
def txn_proxy(registry, binary, run_dir):
    factory = StoregateFactory(registry, binary, run_dir)
    yield factory({"pool": {"mode": "transaction", "size": POOL}})
    factory.stop_all()


@pytest.fixture(scope="module")
def copy_table(registry):
    gamma = registry.stores["gamma"]
    dsn = gamma.cluster.dsn(gamma.database, "sg_dedicated", registry.passwords["sg_dedicated"])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS txn_wire_copy")
        conn.execute("CREATE TABLE txn_wire_copy (id int PRIMARY KEY, note text)")
    yield "txn_wire_copy"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE txn_wire_copy")


def direct_client(registry) -> x.ExtendedClient:
    gamma = registry.stores["gamma"]
    client = x.ExtendedClient(gamma.cluster.host, int(gamma.cluster.port))
    result = client.startup({"user": "sg_dedicated", "database": gamma.database},
                            registry.passwords["sg_dedicated"])
    assert result.ok, result.error
    return client


def proxy_client(proxy, registry, store: str = "gamma") -> x.ExtendedClient:
    client = x.ExtendedClient(proxy.host, proxy.port)
    result = client.startup({"user": "app", "database": "app",
                             "options": f"-c storegate.store={registry.stores[store].id}"},
                            registry.passwords["app"])
    assert result.ok, result.error
    return client


class Hop:
    """Holds one of the POOL server connections in an open transaction, so the next
    transaction of a proxy client runs on another server connection than its last one."""

    def __init__(self, proxy, registry):
        dsn = proxy.dsn(registry.stores["gamma"].id, password=registry.passwords["app"])
        self.conn = psycopg.connect(dsn)
        self.conn.execute("SELECT 1")  # psycopg opened a transaction: the server stays held

    def close(self):
        self.conn.rollback()
        self.conn.close()


def same_everywhere(txn_proxy, registry, scenario) -> list:
    """Runs scenario(client) on a direct connection and on proxy clients, the second while
    another client holds a server connection; returns the direct answers after checking that
    every proxy client got exactly those."""
    with direct_client(registry) as direct:
        expected = scenario(direct)
    first = proxy_client(txn_proxy, registry)
    second = proxy_client(txn_proxy, registry)
    try:
        assert scenario(first) == expected, "first client"
        hop = Hop(txn_proxy, registry)
        try:
            assert scenario(second) == expected, "second client, the other server connection"
            # Its statements are now prepared on the other server connection only.
            assert scenario(first) == expected, "first client again, after hopping"
        finally:
            hop.close()
    finally:
        first.close()
        second.close()
    return expected


def test_several_sync_batches_in_one_write(txn_proxy, registry):
    def scenario(c):
        c.send(x.parse("s_add", "SELECT $1::int + $2::int AS sum") + x.bind("", "s_add", (1, 2))
               + x.execute() + x.sync()
               + x.bind("", "s_add", (40, 2)) + x.execute() + x.sync()
               + x.query("SELECT 'simple' AS kind") + x.parse("", "SELECT 7 AS seven")
               + x.bind("", "") + x.execute() + x.sync() + x.close("S", "s_add") + x.sync())
        return c.read_until_ready(5)

    answers = same_everywhere(txn_proxy, registry, scenario)
    assert ("D", ("3",)) in answers and ("D", ("42",)) in answers


def test_error_inside_a_pipeline_spares_later_batches(txn_proxy, registry):
    # random() keeps the planner from folding 10 / 0 at Bind, which it does for custom plans
    # only: the shared statement may have moved on to a generic plan on the server.
    def scenario(c):
        c.send(x.parse("s_div", "SELECT 10 / ($1::int + 0 * random()::int)") + x.bind("", "s_div", (2,)) + x.execute()
               + x.sync()
               + x.bind("", "s_div", (0,)) + x.execute() + x.bind("", "s_div", (5,))
               + x.execute() + x.sync()
               + x.bind("", "s_div", (5,)) + x.execute() + x.sync() + x.close("S", "s_div")
               + x.sync())
        return c.read_until_ready(4)

    answers = same_everywhere(txn_proxy, registry, scenario)
    assert ("E", "ERROR", "22012", "division by zero") in answers
    assert answers.count(("D", ("2",))) == 1 and answers.count(("D", ("5",))) == 1


def test_error_in_explicit_transaction_pipeline(txn_proxy, registry):
    def scenario(c):
        c.send(x.query("BEGIN") + x.parse("", "SELECT 1 / 0") + x.bind("", "") + x.execute()
               + x.sync() + x.query("SELECT 1") + x.query("ROLLBACK") + x.query("SELECT 2"))
        return c.read_until_ready(5)

    answers = same_everywhere(txn_proxy, registry, scenario)
    assert ("Z", "E") in answers and answers[-1] == ("Z", "I")


def test_flush_without_sync(txn_proxy, registry):
    def scenario(c):
        c.send(x.parse("", "SELECT 'flushed' AS word") + x.bind("", "") + x.describe("P", "")
               + x.execute() + x.flush())
        answers = c.read_until("C")
        c.send(x.parse("", "SELECT 'more'") + x.bind("", "") + x.execute() + x.flush())
        answers += c.read_until("C")
        c.send(x.sync())
        return answers + c.read_until_ready()

    answers = same_everywhere(txn_proxy, registry, scenario)
    assert ("D", ("flushed",)) in answers and ("D", ("more",)) in answers


def test_row_limited_execute_suspends_the_portal(txn_proxy, registry):
    def scenario(c):
        c.send(x.parse("s_series", "SELECT generate_series(1, 5)") + x.bind("cur", "s_series")
               + x.execute("cur", 2) + x.execute("cur", 2) + x.flush())
        answers = c.read_until("s") + c.read_until("s")
        c.send(x.execute("cur", 2) + x.sync() + x.close("S", "s_series") + x.sync())
        return answers + c.read_until_ready(2)

    answers = same_everywhere(txn_proxy, registry, scenario)
    assert answers.count(("s",)) == 2
    assert [a for a in answers if a[0] == "D"] == [("D", (str(i),)) for i in range(1, 6)]


def test_close_of_unknown_names(txn_proxy, registry):
    def scenario(c):
        c.send(x.close("S", "never_prepared") + x.close("P", "never_bound") + x.sync())
        return c.read_until_ready()

    assert same_everywhere(txn_proxy, registry, scenario) == [("3",), ("3",), ("Z", "I")]


def test_describe_statement_and_portal(txn_proxy, registry):
    def scenario(c):
        c.send(x.parse("s_desc", "SELECT $1::int AS a, 'x'::text AS b", (23,))
               + x.describe("S", "s_desc") + x.bind("p_desc", "s_desc", (9,))
               + x.describe("P", "p_desc") + x.execute("p_desc") + x.sync()
               + x.parse("s_none", "SET LOCAL work_mem = '1MB'") + x.describe("S", "s_none")
               + x.sync() + x.describe("S", "s_missing") + x.sync()
               + x.close("S", "s_desc") + x.close("S", "s_none") + x.sync())
        return c.read_until_ready(4)

    answers = same_everywhere(txn_proxy, registry, scenario)
    assert ("T", ("a", "b")) in answers and ("n",) in answers
    assert ("E", "ERROR", "26000", 'prepared statement "s_missing" does not exist') in answers


def test_duplicate_parse_and_unknown_bind(txn_proxy, registry):
    def scenario(c):
        c.send(x.parse("s_dup", "SELECT 1") + x.sync() + x.parse("s_dup", "SELECT 2")
               + x.bind("", "s_dup") + x.execute() + x.sync()
               + x.bind("", "s_unknown") + x.execute() + x.sync()
               + x.bind("", "s_dup") + x.execute() + x.sync() + x.close("S", "s_dup") + x.sync())
        return c.read_until_ready(5)

    answers = same_everywhere(txn_proxy, registry, scenario)
    assert ("E", "ERROR", "42P05", 'prepared statement "s_dup" already exists') in answers
    assert ("E", "ERROR", "26000", 'prepared statement "s_unknown" does not exist') in answers
    assert ("D", ("1",)) in answers


def test_copy_in_with_a_server_error(txn_proxy, registry, copy_table):
    def scenario(c):
        c.send(x.query(f"TRUNCATE {copy_table}"))
        answers = c.read_until_ready()
        c.send(x.query(f"COPY {copy_table} FROM STDIN"))
        answers += c.read_until("G")
        c.send(x.copy_data(b"1\tone\n2\ttwo\n") + x.copy_data(b"1\tagain\n") + x.copy_done())
        answers += c.read_until_ready()
        c.send(x.query(f"COPY {copy_table} FROM STDIN"))
        answers += c.read_until("G")
        c.send(x.copy_data(b"3\tthree\n") + x.copy_fail("client gave up"))
        answers += c.read_until_ready()
        c.send(x.query(f"COPY {copy_table} FROM STDIN"))
        answers += c.read_until("G")
        c.send(x.copy_data(b"4\tfour\n5\tfive\n") + x.copy_done())
        answers += c.read_until_ready()
        c.send(x.query(f"SELECT id FROM {copy_table} ORDER BY id"))
        return answers + c.read_until_ready()

    answers = same_everywhere(txn_proxy, registry, scenario)
    assert [a[2] for a in answers if a[0] == "E"] == ["23505", "57014"]
    assert ("C", "COPY 2") in answers and answers[-4:-2] == [("D", ("4",)), ("D", ("5",))]


def test_copy_out(txn_proxy, registry):
    def scenario(c):
        c.send(x.query("COPY (SELECT i, i * i FROM generate_series(1, 3) i) TO STDOUT")
               + x.query("SELECT 'after'"))
        return c.read_until_ready(2)

    answers = same_everywhere(txn_proxy, registry, scenario)
    assert [a[1] for a in answers if a[0] == "d"] == [b"1\t1\n", b"2\t4\n", b"3\t9\n"]


def test_function_call(txn_proxy, registry):
    def scenario(c):
        c.send(x.function_call(INT4PL_OID, (40, 2)) + x.query("SELECT 1"))
        return c.read_until_ready(2)

    answers = same_everywhere(txn_proxy, registry, scenario)
    assert ("V", struct.pack("!i", 2) + b"42") in answers


def kill(client) -> None:
    """Closes abruptly: a reset instead of Terminate, as when the client process dies."""
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()


@pytest.fixture
def single_proxy(registry, binary, run_dir):
    """One server connection: whatever a client leaves behind, the next client gets."""
    factory = StoregateFactory(registry, binary, run_dir)
    yield factory({"pool": {"mode": "transaction", "size": 1}})
    factory.stop_all()


STATE = ("SELECT current_setting('application_name'), current_setting('search_path'), "
         "current_setting('work_mem'), txid_current_if_assigned() IS NULL, "
         "(SELECT count(*) FROM pg_prepared_statements WHERE name NOT LIKE 'sg\\_%'), "
         "(SELECT count(*) FROM pg_cursors), pg_backend_pid()")


@pytest.mark.parametrize("how", ["open_transaction", "failed_transaction", "unsynced_pipeline",
                                 "copy_in", "session_settings"])
def test_killed_client_leaves_no_dirty_server(single_proxy, registry, copy_table, how):
    victim = proxy_client(single_proxy, registry)
    victim.send(x.query("SELECT pg_backend_pid()"))
    victim_pid = victim.read_until_ready()[0][1][0]
    if how == "session_settings":
        victim.send(x.query("SET application_name = 'victim'") + x.query("SET work_mem = '7MB'"))
        assert victim.read_until_ready(2)[-1] == ("Z", "I")
    victim.send(x.query("BEGIN") + x.query("SET application_name = 'victim'")
                + x.query("SET search_path = pg_catalog") + x.query("SET work_mem = '3MB'")
                + x.query(f"INSERT INTO public.{copy_table} VALUES (1000, 'victim')")
                + x.query("DECLARE c CURSOR FOR SELECT 1"))
    answers = victim.read_until_ready(6)
    assert answers[-1] == ("Z", "T"), repr(answers)[-600:]
    if how == "failed_transaction":
        victim.send(x.query("SELECT 1 / 0"))
        assert victim.read_until_ready()[-1] == ("Z", "E")
    elif how == "unsynced_pipeline":
        victim.send(x.parse("s_victim", "SELECT 1") + x.bind("", "s_victim") + x.execute()
                    + x.flush())
        assert victim.read_until("C")[-1] == ("C", "SELECT 1")
    elif how == "copy_in":
        victim.send(x.query(f"COPY public.{copy_table} FROM STDIN"))
        victim.read_until("G")
        victim.send(x.copy_data(b"1001\tpartial\n"))
    elif how == "session_settings":
        victim.send(x.query("ROLLBACK"))
        assert victim.read_until_ready()[-1] == ("Z", "I")
    kill(victim)

    with proxy_client(single_proxy, registry) as next_client:
        next_client.send(x.query(STATE))
        answers = next_client.read_until_ready()
        assert answers[-1] == ("Z", "I"), answers
        row = answers[-3][1]
        assert row[:6] == ("", '"$user", public', "4MB", "t", "0", "0"), row
        next_client.send(x.query(f"SELECT count(*) FROM {copy_table} WHERE id >= 1000"))
        assert next_client.read_until_ready()[-3] == ("D", ("0",))
    assert victim_pid  # the victim did reach a server


def test_garbage_after_sync_errors_only_that_client(txn_proxy, registry):
    """A pipeline whose second batch names an unknown statement fails that batch alone; the
    client keeps its server-side state and the other client is unaffected."""
    a = proxy_client(txn_proxy, registry)
    b = proxy_client(txn_proxy, registry)
    try:
        a.send(x.parse("s_keep", "SELECT 'kept'") + x.sync() + x.bind("", "nope") + x.execute()
               + x.sync() + x.bind("", "s_keep") + x.execute() + x.sync())
        b.send(x.query("SELECT 'other'"))
        answers = a.read_until_ready(3)
        assert answers == [("1",), ("Z", "I"),
                           ("E", "ERROR", "26000", 'prepared statement "nope" does not exist'),
                           ("Z", "I"), ("2",), ("D", ("kept",)), ("C", "SELECT 1"), ("Z", "I")]
        assert b.read_until_ready() == [("T", ("?column?",)), ("D", ("other",)),
                                        ("C", "SELECT 1"), ("Z", "I")]
    finally:
        a.close()
        b.close()


def test_failed_parse_creates_no_statement(txn_proxy, registry):
    """A named Parse the server refuses leaves no statement behind: binding the name gives
    26000, and the same text under another name fails the same way again."""
    def scenario(c):
        bad = "SELECT * FROM txn_wire_no_such_table"
        # Each step waits for the last: storegate learns of the failure from the server's
        # answer, so a Bind pipelined right behind the failed Parse is a known limitation.
        steps = [x.parse("s_bad", bad) + x.sync(), x.bind("", "s_bad") + x.execute() + x.sync(),
                 x.parse("s_bad2", bad) + x.sync(),
                 x.parse("s_bad", "SELECT 'fine'") + x.bind("", "s_bad") + x.execute() + x.sync()
                 + x.close("S", "s_bad") + x.sync()]
        answers = []
        for step in steps:
            c.send(step)
            answers += c.read_until_ready(step.count(x.sync()))
        return answers

    answers = same_everywhere(txn_proxy, registry, scenario)
    assert [a[2] for a in answers if a[0] == "E"] == ["42P01", "26000", "42P01"]
    assert ("D", ("fine",)) in answers
