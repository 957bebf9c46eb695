"""A minimal PostgreSQL v3 frontend over raw sockets (protocol docs, "Message Formats"), for
what libpq cannot show or do: the exact SQLSTATE of a startup failure, BackendKeyData, and
malformed or hostile startup packets."""

import socket
import struct
from dataclasses import dataclass, field

from . import scram

PROTOCOL_3_0 = 196608
CANCEL_REQUEST_CODE = 80877102
SSL_REQUEST_CODE = 80877103

# ErrorResponse field type bytes ("Error and Notice Message Fields").
_FIELD_NAMES = {"S": "severity", "V": "severity_nl", "C": "code", "M": "message",
                "D": "detail", "H": "hint", "P": "position"}


def startup_packet(params: dict, version: int = PROTOCOL_3_0) -> bytes:
    body = struct.pack("!I", version)
    for key, value in params.items():
        body += key.encode() + b"\0" + value.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def cancel_packet(pid: int, secret: int) -> bytes:
    return struct.pack("!IIII", 16, CANCEL_REQUEST_CODE, pid, secret)


def message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!I", len(payload) + 4) + payload


def parse_error_fields(payload: bytes) -> dict:
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            name = _FIELD_NAMES.get(chr(part[0]), chr(part[0]))
            fields[name] = part[1:].decode("utf-8", "replace")
    return fields


@dataclass
class StartupResult:
    """What a startup attempt produced: an error (fields of the ErrorResponse) or a session."""

    error: dict | None = None
    parameters: dict = field(default_factory=dict)
    backend_pid: int = 0
    backend_secret: int = 0
    auth_methods: list = field(default_factory=list)
    negotiated: tuple | None = None  # NegotiateProtocolVersion: (newest minor, options)

    @property
    def ok(self) -> bool:
        return self.error is None


class WireClient:
    """One connection. Every read has a timeout so a silent peer fails the test instead of
    hanging it."""

    def __init__(self, host: str, port: int, timeout: float = 15.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _read_exact(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("connection closed by peer")
            data += chunk
        return data

    def read_message(self) -> tuple:
        """(type byte, payload) of the next backend message."""
        header = self._read_exact(5)
        length = struct.unpack("!I", header[1:])[0]
        return header[:1], self._read_exact(length - 4)

    def read_until_closed(self) -> list:
        """Every remaining message until the peer closes; the proof that it did close."""
        messages = []
        while True:
            try:
                messages.append(self.read_message())
            except ConnectionError:
                return messages

    def startup(self, params: dict, password: str | None = None,
                version: int = PROTOCOL_3_0) -> StartupResult:
        """Sends a StartupMessage, answers the authentication request, and reads up to
        ReadyForQuery or an ErrorResponse."""
        self.send(startup_packet(params, version))
        result = StartupResult()
        sasl = None
        while True:
            kind, payload = self.read_message()
            if kind == b"E":
                result.error = parse_error_fields(payload)
                return result
            if kind == b"v":  # NegotiateProtocolVersion: newest minor, unrecognized options
                minor, count = struct.unpack("!ii", payload[:8])
                names = [n.decode() for n in payload[8:].split(b"\0")[:count]]
                result.negotiated = (minor, names)
            elif kind == b"R":
                sasl = self._authenticate(payload, params.get("user", ""), password, sasl,
                                          result)
            elif kind == b"S":
                key, _, value = payload[:-1].partition(b"\0")
                result.parameters[key.decode()] = value.decode()
            elif kind == b"K":
                result.backend_pid, result.backend_secret = struct.unpack("!II", payload)
            elif kind == b"Z":
                return result

    def _authenticate(self, payload: bytes, user: str, password, sasl, result):
        # Authentication request codes: protocol docs, "AuthenticationXXX" messages.
        code = struct.unpack("!I", payload[:4])[0]
        result.auth_methods.append(code)
        if code == 3:  # cleartext
            self.send(message(b"p", (password or "").encode() + b"\0"))
        elif code == 5:  # md5 with a 4-byte salt
            self.send(message(b"p", scram.md5_response(user, password or "", payload[4:8]) + b"\0"))
        elif code == 10:  # SASL: list of mechanisms
            sasl = scram.ScramClient(password or "")
            first = sasl.first_message()
            body = b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first
            self.send(message(b"p", body))
        elif code == 11:  # SASLContinue
            self.send(message(b"p", sasl.final_message(payload[4:])))
        elif code == 12 and not sasl.verify_server_final(payload[4:]):  # SASLFinal
            raise ConnectionError("server signature in SASLFinal does not verify")
        return sasl

    def query(self, sql_text: str) -> tuple:
        """Simple Query; returns (rows as lists of str|None, error fields or None)."""
        self.send(message(b"Q", sql_text.encode() + b"\0"))
        rows, error = [], None
        while True:
            kind, payload = self.read_message()
            if kind == b"D":
                rows.append(_data_row(payload))
            elif kind == b"E":
                error = parse_error_fields(payload)
            elif kind == b"Z":
                return rows, error

    def terminate(self) -> None:
        self.send(message(b"X", b""))
        self.close()


def _data_row(payload: bytes) -> list:
    count = struct.unpack("!H", payload[:2])[0]
    offset, values = 2, []
    for _ in range(count):
        size = struct.unpack("!i", payload[offset:offset + 4])[0]
        offset += 4
        if size < 0:
            values.append(None)
            continue
        values.append(payload[offset:offset + size].decode("utf-8", "replace"))
        offset += size
    return values


def send_cancel(host: str, port: int, pid: int, secret: int) -> None:
    """CancelRequest on a fresh connection; the server answers nothing and closes."""
    with WireClient(host, port) as client:
        client.send(cancel_packet(pid, secret))
        client.read_until_closed()
