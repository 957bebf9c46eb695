"""A throwaway Prometheus server (Debian's `prometheus` binary) on a free loopback port that
scrapes given targets every second, with its HTTP query API wrapped for the tests."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

from harness import lifecycle
from harness.ports import free_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

CONFIG = """global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: storegate
    static_configs:
      - targets: [{targets}]
"""


class PrometheusServer:
    def __init__(self, base_dir: str, targets: list):
        self.dir = tempfile.mkdtemp(prefix="prometheus-", dir=base_dir)
        self.port = free_port()
        self.config_path = os.path.join(self.dir, "prometheus.yml")
        self.log_path = os.path.join(self.dir, "prometheus.log")
        with open(self.config_path, "w") as out:
            out.write(CONFIG.format(targets=", ".join(f"'{t}'" for t in targets)))
        self.process = None

    def __repr__(self) -> str:
        return f"PrometheusServer(port={self.port})"

    def start(self, timeout: float = 60) -> "PrometheusServer":
        lifecycle.register(self)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={self.config_path}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited:\n{lifecycle.tail(self.log_path, 40)}")
            if self._get("/-/ready", raw=True) == 200:
                return self
            time.sleep(0.2)
        raise RuntimeError(f"prometheus not ready:\n{lifecycle.tail(self.log_path, 40)}")

    def stop(self) -> None:
        lifecycle.unregister(self)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _get(self, path: str, params: dict | None = None, raw: bool = False):
        url = f"http://127.0.0.1:{self.port}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status if raw else json.loads(response.read())
        except OSError:
            return None

    def query(self, expr: str) -> list:
        """Instant query: [(labels, value)]."""
        answer = self._get("/api/v1/query", {"query": expr}) or {}
        result = answer.get("data", {}).get("result", [])
        return [(item["metric"], float(item["value"][1])) for item in result]

    def query_status(self, expr: str) -> str | None:
        """"success" when Prometheus accepts the expression, else its error."""
        answer = self._get("/api/v1/query", {"query": expr})
        if answer is None:
            return None
        return answer.get("status") if answer.get("status") == "success" else answer.get("error")

    def series(self, match: str) -> list:
        answer = self._get("/api/v1/series", {"match[]": match}) or {}
        return answer.get("data", [])

    def target_health(self) -> list:
        answer = self._get("/api/v1/targets") or {}
        return [t["health"] for t in answer.get("data", {}).get("activeTargets", [])]
