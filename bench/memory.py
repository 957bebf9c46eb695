"""Memory per idle client: the growth of a pooler's resident set while it holds 1,000 and then
10,000 authenticated, idle client connections, measured on a freshly started process so that
memory kept from earlier runs cannot hide what new clients cost."""

import asyncio
import time
from dataclasses import asdict, dataclass

from idle_clients import IdleSet, open_idle
from measure import TargetColumns
from targets import DATABASE, USER

SETTLE_SECONDS = 1.0
# A level where more than this share of clients failed ends the target's series: the next
# level would only wait for the same refusals ten times over.
MAX_FAILED_SHARE = 0.1


@dataclass
class MemoryPoint(TargetColumns):
    idle_clients: int
    status: str = "failed"
    error: str = ""
    connected: int = 0
    refused: int = 0
    rss_before_kb: int | None = None
    rss_after_kb: int | None = None
    bytes_per_client: float | None = None
    open_seconds: float | None = None

    def row(self) -> dict:
        return asdict(self)


def rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _point(target, count: int) -> MemoryPoint:
    return MemoryPoint(*TargetColumns.of(target), count)


async def _measure(target, levels: list, password: str) -> list:
    points = []
    params = {"user": USER, "database": DATABASE}
    before = rss_kb(target.pid)
    idle = IdleSet()
    attempted = 0
    try:
        for count in levels:
            point = _point(target, count)
            points.append(point)
            if points[:-1] and points[-2].status != "ok":
                point.error = f"skipped: clients were refused at {points[-2].idle_clients}"
                continue
            await open_idle(target.host, target.port, params, password, count - attempted, idle)
            attempted = count
            time.sleep(SETTLE_SECONDS)
            point.rss_before_kb, point.rss_after_kb = before, rss_kb(target.pid)
            point.connected, point.refused = idle.count, idle.failures
            point.open_seconds = round(idle.seconds, 2)
            if idle.count and before is not None and point.rss_after_kb is not None:
                point.bytes_per_client = round(
                    (point.rss_after_kb - before) * 1024 / idle.count, 1)
            if idle.failures > MAX_FAILED_SHARE * count or not target.alive():
                point.error = idle.first_error or f"{target.name} exited"
            else:
                point.status = "ok"
    finally:
        idle.close()
    return points


def idle_memory(target, levels: list, password: str) -> list:
    """One MemoryPoint per level for a pooler target; failures are recorded, never raised."""
    if target.error or not target.alive():
        points = [_point(target, count) for count in levels]
        for point in points:
            point.error = target.error or f"{target.name} is not running"
        return points
    points = asyncio.run(_measure(target, levels, password))
    time.sleep(SETTLE_SECONDS)  # let the pooler notice the closed clients before the next phase
    return points
