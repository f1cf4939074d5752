"""The gift latency the services measure on the real stack: from the request's append time on
the broker to its outcome (gifting) and to its diamonds (payout), read from their /metrics."""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_economy import a_live_stream, an_adult_with_coins, gift_status

pytestmark = pytest.mark.integration


async def latency(economy, service: str, stage: str) -> tuple[float, float]:
    """(count, sum) of coinlog_gift_latency_seconds{stage} on the service's /metrics."""
    text = (await economy.get(service, "/metrics")).text
    found = {sample.name: sample.value for family in text_string_to_metric_families(text)
             for sample in family.samples if sample.labels.get("stage") == stage}
    return (found.get("coinlog_gift_latency_seconds_count", 0.0),
            found.get("coinlog_gift_latency_seconds_sum", 0.0))


async def test_a_gift_is_timed_to_its_outcome_and_to_its_diamonds(world, economy):
    creator = world.id("creator")
    stream = await a_live_stream(world, economy, creator)
    viewer, _ = await an_adult_with_coins(world, economy, 500)
    outcome_before = await latency(economy, "gifting", "outcome")
    earned_before = await latency(economy, "payout", "diamonds_earned")

    world.advance(minutes=1)
    gift = world.gift(viewer, stream, "perfume")  # 20 coins: 10 diamonds
    published = time.time()
    await world.publish(gift)
    assert (await gift_status(economy, gift))["status"] == "sent"
    await economy.json_when("payout", f"/creators/{creator}", lambda body: body["held"] > 0)
    waited = time.time() - published

    outcome = await latency(economy, "gifting", "outcome")
    earned = await latency(economy, "payout", "diamonds_earned")
    # The gift's outcome (sent) and its earning are timed (with any gift of another test still
    # settling), each within what the test itself waited: the simulated event times play no
    # part.
    for (count, total), (count_before, total_before) in ((outcome, outcome_before),
                                                         (earned, earned_before)):
        assert count - count_before >= 1
        assert 0 < (total - total_before) / (count - count_before) <= waited + 1
