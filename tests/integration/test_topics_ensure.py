"""`coinlog topics ensure` is the one step that creates topics: it is idempotent, reports the
drift of existing topics (and sets the configs it can), and a service started without its
topics refuses with a message naming the step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka.admin import NewPartitions
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.wallet.app import definition as wallet
from shared import kafka_client
from shared.contract.topics import ALL_TOPICS, CATALOG_CHANGES, GIFTS, PURCHASES
from shared.runtime.kafka_admin import TopicsMissing, reconcile_topics
from shared.runtime.service import ServiceProcess
from shared.runtime.topic_layout import PARTITIONS
from shared.settings import Settings
from tests.infrastructure import ROOT, Endpoints

pytestmark = pytest.mark.integration


async def test_ensure_twice_creates_once_and_then_finds_everything_in_order(
        infra: Endpoints, suffix: str) -> None:
    prefix = f"it-{suffix}."
    first = await reconcile_topics(infra.kafka_bootstrap_servers, ALL_TOPICS, prefix=prefix)
    assert sorted(first.created) == sorted(prefix + topic.name for topic in ALL_TOPICS)
    assert first.drift == [] and first.in_order
    second = await reconcile_topics(infra.kafka_bootstrap_servers, ALL_TOPICS, prefix=prefix)
    assert (second.created, second.altered, second.drift) == ([], [], [])
    checked = await reconcile_topics(infra.kafka_bootstrap_servers, ALL_TOPICS, prefix=prefix,
                                     check=True)
    assert checked.in_order and checked.missing == []


async def test_drifted_partitions_and_configs_are_reported_and_configs_set_back(
        infra: Endpoints, suffix: str) -> None:
    prefix = f"it-{suffix}."
    topics = [CATALOG_CHANGES, PURCHASES, GIFTS]
    await reconcile_topics(infra.kafka_bootstrap_servers, topics, prefix=prefix)
    admin = kafka_client.admin(bootstrap_servers=infra.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_partitions({prefix + CATALOG_CHANGES.name: NewPartitions(2)})
        await admin.alter_configs([ConfigResource(
            ConfigResourceType.TOPIC, prefix + PURCHASES.name,
            {"retention.ms": "3600000", "message.timestamp.type": "CreateTime"})])
    finally:
        await admin.close()

    checked = await reconcile_topics(infra.kafka_bootstrap_servers, topics, prefix=prefix,
                                     check=True)
    found = {(d.topic.removeprefix(prefix), d.setting): (d.wanted, d.actual)
             for d in checked.drift}
    assert found == {
        (CATALOG_CHANGES.name, PARTITIONS): ("1", "2"),
        (PURCHASES.name, "retention.ms"): ("-1", "3600000"),
        (PURCHASES.name, "message.timestamp.type"): ("LogAppendTime", "CreateTime"),
    }
    assert not checked.in_order

    fixed = await reconcile_topics(infra.kafka_bootstrap_servers, topics, prefix=prefix)
    assert fixed.altered == [prefix + PURCHASES.name]
    assert [(d.topic, d.setting) for d in fixed.remaining] == [
        (prefix + CATALOG_CHANGES.name, PARTITIONS)]
    after = await reconcile_topics(infra.kafka_bootstrap_servers, topics, prefix=prefix,
                                   check=True)
    assert [(d.topic, d.setting) for d in after.drift] == [
        (prefix + CATALOG_CHANGES.name, PARTITIONS)]


def test_the_command_exits_non_zero_on_missing_topics_with_check(
        infra: Endpoints, suffix: str) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
           "COINLOG_TOPIC_PREFIX": f"it-{suffix}."}

    def ensure(*options: str) -> subprocess.CompletedProcess[str]:
        command = [str(Path(sys.executable).parent / "coinlog"), "topics", "ensure", *options]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=120)

    checked = ensure("--check", "--json")
    assert checked.returncode == 1, checked.stderr
    report = json.loads(checked.stdout)
    assert len(report["missing"]) == len(ALL_TOPICS) and report["created"] == []
    created = ensure("--json")
    assert created.returncode == 0, created.stderr
    assert len(json.loads(created.stdout)["created"]) == len(ALL_TOPICS)
    assert ensure("--check").returncode == 0


async def test_a_service_started_without_its_topics_names_the_missing_step(
        infra: Endpoints, suffix: str) -> None:
    process = ServiceProcess(wallet, Settings(
        KAFKA_BOOTSTRAP_SERVERS=infra.kafka_bootstrap_servers, DATABASE_URL=infra.database_url,
        COINLOG_HTTP_PORT=-1, COINLOG_DB_SCHEMA=f"it_{suffix}",
        COINLOG_TOPIC_PREFIX=f"it-{suffix}."))
    with pytest.raises(TopicsMissing) as refused:
        await process.start()
    await process.stop()
    assert "coinlog topics ensure" in str(refused.value)
    assert f"it-{suffix}.wallet.ledger" in refused.value.missing
