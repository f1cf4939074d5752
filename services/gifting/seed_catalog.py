"""The starting gift catalog: a ladder from a 1-coin Rose to a 34,999-coin Universe.

Prices follow the platform this economy is modelled on (third-party sources disagree on a few
of them; product.md's policy table says to treat them as defaults). Every event is catalog
version 1 with an id derived from the gift id alone, so publishing the seed twice is harmless:
the consumer's event-id dedupe drops the repeat, and evolve_gift ignores a version it already
has. Pass the same `at` both times, or the repeat has the same id but different content and is
dead-lettered as a conflict (still harmless, but noisy).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from shared.contract.envelope import EVENT_NAMESPACE
from shared.contract.events.catalog import GiftListed

SEED_NAMESPACE = uuid.uuid5(EVENT_NAMESPACE, "coinlog.gifting.seed-catalog")
SEED_AT = datetime(2026, 1, 1, tzinfo=UTC)
SEED_VERSION = 1

SEED_GIFTS: tuple[tuple[str, str, int], ...] = (
    # (gift_id, name, coins), cheapest first
    ("rose", "Rose", 1),
    ("heart", "Heart", 5),
    ("finger-heart", "Finger Heart", 5),
    ("perfume", "Perfume", 20),
    ("doughnut", "Doughnut", 30),
    ("hand-hearts", "Hand Hearts", 100),
    ("confetti", "Confetti", 100),
    ("sunglasses", "Sunglasses", 199),
    ("corgi", "Corgi", 299),
    ("money-gun", "Money Gun", 500),
    ("galaxy", "Galaxy", 1000),
    ("whale-diving", "Whale diving", 2150),
    ("motorcycle", "Motorcycle", 2988),
    ("private-jet", "Private Jet", 4888),
    ("sports-car", "Sports Car", 7000),
    ("interstellar", "Interstellar", 10000),
    ("falcon", "Falcon", 10999),
    ("rosa-nebula", "Rosa Nebula", 15000),
    ("lion", "Lion", 29999),
    ("universe", "Universe", 34999),
)


def seed_event_id(gift_id: str) -> uuid.UUID:
    return uuid.uuid5(SEED_NAMESPACE, gift_id)


def seed_catalog(at: datetime = SEED_AT) -> list[GiftListed]:
    """The seed as GiftListed events (catalog version 1), in price order."""
    return [
        GiftListed(event_id=seed_event_id(gift_id), occurred_at=at, key=gift_id, gift_id=gift_id,
                   catalog_version=SEED_VERSION, name=name, coins=coins)
        for gift_id, name, coins in SEED_GIFTS
    ]
