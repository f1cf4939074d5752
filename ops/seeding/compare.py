"""What a seed would change, judged against the events already on the policy and catalog topics.

Pure: the caller reads the topics. Each event of the seed is `new` (to publish), `present`
(on the topic already, by id or by identity, with the same figures: publishing it again would
be a duplicate, so it is left out) or a `conflict` (its id or its identity is on the topic with
other figures; a consumer would dead-letter the first kind as duplicate_conflict and the second
would quietly contradict the log). A seed with any conflict publishes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ops.seeding.file import SECTIONS, SeedEvent, gift_identity
from shared.contract.codec import content_sha256
from shared.contract.envelope import Event
from shared.contract.events import catalog

NOT_FIGURES = frozenset({"event_id", "occurred_at", "correlation_id", "causation_id"})
"""Fields that do not make an entry what it is: the same figures under another id or time are
the same entry."""


class Status(StrEnum):
    new = "new"
    present = "present"
    conflict = "conflict"


@dataclass(frozen=True)
class Judged:
    seeded: SeedEvent
    status: Status
    detail: str = ""


def identity_of(event: Event) -> str | None:
    """The identity (as the seed file names it) of an event found on a topic, if it has one."""
    fields = event.model_dump()
    if isinstance(event, catalog.GiftEvent):
        return gift_identity(fields)
    for section in SECTIONS:
        if isinstance(event, section.model):
            return section.identity(fields)
    return None


def figures(event: Event) -> dict[str, Any]:
    return {name: value for name, value in event.model_dump(mode="json").items()
            if name not in NOT_FIGURES}


def judge(seed: Iterable[SeedEvent], on_topics: Iterable[Event]) -> list[Judged]:
    by_id: dict[uuid.UUID, Event] = {}
    by_identity: dict[str, Event] = {}
    for event in on_topics:
        by_id.setdefault(event.event_id, event)
        identity = identity_of(event)
        if identity is not None:
            by_identity.setdefault(identity, event)
    return [_judge_one(seeded, by_id.get(seeded.event.event_id),
                       by_identity.get(seeded.identity)) for seeded in seed]


def _judge_one(seeded: SeedEvent, same_id: Event | None, same_identity: Event | None) -> Judged:
    if same_id is not None:
        if content_sha256(same_id) == content_sha256(seeded.event):
            return Judged(seeded, Status.present)
        return Judged(seeded, Status.conflict,
                      f"event {same_id.event_id} is on the topic with other content "
                      f"({_differences(same_id, seeded.event)}); coinlog would dead-letter this "
                      "one as duplicate_conflict")
    if same_identity is not None:
        if figures(same_identity) == figures(seeded.event):
            return Judged(seeded, Status.present,
                          f"the same figures are on the topic as event {same_identity.event_id}")
        return Judged(seeded, Status.conflict,
                      f"{seeded.identity} is on the topic as event {same_identity.event_id} with "
                      f"other figures ({_differences(same_identity, seeded.event)}); give the "
                      "change a new rate_version (a gift: a higher catalog_version)")
    return Judged(seeded, Status.new)


def _differences(on_topic: Event, seeded: Event) -> str:
    theirs, ours = on_topic.model_dump(mode="json"), seeded.model_dump(mode="json")
    changed = [f"{name}: {theirs.get(name)!r} on the topic, {ours.get(name)!r} in the file"
               for name in sorted(theirs.keys() | ours.keys())
               if name != "event_id" and theirs.get(name) != ours.get(name)]
    return "; ".join(changed) or "the same fields, spelled differently"
