"""Gifting's batch handler: load what the batch's events look up (their senders locked by the
runtime), decide event by event, save, emit."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from services.gifting import store
from services.gifting.domain import GiftingDraft, decide
from shared.contract.envelope import Event
from shared.contract.events.catalog import (
    CampaignEnded,
    CampaignStarted,
    GiftListed,
    GiftRepriced,
    GiftRetired,
)
from shared.contract.events.gifting import (
    GiftFailed,
    GiftingEvent,
    GiftPriced,
    GiftRejected,
    GiftSent,
)
from shared.contract.events.streams import GiftRequested, StreamEnded, StreamStarted
from shared.contract.events.users import AgeVerified
from shared.contract.events.wallet import CoinsSpent, SpendRejected
from shared.runtime.unit import Inbound, Unit

GIFT_CHANGES = (GiftListed, GiftRepriced, GiftRetired)
CAMPAIGN_CHANGES = (CampaignStarted, CampaignEnded)
STREAM_CHANGES = (StreamStarted, StreamEnded)
WALLET_ANSWERS = (CoinsSpent, SpendRejected)


def senders_of(event: Event) -> list[str]:
    """The sender whose gift an input decides: every event gifting emits is the sender's, and
    the sender's requests and the wallet's answers arrive on different topics. Locked by the
    runtime, so the sender's events are decided, numbered in its history and published in one
    order, whichever instances own those topics' partitions."""
    if isinstance(event, GiftRequested):
        return [event.sender_id]
    if isinstance(event, WALLET_ANSWERS):
        return [event.user_id]
    return []


async def handle(unit: Unit, inbounds: Sequence[Inbound]) -> None:
    conn = unit.conn
    draft = await _load(conn, [inbound.event for inbound in inbounds])
    decided: list[tuple[Event, GiftingEvent]] = []
    for inbound in inbounds:
        outputs = decide(draft, inbound.event)
        draft.apply(inbound.event)
        for output in outputs:
            draft.apply(output)
            unit.emit(output, cause=inbound)
            decided.append((inbound.event, output))
    await _save(conn, draft, decided)


async def _load(conn: asyncpg.Connection, events: list[Event]) -> GiftingDraft:
    """The state the batch's decisions see (see domain/state.py), as a draft to decide on."""
    stream_ids = {e.stream_id for e in events if isinstance(e, (*STREAM_CHANGES, GiftRequested))}
    gift_ids = {e.gift_id for e in events if isinstance(e, (*GIFT_CHANGES, GiftRequested))}
    answered = [e.request_id for e in events if isinstance(e, WALLET_ANSWERS)]
    requested = [e.request_id for e in events if isinstance(e, GiftRequested)]
    streams = await store.load_streams(conn, stream_ids)
    creators = {stream.creator_id for stream in streams.values()}
    creators |= {e.creator_id for e in events if isinstance(e, STREAM_CHANGES)}
    creators |= {e.user_id for e in events if isinstance(e, AgeVerified)}
    known, priced = await store.load_requests(conn, requested, answered)
    return GiftingDraft(
        streams=streams,
        gifts=await store.load_gifts(conn, gift_ids),
        campaigns=await store.load_campaigns(conn),
        priced=priced,
        requests=known,
        creator_ages=await store.load_ages(conn, creators) if creators else {},
    )


async def _save(conn: asyncpg.Connection, draft: GiftingDraft,
                decided: list[tuple[Event, GiftingEvent]]) -> None:
    """The rows the batch's facts touched, then its decisions: (input, output) in emission
    order."""
    await store.save_streams(conn, [draft.streams[key] for key in draft.changed_streams])
    await store.save_gifts(conn, [draft.gifts[key] for key in draft.changed_gifts])
    await store.save_campaigns(conn, [draft.campaigns[key] for key in draft.changed_campaigns])
    await store.save_ages(conn, {key: draft.creator_ages[key] for key in draft.changed_ages})
    await store.insert_requests(conn, [
        (request, outcome) for request, outcome in decided
        if isinstance(request, GiftRequested) and isinstance(outcome, GiftPriced | GiftRejected)])
    await store.settle_requests(conn, [
        outcome for _, outcome in decided if isinstance(outcome, GiftSent | GiftFailed)])
    await store.add_sent(conn, [outcome for _, outcome in decided if isinstance(outcome, GiftSent)])
