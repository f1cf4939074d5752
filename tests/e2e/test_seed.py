"""`coinlog seed` against the three running services on their own fresh topics: the first run
publishes the default file and every consumer applies it; a second run publishes nothing; the
same events republished as they are (what the demo does on every start) are dropped as
duplicates; a changed figure is refused before anything reaches the log."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from ops.seed import DEFAULT_SEED_FILE, seed_events
from ops.seeding.compare import Status
from ops.seeding.run import publish, seed
from shared.contract.topics import CATALOG_CHANGES, DEAD_LETTERS, POLICY_CHANGES
from shared.logread import LogReader
from tests.e2e.conftest import Economy, schema_of, services_running, topic_prefix
from tests.infrastructure import Endpoints
from tests.waiting import wait_until

POLICY_IDS = {event.event_id for event in seed_events() if event.key == "policy"}
CATALOG_IDS = {event.event_id for event in seed_events()} - POLICY_IDS
READERS = {"wallet": (POLICY_CHANGES, POLICY_IDS), "payout": (POLICY_CHANGES, POLICY_IDS),
           "gifting": (CATALOG_CHANGES, CATALOG_IDS)}
"""Each service, the seeded topic it reads and the seed's events on it."""


@pytest.fixture
async def unseeded(infra: Endpoints) -> AsyncIterator[Economy]:
    async with services_running(infra, uuid.uuid4().hex[:8]) as economy:
        yield economy


async def end_offsets(infra: Endpoints, prefix: str, topics) -> dict[str, int]:
    """Records on each topic (every one has its records from offset 0: nothing is deleted)."""
    cut = await LogReader(infra.kafka_bootstrap_servers, topics, prefix=prefix).cut()
    return {topic.name: sum(end for (name, _), end in cut.ends.items() if name == topic.name)
            for topic in topics}


async def applied(infra: Endpoints, economy: Economy) -> dict[str, tuple[int, int]]:
    """Per service: (seed events in its inbox, its next offset on the seeded topic)."""
    found = {}
    for service, (topic, ids) in READERS.items():
        conn = await asyncpg.connect(infra.database_url)
        try:
            schema = schema_of(economy.run_id, service)
            in_inbox = await conn.fetchval(
                f'SELECT count(*) FROM "{schema}".inbox WHERE event_id = ANY($1::uuid[])',
                list(ids))
            next_offset = await conn.fetchval(
                f'SELECT coalesce(sum(next_offset), 0) FROM "{schema}".tracking WHERE topic = $1',
                economy.topic_prefix + topic.name)
        finally:
            await conn.close()
        found[service] = (in_inbox, next_offset)
    return found


async def test_seeding_twice_publishes_once_and_the_services_apply_it_once(
        infra: Endpoints, unseeded: Economy):
    kafka, prefix = infra.kafka_bootstrap_servers, topic_prefix(unseeded.run_id)

    first = await seed(DEFAULT_SEED_FILE, kafka, prefix=prefix)
    assert first.published == len(seed_events()) == len(POLICY_IDS) + len(CATALOG_IDS)
    assert {item.status for item in first.judged} == {Status.new}
    on_topics = {"policy.changes": len(POLICY_IDS), "catalog.changes": len(CATALOG_IDS)}
    assert await end_offsets(infra, prefix, (POLICY_CHANGES, CATALOG_CHANGES)) == on_topics

    everyone = {service: (len(ids), on_topics[topic.name])
                for service, (topic, ids) in READERS.items()}
    await wait_until(lambda: applied(infra, unseeded), ready=lambda now: now == everyone,
                     timeout_s=60, describe="every service to apply the seed")
    catalog = await unseeded.json_when("gifting", "/catalog",
                                       lambda body: len(body["gifts"]) == len(CATALOG_IDS))
    assert {gift["gift_id"]: gift["coins"] for gift in catalog["gifts"]}["universe"] == 34999

    second = await seed(DEFAULT_SEED_FILE, kafka, prefix=prefix)
    assert second.published == 0
    assert {item.status for item in second.judged} == {Status.present}
    assert await end_offsets(infra, prefix, (POLICY_CHANGES, CATALOG_CHANGES)) == on_topics

    # The same events once more, republished as the demo does: consumers read them (their
    # offsets move on) and drop them by id, applying nothing and dead-lettering nothing.
    await publish(kafka, prefix, seed_events())
    twice = {service: (count, 2 * offset) for service, (count, offset) in everyone.items()}
    await wait_until(lambda: applied(infra, unseeded), ready=lambda now: now == twice,
                     timeout_s=60, describe="every service to read the republished seed")
    assert set((await end_offsets(infra, prefix, DEAD_LETTERS)).values()) == {0}


async def test_a_changed_figure_under_a_published_version_publishes_nothing(
        infra: Endpoints, unseeded: Economy, tmp_path):
    kafka, prefix = infra.kafka_bootstrap_servers, topic_prefix(unseeded.run_id)
    await seed(DEFAULT_SEED_FILE, kafka, prefix=prefix)
    changed = tmp_path / "changed.toml"
    changed.write_text(DEFAULT_SEED_FILE.read_text()
                       .replace('diamonds_per_coin = "0.5"', 'diamonds_per_coin = "0.6"')
                       .replace('{ gift_id = "lion", name = "Lion", coins = 29999 }',
                                '{ gift_id = "lion", name = "Lion", coins = 25000 }')
                       .replace('spending_policy = { rate_version = "spending-2026-01" }',
                                'spending_policy = { rate_version = "spending-2026-02", '
                                'daily_coins = 1000 }'))
    before = await end_offsets(infra, prefix, (POLICY_CHANGES, CATALOG_CHANGES))

    run = await seed(changed, kafka, prefix=prefix)

    assert [item.seeded.identity for item in run.conflicts] == ["policy/share-2026-01",
                                                                "gift/lion@1"]
    assert [item.seeded.identity for item in run.judged if item.status is Status.new] == \
        ["policy/spending-2026-02"]
    assert run.published == 0
    assert await end_offsets(infra, prefix, (POLICY_CHANGES, CATALOG_CHANGES)) == before
