#!/usr/bin/env python3
"""Exit 0 when a Kafka broker at HOST:PORT serves cluster metadata listing a broker.

Standard library only: `deploy/local/up` runs this before any virtualenv exists.

An open port is not enough: a KRaft broker accepts connections before it has
caught up with the metadata log and been unfenced, and until then clients get
no usable metadata. So this sends ApiVersions, picks a Metadata version the
broker advertises (Kafka 4 removed Metadata v0-v3), and succeeds only if the
response lists at least one broker.

A listener that asks for SASL/SCRAM-SHA-512 (the local stack with
COINLOG_KAFKA_SECURITY=scram) is logged into first, with --scram-user and
--scram-password-file, as the clients will.

Usage: kafka_ready.py [--host H] [--port P] [--timeout S] [--metadata-version V]
                      [--scram-user U --scram-password-file F]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import socket
import struct
import sys

API_METADATA = 3
API_VERSIONS = 18
API_SASL_HANDSHAKE = 17
API_SASL_AUTHENTICATE = 36
SCRAM = "SCRAM-SHA-512"
ERR_UNSUPPORTED_VERSION = 35
# Highest Metadata version whose response starts with the fields parsed below.
MAX_KNOWN_METADATA = 13
# Metadata v9 switched to the "flexible" (compact, tagged-field) encoding.
FIRST_FLEXIBLE_METADATA = 9
CLIENT_ID = b"coinlog-ready"


class NotReady(Exception):
    pass


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise NotReady("truncated response")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int16(self) -> int:
        return struct.unpack(">h", self.take(2))[0]

    def int32(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            byte = self.take(1)[0]
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def string(self) -> str | None:
        n = self.int16()
        return None if n < 0 else self.take(n).decode()

    def compact_string(self) -> str | None:
        n = self.uvarint() - 1
        return None if n < 0 else self.take(n).decode()

    def skip_tagged_fields(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()  # tag
            self.take(self.uvarint())


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise NotReady("connection closed by broker")
        buf += chunk
    return bytes(buf)


def call(sock: socket.socket, api_key: int, version: int, correlation_id: int,
         body: bytes, flexible: bool) -> Reader:
    header = struct.pack(">hhih", api_key, version, correlation_id, len(CLIENT_ID)) + CLIENT_ID
    if flexible:
        header += b"\x00"  # request header v2: empty tagged fields
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    (size,) = struct.unpack(">i", recv_exact(sock, 4))
    reader = Reader(recv_exact(sock, size))
    if reader.int32() != correlation_id:
        raise NotReady("correlation id mismatch")
    return reader


def metadata_versions(sock: socket.socket) -> tuple[int, int]:
    # ApiVersions v0 is accepted by every broker version; its response header
    # is always v0 (no tagged fields), even for flexible ApiVersions versions.
    reader = call(sock, API_VERSIONS, 0, 1, b"", flexible=False)
    error = reader.int16()
    if error not in (0, ERR_UNSUPPORTED_VERSION):
        raise NotReady(f"ApiVersions error code {error}")
    for _ in range(reader.int32()):
        key, lo, hi = reader.int16(), reader.int16(), reader.int16()
        if key == API_METADATA:
            return lo, hi
    raise NotReady("broker does not advertise the Metadata API")


def metadata_request_body(version: int) -> bytes:
    if version >= FIRST_FLEXIBLE_METADATA:
        body = b"\x00"  # topics: null compact array = no topic details needed
        body += b"\x00"  # allow_auto_topic_creation
        if version <= 10:
            body += b"\x00"  # include_cluster_authorized_operations
        body += b"\x00"  # include_topic_authorized_operations
        return body + b"\x00"  # tagged fields
    # v4..v8: null topics array (all topics, cheap on an empty cluster)
    body = struct.pack(">i", -1) + b"\x00"
    if version >= 8:
        body += b"\x00\x00"
    return body


def fetch_brokers(sock: socket.socket, version: int) -> list[tuple[int, str, int]]:
    flexible = version >= FIRST_FLEXIBLE_METADATA
    reader = call(sock, API_METADATA, version, 2, metadata_request_body(version), flexible)
    if flexible:
        reader.skip_tagged_fields()  # response header v1
    reader.int32()  # throttle_time_ms
    brokers = []
    count = reader.uvarint() - 1 if flexible else reader.int32()
    for _ in range(max(count, 0)):
        node_id = reader.int32()
        host = reader.compact_string() if flexible else reader.string()
        port = reader.int32()
        if flexible:
            reader.compact_string()  # rack
            reader.skip_tagged_fields()
        else:
            reader.string()  # rack
        brokers.append((node_id, host or "", port))
    return brokers


def kafka_string(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">h", len(data)) + data


def sasl_round(sock: socket.socket, correlation_id: int, message: bytes) -> bytes:
    """One SaslAuthenticate v0 exchange: our SCRAM message out, the broker's back."""
    reader = call(sock, API_SASL_AUTHENTICATE, 0, correlation_id,
                  struct.pack(">i", len(message)) + message, flexible=False)
    error, text = reader.int16(), reader.string()
    if error:
        raise NotReady(f"SCRAM login refused (error {error}): {text}")
    return reader.take(reader.int32())


