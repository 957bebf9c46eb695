"""Per-transaction store switching in transaction pooling: `SET storegate.store` between
transactions sends the next transaction to the store's backend, alternating between the shared
backend (stores alpha and beta) and the dedicated one (gamma), whether the client sends it as a
simple query, through the unnamed extended-protocol statement, or as a named prepared
statement; inside a transaction it is refused with 25001, an unknown store with 3D000, and the
client stays usable either way."""

import threading
import traceback

import psycopg
import pytest

from harness import drivers
from harness import extended as x
from harness.storegate import StoregateFactory

POOL = 2
WHERE = ("SELECT current_database(), inet_server_port(), "
         "current_setting('storegate.store_id', true)")


@pytest.fixture(scope="module")
def txn_proxy(registry, binary, run_dir):
    factory = StoregateFactory(registry, binary, run_dir)
    yield factory({"pool": {"mode": "transaction", "size": POOL}})
    factory.stop_all()


def expected_place(store) -> tuple:
    return store.database, int(store.cluster.port)


# How psycopg sends each statement: simple Query messages (prepare_threshold=None and no
# parameters), Parse/Bind/Execute of the unnamed statement (binary results force the extended
# protocol), or a named statement prepared on first use (prepare_threshold=0).
MODES = {
    "simple": {"prepare_threshold": None},
    "extended": {"prepare_threshold": None},
    "prepared": {"prepare_threshold": 0},
}


def run(conn, sql: str, mode: str = "simple"):
    return conn.execute(sql, binary=(mode == "extended"))


def text(value) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray, memoryview)) else value


def check_lands(conn, store, mode: str = "simple") -> None:
    with conn.transaction():
        database, port, store_id = run(conn, WHERE, mode).fetchone()
    assert (text(database), port) == expected_place(store)
    if store.slug in ("alpha", "beta"):  # shared backend: rows are told apart by store_id
        assert text(store_id) == store.id
    assert text(run(conn, "SHOW storegate.store", mode).fetchone()[0]) == store.id


