"""Two storegate instances on one registry: a pause reaches both and waits for both, and a
CancelRequest sent to the instance that does not serve the client is forwarded to the one
that does."""

import threading

import psycopg
import pytest

from admin_client import AdminClient, metric_value
from control_support import factory, own_topology, store_cmd
from harness import wire
from harness.util import wait_for


@pytest.fixture(scope="module")
def topo(binary, run_dir):
    topology = own_topology(binary, run_dir, "control-fleet")
    yield topology
    topology.stop()


def instance_tags(topo):
    return topo.clusters["registry"].execute(
        "SELECT id, instance_tag FROM storegate_instances "
        "WHERE heartbeat_at > now() - interval '10 seconds'", dbname=topo.registry_db)


@pytest.fixture(scope="module")
def pair(topo, binary, run_dir):
    made = factory(topo, binary, run_dir)
    config = {"pool": {"mode": "transaction", "size": 2},
              "retarget": {"pause_timeout_ms": 1500}}
    first = made(config)
    second = made(config)

    def distinct_tags():
        tags = [tag for _, tag in instance_tags(topo)]
        return len(tags) == 2 and None not in tags and tags
    tags = wait_for(distinct_tags, timeout=30, what="both instances to record their tags")
    # Tags are random: on a collision (1 in 128) restart one so cancels can tell them apart.
    while tags[0] == tags[1]:
        second.stop()
        second = made(config)
        tags = wait_for(distinct_tags, timeout=30, what="tags after a restart")
    yield first, second
    made.stop_all()


def query(instance, topo, store, sql="SELECT inet_server_port()"):
    with psycopg.connect(instance.dsn(store, password=topo.passwords["app"]),
                         autocommit=True) as conn:
        return conn.execute(sql).fetchone()[0]


def test_pause_stops_the_store_on_both_instances(topo, pair):
    for instance in pair:
        assert query(instance, topo, "alpha") == topo.clusters["shared"].port
    paused = store_cmd(topo, "pause", "alpha")
    assert paused.returncode == 0, paused.stdout + paused.stderr
    assert "confirmed by 2 instance(s)" in paused.stdout, paused.stdout
    try:
        for instance in pair:
            with pytest.raises(psycopg.Error) as refused:
                query(instance, topo, "alpha")
            assert "paused" in str(refused.value), refused.value
            # Another store on the same backend goes on.
            assert query(instance, topo, "beta") == topo.clusters["shared"].port
    finally:
        resumed = store_cmd(topo, "resume", "alpha")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    for instance in pair:
        assert query(instance, topo, "alpha") == topo.clusters["shared"].port
        admin = AdminClient(instance)
        # The resume is counted by the instance's quiesce thread, a moment after it applied it.
        wait_for(lambda: all((metric_value(admin.metrics(), "storegate_pause_events_total",
                                           {"event": event}) or 0) >= 1
                             for event in ("paused", "resumed", "wait_timeout")),
                 timeout=10, what="pause, resume and wait timeout counted")
    actions = topo.clusters["registry"].execute(
        "SELECT action, actor FROM storegate_audit WHERE store_id = %s ORDER BY id",
        [topo.stores["alpha"].id], dbname=topo.registry_db)
    assert actions[-2:] == [("pause", "test"), ("resume", "test")]


def test_pause_waits_for_a_transaction_in_flight(topo, pair):
    first, _ = pair
    conn = psycopg.connect(first.dsn("alpha", password=topo.passwords["app"]))
    conn.execute("SELECT 1")  # a transaction is now open on the first instance
    try:
        paused = store_cmd(topo, "pause", "alpha", timeout_ms=1500)
        assert paused.returncode != 0, paused.stdout
        assert "not confirmed" in paused.stderr and "stays paused" in paused.stderr
        conn.commit()  # the transaction ends where it started
        confirmed = store_cmd(topo, "pause", "alpha")
        assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
    finally:
        conn.close()
        assert store_cmd(topo, "resume", "alpha").returncode == 0


def test_cancel_on_the_other_instance_is_forwarded(topo, pair):
    first, second = pair
    with wire.WireClient(first.host, first.port) as client:
        session = client.startup({"user": "app", "database": "app",
                                  "options": "-c storegate.store=gamma"},
                                 topo.passwords["app"])
        assert session.ok, session.error
        outcome = {}

        def sleep():
            outcome["result"] = client.query("SELECT pg_sleep(30)")
        runner = threading.Thread(target=sleep)
        runner.start()
        dedicated = topo.clusters["dedicated"]
        wait_for(lambda: dedicated.execute(
            "SELECT 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'"),
            what="the query to run")
        wire.send_cancel(second.host, second.port, session.backend_pid, session.backend_secret)
        runner.join(60)
        assert not runner.is_alive()
        rows, error = outcome["result"]
        assert error is not None and "57014" in error.values(), (rows, error)