def scram_login(sock: socket.socket, user: str, password: str) -> None:
    """SCRAM-SHA-512 (RFC 5802) over SaslHandshake v1 + SaslAuthenticate v0."""
    reader = call(sock, API_SASL_HANDSHAKE, 1, 10, kafka_string(SCRAM), flexible=False)
    if (error := reader.int16()) != 0:
        raise NotReady(f"SaslHandshake error code {error}: {SCRAM} not enabled")
    name = user.replace("=", "=3D").replace(",", "=2C")
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n={name},r={nonce}"
    server_first = sasl_round(sock, 11, f"n,,{first_bare}".encode()).decode()
    fields = dict(item.split("=", 1) for item in server_first.split(","))
    if not fields["r"].startswith(nonce):
        raise NotReady("SCRAM: the broker's nonce does not extend ours")
    salted = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(fields["s"]),
                                 int(fields["i"]))
    client_key = hmac.digest(salted, b"Client Key", "sha512")
    without_proof = f"c=biws,r={fields['r']}"
    message = f"{first_bare},{server_first},{without_proof}".encode()
    signature = hmac.digest(hashlib.sha512(client_key).digest(), message, "sha512")
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    sasl_round(sock, 12, f"{without_proof},p={base64.b64encode(proof).decode()}".encode())


def check(host: str, port: int, timeout: float, forced_version: int | None,
          scram: tuple[str, str] | None = None) -> str:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        lo, hi = metadata_versions(sock)
        if scram is not None:
            scram_login(sock, *scram)
        version = forced_version if forced_version is not None else min(hi, MAX_KNOWN_METADATA)
        if not lo <= version <= hi or version < 4:
            raise NotReady(f"no usable Metadata version (broker supports v{lo}-v{hi})")
        brokers = fetch_brokers(sock, version)
    if not brokers:
        raise NotReady("metadata lists no broker yet")
    listed = ", ".join(f"{node}@{h}:{p}" for node, h, p in brokers)
    return f"Metadata v{version}: brokers {listed}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=19092)
    parser.add_argument("--timeout", type=float, default=3.0, help="socket timeout, seconds")
    parser.add_argument("--metadata-version", type=int, help="force a Metadata version")
    parser.add_argument("--scram-user", help=f"log in with {SCRAM} as this user first")
    parser.add_argument("--scram-password-file", help="the file holding its password")
    args = parser.parse_args()
    try:
        scram = None
        if args.scram_user:
            with open(args.scram_password_file, encoding="utf-8") as secret:
                scram = (args.scram_user, secret.read().strip())
        print(check(args.host, args.port, args.timeout, args.metadata_version, scram))
    except (OSError, NotReady) as exc:
        print(f"not ready: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
