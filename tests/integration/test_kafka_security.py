"""On a broker with SCRAM logins and ACLs (the local stack with COINLOG_KAFKA_SECURITY=scram):
each principal may do only what the registry gives it, bad credentials fail at once naming
the principal, and a service logged in as itself runs its flow."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import orjson
import pytest
from aiokafka.errors import TopicAuthorizationFailedError

from ops.seed import seed_events
from services.wallet.app import definition as wallet
from shared import kafka_client
from shared.contract.codec import encode
from shared.contract.topics import (
    ALL_TOPICS,
    AUDIT_SEALS,
    GIFTS,
    PAYOUT_LEDGER,
    PURCHASES,
    WALLET_LEDGER,
    topic_of,
)
from shared.kafka_client import (
    KafkaAuthenticationFailed,
    KafkaSecurity,
    principal_environment,
    security_of,
)
from shared.runtime.acl_admin import ensure_acls
from shared.runtime.kafka_admin import ensure_topics, require_topics
from shared.runtime.service import ServiceProcess
from shared.settings import Settings
from tests.infrastructure import ROOT, Endpoints
from tests.integration.conftest import read_topic
from tests.integration.events import purchase

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Settings().kafka_credentials_dir
                       or not Settings().kafka_security_protocol.startswith("SASL_"),
                       reason="needs a broker with SCRAM logins (COINLOG_KAFKA_SECURITY=scram "
                              "deploy/local/up exports COINLOG_KAFKA_CREDENTIALS_DIR)"),
]


@pytest.fixture
async def namespace(infra: Endpoints, suffix: str) -> str:
    prefix = f"sec-{suffix}."
    await ensure_topics(infra.kafka_bootstrap_servers, ALL_TOPICS, prefix=prefix)
    assert await ensure_acls(infra.kafka_bootstrap_servers, prefix) is not None
    return prefix


async def _send(infra: Endpoints, principal: str, topic: str) -> None:
    producer = kafka_client.producer(bootstrap_servers=infra.kafka_bootstrap_servers,
                                     security=security_of(principal), request_timeout_ms=10_000)
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}", key=b"k"), 30)
    finally:
        await producer.stop()


async def test_the_wallet_writes_its_ledger_but_not_gifts_or_the_payout_ledger(
        infra: Endpoints, namespace: str) -> None:
    await _send(infra, "wallet", namespace + WALLET_LEDGER.name)
    for topic in (GIFTS, PAYOUT_LEDGER):
        with pytest.raises(TopicAuthorizationFailedError):
            await _send(infra, "wallet", namespace + topic.name)


async def test_a_publisher_writes_its_topic_but_not_the_wallets_ledger(
        infra: Endpoints, namespace: str) -> None:
    await _send(infra, "payments", namespace + PURCHASES.name)
    with pytest.raises(TopicAuthorizationFailedError):
        await _send(infra, "payments", namespace + WALLET_LEDGER.name)


async def test_the_auditor_writes_nothing(infra: Endpoints, namespace: str) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await _send(infra, "auditor", namespace + WALLET_LEDGER.name)


async def test_bad_credentials_fail_at_once_naming_the_principal(
        infra: Endpoints, namespace: str) -> None:
    wrong = KafkaSecurity("SASL_PLAINTEXT", username="wallet", password="not-the-password")
    with pytest.raises(KafkaAuthenticationFailed, match="User:wallet"):
        await asyncio.wait_for(require_topics(infra.kafka_bootstrap_servers, ALL_TOPICS,
                                              prefix=namespace, security=wrong), 30)


async def test_the_wallet_logged_in_as_itself_credits_a_purchase(
        infra: Endpoints, namespace: str, schema: str) -> None:
    login = security_of("wallet")
    process = ServiceProcess(wallet, Settings(
        KAFKA_BOOTSTRAP_SERVERS=infra.kafka_bootstrap_servers, DATABASE_URL=infra.database_url,
        COINLOG_HTTP_PORT=-1, COINLOG_DB_SCHEMA=schema, COINLOG_TOPIC_PREFIX=namespace,
        COINLOG_BATCH_TIMEOUT_MS=10, COINLOG_KAFKA_SECURITY_PROTOCOL=login.protocol,
        COINLOG_KAFKA_USERNAME="wallet", COINLOG_KAFKA_PASSWORD=login.password))
    await process.start()
    try:
        await _publish_as_owners(infra, namespace, [*seed_events(), bought := purchase(
            f"viewer-{uuid.uuid4().hex[:6]}", 65)])
        records = await read_topic(infra.kafka_bootstrap_servers,
                                   namespace + WALLET_LEDGER.name, expect=1)
    finally:
        await process.stop()
    credited = [orjson.loads(record.value) for record in records]
    assert [(event["type"], event["user_id"]) for event in credited] == [
        ("wallet.coins_purchased", bought.user_id)]


async def _publish_as_owners(infra: Endpoints, prefix: str, events) -> None:
    """Each event by the principal that owns its topic, as upstream systems would."""
    by_owner: dict[str, list] = {}
    for event in events:
        by_owner.setdefault(topic_of(event).owner, []).append(event)
    for owner, owned in by_owner.items():
        producer = kafka_client.producer(bootstrap_servers=infra.kafka_bootstrap_servers,
                                         security=security_of(owner), enable_idempotence=True)
        await producer.start()
        try:
            for event in owned:
                await producer.send_and_wait(prefix + topic_of(event).name, encode(event),
                                             key=event.key.encode())
        finally:
            await producer.stop()


async def test_the_sealer_logged_in_as_itself_seals_an_output_partition(
        infra: Endpoints, namespace: str) -> None:
    await _send(infra, "wallet", namespace + WALLET_LEDGER.name)
    env = {**os.environ, "COINLOG_TOPIC_PREFIX": namespace, "COINLOG_LOG_LEVEL": "WARNING",
           **principal_environment("sealer", os.environ)}
    sealer = subprocess.Popen(
        [sys.executable, "-m", "shared.sealing", "--every-records", "1", "--every-seconds", "1"],
        cwd=ROOT, env=env)
    try:
        seals = await read_topic(infra.kafka_bootstrap_servers, namespace + AUDIT_SEALS.name,
                                 expect=1)
    finally:
        sealer.terminate()
        sealer.wait(30)
    assert orjson.loads(seals[0].value)["topic"] == WALLET_LEDGER.name
