"""Payout's batch handler: lock the batch's creators, decide event by event, save, emit."""

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


async def handle(unit: Unit, inbounds: Sequence[Inbound]) -> None:
    conn = unit.conn
    policy = await store.load_policy(conn)
    creators = await store.creators.load_for_update(
        conn, {key for inbound in inbounds for key in creators_of(inbound.event)})
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
    await store.creators.save(conn, changed)
    await store.save_balances(conn, changed)
    await store.record_payouts(conn, decided)
