#!/usr/bin/env python3
"""Scale check: a PostgreSQL registry of 1,000,000 stores.

For a small registry and then the large one (rows made with generate_series):
  load    time from starting storegate to ready, its resident and peak memory, and the CPU it
          spent, with the registry's rows counted in its log;
  update  one store moved to another backend (UPDATE store_db_routing) until a new client
          connection of that store lands on the new backend, several times; this should take
          milliseconds whatever the registry's size.
Exits non-zero when storegate does not start or an update is not applied in time.

  bench/scale_registry.py [--stores 1000000] [--small 1000] [--updates 5] [--binary PATH]"""

import argparse
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import psycopg

import targets as tg
from harness.pg import PgCluster  # noqa: E402  (targets puts the harness on the path)
from harness.storegate import Storegate  # noqa: E402
from measure import process_cpu_seconds
from memory import rss_kb

APPLY_TIMEOUT = 10.0
TENANT = "7d5e2a1c-0000-4000-8000-000000000001"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(tg.REPO, "build-bench", "storegate"))
    parser.add_argument("--stores", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=5)
    return parser.parse_args()


class Registry:
    """One cluster holding the registry database and the two backend databases, db_a and db_b,
    that stores are moved between."""

    def __init__(self, base_dir: str, binary: str):
        self.binary = binary
        self.passwords = {"sg_registry": secrets.token_hex(12), "sg_backend": secrets.token_hex(12)}
        self.cluster = PgCluster(base_dir, "scale", settings={"max_connections": 100})

    @property
    def dsn(self) -> str:
        return self.cluster.dsn("registry", "sg_registry", self.passwords["sg_registry"])

    def start(self) -> None:
        self.cluster.start()
        for role, password in self.passwords.items():
            self.cluster.create_role(role, password, "scram")
        for name in ("db_a", "db_b"):
            self.cluster.create_db(name, "sg_backend")

    def rebuild(self, stores: int) -> float:
        """A fresh registry with `stores` stores on shared_a and one warm-up store on
        shared_b; returns the seconds the rows took."""
        self.cluster.execute("DROP DATABASE IF EXISTS registry")
        self.cluster.create_db("registry", "sg_registry")
        init_registry(self.binary, self.dsn)
        started = time.monotonic()
        with self.cluster.connect("registry") as conn, conn.transaction():
            for key, database in (("shared_a", "db_a"), ("shared_b", "db_b")):
                conn.execute("INSERT INTO db_connections (db_key, kind, host, port, "
                             "database_name, username, password_secret_ref, status) VALUES "
                             "(%s, 'shared', '127.0.0.1', %s, %s, 'sg_backend', "
                             "'env:SCALE_BACKEND_PW', 'active')",
                             [key, self.cluster.port, database])
            conn.execute("INSERT INTO tenants (id, name, slug) VALUES (%s, 'Scale', 'scale')",
                         [TENANT])
            conn.execute("INSERT INTO stores (id, tenant_id, slug, name, status) "
                         "SELECT md5('store-' || g)::uuid, %s, 'store-' || g, 'Store ' || g, "
                         "'active' FROM generate_series(0, %s) g", [TENANT, stores])
            conn.execute("INSERT INTO store_db_routing (store_id, db_key) "
                         "SELECT md5('store-' || g)::uuid, CASE WHEN g = 0 THEN 'shared_b' "
                         "ELSE 'shared_a' END FROM generate_series(0, %s) g", [stores])
        self.cluster.execute("VACUUM ANALYZE", dbname="registry")
        return time.monotonic() - started

    def move(self, slug: str, db_key: str) -> None:
        self.cluster.execute("UPDATE store_db_routing SET db_key = %s WHERE store_id = "
                             "(SELECT id FROM stores WHERE slug = %s)", [db_key, slug],
                             dbname="registry")


def init_registry(binary: str, dsn: str) -> None:
    done = subprocess.run([binary, "registry", "init", "--dsn", dsn], capture_output=True,
                          text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"storegate registry init failed: {done.stdout}{done.stderr}")


def backend_of(sg: Storegate, slug: str) -> str:
    """The database a new client connection of store `slug` lands on ("" when refused)."""
    try:
        with psycopg.connect(host=sg.host, port=sg.port, user="app", dbname=f"store_{slug}",
                             connect_timeout=5, autocommit=True) as conn:
            return conn.execute("SELECT current_database()").fetchone()[0]
    except psycopg.Error:
        return ""


