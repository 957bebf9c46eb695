#!/usr/bin/env python3
"""Scale check: 10,000 concurrent client connections on one storegate instance.

Starts a throwaway PostgreSQL 15 and one storegate (transaction pooling by default: holding
ten thousand clients is what it is for), opens the clients (startup and SCRAM authentication
each, then idle), has a sample of them run a query while all are connected, and reports how
many connected, how long it took, and storegate's memory and descriptors. Exits non-zero when
any client failed.

  bench/scale_clients.py [--clients 10000] [--mode transaction|session] [--binary PATH]"""

import argparse
import asyncio
import os
import secrets
import shutil
import struct
import sys
import tempfile
import time

import idle_clients
import targets as tg
from harness import wire  # noqa: E402  (targets puts the harness on the path)
from memory import rss_kb

SAMPLE = 100


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(tg.REPO, "build-bench", "storegate"))
    parser.add_argument("--clients", type=int, default=10000)
    parser.add_argument("--mode", choices=["transaction", "session"], default="transaction")
    parser.add_argument("--pool-size", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args()


async def query_on(idle: idle_clients.IdleSet, count: int) -> tuple:
    """Runs SELECT 1 on `count` of the idle connections at once; (answered, first error)."""

    async def one(reader, writer):
        writer.write(wire.message(b"Q", b"SELECT 1\0"))
        error = ""
        while True:
            header = await reader.readexactly(5)
            body = await reader.readexactly(struct.unpack("!I", header[1:])[0] - 4)
            if header[:1] == b"E":
                error = wire.parse_error_fields(body).get("message", "error")
            if header[:1] == b"Z":
                return error

    pairs = list(zip(idle.readers, idle.writers))[:count]
    results = await asyncio.gather(*(asyncio.wait_for(one(r, w), 30) for r, w in pairs),
                                   return_exceptions=True)
    errors = [str(r) or type(r).__name__ for r in results if r]
    return len(pairs) - len(errors), errors[0] if errors else ""


def descriptors(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


async def hold_clients(target, password: str, count: int) -> int:
    params = {"user": tg.USER, "database": tg.DATABASE}
    before = rss_kb(target.pid)
    idle = await idle_clients.open_idle(target.host, target.port, params, password, count,
                                        concurrency=500)
    try:
        after = rss_kb(target.pid)
        print(f"clients: {idle.count:,} of {count:,} connected in {idle.seconds:.1f}s "
              f"({idle.count / max(idle.seconds, 1e-9):,.0f}/s), {idle.failures:,} failed"
              + (f" (first error: {idle.first_error})" if idle.first_error else ""))
        if before is not None and after is not None:
            print(f"storegate: RSS {before / 1024:.1f} -> {after / 1024:.1f} MiB "
                  f"({(after - before) * 1024 / max(idle.count, 1):,.0f} bytes per client), "
                  f"{descriptors(target.pid):,} open descriptors")
        answered, error = await query_on(idle, SAMPLE)
        print(f"queries while all are connected: {answered} of {min(SAMPLE, idle.count)} "
              "answered" + (f" (first error: {error})" if error else ""))
        return 0 if idle.failures == 0 and answered == min(SAMPLE, idle.count) else 1
    finally:
        idle.close()


def main() -> int:
    args = parse_args()
    limit = idle_clients.raise_descriptor_limit()
    if limit < args.clients + 100:
        print(f"descriptor hard limit {limit} is below {args.clients:,} clients")
        return 2
    workdir = tempfile.mkdtemp(prefix="storegate-scale-")
    os.chmod(workdir, 0o755)
    backend = tg.Backend(workdir, secrets.token_hex(12), args.pool_size + 50)
    target = None
    try:
        backend.start(1)
        started = time.monotonic()
        target = tg.start_storegate(backend, workdir, args.binary, args.mode, args.threads,
                                    args.pool_size)
        print(f"storegate: {args.mode} pooling, pool size {args.pool_size}, {args.threads} "
              f"threads, ready in {time.monotonic() - started:.2f}s")
        return asyncio.run(hold_clients(target, backend.password, args.clients))
    finally:
        if target is not None:
            target.stop()
        backend.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
