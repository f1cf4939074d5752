"""Builders of valid input events for tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from shared.contract.codec import encode
from shared.contract.events.payments import PurchaseCompleted

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def purchase(user_id: str, coins: int, *, purchase_id: str | None = None,
             event_id: uuid.UUID | None = None, package_id: str = "coins-65") -> PurchaseCompleted:
    return PurchaseCompleted(
        event_id=event_id or uuid.uuid4(), occurred_at=T0, user_id=user_id,
        purchase_id=purchase_id or uuid.uuid4().hex, coins=coins, amount_minor=99,
        currency="USD", platform="app_ios", region="US", package_id=package_id,
        rate_version="packs-2026-01",
    )


async def publish(producer, topic: str, events) -> None:
    deliveries = [await producer.send(topic, encode(event), key=event.key.encode())
                  for event in events]
    for delivery in deliveries:
        await delivery


async def publish_raw(producer, topic: str, values: list[tuple[bytes, bytes]]) -> None:
    for key, value in values:
        await (await producer.send(topic, value, key=key))
