"""SCRAM-SHA-256 (RFC 5802 / RFC 7677) primitives as PostgreSQL uses them: the stored verifier
format of pg_authid and the client side of the exchange. ASCII passwords only (no SASLprep)."""

import base64
import hashlib
import hmac
import os

DEFAULT_ITERATIONS = 4096


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def salted_password(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)


def client_key(salted: bytes) -> bytes:
    return _hmac(salted, b"Client Key")


def server_key(salted: bytes) -> bytes:
    return _hmac(salted, b"Server Key")


def verifier(password: str, iterations: int = DEFAULT_ITERATIONS, salt: bytes = b"") -> str:
    """The `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>` form PostgreSQL stores and
    PgBouncer-style user lists accept."""
    salt = salt or os.urandom(16)
    salted = salted_password(password, salt, iterations)
    stored = hashlib.sha256(client_key(salted)).digest()
    return (
        f"SCRAM-SHA-256${iterations}:{_b64(salt)}"
        f"${_b64(stored)}:{_b64(server_key(salted))}"
    )


def md5_hash(user: str, password: str) -> str:
    """The `md5<hex>` form of pg_authid and PgBouncer user lists: md5(password || user)."""
    return "md5" + hashlib.md5((password + user).encode("utf-8")).hexdigest()


def md5_response(user: str, password: str, salt: bytes) -> bytes:
    """Client answer to AuthenticationMD5Password (protocol docs, "Message Flow")."""
    inner = md5_hash(user, password)[3:]
    return b"md5" + hashlib.md5(inner.encode("ascii") + salt).hexdigest().encode("ascii")


class ScramClient:
    """Client side of one SCRAM-SHA-256 exchange without channel binding."""

    def __init__(self, password: str):
        self._password = password
        self._nonce = _b64(os.urandom(18))
        self._client_first_bare = f"n=,r={self._nonce}"
        self._auth_message = b""
        self._server_signature = b""

    def first_message(self) -> bytes:
        return ("n,," + self._client_first_bare).encode("ascii")

    def final_message(self, server_first: bytes) -> bytes:
        fields = dict(item.split("=", 1) for item in server_first.decode("ascii").split(","))
        if not fields["r"].startswith(self._nonce):
            raise ValueError("server nonce does not extend the client nonce")
        salted = salted_password(self._password, base64.b64decode(fields["s"]), int(fields["i"]))
        without_proof = f"c=biws,r={fields['r']}"
        self._auth_message = ",".join(
            [self._client_first_bare, server_first.decode("ascii"), without_proof]
        ).encode("ascii")
        key = client_key(salted)
        signature = _hmac(hashlib.sha256(key).digest(), self._auth_message)
        proof = bytes(a ^ b for a, b in zip(key, signature))
        self._server_signature = _hmac(server_key(salted), self._auth_message)
        return f"{without_proof},p={_b64(proof)}".encode("ascii")

    def verify_server_final(self, server_final: bytes) -> bool:
        text = server_final.decode("ascii")
        return text.startswith("v=") and base64.b64decode(text[2:]) == self._server_signature
