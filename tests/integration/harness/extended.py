"""Extended-query, COPY and FunctionCall messages for raw protocol tests (protocol docs,
"Message Formats"), on top of wire.WireClient, and a summary of answers that can be compared
between storegate and a direct connection to PostgreSQL."""

import struct

from .wire import WireClient, message, parse_error_fields, _data_row

# Messages that may arrive at any time and say nothing about the answer to a request.
ASYNC_TYPES = (b"S", b"N", b"A")


def cstr(text: str) -> bytes:
    return text.encode() + b"\0"


def parse(name: str, query: str, types: tuple = ()) -> bytes:
    body = cstr(name) + cstr(query) + struct.pack("!H", len(types))
    body += b"".join(struct.pack("!I", oid) for oid in types)
    return message(b"P", body)


def bind(portal: str, statement: str, params: tuple = ()) -> bytes:
    """All parameters and results in text format; None is NULL."""
    body = cstr(portal) + cstr(statement) + struct.pack("!HH", 0, len(params))
    for value in params:
        if value is None:
            body += struct.pack("!i", -1)
        else:
            data = str(value).encode()
            body += struct.pack("!i", len(data)) + data
    return message(b"B", body + struct.pack("!H", 0))


def execute(portal: str = "", max_rows: int = 0) -> bytes:
    return message(b"E", cstr(portal) + struct.pack("!I", max_rows))


def describe(kind: str, name: str) -> bytes:
    return message(b"D", kind.encode() + cstr(name))


def close(kind: str, name: str) -> bytes:
    return message(b"C", kind.encode() + cstr(name))


def sync() -> bytes:
    return message(b"S", b"")


def flush() -> bytes:
    return message(b"H", b"")


def query(text: str) -> bytes:
    return message(b"Q", cstr(text))


def copy_data(data: bytes) -> bytes:
    return message(b"d", data)


def copy_done() -> bytes:
    return message(b"c", b"")


def copy_fail(reason: str) -> bytes:
    return message(b"f", cstr(reason))


def function_call(oid: int, args: tuple) -> bytes:
    """FunctionCall with text arguments and a text result."""
    body = struct.pack("!IHH", oid, 0, len(args))
    for value in args:
        data = str(value).encode()
        body += struct.pack("!i", len(data)) + data
    return message(b"F", body + struct.pack("!H", 0))


def summarize(kind: bytes, payload: bytes) -> tuple:
    """What a message means, without what legitimately differs between servers (process ids,
    the source file and line of an error)."""
    if kind == b"E":
        fields = parse_error_fields(payload)
        return ("E", fields.get("severity_nl", fields.get("severity")), fields.get("code"),
                fields.get("message"))
    if kind == b"D":
        return ("D", tuple(_data_row(payload)))
    if kind == b"C":
        return ("C", payload.rstrip(b"\0").decode())
    if kind == b"Z":
        return ("Z", payload.decode())
    if kind == b"T":
        count = struct.unpack("!H", payload[:2])[0]
        names, offset = [], 2
        for _ in range(count):
            end = payload.index(b"\0", offset)
            names.append(payload[offset:end].decode())
            offset = end + 1 + 18
        return ("T", tuple(names))
    if kind in (b"d", b"V", b"t"):
        return (kind.decode(), payload)
    return (kind.decode(),)


class ExtendedClient(WireClient):
    """A WireClient that reads answers as summaries."""

    def read_answer(self) -> tuple:
        while True:
            kind, payload = self.read_message()
            if kind not in ASYNC_TYPES:
                return summarize(kind, payload)

    def read_until_ready(self, count: int = 1) -> list:
        """Summaries of every answer up to and including the count-th ReadyForQuery."""
        answers = []
        while count > 0:
            answer = self.read_answer()
            answers.append(answer)
            if answer[0] == "Z":
                count -= 1
        return answers

    def read_until(self, kind: str) -> list:
        answers = []
        while not answers or answers[-1][0] != kind:
            answers.append(self.read_answer())
        return answers
