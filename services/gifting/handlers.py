"""Gifting's batch handler: load what the batch touches, decide in order, save, emit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from services.gifting import store
from services.gifting.domain import (
    Campaign,
    CatalogGift,
    Stream,
    decide_gift,
    decide_outcome,
    evolve_campaign,
    evolve_gift,
    evolve_stream,
)
from shared.contract.envelope import Event
from shared.contract.events.catalog import (
    CampaignEnded,
    CampaignStarted,
    GiftListed,
    GiftRepriced,
    GiftRetired,
)
from shared.contract.events.gifting import GiftPriced, GiftRejected, GiftSent
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


@dataclass
class _Batch:
    streams: dict[str, Stream]
    gifts: dict[str, CatalogGift]
    campaigns: dict[str, Campaign]
    priced: dict[str, GiftPriced]
    known_requests: set[str]
    ages: dict[str, bool]
    changed_streams: dict[str, Stream] = field(default_factory=dict)
    changed_gifts: dict[str, CatalogGift] = field(default_factory=dict)
    changed_campaigns: dict[str, Campaign] = field(default_factory=dict)
    requests: list[tuple[GiftRequested, GiftPriced | GiftRejected]] = field(default_factory=list)
    settled: list[tuple[str, str, str | None]] = field(default_factory=list)
    changed_ages: dict[str, bool] = field(default_factory=dict)
    sent: list[GiftSent] = field(default_factory=list)


async def handle(unit: Unit, inbounds: Sequence[Inbound]) -> None:
    events = [inbound.event for inbound in inbounds]
    batch = await _load(unit, events)
    for inbound in inbounds:
        _apply(batch, unit, inbound)
    conn = unit.conn
    await store.save_streams(conn, list(batch.changed_streams.values()))
    await store.save_gifts(conn, list(batch.changed_gifts.values()))
    await store.save_campaigns(conn, list(batch.changed_campaigns.values()))
    await store.save_ages(conn, batch.changed_ages)
    await store.insert_requests(conn, batch.requests)
    await store.settle_requests(conn, batch.settled)
    await store.add_sent(conn, batch.sent)


async def _load(unit: Unit, events: list) -> _Batch:
    conn = unit.conn
    stream_ids = {e.stream_id for e in events if isinstance(e, (*STREAM_CHANGES, GiftRequested))}
    gift_ids = {e.gift_id for e in events if isinstance(e, (*GIFT_CHANGES, GiftRequested))}
    answered = [e.request_id for e in events if isinstance(e, WALLET_ANSWERS)]
    requested = [e.request_id for e in events if isinstance(e, GiftRequested)]
    streams = await store.load_streams(conn, stream_ids)
    creators = {stream.creator_id for stream in streams.values()}
    creators |= {e.creator_id for e in events if isinstance(e, STREAM_CHANGES)}
    creators |= {e.user_id for e in events if isinstance(e, AgeVerified)}
    return _Batch(
        streams=streams,
        gifts=await store.load_gifts(conn, gift_ids),
        campaigns=await store.load_campaigns(conn),
        priced=await store.load_priced(conn, answered) if answered else {},
        known_requests=await store.known_requests(conn, requested) if requested else set(),
        ages=await store.load_ages(conn, creators) if creators else {},
    )


def _apply(batch: _Batch, unit: Unit, inbound: Inbound) -> None:
    event = inbound.event
    if isinstance(event, STREAM_CHANGES):
        stream = evolve_stream(batch.streams.get(event.stream_id), event)
        batch.streams[event.stream_id] = batch.changed_streams[event.stream_id] = stream
    elif isinstance(event, GIFT_CHANGES):
        gift = evolve_gift(batch.gifts.get(event.gift_id), event)
        if gift is not None:
            batch.gifts[event.gift_id] = batch.changed_gifts[event.gift_id] = gift
    elif isinstance(event, CAMPAIGN_CHANGES):
        campaign = evolve_campaign(batch.campaigns.get(event.campaign_id), event)
        if campaign is not None:
            batch.campaigns[event.campaign_id] = campaign
            batch.changed_campaigns[event.campaign_id] = campaign
    elif isinstance(event, AgeVerified):
        batch.ages[event.user_id] = batch.changed_ages[event.user_id] = event.adult
    elif isinstance(event, GiftRequested):
        _decide_request(batch, unit, inbound, event)
    elif isinstance(event, WALLET_ANSWERS):
        _settle(batch, unit, inbound, event)


def _decide_request(batch: _Batch, unit: Unit, inbound: Inbound, request: GiftRequested) -> None:
    # A request id decided before (a republish under a new event id) is not decided again.
    if request.request_id in batch.known_requests:
        return
    batch.known_requests.add(request.request_id)
    stream = batch.streams.get(request.stream_id)
    outcome = decide_gift(request, stream, batch.gifts.get(request.gift_id),
                          batch.campaigns.values(),
                          creator_adult=batch.ages.get(stream.creator_id) if stream else None)
    batch.requests.append((request, outcome))
    if isinstance(outcome, GiftPriced):
        batch.priced[request.request_id] = outcome
    unit.emit(outcome, cause=inbound)


def _settle(batch: _Batch, unit: Unit, inbound: Inbound,
            answer: CoinsSpent | SpendRejected) -> None:
    priced = batch.priced.pop(answer.request_id, None)
    if priced is None:
        return  # not a gift this service priced, or already settled
    outcome = decide_outcome(priced, answer)
    unit.emit(outcome, cause=inbound)
    if isinstance(outcome, GiftSent):
        batch.settled.append((answer.request_id, "sent", None))
        batch.sent.append(outcome)
    else:
        batch.settled.append((answer.request_id, "failed", outcome.reason))


