"""Canary gifts: one sender per partition of the gift path, so a partition that stalls shows.

Every topic a gift crosses (streams.gift-requests, gifting.gifts, wallet.ledger) is keyed by
the sender with the same number of partitions, so a sender whose requests land on partition p
crosses partition p of each. One canary per partition, sent right after a fault, measures the
recovery: the time until the last canary's diamonds are earned on payout.ledger.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING

from ops.kafka_partitions import partition_for
from ops.simulation.people import PACKAGES
from shared.contract.topics import GIFT_REQUESTS

if TYPE_CHECKING:
    from ops.demo import Demo

CANARY_GIFT = "rose"
CANARY_PACKAGE = "coins-16500"


class Canaries:
    def __init__(self, demo: Demo, partitions: int = GIFT_REQUESTS.partitions):
        self.demo = demo
        self.senders = _one_sender_per_partition(f"canary-{demo.run_id}", partitions)

    async def set_up(self, timeout_s: float = 120.0) -> None:
        package = PACKAGES[CANARY_PACKAGE]
        outside = self.demo.outside
        events = []
        for sender in self.senders:
            events.append(outside.age_verified(sender, True))
            events.append(outside.purchase(sender, package.package_id, package.platform,
                                           package.coins, package.amount_minor))
        await self.demo.publisher.publish_all(events)

        async def ready() -> bool:
            # The age check and the purchase arrive on different topics: a canary sent before
            # its age is recorded would be refused, and never earn diamonds.
            books, wanted = self.demo.books, len(self.senders)
            return (await books.coins_credited(self.senders) >= wanted
                    and await books.adults_recorded(self.senders) >= wanted)

        await self.demo._wait_for(  # noqa: SLF001 - the demo's wait, so it fails the same way
            ready, "the canaries' coins and age checks", timeout_s)

    async def fly(self, timeout_s: float = 120.0) -> float | None:
        """Send one canary gift per partition; return when the last one's diamonds were
        earned (time.monotonic()), or None when not all arrived within `timeout_s`."""
        stream = self.demo.population.streams[0].started.stream_id
        requests = [self.demo.outside.gift_request(sender, stream, CANARY_GIFT, 1)
                    for sender in self.senders]
        await self.demo.publisher.publish_all(requests)
        requested_at = self.demo.publisher.gift_requested_at
        latency = self.demo.probe.latency_s
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not all(r.request_id in latency for r in requests):
            if asyncio.get_running_loop().time() > deadline:
                return None
            await asyncio.sleep(0.02)
        return max(requested_at[r.request_id] + latency[r.request_id] for r in requests)


def _one_sender_per_partition(prefix: str, partitions: int) -> list[str]:
    found: dict[int, str] = {}
    for n in itertools.count():
        sender = f"{prefix}-{n}"
        found.setdefault(partition_for(sender, partitions), sender)
        if len(found) == partitions:
            return [found[p] for p in range(partitions)]
    raise AssertionError("unreachable")
