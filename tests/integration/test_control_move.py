"""Live retargeting on one storegate: `storegate store move` under pgbench in transaction
mode, session-mode drain, a registry outage under load, and a rotated backend password."""

import re
import threading
import time

import psycopg
import pytest
from psycopg import sql

from admin_client import AdminClient, metric_value
from control_support import (factory, own_topology, server_port, store_cmd, wait_registered,
                             wait_routed)
from harness.util import client_env, pgbench, wait_for

LOG_TABLE = "CREATE TABLE IF NOT EXISTS move_log (client int, port int, at timestamptz)"
SCRIPT = "INSERT INTO move_log SELECT :client_id, inet_server_port(), clock_timestamp();\n"


@pytest.fixture(scope="module")
def topo(binary, run_dir):
    topology = own_topology(binary, run_dir, "control-move")
    for cluster, db, owner in (("shared", "shared_db", "sg_shared"),
                               ("dedicated", "store_gamma", "sg_dedicated")):
        topology.clusters[cluster].execute(LOG_TABLE, dbname=db)
        topology.clusters[cluster].execute(f"GRANT ALL ON move_log TO {owner}", dbname=db)
    yield topology
    topology.stop()


@pytest.fixture
def start(topo, binary, run_dir):
    made = factory(topo, binary, run_dir)
    yield made
    made.stop_all()


def txn_config(**retarget):
    return {"pool": {"mode": "transaction", "size": 4},
            "retarget": {"pause_timeout_ms": 30000, "drain_timeout_ms": 2000, **retarget}}


def log_rows(topo, cluster, db):
    return topo.clusters[cluster].execute("SELECT port, at FROM move_log", dbname=db)


def start_bench(topo, instance, tmp_path, seconds: int, *options):
    """pgbench with SCRIPT on store alpha (4 clients) in a thread of its own; returns the thread
    and a dict that receives the result as "result"."""
    script = tmp_path / "log.sql"
    script.write_text(SCRIPT)
    env = client_env(topo.passwords["app"],
                     PGOPTIONS=f"-c storegate.store={topo.stores['alpha'].id}")
    outcome = {}

    def bench():
        outcome["result"] = pgbench(["-n", "-c", 4, "-j", 2, "-T", seconds, "-f", str(script),
                                     *options, "-h", instance.host, "-p", instance.port, "-U",
                                     "app", "app"], env=env)

    runner = threading.Thread(target=bench)
    runner.start()
    return runner, outcome


def test_move_under_pgbench_loses_no_transaction(topo, start, tmp_path):
    instance = start(txn_config())
    wait_registered(topo, 1)
    alpha = topo.stores["alpha"]
    runner, outcome = start_bench(topo, instance, tmp_path, 8)
    wait_for(lambda: log_rows(topo, "shared", "shared_db"), what="traffic on the shared backend")
    moved = store_cmd(topo, "move", "alpha", "--to", "dedicated1")
    runner.join(120)
    print(moved.stdout, moved.stderr)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "paused for" in moved.stdout and " ms" in moved.stdout, moved.stdout
    assert "confirmed by 1 instance(s)" in moved.stdout, moved.stdout

    result = outcome["result"]
    assert result.returncode == 0, result.output
    assert result.failed == 0 and result.processed > 0, result.output
    shared = log_rows(topo, "shared", "shared_db")
    dedicated = log_rows(topo, "dedicated", "store_gamma")
    assert shared and dedicated, "traffic on both sides of the move"
    assert {port for port, _ in shared} == {int(topo.clusters["shared"].port)}
    assert {port for port, _ in dedicated} == {int(topo.clusters["dedicated"].port)}
    # Nothing ran on the old backend once the first transaction ran on the new one.
    assert max(at for _, at in shared) < min(at for _, at in dedicated)
    assert len(shared) + len(dedicated) >= result.processed
    audit = topo.clusters["registry"].execute(
        "SELECT action, old_value::text, new_value::text FROM storegate_audit "
        "WHERE store_id = %s ORDER BY id", [alpha.id], dbname=topo.registry_db)
    assert [row[0] for row in audit][-3:] == ["pause", "route", "resume"], audit
    assert "shared1" in audit[-2][1] and "dedicated1" in audit[-2][2], audit


def alpha_db_key(topo):
    return topo.clusters["registry"].execute(
        "SELECT db_key FROM store_db_routing WHERE store_id = %s", [topo.stores["alpha"].id],
        dbname=topo.registry_db)[0][0]


def pause_ms(moved) -> int:
    found = re.search(r"paused for (\d+) ms", moved.stdout)
    assert found, moved.stdout + moved.stderr
    return int(found.group(1))


