"""Transaction pooling under pgbench: a few server connections serve many clients, whose
transactions really hop between server connections, with no failed transaction."""

import psycopg
import pytest

from harness.storegate import StoregateFactory
from harness.util import client_env, pgbench

import os
CLIENTS = int(os.environ.get("SG_TXN_CLIENTS", "32"))
TRANSACTIONS = int(os.environ.get("SG_TXN_TX", "150"))
POOL = 3

MIXED_SCRIPT = """\\set aid random(1, 100000)
\\set delta random(-100, 100)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
END;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
"""


@pytest.fixture(scope="module")
def txn_proxy(registry, binary, run_dir):
    gamma = registry.stores["gamma"]
    init = pgbench(["-i", "-s", "1", "-q", "-h", gamma.cluster.host, "-p", gamma.cluster.port,
                    "-U", "sg_dedicated", gamma.database],
                   env=client_env(registry.passwords["sg_dedicated"]))
    assert init.returncode == 0, init.output
    factory = StoregateFactory(registry, binary, run_dir)
    yield factory({"pool": {"mode": "transaction", "size": POOL}, "log": {"level": os.environ.get("SG_LOG", "info")}})
    factory.stop_all()


@pytest.fixture(scope="module")
def one_thread_proxy(registry, binary, run_dir):
    """Idle server connections are kept per thread, and the kernel spreads clients over the
    threads: with one thread every client competes for the same idle list."""
    factory = StoregateFactory(registry, binary, run_dir)
    yield factory({"server": {"threads": 1}, "pool": {"mode": "transaction", "size": POOL}})
    factory.stop_all()


def run(proxy, registry, args, threads=2):
    gamma = registry.stores["gamma"]
    env = client_env(registry.passwords["app"], PGOPTIONS=f"-c storegate.store={gamma.id}")
    return pgbench(["-n", "-c", CLIENTS, "-j", threads, "-t", TRANSACTIONS, "-h", proxy.host,
                    "-p", proxy.port, "-U", "app", "app"] + args, env=env)


def assert_clean(result):
    assert result.returncode == 0, result.output
    assert result.processed == CLIENTS * TRANSACTIONS, result.output
    assert result.failed == 0, result.output


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
def test_select_only_in_every_protocol(txn_proxy, registry, mode):
    assert_clean(run(txn_proxy, registry, ["-S", "-M", mode]))


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
def test_mixed_transactions_and_single_statements(txn_proxy, registry, mode, tmp_path):
    script = tmp_path / "mixed.sql"
    script.write_text(MIXED_SCRIPT)
    # One thread per client: pgbench prepares statements with a blocking call, so a thread
    # serving several clients can wait on one client while another of its clients holds a
    # server connection in an open transaction - a deadlock of the benchmark, not the pool.
    assert_clean(run(txn_proxy, registry, ["-M", mode, "-f", str(script)], threads=CLIENTS))


def test_transactions_hop_between_server_connections(one_thread_proxy, registry):
    """While one client holds a server connection in an open transaction, the others run on
    the rest of the pool: clients move between backend processes from one transaction to the
    next, and no more processes than the pool size serve them all."""
    gamma = registry.stores["gamma"]
    dsn = one_thread_proxy.dsn(gamma.id, password=registry.passwords["app"])
    conns = [psycopg.connect(dsn, autocommit=True) for _ in range(POOL * 2)]
    pid = "SELECT pg_backend_pid()"
    try:
        seen = [set() for _ in conns]
        for round_ in range(len(conns) * 2):
            holder = round_ % len(conns)
            with conns[holder].transaction():
                seen[holder].add(conns[holder].execute(pid).fetchone()[0])
                for index, conn in enumerate(conns):
                    if index != holder:
                        seen[index].add(conn.execute(pid).fetchone()[0])
        everyone = set().union(*seen)
        assert 2 <= len(everyone) <= POOL
        assert all(len(pids) >= 2 for pids in seen), seen
    finally:
        for conn in conns:
            conn.close()
