"""Session pooling: server connections are reused per db_key, and nothing a client leaves
behind (temporary tables, settings, an open transaction) reaches the next client."""

import psycopg
import pytest

from harness.util import vanish

# One server connection per db_key makes reuse deterministic: the next client of the db_key
# must get the same server process, or wait for it.
SINGLE = {"pool": {"size": 1}}


def backend_pid(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def test_consecutive_clients_share_the_server_connection(storegate, registry):
    instance = storegate(SINGLE)
    dsn = instance.dsn("alpha", password=registry.passwords["app"])
    assert backend_pid(dsn) == backend_pid(dsn)


def test_stores_of_one_db_key_share_its_pool(storegate, registry):
    instance = storegate(SINGLE)
    password = registry.passwords["app"]
    alpha_pid = backend_pid(instance.dsn("alpha", password=password))
    assert backend_pid(instance.dsn("beta", via="user", password=password)) == alpha_pid
    assert backend_pid(instance.dsn("gamma", password=password)) != alpha_pid


@pytest.fixture
def leak_table(clusters):
    shared = clusters["shared"]
    shared.execute("CREATE TABLE IF NOT EXISTS leak_rows (note text)", dbname="shared_db")
    shared.execute("ALTER TABLE leak_rows OWNER TO sg_shared", dbname="shared_db")
    shared.execute("TRUNCATE leak_rows", dbname="shared_db")
    return "leak_rows"


def test_vanished_client_leaves_nothing_behind(storegate, registry, leak_table):
    instance = storegate(SINGLE)
    dsn = instance.dsn("alpha", password=registry.passwords["app"])

    first = psycopg.connect(dsn, autocommit=True)
    first_pid = first.execute("SELECT pg_backend_pid()").fetchone()[0]
    first.execute("CREATE TEMP TABLE scratch (id int)")
    first.execute("SET search_path = leaked_schema, public")
    first.execute("SET statement_timeout = 1234")
    first.execute("PREPARE leaked_plan AS SELECT 1")
    first.execute("BEGIN")
    first.execute(f"INSERT INTO {leak_table} VALUES ('uncommitted')")
    vanish(first)

    with psycopg.connect(dsn, autocommit=True) as second:
        state = second.execute(
            "SELECT to_regclass('pg_temp.scratch'), current_setting('search_path'), "
            "current_setting('statement_timeout'), "
            "(SELECT count(*) FROM pg_prepared_statements), "
            f"(SELECT count(*) FROM {leak_table}), now() = statement_timestamp(), "
            "pg_backend_pid()").fetchone()
    assert state[0] is None, "temporary table survived"
    assert state[1] == '"$user", public', "SET search_path survived"
    assert state[2] == "0", "SET statement_timeout survived"
    assert state[3] == 0, "prepared statement survived"
    assert state[4] == 0, "uncommitted row became visible"
    assert state[5] is True, "still inside the vanished client's transaction"
    assert state[6] == first_pid, "the cleaned server connection was not reused"


def test_client_that_terminates_mid_transaction_is_rolled_back(storegate, registry, leak_table):
    instance = storegate(SINGLE)
    dsn = instance.dsn("beta", password=registry.passwords["app"])
    first = psycopg.connect(dsn)  # not autocommit: the INSERT opens a transaction
    first.execute(f"INSERT INTO {leak_table} VALUES ('never committed')")
    first.pgconn.finish()  # Terminate without COMMIT
    first.close()
    with psycopg.connect(dsn, autocommit=True) as second:
        assert second.execute(f"SELECT count(*) FROM {leak_table}").fetchone()[0] == 0
        assert second.execute("SELECT now() = statement_timestamp()").fetchone()[0] is True
