"""What the system benchmark compares: PostgreSQL itself (direct), HAProxy as a plain TCP relay,
PgBouncer and storegate, each on its own free loopback port in front of one throwaway
PostgreSQL 15. A target that fails to start is kept with its error so that every table still
shows it."""

import os
import shutil
import subprocess
import sys
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from harness import lifecycle  # noqa: E402
from harness.pg import PgCluster, pg_program  # noqa: E402
from harness.ports import free_port, port_accepts  # noqa: E402
from harness.storegate import Storegate  # noqa: E402

USER = "app"
DATABASE = "store_bench"  # storegate reads the store slug "bench" from the store_ prefix
STORE_SLUG = "bench"
MAX_CLIENT_CONN = 12000
READY_TIMEOUT = 30.0


class Target:
    """One server pgbench connects to. `pid` is the process whose CPU and memory are measured
    (None for direct connections, which have no pooler)."""

    def __init__(self, kind: str, mode: str = "", threads: int = 0, variant: str = ""):
        self.kind = kind
        self.mode = mode
        self.threads = threads
        self.variant = variant  # a second storegate build, e.g. "uring": storegate-uring/...
        self.host = "127.0.0.1"
        self.port = 0
        self.pid = None
        self.error = ""
        self.log_path = ""
        self._process = None

    @property
    def name(self) -> str:
        head = f"{self.kind}-{self.variant}" if self.variant else self.kind
        parts = [head] + ([self.mode] if self.mode else [])
        return "/".join(parts) + (f"/{self.threads}t" if self.threads else "")

    @property
    def pooler(self) -> bool:
        return self.kind in ("pgbouncer", "storegate")

    def __repr__(self) -> str:
        return f"Target({self.name}, port={self.port})"

    def alive(self) -> bool:
        if self.kind == "direct":
            return True
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        lifecycle.unregister(self)
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _spawn(self, argv: list, workdir: str, **popen) -> None:
        self.log_path = os.path.join(workdir, f"{self.kind}.log")
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, **popen)
        self.pid = self._process.pid
        lifecycle.register(self)
        deadline = time.monotonic() + READY_TIMEOUT
        while not port_accepts(self.host, self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start:\n"
                                   f"{lifecycle.tail(self.log_path, 20)}")
            time.sleep(0.05)


class Backend:
    """The PostgreSQL server behind every target, with the pgbench tables loaded."""

    def __init__(self, base_dir: str, password: str, max_connections: int):
        self.password = password
        # Connection logging off: pgbench -C would otherwise measure PostgreSQL's log writes.
        self.cluster = PgCluster(base_dir, "postgres", settings={
            "max_connections": max_connections, "shared_buffers": "256MB",
            "log_connections": "off", "log_disconnections": "off",
            "superuser_reserved_connections": 3})

    def start(self, scale: int) -> None:
        self.cluster.start()
        self.cluster.create_role(USER, self.password, "scram")
        self.cluster.create_db(DATABASE, USER)
        env = dict(os.environ, PGPASSWORD=self.password)
        argv = [pg_program("pgbench"), "-i", "-q", "-s", str(scale), "-h", self.cluster.host,
                "-p", str(self.cluster.port), "-U", USER, DATABASE]
        subprocess.run(argv, env=env, check=True, capture_output=True, timeout=600)

    def verifier(self) -> str:
        """The server's own SCRAM verifier of the client role. Both poolers authenticate clients
        against it; PgBouncer also needs it to log in to the server on the client's behalf (its
        SCRAM pass-through works only with the server's salt)."""
        rows = self.cluster.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [USER])
        return rows[0][0]

    def stop(self) -> None:
        self.cluster.stop()


def direct(backend: Backend) -> Target:
    target = Target("direct")
    target.port = backend.cluster.port
    return target


def start_haproxy(backend: Backend, workdir: str) -> Target:
    target = Target("haproxy")
    target.port = free_port()
    folder = os.path.join(workdir, "haproxy")
    os.makedirs(folder, exist_ok=True)
    config = os.path.join(folder, "haproxy.cfg")
    with open(config, "w") as out:
        out.write(f"""global
    maxconn 4000

defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h

frontend postgres
    bind 127.0.0.1:{target.port}
    default_backend postgres

backend postgres
    server postgres 127.0.0.1:{backend.cluster.port}
""")
    target._spawn(["haproxy", "-db", "-f", config], folder)
    return target