@pytest.mark.parametrize("mode", list(MODES))
def test_alternating_stores_land_on_their_backends(txn_proxy, registry, mode):
    stores = [registry.stores[s] for s in ("alpha", "gamma", "beta", "gamma", "alpha", "beta")]
    dsn = txn_proxy.dsn(registry.stores["alpha"].id, password=registry.passwords["app"])
    errors = []

    def work(index: int) -> None:
        try:
            with psycopg.connect(dsn, autocommit=True, **MODES[mode]) as conn:
                for step in range(12):
                    store = stores[(index + step) % len(stores)]
                    name = store.slug if step % 2 else store.id  # by slug and by id
                    assert run(conn, f"SET storegate.store = '{name}'", mode).statusmessage \
                        == "SET"
                    check_lands(conn, store, mode)
                    # A single statement outside a transaction lands there too.
                    database = run(conn, "SELECT current_database()", mode).fetchone()[0]
                    assert text(database) == store.database
        except Exception as exc:  # collected: a thread's failure must fail the test
            errors.append(f"client {index}: {exc!r} {traceback.format_exc()[-600:]}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_switch_inside_a_transaction_is_refused(txn_proxy, registry):
    alpha, gamma = registry.stores["alpha"], registry.stores["gamma"]
    dsn = txn_proxy.dsn(alpha.id, password=registry.passwords["app"])
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT 1")  # psycopg has opened a transaction
        with pytest.raises(psycopg.Error) as refused:
            conn.execute(f"SET storegate.store = '{gamma.id}'")
        assert refused.value.sqlstate == "25001"
        conn.rollback()
        conn.autocommit = True
        check_lands(conn, alpha)
        conn.execute(f"SET storegate.store = '{gamma.slug}'")
        check_lands(conn, gamma)


def test_unknown_store_is_refused_and_the_client_stays(txn_proxy, registry):
    beta = registry.stores["beta"]
    dsn = txn_proxy.dsn(beta.slug, password=registry.passwords["app"])
    with psycopg.connect(dsn, autocommit=True) as conn:
        for unknown in ("no-such-store", "00000000-0000-4000-8000-000000000000"):
            with pytest.raises(psycopg.Error) as refused:
                conn.execute(f"SET storegate.store = '{unknown}'")
            assert refused.value.sqlstate == "3D000", refused.value
            check_lands(conn, beta)


def test_show_before_any_switch(txn_proxy, registry):
    gamma = registry.stores["gamma"]
    dsn = txn_proxy.dsn(gamma.slug, password=registry.passwords["app"])
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("SHOW storegate.store").fetchone()[0] == gamma.id
        with conn.transaction():
            assert conn.execute("SHOW storegate.store").fetchone()[0] == gamma.id
            assert conn.execute("SELECT current_database()").fetchone()[0] == gamma.database


def wire_client(host, port, params: dict, password: str) -> x.ExtendedClient:
    client = x.ExtendedClient(host, port)
    result = client.startup(params, password)
    assert result.ok, result.error
    return client


def test_extended_protocol_answers_match_postgresql(txn_proxy, registry):
    """Parse, Bind, Describe, Execute and Close of SET and SHOW storegate.store get the same
    messages from storegate as PostgreSQL gives for an ordinary custom setting."""
    gamma = registry.stores["gamma"]

    def scenario(c) -> list:
        c.send(x.parse("", f"SET storegate.store = '{gamma.id}'") + x.bind("", "")
               + x.describe("P", "") + x.execute() + x.sync()
               + x.parse("s_show", "SHOW storegate.store") + x.describe("S", "s_show")
               + x.bind("p_show", "s_show") + x.describe("P", "p_show") + x.execute("p_show")
               + x.sync()
               + x.bind("", "s_show") + x.execute() + x.close("P", "") + x.close("S", "s_show")
               + x.sync()
               + x.parse("", "SELECT current_database()") + x.bind("", "") + x.execute()
               + x.sync())
        return c.read_until_ready(4)

    direct = wire_client(gamma.cluster.host, int(gamma.cluster.port),
                         {"user": "sg_dedicated", "database": gamma.database},
                         registry.passwords["sg_dedicated"])
    with direct:
        expected = scenario(direct)
    alpha = registry.stores["alpha"]
    proxied = wire_client(txn_proxy.host, txn_proxy.port,
                          {"user": "app", "database": "app",
                           "options": f"-c storegate.store={alpha.id}"},
                          registry.passwords["app"])
    with proxied:
        assert scenario(proxied) == expected
    assert ("D", (gamma.id,)) in expected and ("D", (gamma.database,)) in expected


def test_extended_protocol_refusals(txn_proxy, registry):
    alpha, gamma = registry.stores["alpha"], registry.stores["gamma"]
    set_gamma = f"SET storegate.store = '{gamma.slug}'"
    client = wire_client(txn_proxy.host, txn_proxy.port,
                         {"user": "app", "database": "app",
                          "options": f"-c storegate.store={alpha.id}"},
                         registry.passwords["app"])
    with client:
        # Inside a transaction block: 25001, and the rest of the batch is skipped.
        client.send(x.query("BEGIN") + x.parse("", set_gamma) + x.bind("", "") + x.execute()
                    + x.parse("", "SELECT 1") + x.bind("", "") + x.execute() + x.sync()
                    + x.query("ROLLBACK"))
        answers = client.read_until_ready(3)
        assert answers[:3] == [("C", "BEGIN"), ("Z", "T"), ("1",)]
        assert answers[4][:3] == ("E", "ERROR", "25001"), answers
        assert ("D", ("1",)) not in answers and answers[5:] == [
            ("Z", "T"), ("C", "ROLLBACK"), ("Z", "I")], answers
        # After other work in the same batch (an implicit transaction): 25001 too.
        client.send(x.parse("", "SELECT 1") + x.bind("", "") + x.execute()
                    + x.parse("", set_gamma) + x.bind("", "") + x.execute() + x.sync())
        answers = client.read_until_ready()
        assert ("D", ("1",)) in answers and answers[-2][:3] == ("E", "ERROR", "25001"), answers
        # A name already taken, and a store nobody knows.
        client.send(x.parse("s_set", set_gamma) + x.sync() + x.parse("s_set", set_gamma)
                    + x.sync()
                    + x.parse("", "SET storegate.store = 'no-such-store'") + x.bind("", "")
                    + x.execute() + x.sync())
        answers = client.read_until_ready(3)
        assert answers[:2] == [("1",), ("Z", "I")]
        assert answers[2][:3] == ("E", "ERROR", "42P05") and answers[3] == ("Z", "I"), answers
        assert answers[4:6] == [("1",), ("2",)], answers
        assert answers[6][:3] == ("E", "ERROR", "3D000") and answers[7] == ("Z", "I"), answers
        # Together with other statements in one query string it is refused, not half-run.
        client.send(x.query(f"{set_gamma}; SELECT current_database()"))
        answers = client.read_until_ready()
        assert answers[0][:3] == ("E", "ERROR", "0A000") and answers[1] == ("Z", "I"), answers
        # None of that moved the client; the named statement still switches it.
        client.send(x.query("SELECT current_database()"))
        assert ("D", (alpha.database,)) in client.read_until_ready()
        client.send(x.bind("", "s_set") + x.execute() + x.sync()
                    + x.query("SELECT current_database()"))
        answers = client.read_until_ready(2)
        assert answers[:3] == [("2",), ("C", "SET"), ("Z", "I")], answers
        assert ("D", (gamma.database,)) in answers
        # DEALLOCATE removes it as it would a server-side statement.
        client.send(x.query("DEALLOCATE s_set") + x.bind("", "s_set") + x.execute() + x.sync())
        answers = client.read_until_ready(2)
        assert answers[:2] == [("C", "DEALLOCATE"), ("Z", "I")], answers
        assert answers[2][:3] == ("E", "ERROR", "26000"), answers


def test_switch_pipelined_behind_other_queries(txn_proxy, registry):
    """A switch written together with earlier queries waits for their answers: after a plain
    query it applies, after a BEGIN it is refused."""
    alpha, gamma = registry.stores["alpha"], registry.stores["gamma"]
    client = wire_client(txn_proxy.host, txn_proxy.port,
                         {"user": "app", "database": "app",
                          "options": f"-c storegate.store={alpha.id}"},
                         registry.passwords["app"])
    with client:
        client.send(x.query("SELECT current_database()")
                    + x.query(f"SET storegate.store = '{gamma.id}'")
                    + x.query("SELECT current_database()"))
        answers = client.read_until_ready(3)
        assert answers.index(("D", (alpha.database,))) < answers.index(("C", "SET"))
        assert answers[-3:] == [("D", (gamma.database,)), ("C", "SELECT 1"), ("Z", "I")]
        client.send(x.query("BEGIN") + x.query(f"SET storegate.store = '{alpha.id}'")
                    + x.query("SELECT current_database()") + x.query("COMMIT"))
        answers = client.read_until_ready(4)
        assert answers[:2] == [("C", "BEGIN"), ("Z", "T")]
        assert answers[2][:3] == ("E", "ERROR", "25001") and answers[3] == ("Z", "T"), answers
        assert ("D", (gamma.database,)) in answers and answers[-1] == ("Z", "I")
        # SHOW reports the transaction status the queries ahead of it left.
        client.send(x.query("BEGIN") + x.query("SHOW storegate.store") + x.query("COMMIT")
                    + x.query("SHOW storegate.store"))
        answers = client.read_until_ready(4)
        assert [a for a in answers if a[0] == "Z"] == [("Z", "T"), ("Z", "T"), ("Z", "I"),
                                                       ("Z", "I")], answers


def switch_targets(registry) -> list:
    return [f"{registry.stores[slug].slug}={registry.stores[slug].database}"
            for slug in ("gamma", "alpha", "gamma", "beta")]


def test_pgjdbc_switches_stores(txn_proxy, registry, tmp_path):
    """pgjdbc sends SET and SHOW storegate.store as named server-side statements
    (prepareThreshold=1), with a Describe before each Execute."""
    url = (f"jdbc:postgresql://{txn_proxy.host}:{txn_proxy.port}/app"
           f"?options=-c%20storegate.store={registry.stores['alpha'].id}")
    run = drivers.run_java("StoreSwitch", [url, "app", registry.passwords["app"], 5,
                                           *switch_targets(registry)], tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == "ok switches=20", run.stdout


def test_node_postgres_switches_stores(txn_proxy, registry):
    run = drivers.run_node("store_switch.js", [txn_proxy.host, txn_proxy.port, "app",
                                               registry.passwords["app"],
                                               registry.stores["alpha"].id, 5,
                                               *switch_targets(registry)])
    assert run.returncode == 0, run.stdout + run.stderr
    assert '"switches":20' in run.stdout, run.stdout
