"""Transaction pooling under real drivers: psycopg 3 (server-side prepared statements from the
first execution, pipeline mode), pgjdbc (prepareThreshold=1, batched inserts) and node-postgres
(named queries). Many clients share a pool of 3 server connections, so their transactions and
prepared statements really move between server connections; every answer is checked."""

import threading

import psycopg
import pytest

from harness import drivers
from harness.storegate import StoregateFactory

POOL = 3


@pytest.fixture(scope="module")
def txn_proxy(registry, binary, run_dir):
    factory = StoregateFactory(registry, binary, run_dir)
    yield factory({"pool": {"mode": "transaction", "size": POOL}})
    factory.stop_all()


@pytest.fixture
def table(txn_proxy, registry, request):
    """A fresh table in store gamma for one test, dropped afterwards."""
    name = "txn_" + request.node.name.split("[")[0].removeprefix("test_")
    dsn = txn_proxy.dsn(registry.stores["gamma"].id, password=registry.passwords["app"])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute(f"CREATE TABLE {name} (client int, seq int, val bigint)")
    yield name
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE {name}")


def totals(dsn: str, table: str) -> dict:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(f"SELECT client, count(*), sum(val) FROM {table} GROUP BY client")
        return {client: (count, total) for client, count, total in rows}


def test_psycopg_prepared_and_pipelined(txn_proxy, registry, table):
    """prepare_threshold=0 makes psycopg Parse a named statement on first use and then only
    Bind it; pipeline mode sends several Sync batches before reading any answer."""
    dsn = txn_proxy.dsn(registry.stores["gamma"].id, password=registry.passwords["app"])
    clients, rounds = 12, 25
    errors = []

    def work(index: int) -> None:
        try:
            with psycopg.connect(dsn, autocommit=True, prepare_threshold=0) as conn:
                for seq in range(rounds):
                    with conn.transaction():
                        conn.execute(f"INSERT INTO {table} VALUES (%s, %s, %s)",
                                     (index, seq, seq))
                        count = conn.execute(f"SELECT count(*) FROM {table} WHERE client = %s",
                                             (index,)).fetchone()[0]
                        assert count == seq + 1
                    with conn.pipeline():
                        cursors = [conn.execute("SELECT %s::int * 2", (seq + k,))
                                   for k in range(4)]
                    assert [c.fetchone()[0] for c in cursors] == [(seq + k) * 2
                                                                  for k in range(4)]
        except Exception as exc:  # collected: a thread's failure must fail the test
            errors.append(f"client {index}: {exc!r}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected = {i: (rounds, sum(range(rounds))) for i in range(clients)}
    assert totals(dsn, table) == expected


def test_psycopg_pipeline_with_transaction(txn_proxy, registry, table):
    """A whole transaction pipelined: BEGIN, inserts and COMMIT all sent before any answer."""
    dsn = txn_proxy.dsn(registry.stores["gamma"].id, password=registry.passwords["app"])
    conns = [psycopg.connect(dsn, autocommit=True, prepare_threshold=0) for _ in range(8)]
    try:
        for seq in range(20):
            for index, conn in enumerate(conns):
                with conn.pipeline():
                    with conn.transaction():
                        for k in range(3):
                            conn.execute(f"INSERT INTO {table} VALUES (%s, %s, %s)",
                                         (index, seq * 3 + k, 1))
    finally:
        for conn in conns:
            conn.close()
    assert totals(dsn, table) == {i: (60, 60) for i in range(8)}


def test_pgjdbc_prepared_batches(txn_proxy, registry, table, tmp_path):
    gamma = registry.stores["gamma"]
    url = (f"jdbc:postgresql://{txn_proxy.host}:{txn_proxy.port}/app"
           f"?options=-c%20storegate.store={gamma.id}")
    clients, rounds = 16, 20
    run = drivers.run_java("BatchTxn", [url, "app", registry.passwords["app"], table, clients,
                                        rounds], tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith(f"ok clients={clients}"), run.stdout
    dsn = txn_proxy.dsn(gamma.id, password=registry.passwords["app"])
    per_client = rounds * 5
    assert totals(dsn, table) == {i: (per_client, sum(range(per_client)))
                                  for i in range(clients)}


def test_node_postgres_named_queries(txn_proxy, registry, table):
    gamma = registry.stores["gamma"]
    clients, rounds = 16, 25
    run = drivers.run_node("named_queries.js", [txn_proxy.host, txn_proxy.port, "app",
                                                registry.passwords["app"], gamma.id, table,
                                                clients, rounds])
    assert run.returncode == 0, run.stdout + run.stderr
    assert f'"clients":{clients}' in run.stdout, run.stdout
    dsn = txn_proxy.dsn(gamma.id, password=registry.passwords["app"])
    assert totals(dsn, table) == {i: (rounds, 3 * sum(range(rounds))) for i in range(clients)}


QUERIES = [f"SELECT %s::int + {n} AS v" for n in range(8)]


def run_queries(conn, rounds: int = 3) -> None:
    for round_ in range(rounds):
        for n, query in enumerate(QUERIES):
            assert conn.execute(query, (round_,)).fetchone()[0] == round_ + n


def test_psycopg_evicting_from_its_statement_cache(txn_proxy, registry):
    """Past prepared_max psycopg sends DEALLOCATE for the statement it evicts, through the
    extended protocol; the name is the client's, so storegate answers it itself."""
    dsn = txn_proxy.dsn(registry.stores["gamma"].id, password=registry.passwords["app"])
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=0) as conn:
        conn.prepared_max = 2
        run_queries(conn)


@pytest.mark.parametrize("statement", ["DEALLOCATE ALL", "DISCARD ALL", "DEALLOCATE sg"])
def test_one_client_dropping_statements_spares_the_others(txn_proxy, registry, statement):
    """A client that drops prepared statements on the server (through the extended protocol,
    or by the internal name it can read in pg_prepared_statements) drops only its own: the
    statements other clients share on that server connection are prepared again."""
    dsn = txn_proxy.dsn(registry.stores["gamma"].id, password=registry.passwords["app"])
    others = [psycopg.connect(dsn, autocommit=True, prepare_threshold=0) for _ in range(POOL)]
    try:
        for conn in others:
            run_queries(conn, rounds=1)  # every server connection has them prepared
        with psycopg.connect(dsn, autocommit=True) as rogue:
            for _ in range(POOL * 2):  # reach every server connection of the pool
                if statement == "DEALLOCATE sg":
                    with rogue.transaction():  # the names of this server connection
                        names = rogue.execute("SELECT name FROM pg_prepared_statements "
                                              "WHERE name LIKE 'sg%'").fetchall()
                        for (name,) in names:
                            rogue.execute(f'DEALLOCATE "{name}"')
                else:
                    with rogue.pipeline():  # the extended protocol
                        rogue.execute(statement)
        for conn in others:
            run_queries(conn)
    finally:
        for conn in others:
            conn.close()


def test_parse_skipped_after_an_error_prepares_nothing(txn_proxy, registry):
    """In one pipeline batch a failing statement makes the server skip the named Parse behind
    it: that statement must not count as prepared on the server connection, or every later
    client using the same text there fails with 26000."""
    dsn = txn_proxy.dsn(registry.stores["gamma"].id, password=registry.passwords["app"])
    sql = "SELECT %s::int + 100 AS skipped_parse_probe"
    failures = 0
    for _ in range(POOL * 2):  # leave the skipped Parse on more than one server connection
        with psycopg.connect(dsn, autocommit=True, prepare_threshold=0) as conn:
            try:
                with conn.pipeline() as pipeline:
                    conn.execute("SELECT 1 / 0")
                    conn.execute(sql, (1,))
                    pipeline.sync()
            except psycopg.errors.DivisionByZero:
                failures += 1
    assert failures == POOL * 2
    clients = [psycopg.connect(dsn, autocommit=True, prepare_threshold=0) for _ in range(POOL)]
    try:
        for round_ in range(3):
            for index, conn in enumerate(clients):
                assert conn.execute(sql, (index + round_,)).fetchone()[0] == 100 + index + round_
    finally:
        for conn in clients:
            conn.close()


def test_pipelines_with_errors_from_many_clients_stay_in_step(txn_proxy, registry):
    """Twelve psycopg clients each send pipelines of prepared statements with a failing one
    somewhere among them, then a plain query, forty times over 3 server connections: every
    answer belongs to its request and no client stalls."""
    import random
    dsn = txn_proxy.dsn(registry.stores["gamma"].id, password=registry.passwords["app"])
    clients, rounds = 12, 40
    progress = [0] * clients
    problems = []

    def work(index: int) -> None:
        rnd = random.Random(index)
        try:
            with psycopg.connect(dsn, autocommit=True, prepare_threshold=0) as conn:
                for round_ in range(rounds):
                    values = [rnd.randrange(1000) for _ in range(8)]
                    fail_at = rnd.randrange(12)  # past the end: no failure this round
                    cursors = []
                    try:
                        with conn.pipeline() as pipeline:
                            for position, value in enumerate(values):
                                if position == fail_at:
                                    conn.execute("SELECT 1 / 0")
                                cursors.append((value, conn.execute("SELECT %s::int * 2",
                                                                    (value,))))
                            pipeline.sync()
                            for value, cursor in cursors:
                                assert cursor.fetchone()[0] == value * 2
                        assert fail_at >= len(values), "the failing statement succeeded"
                    except psycopg.errors.DivisionByZero:
                        assert fail_at < len(values)
                    assert conn.execute("SELECT 7").fetchone()[0] == 7
                    progress[index] = round_ + 1
        except Exception as error:  # noqa: BLE001 - reported with the client's progress
            problems.append((index, progress[index], repr(error)[:200]))

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    stuck = [(i, progress[i]) for i, thread in enumerate(threads) if thread.is_alive()]
    assert not stuck and not problems, (stuck, problems[:4])
    assert progress == [rounds] * clients