def apply_latency(registry: Registry, sg: Storegate, slug: str, db_key: str,
                  database: str) -> float | None:
    """Seconds from the UPDATE's commit until a new connection of the store reaches
    `database`; None when that does not happen within APPLY_TIMEOUT."""
    registry.move(slug, db_key)
    committed = time.monotonic()
    while time.monotonic() - committed < APPLY_TIMEOUT:
        if backend_of(sg, slug) == database:
            return time.monotonic() - committed
    return None


def start_storegate(registry: Registry, workdir: str) -> tuple:
    """(storegate, seconds from start to ready)."""
    config = {"server": {"threads": 2}, "registry": {"dsn": registry.dsn},
              "pool": {"mode": "session", "size": 4}, "auth": {"type": "trust"},
              "log": {"level": "info"}}
    sg = Storegate(registry.binary, workdir, config,
                   env={"SCALE_BACKEND_PW": registry.passwords["sg_backend"]})
    started = time.monotonic()
    sg.start(timeout=300)
    return sg, time.monotonic() - started


def peak_rss_kb(pid: int) -> int | None:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def loaded_stores(sg: Storegate) -> str:
    found = re.findall(r"registry loaded .*?stores=(\d+)", sg.log_tail(200))
    return found[-1] if found else "?"


def measure_size(registry: Registry, workdir: str, stores: int, updates: int) -> dict:
    seeding = registry.rebuild(stores)
    sg, ready = start_storegate(registry, os.path.join(workdir, f"sg-{stores}"))
    try:
        result = {"stores": stores, "seed_s": seeding, "ready_s": ready,
                  "loaded": loaded_stores(sg), "rss_kb": rss_kb(sg.process.pid),
                  "peak_kb": peak_rss_kb(sg.process.pid),
                  "cpu_s": process_cpu_seconds(sg.process.pid)}
        backend_of(sg, "store-0")  # opens shared_b's pool, so moves measure routing only
        probe = time.monotonic()
        backend_of(sg, "store-0")
        result["probe_s"] = time.monotonic() - probe
        slug = f"store-{stores // 2}"
        latencies = []
        for i in range(updates):
            key, database = ("shared_b", "db_b") if i % 2 == 0 else ("shared_a", "db_a")
            latencies.append(apply_latency(registry, sg, slug, key, database))
        result["latencies"] = latencies
        result["log"] = [line for line in sg.log_tail(400).splitlines()
                         if "registry" in line or "listening" in line][:8]
        return result
    finally:
        sg.stop()


def report(result: dict) -> bool:
    applied = [s for s in result["latencies"] if s is not None]
    print(f"{result['stores']:>9,} stores: rows in {result['seed_s']:.1f}s; storegate ready in "
          f"{result['ready_s']:.2f}s (log: stores={result['loaded']}), "
          f"RSS {result['rss_kb'] / 1024:.0f} MiB, peak {result['peak_kb'] / 1024:.0f} MiB, "
          f"CPU {result['cpu_s']:.2f}s")
    if applied:
        print(f"{'':>9}  one store moved: applied in median "
              f"{statistics.median(applied) * 1000:.1f} ms, max {max(applied) * 1000:.1f} ms "
              f"({len(applied)} of {len(result['latencies'])} within {APPLY_TIMEOUT:.0f}s; "
              f"one probe connection takes {result['probe_s'] * 1000:.1f} ms)")
    else:
        print(f"{'':>9}  one store moved: not applied within {APPLY_TIMEOUT:.0f}s")
    for line in result["log"]:
        print(f"{'':>9}  log: {line}")
    return len(applied) == len(result["latencies"])


def main() -> int:
    args = parse_args()
    workdir = tempfile.mkdtemp(prefix="storegate-scale-")
    os.chmod(workdir, 0o755)
    registry = Registry(workdir, args.binary)
    ok = True
    try:
        registry.start()
        results = []
        for stores in (args.small, args.stores):
            results.append(measure_size(registry, workdir, stores, args.updates))
            ok = report(results[-1]) and ok
        small, large = results
        per_store = (large["rss_kb"] - small["rss_kb"]) * 1024 / (large["stores"] - small["stores"])
        print(f"memory per store: {per_store:,.0f} bytes (RSS difference between the two sizes)")
    finally:
        registry.cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
