"""Per-transaction store switching in transaction pooling: `SET storegate.store` between
transactions sends the next transaction to the store's backend, alternating between the shared
backend (stores alpha and beta) and the dedicated one (gamma); inside a transaction it is
refused with 25001, an unknown store with 3D000, and the client stays usable either way."""

import threading
import traceback

import psycopg
import pytest

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


def check_lands(conn, store) -> None:
    with conn.transaction():
        database, port, store_id = conn.execute(WHERE).fetchone()
    assert (database, port) == expected_place(store)
    if store.slug in ("alpha", "beta"):  # shared backend: rows are told apart by store_id
        assert store_id == store.id
    assert conn.execute("SHOW storegate.store").fetchone()[0] == store.id


def test_alternating_stores_land_on_their_backends(txn_proxy, registry):
    stores = [registry.stores[s] for s in ("alpha", "gamma", "beta", "gamma", "alpha", "beta")]
    dsn = txn_proxy.dsn(registry.stores["alpha"].id, password=registry.passwords["app"])
    errors = []

    def work(index: int) -> None:
        try:
            # prepare_threshold=None: storegate answers SET/SHOW storegate.* in simple Query
            # messages only, and psycopg would prepare a statement it runs five times.
            with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
                for step in range(12):
                    store = stores[(index + step) % len(stores)]
                    name = store.slug if step % 2 else store.id  # by slug and by id
                    conn.execute(f"SET storegate.store = '{name}'")
                    check_lands(conn, store)
                    # A single statement outside a transaction lands there too.
                    assert conn.execute("SELECT current_database()").fetchone()[0] == \
                        store.database
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
