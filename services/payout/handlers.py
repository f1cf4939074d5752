"""Payout's batch handler: load the batch's creators (locked by the runtime), decide event by
event, save, emit.

Every earning is a row of the `earnings` table; a creator's snapshot row keeps none of them,
only totals (see snapshot.dump_row and domain/state.py). Before deciding, the handler brings
back the held earnings that mature by the batch's latest time for the creator, and the
earnings the batch's decisions look at one by one: the gifts its clawbacks list and the gifts
its CoinsSpent would earn (the once-per-gift check). So decide() sees the same answers as with
every earning in memory, and a batch reads and writes only the earnings it needs, adds or
changes, whatever the creator's lifetime of gifts. Each creator is decided on one mutable
draft per batch (evolve.Replay), frozen once at the end."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.payout import store
from services.payout.domain import Creator, Replay, creators_funded, decide
from shared.contract.envelope import Event
from shared.contract.events.creators import PayoutFailed, PayoutRequested, PayoutSucceeded
from shared.contract.events.payout import PayoutEvent
from shared.contract.events.policy import PolicyEvent
from shared.contract.events.users import CreatorVerified
from shared.contract.events.wallet import CoinsClawedBack, CoinsSpent
from shared.runtime.unit import Inbound, Unit


def creators_of(event: Event) -> list[str]:
    """The creators an input event concerns; none for what payout does not act on."""
    match event:
        case CoinsSpent():
            return [event.creator_id]
        case CoinsClawedBack():
            return creators_funded(event)
        case CreatorVerified():
            return [event.user_id]
        case PayoutRequested() | PayoutSucceeded() | PayoutFailed():
            return [event.creator_id]
    return []


def earnings_needed(event: Event) -> list[tuple[str, str]]:
    """(creator_id, request_id) of the earnings deciding this event looks up one by one."""
    match event:
        case CoinsSpent():
            return [(event.creator_id, event.request_id)]
        case CoinsClawedBack():
            return [(gift.creator_id, gift.request_id) for gift in event.funded_gifts]
    return []


def decision_times(inbounds: Sequence[Inbound]) -> dict[str, datetime]:
    """Per creator, the latest event time the batch decides for it: its held earnings that
    mature by then are brought back before deciding (a decision's time is never earlier than
    the creator's clock, and loading handles that)."""
    times: dict[str, datetime] = {}
    for inbound in inbounds:
        event = inbound.event
        for creator_id in creators_of(event):
            if creator_id not in times or event.occurred_at > times[creator_id]:
                times[creator_id] = event.occurred_at
    return times


async def handle(unit: Unit, inbounds: Sequence[Inbound]) -> None:
    conn = unit.conn
    policy = await store.load_policy(conn)
    creators = await store.load_creators(conn, decision_times(inbounds))
    folded = await store.load_earnings(conn, {
        (creator_id, request_id) for inbound in inbounds
        for creator_id, request_id in earnings_needed(inbound.event)
        if creator_id in creators and request_id not in creators[creator_id].earnings})
    for creator_id, earnings in folded.items():
        creators[creator_id] = creators[creator_id].with_earnings(earnings)
    before = {creator_id: creator.earnings for creator_id, creator in creators.items()}
    drafts: dict[str, Replay] = {}
    new_policy: list[PolicyEvent] = []
    decided: list[PayoutEvent] = []
    for inbound in inbounds:
        event = inbound.event
        if isinstance(event, PolicyEvent):
            policy = policy.apply(event)
            new_policy.append(event)
            continue
        for creator_id in creators_of(event):
            draft = drafts.get(creator_id)
            if draft is None:
                draft = Replay.of(creators.get(creator_id) or Creator(creator_id))
            outputs = decide(draft, event, policy)
            for output in outputs:
                draft.apply(output)
                unit.emit(output, cause=inbound)
            if outputs:
                drafts[creator_id] = draft
                decided.extend(outputs)
    changed = {creator_id: draft.freeze() for creator_id, draft in drafts.items()}
    await store.save_policy_events(conn, new_policy)
    await store.save_earnings(conn, [
        (creator_id, earning) for creator_id, creator in changed.items()
        for request_id, earning in creator.earnings.items()
        if before.get(creator_id, {}).get(request_id) != earning])
    compacted = {creator_id: creator.compacted() for creator_id, creator in changed.items()}
    await store.creators.save(conn, compacted)
    await store.save_balances(conn, compacted)
    await store.record_payouts(conn, decided)