def test_move_pause_is_short_under_pgbench(topo, start, tmp_path):
    """Three moves while pgbench runs short transactions: each pause lasts only as long as the
    fleet takes to confirm, not a heartbeat or a poll interval. The figures are printed; the
    best of the three must be below 100 ms, so that one move slowed by a busy machine does not
    fail the test."""
    instance = start(txn_config())
    wait_registered(topo, 1)
    runner, outcome = start_bench(topo, instance, tmp_path, 10,
                                  "-l", "--log-prefix", str(tmp_path / "txn"))
    pauses, windows = [], []
    try:
        time.sleep(1.5)
        targets = {"shared1": "dedicated1", "dedicated1": "shared1"}
        for _ in range(3):
            target = targets[alpha_db_key(topo)]
            began = time.time()
            moved = store_cmd(topo, "move", "alpha", "--to", target)
            windows.append((began, time.time()))
            print(moved.stdout, moved.stderr)
            assert moved.returncode == 0, moved.stdout + moved.stderr
            pauses.append(pause_ms(moved))
            time.sleep(1)
    finally:
        runner.join(120)
    result = outcome["result"]
    assert result.returncode == 0, result.output
    assert result.failed == 0 and result.processed > 0, result.output
    # The clients' view: the longest stretch during each move in which no transaction ended
    # (pgbench -l has each transaction's end). It covers the pause, the wait for transactions
    # in flight, and any stall of the busy machine.
    ends = sorted(int(fields[4]) + int(fields[5]) / 1e6
                  for log in tmp_path.glob("txn.*")
                  for fields in (line.split() for line in log.read_text().splitlines()))
    stalls = []
    for began, done in windows:
        inside = [end for end in ends if began <= end <= done]
        edges = [max([end for end in ends if end < began], default=began)] + inside + \
            [min([end for end in ends if end > done], default=done)]
        stalls.append(round(max(b - a for a, b in zip(edges, edges[1:])) * 1000))
    print(f"pauses reported by store move: {pauses} ms; longest stretch without a finished "
          f"transaction during each move: {stalls} ms")
    assert min(pauses) < 100, pauses
    admin = AdminClient(instance)
    exposition = admin.metrics()
    assert metric_value(exposition, "storegate_pause_events_total", {"event": "paused"}) >= 3
    assert metric_value(exposition, "storegate_pause_events_total", {"event": "resumed"}) >= 3
    if alpha_db_key(topo) != "shared1":
        assert store_cmd(topo, "route", "alpha", "--to", "shared1").returncode == 0


def test_session_mode_drains_old_sessions(topo, start):
    instance = start({"pool": {"mode": "session", "size": 4},
                      "retarget": {"drain_timeout_ms": 1500}})
    wait_routed(instance, topo, "beta", "shared")
    old, early = (psycopg.connect(instance.dsn("beta", password=topo.passwords["app"]),
                                  autocommit=True) for _ in range(2))
    for conn in (old, early):
        assert conn.execute("SELECT inet_server_port()").fetchone()[0] == \
            topo.clusters["shared"].port

    routed = store_cmd(topo, "route", "beta", "--to", "dedicated1")
    assert routed.returncode == 0, routed.stdout + routed.stderr
    early.close()  # ends on its own on the old backend, before the drain timeout
    assert server_port(instance, topo, "beta") == topo.clusters["dedicated"].port

    def closed():
        try:
            old.execute("SELECT 1")
            time.sleep(0.1)
            return None
        except psycopg.OperationalError as error:
            return error
    error = wait_for(closed, timeout=30, what="the old session to be closed")
    assert error.sqlstate == "57P01" or "moved" in str(error), error
    assert "moved" in str(error), error
    old.close()
    admin = AdminClient(instance)

    def drain_counts():
        text = admin.metrics()
        counts = {result: metric_value(text, "storegate_drain_events_total", {"result": result})
                  for result in ("drained", "closed")}
        return counts if counts["drained"] else None
    counts = wait_for(drain_counts, what="the early session to be counted as drained")
    assert counts == {"drained": 1, "closed": 1}, counts
    store_cmd(topo, "route", "beta", "--to", "shared1")


def test_registry_outage_under_load(topo, start):
    instance = start(txn_config())
    gamma = topo.stores["gamma"]
    env = client_env(topo.passwords["app"], PGOPTIONS=f"-c storegate.store={gamma.id}")
    outcome = {}

    def bench():
        outcome["result"] = pgbench(["-n", "-c", 2, "-j", 2, "-T", 14, "-S", "-h",
                                     instance.host, "-p", instance.port, "-U", "app", "app"],
                                    env=env)
    init = pgbench(["-i", "-s", "1", "-q", "-h", "127.0.0.1", "-p",
                    topo.clusters["dedicated"].port, "-U", "sg_dedicated", "store_gamma"],
                   env=client_env(topo.passwords["sg_dedicated"]))
    assert init.returncode == 0, init.output
    runner = threading.Thread(target=bench)
    runner.start()
    time.sleep(1)
    registry = topo.clusters["registry"]
    registry.stop()
    try:
        time.sleep(10)
    finally:
        registry.start()
    runner.join(120)
    result = outcome["result"]
    assert result.returncode == 0, result.output
    assert result.failed == 0 and result.processed > 0, result.output

    # A change made once the registry is back reaches the running instance.
    wait_for(lambda: store_cmd(topo, "route", "beta", "--to", "dedicated1").returncode == 0,
             timeout=30, interval=0.5, what="the route change to be accepted")
    wait_routed(instance, topo, "beta", "dedicated")
    assert store_cmd(topo, "route", "beta", "--to", "shared1").returncode == 0


