"""The query routes behind bearer tokens: who reads which id, and the 401s of tokens that are
missing, expired, tampered with, signed by another key or meant for another audience."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from ops.tokens import SigningKey
from services.registry import service
from shared.runtime.auth import CREATOR_SCOPE, OPS_SCOPE, VIEWER_SCOPE, TokenVerifier
from shared.runtime.health import Check
from shared.runtime.http import service_app
from tests.tokens import KEY, bearer, verifier


class _Row(dict):
    pass


class _Pool:
    """Answers every query with one row naming `owner`: enough to reach the scope checks."""

    def __init__(self, owner: str = "alice"):
        self.owner = owner

    async def fetchrow(self, query, *args):
        return None if "wallet_balances" in query else _Row(
            creator_id=self.owner, sender_id=self.owner)

    async def fetch(self, *args):
        return []

    async def fetchval(self, *args):
        return True


class _Process:
    async def readiness(self):
        return [Check("started", True, "")]

    async def liveness(self):
        return []


def _client(name: str, token_verifier: TokenVerifier | None = None) -> TestClient:
    app = service_app(service(name), _Pool(), _Process(),  # type: ignore[arg-type]
                      token_verifier or verifier())
    return TestClient(app, raise_server_exceptions=False)


def _assert_unauthorized(response):
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Bearer realm="coinlog"')


def test_without_a_token_a_wallet_is_a_401_with_a_challenge():
    response = _client("wallet").get("/wallets/alice")
    _assert_unauthorized(response)
    assert "error=" not in response.headers["www-authenticate"]


@pytest.mark.parametrize("headers", [
    bearer("alice", VIEWER_SCOPE, ttl_s=1, now=time.time() - 3600),   # expired
    bearer("alice", VIEWER_SCOPE, audience="someone-else"),
    bearer("alice", VIEWER_SCOPE, issuer="someone-else"),
    {"Authorization": "Bearer " + SigningKey.generate().token("alice", [VIEWER_SCOPE])},
    {"Authorization": "Bearer not-a-jwt"},
])
def test_a_token_that_is_not_to_be_trusted_is_a_401(headers):
    response = _client("wallet").get("/wallets/alice", headers=headers)
    _assert_unauthorized(response)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_tampered_token_is_a_401():
    header, claims, signature = KEY.token("alice", [VIEWER_SCOPE]).split(".")
    forged = KEY.token("bob", [OPS_SCOPE]).split(".")[1]
    response = _client("wallet").get("/wallets/bob",
                                     headers={"Authorization": f"Bearer {header}.{forged}."
                                                               f"{signature}"})
    _assert_unauthorized(response)


def test_a_service_without_a_key_refuses_every_token():
    app = service_app(service("wallet"), _Pool(), _Process())  # type: ignore[arg-type]
    response = TestClient(app).get("/wallets/alice", headers=bearer("alice", OPS_SCOPE))
    _assert_unauthorized(response)


def test_a_viewer_reads_their_own_wallet_and_no_one_elses():
    client = _client("wallet")
    own = bearer("alice", VIEWER_SCOPE)
    assert client.get("/wallets/alice", headers=own).status_code == 404  # past the check
    assert client.get("/wallets/alice/history", headers=own).status_code == 200
    assert client.get("/wallets/bob", headers=own).status_code == 403
    assert client.get("/wallets/bob/history", headers=own).status_code == 403


def test_a_creator_scope_does_not_open_wallets_nor_a_viewer_scope_payouts():
    assert _client("wallet").get(
        "/wallets/alice", headers=bearer("alice", CREATOR_SCOPE)).status_code == 403
    assert _client("payout").get(
        "/creators/alice/payouts", headers=bearer("alice", VIEWER_SCOPE)).status_code == 403


def test_a_creator_reads_their_own_payouts_and_no_one_elses():
    client = _client("payout")
    own = bearer("alice", CREATOR_SCOPE)
    assert client.get("/creators/alice/payouts", headers=own).status_code != 403
    assert client.get("/creators/bob/payouts", headers=own).status_code == 403
    assert client.get("/creators/bob/statement", headers=own).status_code == 403
    # A payout is looked up by its own id: the check is on the creator it belongs to.
    assert client.get("/payouts/p-1", headers=bearer("bob", CREATOR_SCOPE)).status_code == 403


def test_ops_reads_anyones_data():
    ops = bearer("support", OPS_SCOPE)
    assert _client("wallet").get("/wallets/bob", headers=ops).status_code == 404
    assert _client("payout").get("/creators/bob/payouts", headers=ops).status_code == 200
    assert _client("gifting").get("/gifts/g-1", headers=bearer("bob", OPS_SCOPE)).status_code \
        != 403


def test_a_gift_request_is_its_senders():
    client = _client("gifting")
    assert client.get("/catalog", headers=bearer("bob", VIEWER_SCOPE)).status_code == 200
    assert client.get("/gifts/g-1", headers=bearer("bob", VIEWER_SCOPE)).status_code == 403


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz", "/metrics"])
def test_operations_routes_stay_open(path):
    assert _client("wallet").get(path).status_code in (200, 503)  # 503: no database here


def test_an_rsa_key_verifies_rs256_tokens_and_only_those():
    import jwt

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    rsa_verifier = TokenVerifier(public_pem, issuer="coinlog", audience="coinlog")
    claims = {"sub": "alice", "scope": VIEWER_SCOPE, "iss": "coinlog", "aud": "coinlog",
              "exp": int(time.time()) + 60}
    client = _client("wallet", rsa_verifier)
    signed = jwt.encode(claims, private, algorithm="RS256")
    assert client.get("/wallets/alice",
                      headers={"Authorization": f"Bearer {signed}"}).status_code == 404
    # A token choosing an HMAC algorithm is refused whatever its secret.
    confused = jwt.encode(claims, "a shared secret of 32 bytes or more", algorithm="HS256")
    _assert_unauthorized(client.get("/wallets/alice",
                                    headers={"Authorization": f"Bearer {confused}"}))


def test_a_token_missing_its_expiry_is_refused():
    import jwt

    private = serialization.load_pem_private_key(KEY.private_pem, None)
    token = jwt.encode({"sub": "alice", "scope": OPS_SCOPE, "iss": "coinlog", "aud": "coinlog"},
                       private, algorithm="EdDSA")
    _assert_unauthorized(_client("wallet").get(
        "/wallets/alice", headers={"Authorization": f"Bearer {token}"}))


OPEN = {"/healthz", "/livez", "/readyz", "/metrics", "/asyncapi.yaml"}


@pytest.mark.parametrize("name", ["wallet", "gifting", "payout"])
def test_the_document_names_the_bearer_scheme_on_every_query_route(name):
    import orjson

    from ops.openapi import document

    spec = orjson.loads(document(service(name)))
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, methods in spec["paths"].items():
        operation = methods["get"]
        if path in OPEN:
            assert "security" not in operation, path
        else:
            assert operation["security"] == [{"bearerAuth": []}], path
            assert "401" in operation["responses"], path
