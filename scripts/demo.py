#!/usr/bin/env python3
"""The demo deployment, built by the same harness the integration tests use.

  demo.py start --binary build/storegate   clusters + registry + storegate, left running
  demo.py stop                              stops everything and removes .run/demo
  demo.py status                            prints the connection lines if it is running
"""

import argparse
import os
import shutil
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from harness import cleanup, lifecycle  # noqa: E402
from harness.ports import free_port, port_accepts  # noqa: E402
from harness.storegate import Storegate, deep_merge  # noqa: E402
from harness.topology import Topology  # noqa: E402

STATE_DIR = os.path.join(REPO, ".run", "demo")
PG_LOCATION = os.path.join(STATE_DIR, "pg-location")  # where the clusters live
CONNECT_FILE = os.path.join(STATE_DIR, "connect.txt")
STOREGATE_DIR = os.path.join(STATE_DIR, "storegate")

PRODUCTS = {"alpha": ["alpha espresso", "alpha grinder"], "beta": ["beta teapot"],
            "gamma": ["gamma tent", "gamma stove", "gamma lantern"]}


def preferred_port(port: int) -> int:
    return port if not port_accepts("127.0.0.1", port) else free_port()


def cluster_base() -> str:
    """.run/demo/pg, unless the postgres OS user cannot reach it (a checkout under /root)."""
    base = os.path.join(STATE_DIR, "pg")
    os.makedirs(base, exist_ok=True)
    os.chmod(base, 0o755)
    if not lifecycle.postgres_can_enter(base):
        os.rmdir(base)
        base = tempfile.mkdtemp(prefix="storegate-demo-")
        os.chmod(base, 0o755)
    with open(PG_LOCATION, "w") as out:
        out.write(base + "\n")
    return base


def add_sample_data(topo: Topology) -> None:
    """A products table per store database. On the shared database a row-level security
    policy shows each store only its own rows, keyed by the storegate.store_id setting that
    storegate puts on shared server sessions."""
    shared, dedicated = topo.clusters["shared"], topo.clusters["dedicated"]
    create = "CREATE TABLE products (store_id uuid NOT NULL, name text NOT NULL)"
    shared.execute(create, dbname="shared_db")
    shared.execute("ALTER TABLE products OWNER TO sg_shared", dbname="shared_db")
    shared.execute("ALTER TABLE products ENABLE ROW LEVEL SECURITY", dbname="shared_db")
    shared.execute("ALTER TABLE products FORCE ROW LEVEL SECURITY", dbname="shared_db")
    shared.execute("CREATE POLICY store_scope ON products USING "
                   "(store_id::text = current_setting('storegate.store_id', true))",
                   dbname="shared_db")
    dedicated.execute(create, dbname="store_gamma")
    dedicated.execute("ALTER TABLE products OWNER TO sg_dedicated", dbname="store_gamma")
    for slug, names in PRODUCTS.items():
        store = topo.stores[slug]
        for name in names:
            store.cluster.execute("INSERT INTO products VALUES (%s, %s)", [store.id, name],
                                  dbname=store.database)


def connection_lines(topo: Topology, sg: Storegate) -> str:
    password = topo.passwords["app"]
    base = f"host={sg.host} port={sg.port}"
    lines = [f"export PGPASSWORD={password}   # client user: app", ""]
    for slug, store in topo.stores.items():
        lines += [
            f"# store {slug} ({store.name}) -> {store.db_key}: database {store.database} "
            f"on port {store.cluster.port}",
            f"psql \"{base} user=app dbname=app options='-c storegate.store={store.id}'\"",
            f"psql \"{base} user=app.{store.id} dbname=app\"",
            f"psql \"{base} user=app dbname=store_{store.id}\"",
            f"psql \"{base} user=app dbname=store_{slug}\"       # slug alias",
            "",
        ]
    admin_host, admin_port = sg.admin_address
    lines += [
        "# tenant acme's common database",
        f"psql \"{base} user=app dbname=app options='-c storegate.tenant={topo.tenant_slug}'\"",
        "",
        "# try: SELECT current_database(), inet_server_port();",
        "#      SELECT * FROM products;   -- in a store database: only that store's rows",
        f"# metrics: curl http://{admin_host}:{admin_port}/metrics",
        f"# registry: psql \"{topo.registry_dsn}\"",
        f"# log: {sg.log_path}",
        "# stop everything: scripts/demo.sh stop",
    ]
    return "\n".join(lines) + "\n"


def running() -> bool:
    pid_path = os.path.join(STOREGATE_DIR, "storegate.pid")
    try:
        with open(pid_path) as pid_file:
            pid = int(pid_file.read().strip())
        os.kill(pid, 0)
        return True
    except (OSError, ValueError):
        return False


def start(binary: str) -> int:
    if running():
        print("the demo is already running (scripts/demo.sh stop to end it)\n")
        return status()
    stop(quiet=True)
    os.makedirs(STATE_DIR, exist_ok=True)
    topo = Topology(cluster_base(), os.path.abspath(binary), with_unreachable=False)
    topo.setup()
    add_sample_data(topo)
    config = deep_merge(topo.storegate_config(), {
        "server": {"listen": f"127.0.0.1:{preferred_port(6432)}"},
        "admin": {"listen": f"127.0.0.1:{preferred_port(9930)}"},
        "pool": {"size": 10},
    })
    sg = Storegate(topo.binary, STOREGATE_DIR, config, users=topo.users(), env=topo.env)
    sg.start(new_session=True)
    for item in list(topo.clusters.values()) + [sg]:
        item.detach()
    text = connection_lines(topo, sg)
    with open(CONNECT_FILE, "w") as out:
        out.write(text)
    print("storegate is running. Connect with:\n")
    print(text)
    return 0


def status() -> int:
    if not running():
        print("the demo is not running (scripts/demo.sh to start it)")
        return 1
    with open(CONNECT_FILE) as text:
        print(text.read())
    return 0


def stop(quiet: bool = False) -> int:
    roots = [STATE_DIR]
    if os.path.exists(PG_LOCATION):
        with open(PG_LOCATION) as location:
            roots.append(location.read().strip())
    stopped = 0
    for root in roots:
        if os.path.isdir(root):
            stopped += cleanup.stop_everything_under(root)
    for root in reversed(roots):
        shutil.rmtree(root, ignore_errors=True)
    if not quiet:
        print(f"demo stopped ({stopped} server(s)); .run/demo removed")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "status"], nargs="?",
                        default="start")
    parser.add_argument("--binary", default=os.path.join(REPO, "build", "storegate"))
    args = parser.parse_args()
    if args.command == "stop":
        return stop()
    if args.command == "status":
        return status()
    return start(args.binary)


if __name__ == "__main__":
    sys.exit(main())
