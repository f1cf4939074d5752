"""Payout's batch handler: load the batch's creators (locked by the runtime), decide event by
event, save, emit.

Every earning is a row of the `earnings` table; a creator's snapshot row keeps none of them,
only totals of the matured ones (see snapshot.dump_row), and is loaded with the held ones.
Before deciding, the handler also brings back the matured earnings the batch's decisions look
at one by one: the gifts its clawbacks list and the gifts its CoinsSpent would earn (the
once-per-gift check). So decide() sees the same answers as with every earning in memory, and a
batch writes only the earnings it adds or changes, whatever the creator's lifetime of gifts."""

from __future__ import annotations

from collections.abc import Sequence

from services.payout import store
from services.payout.domain import Creator, creators_funded, decide, evolve
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


async def handle(unit: Unit, inbounds: Sequence[Inbound]) -> None:
    conn = unit.conn
    policy = await store.load_policy(conn)
    creators = await store.load_creators(
        conn, {key for inbound in inbounds for key in creators_of(inbound.event)})
    folded = await store.load_earnings(conn, {
        (creator_id, request_id) for inbound in inbounds
        for creator_id, request_id in earnings_needed(inbound.event)
        if creator_id in creators and request_id not in creators[creator_id].earnings})
    for creator_id, earnings in folded.items():
        creators[creator_id] = creators[creator_id].with_earnings(earnings)
    before = {creator_id: creator.earnings for creator_id, creator in creators.items()}
    changed: dict[str, Creator] = {}
    new_policy: list[PolicyEvent] = []
    decided: list[PayoutEvent] = []
    for inbound in inbounds:
        event = inbound.event
        if isinstance(event, PolicyEvent):
            policy = policy.apply(event)
            new_policy.append(event)
            continue
        for creator_id in creators_of(event):
            creator = creators.get(creator_id) or Creator(creator_id)
            outputs = decide(creator, event, policy)
            for output in outputs:
                creator = evolve(creator, output)
                unit.emit(output, cause=inbound)
            if outputs:
                creators[creator_id] = changed[creator_id] = creator
                decided.extend(outputs)
    await store.save_policy_events(conn, new_policy)
    await store.save_earnings(conn, [
        (creator_id, earning) for creator_id, creator in changed.items()
        for request_id, earning in creator.earnings.items()
        if before.get(creator_id, {}).get(request_id) != earning])
    compacted = {creator_id: creator.compacted() for creator_id, creator in changed.items()}
    await store.creators.save(conn, compacted)
    await store.save_balances(conn, compacted)
    await store.record_payouts(conn, decided)
