"""Bearer tokens for the local stack, the demo and the tests: an Ed25519 key pair kept under the
local directory stands in for the identity provider. The services are given its public key;
`coinlog token` and the demo sign with its private key.

In production the identity provider signs, and the services get only its public key."""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ops.stack import ROOT
from shared.runtime.auth import OPS_SCOPE
from shared.settings import Settings

DEFAULT_TTL_S = 3600
OPS_TTL_S = 7 * 24 * 3600
"""The demo's own token: it outlives the longest demo or chaos run."""


@dataclass(frozen=True)
class SigningKey:
    private_pem: bytes
    public_pem: bytes

    @classmethod
    def generate(cls) -> SigningKey:
        key = Ed25519PrivateKey.generate()
        return cls(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()),
            key.public_key().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo))

    def token(self, subject: str, scopes: list[str], *, ttl_s: int = DEFAULT_TTL_S,
              issuer: str | None = None, audience: str | None = None,
              now: float | None = None) -> str:
        settings = Settings()
        issued = int(now if now is not None else time.time())
        claims = {"sub": subject, "scope": " ".join(scopes), "iat": issued,
                  "exp": issued + ttl_s, "iss": issuer or settings.jwt_issuer,
                  "aud": audience or settings.jwt_audience}
        return jwt.encode(claims, serialization.load_pem_private_key(self.private_pem, None),
                          algorithm="EdDSA")


def key_dir() -> Path:
    return Path(os.environ.get("COINLOG_LOCAL_DIR") or ROOT / ".local") / "auth"


def public_key_path() -> Path:
    return key_dir() / "dev-token-key.pub.pem"


def local_signing_key() -> SigningKey:
    """The local stack's key pair, made on first use."""
    private, public = key_dir() / "dev-token-key.pem", public_key_path()
    private.parent.mkdir(parents=True, exist_ok=True)
    # Processes started together (a test session, the demo's services) make one pair between
    # them, not one each.
    with (private.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if private.exists() and public.exists():
            return SigningKey(private.read_bytes(), public.read_bytes())
        key = SigningKey.generate()
        private.touch(mode=0o600)
        private.write_bytes(key.private_pem)
        public.write_bytes(key.public_pem)
        return key


def ops_token() -> str:
    return local_signing_key().token("coinlog-ops", [OPS_SCOPE], ttl_s=OPS_TTL_S)
