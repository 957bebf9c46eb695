"""A small client of storegate's admin HTTP API (urllib only), shared by the admin, metrics and
signal tests."""

import json
import urllib.error
import urllib.request


class AdminClient:
    def __init__(self, instance, token: str | None = None):
        host, port = instance.admin_address
        self.base = f"http://{host}:{port}"
        self.token = token

    def request(self, method: str, path: str, body=None, token: str | None = "default",
                raw_body: bytes | None = None) -> tuple:
        """(status, parsed JSON or text); (None, "") when nothing listens. token="default"
        uses the client's token, None sends no Authorization header."""
        token = self.token if token == "default" else token
        data = raw_body if raw_body is not None else (
            json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, self._decode(response)
        except urllib.error.HTTPError as error:
            return error.code, self._decode(error)
        except OSError:
            return None, ""  # not listening (any more)

    @staticmethod
    def _decode(response):
        text = response.read().decode("utf-8", "replace")
        if response.headers.get("Content-Type", "").startswith("application/json"):
            return json.loads(text)
        return text

    def get(self, path: str, **kwargs) -> tuple:
        return self.request("GET", path, **kwargs)

    def ok(self, method: str, path: str, body=None) -> dict:
        status, answer = self.request(method, path, body)
        assert status == 200, f"{method} {path}: {status} {answer}"
        return answer

    def metrics(self) -> str:
        status, text = self.request("GET", "/metrics", token=None)
        assert status == 200, text
        return text


def metric_value(exposition: str, name: str, labels: dict | None = None) -> float | None:
    """The value of one sample in Prometheus text format; None when absent."""
    for line in exposition.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, label_text = series.partition("{")
        if metric != name:
            continue
        found = dict(part.split("=", 1) for part in label_text.rstrip("}").split(",") if part)
        found = {key: text.strip('"') for key, text in found.items()}
        if all(found.get(key) == str(want) for key, want in (labels or {}).items()):
            return float(value)
    return None
