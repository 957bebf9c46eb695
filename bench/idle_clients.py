#!/usr/bin/env python3
"""Opens many client connections that finish startup and SCRAM authentication, then sit idle:
what an application's connection pool looks like to a pooler between bursts. Used for the
memory-per-idle-client figures and the 10,000-client scale check.

  idle_clients.py --port 6432 --user app --password PW --dbname store_bench --count 10000

Raises its own descriptor limit to the hard limit (one descriptor per connection)."""

import argparse
import asyncio
import functools
import os
import resource
import struct
import sys
import time
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from harness import scram, wire  # noqa: E402

# PBKDF2 with 4096 rounds per connection would make the client, not the pooler, the limit when
# opening ten thousand connections. Its result depends only on the password, the salt and the
# round count, which are the same for every connection of one user.
scram.salted_password = functools.lru_cache(maxsize=16)(scram.salted_password)

HANDSHAKE_TIMEOUT = 30.0


@dataclass
class IdleSet:
    readers: list = field(default_factory=list)
    writers: list = field(default_factory=list)
    failures: int = 0
    first_error: str = ""
    seconds: float = 0.0

    @property
    def count(self) -> int:
        return len(self.writers)

    def close(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        self.readers.clear()


def raise_descriptor_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


async def _read_message(reader) -> tuple:
    header = await reader.readexactly(5)
    length = struct.unpack("!I", header[1:])[0]
    return header[:1], await reader.readexactly(length - 4)


def _answer_auth(payload: bytes, password: str, state: dict) -> bytes | None:
    """The reply to one Authentication request (protocol docs, "Message Flow", SASL
    authentication); None when nothing is to be sent."""
    code = struct.unpack("!I", payload[:4])[0]
    if code == 10:
        state["sasl"] = scram.ScramClient(password)
        first = state["sasl"].first_message()
        return wire.message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first)
    if code == 11:
        return wire.message(b"p", state["sasl"].final_message(payload[4:]))
    if code == 12 and not state["sasl"].verify_server_final(payload[4:]):
        raise ConnectionError("server signature does not verify")
    if code == 3:
        return wire.message(b"p", password.encode() + b"\0")
    if code not in (0, 12):
        raise ConnectionError(f"authentication method {code} not supported by this client")
    return None


async def _open_one(host: str, port: int, params: dict, password: str):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(wire.startup_packet(params))
        state: dict = {}
        while True:
            kind, payload = await _read_message(reader)
            if kind == b"E":
                fields = wire.parse_error_fields(payload)
                raise ConnectionError(f"{fields.get('code', '?')} {fields.get('message', '')}")
            if kind == b"R":
                reply = _answer_auth(payload, password, state)
                if reply:
                    writer.write(reply)
            elif kind == b"Z":
                return reader, writer
    except BaseException:
        writer.close()
        raise


async def open_idle(host: str, port: int, params: dict, password: str, count: int,
                    into: IdleSet | None = None, concurrency: int = 200) -> IdleSet:
    """Adds `count` idle connections to `into` (a new set by default). Failures are counted,
    not raised: a pooler that refuses some clients is a result."""
    result = into or IdleSet()
    gate = asyncio.Semaphore(concurrency)
    started = time.monotonic()

    async def one():
        async with gate:
            try:
                reader, writer = await asyncio.wait_for(
                    _open_one(host, port, params, password), HANDSHAKE_TIMEOUT)
                result.readers.append(reader)
                result.writers.append(writer)
            except (OSError, ConnectionError, asyncio.TimeoutError,
                    asyncio.IncompleteReadError) as exc:
                result.failures += 1
                if not result.first_error:
                    result.first_error = " ".join(str(exc).split())[:200] or type(exc).__name__

    await asyncio.gather(*(one() for _ in range(count)))
    result.seconds += time.monotonic() - started
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", default=os.environ.get("PGPASSWORD", ""))
    parser.add_argument("--dbname", required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=0.0, help="seconds to stay connected")
    args = parser.parse_args()
    raise_descriptor_limit()

    async def run():
        params = {"user": args.user, "database": args.dbname}
        idle = await open_idle(args.host, args.port, params, args.password, args.count)
        print(f"connected={idle.count} failed={idle.failures} seconds={idle.seconds:.2f}"
              + (f" first_error=\"{idle.first_error}\"" if idle.first_error else ""), flush=True)
        await asyncio.sleep(args.hold)
        idle.close()
        return 0 if idle.failures == 0 else 1

    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