def test_rotated_backend_password_is_used_without_restart(topo, start, tmp_path):
    instance = start(txn_config())
    dedicated = topo.clusters["dedicated"]
    dsn = instance.dsn("gamma", password=topo.passwords["app"])
    with psycopg.connect(dsn, autocommit=True) as conn:
        before = {conn.execute("SELECT pg_backend_pid()").fetchone()[0] for _ in range(4)}

    new_password = "rotated-" + topo.passwords["sg_dedicated"]
    secret = tmp_path / "sg_dedicated.pw"
    secret.write_text(new_password + "\n")
    dedicated.execute(sql.SQL("ALTER ROLE sg_dedicated PASSWORD {}").format(
        sql.Literal(new_password)))
    topo.clusters["registry"].execute(
        "UPDATE db_connections SET password_secret_ref = %s WHERE db_key = 'dedicated1'",
        [f"file:{secret}"], dbname=topo.registry_db)

    def fresh_server():
        # Until the watcher applies the row, a new server connection would still use the old
        # secret and fail; pooled ones go on working.
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
                return pid not in before and pid
        except psycopg.OperationalError:
            return None
    pid = wait_for(fresh_server, timeout=30, interval=0.2, what="a server connection made anew")
    rows = dedicated.execute("SELECT usename FROM pg_stat_activity WHERE pid = %s", [pid])
    assert rows == [("sg_dedicated",)]
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dedicated.dsn("store_gamma", "sg_dedicated", topo.passwords["sg_dedicated"]))
    topo.passwords["sg_dedicated"] = new_password


def test_move_to_a_disabled_db_key_is_refused(topo, start):
    """A db_key that is not active would refuse the store's clients: the move is refused,
    and the store keeps serving, unpaused, where it is."""
    instance = start(txn_config())
    before = server_port(instance, topo, "beta")
    with psycopg.connect(topo.registry_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO db_connections (db_key, kind, host, port, database_name, "
                     "username, password_secret_ref, status) SELECT 'retired1', kind, host, "
                     "port, database_name, username, password_secret_ref, 'disabled' "
                     "FROM db_connections WHERE db_key = 'dedicated1'")
    try:
        moved = store_cmd(topo, "move", "beta", "--to", "retired1")
        assert moved.returncode != 0 and "not active" in moved.stderr, moved
        with psycopg.connect(topo.registry_dsn, autocommit=True) as conn:
            paused, db_key = conn.execute(
                "SELECT s.paused, r.db_key FROM stores s JOIN store_db_routing r "
                "ON r.store_id = s.id WHERE s.slug = 'beta'").fetchone()
        assert (paused, db_key) == (False, "shared1")
        assert server_port(instance, topo, "beta") == before
    finally:
        with psycopg.connect(topo.registry_dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM db_connections WHERE db_key = 'retired1'")


def test_a_pinned_client_does_not_hold_up_a_move(topo, start):
    """A transaction-pooled client pinned to its server connection (LISTEN) is between
    transactions while it idles, so a move's pause is confirmed at once; the pinned state
    cannot follow the store, so the client's next transaction ends its session with 57P01,
    while an unpinned client carries on on the new backend."""
    instance = start(txn_config())
    wait_routed(instance, topo, "beta", "shared")
    dsn = instance.dsn("beta", password=topo.passwords["app"])
    pinned, plain = (psycopg.connect(dsn, autocommit=True) for _ in range(2))
    try:
        pinned.execute("LISTEN storegate_move_probe")
        assert pinned.execute("SELECT inet_server_port()").fetchone()[0] == \
            topo.clusters["shared"].port
        started = time.monotonic()
        moved = store_cmd(topo, "move", "beta", "--to", "dedicated1", timeout_ms=8000)
        assert moved.returncode == 0, moved.stdout + moved.stderr
        assert time.monotonic() - started < 5, "the pause waited for the pinned client"
        assert plain.execute("SELECT inet_server_port()").fetchone()[0] == \
            topo.clusters["dedicated"].port
        with pytest.raises(psycopg.OperationalError) as closed:
            pinned.execute("SELECT 1")
        assert "moved" in str(closed.value), closed.value
        # The ended session gives its server connection back (it held it while pinned).
        admin = AdminClient(instance)
        wait_for(lambda: metric_value(admin.metrics(), "storegate_client_pinned",
                                      {"reason": "listen"}) == 0,
                 timeout=10, what="the pinned session to end")
    finally:
        pinned.close()
        plain.close()
        store_cmd(topo, "route", "beta", "--to", "shared1")
