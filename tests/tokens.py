"""A signing key of the test session, standing in for the identity provider: services under
test verify with its public key, tests read with tokens it signs."""

from __future__ import annotations

from ops.tokens import SigningKey
from shared.runtime.auth import OPS_SCOPE, TokenVerifier
from shared.settings import Settings

KEY = SigningKey.generate()


def verifier() -> TokenVerifier:
    settings = Settings()
    return TokenVerifier(KEY.public_pem, issuer=settings.jwt_issuer,
                         audience=settings.jwt_audience)


def bearer(subject: str, *scopes: str, **claims) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY.token(subject, list(scopes), **claims)}"}


def ops_headers() -> dict[str, str]:
    return bearer("tester", OPS_SCOPE)
