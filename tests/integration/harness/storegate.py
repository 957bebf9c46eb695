"""A storegate process with a generated TOML configuration and users file."""

import copy
import http.client
import os
import signal
import subprocess
import tempfile
import time

from psycopg.conninfo import make_conninfo

from . import lifecycle, toml_writer
from .ports import free_port, port_accepts

READY_TIMEOUT = 30.0


def default_binary() -> str:
    """$STOREGATE_BIN, else the binary of $BUILD_DIR (default build/) of this checkout."""
    if os.environ.get("STOREGATE_BIN"):
        return os.environ["STOREGATE_BIN"]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    build_dir = os.environ.get("BUILD_DIR", "build")
    return os.path.join(root, build_dir, "storegate")


def split_host_port(listen: str) -> tuple:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def deep_merge(base: dict, overrides: dict) -> dict:
    """A copy of `base` with `overrides` applied; a None value deletes the key."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def write_users_file(path: str, users: dict) -> None:
    """PgBouncer's userlist format: one `"name" "secret"` line per user."""
    with open(path, "w") as out:
        for name, secret in users.items():
            quoted = [value.replace('"', '""') for value in (name, secret)]
            out.write(f'"{quoted[0]}" "{quoted[1]}"\n')
    os.chmod(path, 0o600)


class Storegate:
    def __init__(self, binary: str, workdir: str, config: dict, users: dict | None = None,
                 env: dict | None = None):
        self.binary = binary
        self.workdir = os.path.abspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.config_path = os.path.join(self.workdir, "storegate.toml")
        self.users_path = os.path.join(self.workdir, "users.txt")
        self.log_path = os.path.join(self.workdir, "storegate.log")
        self.pid_path = os.path.join(self.workdir, "storegate.pid")
        self.env = dict(os.environ, **(env or {}))
        self.process = None
        self.config = self._complete(config, users)
        self.host, self.port = split_host_port(self.config["server"]["listen"])
        self.write_config()

    def __repr__(self) -> str:
        return f"Storegate({self.workdir}, port={self.port})"

    def _complete(self, config: dict, users: dict | None) -> dict:
        config = copy.deepcopy(config)
        server = config.setdefault("server", {})
        server.setdefault("listen", f"127.0.0.1:{free_port()}")
        # The built-in admin default is a fixed port: give every instance its own.
        config.setdefault("admin", {}).setdefault("listen", f"127.0.0.1:{free_port()}")
        if users is not None:
            write_users_file(self.users_path, users)
            config.setdefault("auth", {}).setdefault("users_file", self.users_path)
        return config

    def write_config(self) -> None:
        with open(self.config_path, "w") as out:
            out.write(toml_writer.dumps(self.config))

    @property
    def admin_address(self) -> tuple | None:
        listen = self.config.get("admin", {}).get("listen")
        return split_host_port(listen) if listen else None

    def start(self, timeout: float = READY_TIMEOUT, new_session: bool = False) -> "Storegate":
        if not os.path.exists(self.binary):
            raise RuntimeError(f"storegate binary not found at {self.binary} (build it first)")
        lifecycle.register(self)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [self.binary, "--config", self.config_path], stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, env=self.env, start_new_session=new_session)
        log.close()
        with open(self.pid_path, "w") as out:
            out.write(f"{self.process.pid}\n")
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Until the listen port accepts and /readyz (when served) answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"storegate exited with {self.process.returncode}:\n{self.log_tail()}")
            if port_accepts(self.host, self.port) and self._admin_ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"storegate not ready after {timeout}s:\n{self.log_tail()}")

    def _admin_ready(self) -> bool:
        if not self.admin_address:
            return True
        status = self.http_get("/readyz")[0]
        # Not served at all (no admin listener, or no such path): the listen port is enough.
        return status in (200, 404, None)

    def http_get(self, path: str, token: str | None = None) -> tuple:
        """(status, body) of GET on the admin listener; (None, "") when it is not listening."""
        host, port = self.admin_address
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            conn = http.client.HTTPConnection(host, port, timeout=5)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        except OSError:
            return None, ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code."""
        lifecycle.unregister(self)
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if os.path.exists(self.pid_path):
            os.unlink(self.pid_path)
        return self.process.returncode

    def reload(self) -> None:
        self.process.send_signal(signal.SIGHUP)

    def detach(self) -> None:
        """Leaves the process running after this one exits (the demo)."""
        lifecycle.unregister(self)

    def dsn(self, store: str | None = None, via: str = "options", user: str = "app",
            password: str | None = None, dbname: str | None = None, **params) -> str:
        """libpq conninfo reaching `store` through one routing form: options (-c
        storegate.store=...), user (<user><sep><store>) or database (<prefix><store>)."""
        routing = self.config.get("routing", {})
        login, database = user, dbname or user
        options = params.pop("options", "")
        if store is not None and via == "options":
            options = f"-c storegate.store={store} {options}".strip()
        elif store is not None and via == "user":
            login = f"{user}{routing.get('user_separator', '.')}{store}"
        elif store is not None and via == "database":
            database = f"{routing.get('database_prefix', 'store_')}{store}"
        elif store is not None:
            raise ValueError(f"unknown routing form {via}")
        params.setdefault("connect_timeout", 10)
        return make_conninfo(host=self.host, port=self.port, user=login, dbname=database,
                             password=password, options=options or None, **params)

    def log_tail(self, lines: int = 60) -> str:
        return lifecycle.tail(self.log_path, lines)


class StoregateFactory:
    """Starts storegate instances configured for a seeded Topology; stop_all() stops them."""

    def __init__(self, topology, binary: str, workdir_root: str):
        self.topology = topology
        self.binary = binary
        self.workdir_root = workdir_root
        self.instances = []

    def __call__(self, overrides: dict | None = None, users: dict | None = None,
                 env: dict | None = None, start: bool = True) -> Storegate:
        config = deep_merge(self.topology.storegate_config(), overrides or {})
        workdir = tempfile.mkdtemp(prefix="storegate-", dir=self.workdir_root)
        instance = Storegate(self.binary, workdir, config,
                             users=self.topology.users() if users is None else users,
                             env=dict(self.topology.env, **(env or {})))
        self.instances.append(instance)
        return instance.start() if start else instance

    def stop_all(self) -> None:
        for instance in reversed(self.instances):
            instance.stop()