def start_pgbouncer(backend: Backend, workdir: str, mode: str, pool_size: int) -> Target:
    """PgBouncer refuses to run as root: it runs as the postgres OS user and logs to stderr
    (our log file)."""
    target = Target("pgbouncer", mode)
    target.port = free_port()
    folder = os.path.join(workdir, f"pgbouncer-{mode}")
    os.makedirs(folder, exist_ok=True)
    userlist = os.path.join(folder, "userlist.txt")
    with open(userlist, "w") as out:
        out.write(f'"{USER}" "{backend.verifier()}"\n')
    config = os.path.join(folder, "pgbouncer.ini")
    with open(config, "w") as out:
        out.write(f"""[databases]
{DATABASE} = host=127.0.0.1 port={backend.cluster.port} dbname={DATABASE}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {target.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {userlist}
pool_mode = {mode}
default_pool_size = {pool_size}
max_client_conn = {MAX_CLIENT_CONN}
""")
    os.chmod(userlist, 0o600)
    for path in (folder, userlist, config):
        lifecycle.chown_postgres(path)
    as_postgres = {"user": "postgres", "group": "postgres"} if lifecycle.running_as_root() else {}
    target._spawn(["pgbouncer", config], folder, **as_postgres)
    return target


def write_file_registry(path: str, backend: Backend) -> None:
    """One dedicated backend holding the one store the benchmark uses."""
    tenant, store = uuid.uuid4(), uuid.uuid4()
    with open(path, "w") as out:
        out.write(f"""version = 1

[[backends]]
db_key = "bench"
kind = "dedicated"
host = "127.0.0.1"
port = {backend.cluster.port}
database_name = "{DATABASE}"
username = "{USER}"
password_secret_ref = "env:BENCH_PG_PASSWORD"

[[tenants]]
id = "{tenant}"
name = "Bench"
slug = "bench-tenant"

[[stores]]
id = "{store}"
tenant_id = "{tenant}"
slug = "{STORE_SLUG}"
name = "Bench store"
status = "active"
db_key = "bench"
""")


def start_storegate(backend: Backend, workdir: str, binary: str, mode: str, threads: int,
                    pool_size: int, variant: str = "") -> Target:
    target = Target("storegate", mode, threads, variant)
    folder = os.path.join(workdir, target.name.replace("/", "-"))
    os.makedirs(folder, exist_ok=True)
    registry = os.path.join(folder, "registry.toml")
    write_file_registry(registry, backend)
    config = {
        "server": {"threads": threads, "max_client_conn": MAX_CLIENT_CONN},
        "registry": {"file": registry},
        "pool": {"mode": mode, "size": pool_size},
        "auth": {"type": "scram-sha-256"},
        "log": {"level": "info"},
    }
    instance = Storegate(binary, folder, config, users={USER: backend.verifier()},
                         env={"BENCH_PG_PASSWORD": backend.password})
    target.port = instance.port
    target.log_path = instance.log_path
    instance.start(READY_TIMEOUT)
    target._process = instance.process
    target.pid = instance.process.pid
    lifecycle.unregister(instance)
    lifecycle.register(target)
    return target


def start_all(backend: Backend, workdir: str, binary: str, session_pool: int,
              transaction_pool: int, thread_counts: list, variants: dict) -> list:
    """Every target, in a fixed order; one that fails to start carries its error instead.
    `variants` maps a name to another storegate binary, benchmarked like the main one."""
    pools = {"session": session_pool, "transaction": transaction_pool}
    plan = [(lambda: direct(backend), Target("direct")),
            (lambda: start_haproxy(backend, workdir), Target("haproxy"))]
    for mode, size in pools.items():
        plan.append((lambda m=mode, s=size: start_pgbouncer(backend, workdir, m, s),
                     Target("pgbouncer", mode)))
    builds = {"": binary, **variants}
    for mode, size in pools.items():
        for variant, path in builds.items():
            for threads in thread_counts:
                plan.append((lambda m=mode, s=size, t=threads, v=variant, b=path:
                             start_storegate(backend, workdir, b, m, t, s, v),
                             Target("storegate", mode, threads, variant)))
    targets = []
    for start, placeholder in plan:
        try:
            targets.append(start())
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            placeholder.error = " ".join(str(exc).split())[:300]
            print(f"bench: {placeholder.name} failed to start: {placeholder.error}", flush=True)
            targets.append(placeholder)
    return targets


def stop_all(targets: list) -> None:
    for target in reversed(targets):
        target.stop()


def require_program(name: str) -> None:
    if shutil.which(name) is None:
        raise SystemExit(f"bench: {name} is not installed (bench/run.sh installs it)")
