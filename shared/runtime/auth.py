"""Who may read what over HTTP: a bearer token (a JWT the identity provider signed, verified
with its public key) names the caller (`sub`) and what it may read (`scope`).

A viewer reads their own wallet, a creator their own diamonds and payouts, operations and audit
read anyone's. The key's type fixes the one algorithm accepted (RSA: RS256, Ed25519: EdDSA), so
a token cannot choose a weaker one for itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.runtime.api import Problem
from shared.settings import Settings

VIEWER_SCOPE = "wallet:own"
"""The caller's own wallet and gift requests: `sub` is the user id."""
CREATOR_SCOPE = "creator:own"
"""The caller's own diamonds, payouts and statements: `sub` is the creator id."""
OPS_SCOPE = "ops:read"
"""Anyone's data: operations, support and audit."""
SCOPES = {"viewer": VIEWER_SCOPE, "creator": CREATOR_SCOPE, "ops": OPS_SCOPE}

REALM = "coinlog"
LEEWAY_S = 30
"""Clock skew tolerated between the identity provider and this service."""


@dataclass(frozen=True)
class Caller:
    subject: str
    scopes: frozenset[str]

    def may_read(self, own_scope: str, owner_id: str) -> bool:
        return OPS_SCOPE in self.scopes or (own_scope in self.scopes
                                            and self.subject == owner_id)


class TokenVerifier:
    def __init__(self, public_key_pem: str | bytes, *, issuer: str, audience: str):
        pem = public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem
        key = load_pem_public_key(pem)
        if isinstance(key, RSAPublicKey):
            self.algorithm = "RS256"
        elif isinstance(key, Ed25519PublicKey):
            self.algorithm = "EdDSA"
        else:
            raise ValueError(f"a {type(key).__name__} cannot verify tokens: "
                             "give an RSA or Ed25519 public key")
        self.key: RSAPublicKey | Ed25519PublicKey = key
        self.issuer, self.audience = issuer, audience

    def caller(self, token: str) -> Caller:
        """The token's caller; jwt.InvalidTokenError when the token is not to be trusted."""
        claims = jwt.decode(token, self.key, algorithms=[self.algorithm], audience=self.audience,
                            issuer=self.issuer, leeway=LEEWAY_S,
                            options={"require": ["exp", "iss", "aud", "sub"]})
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise jwt.InvalidTokenError("scope must be a space-separated string")
        return Caller(subject=str(claims["sub"]), scopes=frozenset(scope.split()))


def verifier_from(settings: Settings) -> TokenVerifier | None:
    pem = settings.jwt_public_key_pem()
    if pem is None:
        return None
    return TokenVerifier(pem, issuer=settings.jwt_issuer, audience=settings.jwt_audience)


BEARER = HTTPBearer(auto_error=False, scheme_name="bearerAuth", bearerFormat="JWT",
                    description="A JWT with `sub` (the caller's user or creator id) and `scope`: "
                                f"`{VIEWER_SCOPE}` (own wallet), `{CREATOR_SCOPE}` (own "
                                f"diamonds and payouts) or `{OPS_SCOPE}` (anyone's)")

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No bearer token, or one expired, tampered with or "
                                           "meant for another audience"}}
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    **UNAUTHORIZED,
    403: {"model": Problem, "description": "The token's scope does not cover this id"}}


def _unauthorized(error: str | None, detail: str) -> HTTPException:
    challenge = f'Bearer realm="{REALM}"'
    if error is not None:  # RFC 6750: a request without a token gets no error code
        challenge += f', error="{error}"'
    return HTTPException(401, detail, headers={"WWW-Authenticate": challenge})


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> Caller:
    if credentials is None:
        raise _unauthorized(None, "a bearer token is required")
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        raise _unauthorized("invalid_token", "this service has no key to verify tokens with")
    try:
        return verifier.caller(credentials.credentials)
    except jwt.InvalidTokenError as error:
        raise _unauthorized("invalid_token", f"the token is not accepted: {error}") from None


AuthenticatedCaller = Annotated[Caller, Depends(authenticated)]


def forbidden(own_scope: str) -> HTTPException:
    return HTTPException(403, f"the token's scope does not cover this id: `{own_scope}` reads "
                              f"only its subject's, `{OPS_SCOPE}` anyone's")


def check_may_read(caller: Caller, own_scope: str, owner_id: str) -> None:
    if not caller.may_read(own_scope, owner_id):
        raise forbidden(own_scope)


def reader_of(own_scope: str, parameter: str) -> Callable[..., Awaitable[Caller]]:
    """A route dependency: the caller may read the entity the path parameter names."""
    async def owner_or_ops(request: Request, caller: AuthenticatedCaller) -> Caller:
        check_may_read(caller, own_scope, str(request.path_params.get(parameter, "")))
        return caller

    return owner_or_ops
