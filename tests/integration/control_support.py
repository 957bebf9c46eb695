"""Shared pieces of the control-plane tests: a topology of their own (they change routes,
pause stores and stop the registry), `storegate store ...` and helpers to see where a store's
traffic lands."""

import os
import subprocess

import psycopg

from harness.storegate import StoregateFactory
from harness.topology import Topology
from harness.util import wait_for


def own_topology(binary: str, run_dir: str, name: str):
    base = os.path.join(run_dir, name)
    os.makedirs(base, exist_ok=True)
    os.chmod(base, 0o755)
    topo = Topology(base, binary, with_unreachable=False)
    topo.setup()
    return topo


def store_cmd(topo, *args, timeout_ms: int = 20000) -> subprocess.CompletedProcess:
    argv = [topo.binary, "store", *args, "--dsn", topo.registry_dsn,
            "--timeout-ms", str(timeout_ms), "--actor", "test"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def server_port(instance, topo, store: str) -> int:
    dsn = instance.dsn(store, password=topo.passwords["app"])
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute("SELECT inet_server_port()").fetchone()[0]


def wait_routed(instance, topo, store: str, cluster: str) -> None:
    port = int(topo.clusters[cluster].port)
    wait_for(lambda: server_port(instance, topo, store) == port, timeout=30,
             what=f"{store} reaching the {cluster} backend")


def wait_registered(topo, count: int) -> None:
    """Until `count` instances heartbeat in storegate_instances: the fleet the store commands
    wait for."""
    def registered():
        rows = topo.clusters["registry"].execute(
            "SELECT count(*) FROM storegate_instances "
            "WHERE heartbeat_at > now() - interval '5 seconds' AND instance_tag IS NOT NULL",
            dbname=topo.registry_db)
        return rows[0][0] >= count
    wait_for(registered, timeout=30, what=f"{count} registered instance(s)")


def factory(topo, binary: str, run_dir: str) -> StoregateFactory:
    return StoregateFactory(topo, binary, run_dir)
