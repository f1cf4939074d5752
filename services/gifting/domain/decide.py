"""One entry point for the handler: any input event gifting consumes -> gifting's events.

    GiftRequested               GiftPriced | GiftRejected (pricing.decide_gift)
    CoinsSpent | SpendRejected  GiftSent | GiftFailed (outcome.decide_outcome)
    anything else               nothing: facts change the state through evolve, not decisions

A request id decided before (a republish under a new event id) is not decided again: its first
decision stands, whatever the stream or catalog became since. A wallet answer for a gift not
priced here, or one already settled (a redelivery), is ignored. Apply each input and then its
outputs with evolve before deciding the next input, as the handler does.
"""

from __future__ import annotations

from services.gifting.domain.outcome import decide_outcome
from services.gifting.domain.pricing import decide_gift
from services.gifting.domain.state import GiftingView
from shared.contract.envelope import Event
from shared.contract.events.gifting import GiftingEvent
from shared.contract.events.streams import GiftRequested
from shared.contract.events.wallet import CoinsSpent, SpendRejected


def decide(state: GiftingView, event: Event) -> list[GiftingEvent]:
    """`state` must hold what the event looks up (see state.py); a GiftingDraft will do."""
    match event:
        case GiftRequested():
            if event.request_id in state.requests:
                return []
            stream = state.streams.get(event.stream_id)
            return [decide_gift(event, stream, state.gifts.get(event.gift_id),
                                state.campaigns.values(),
                                creator_adult=state.creator_adult(stream))]
        case CoinsSpent() | SpendRejected():
            priced = state.priced.get(event.request_id)
            return [] if priced is None else [decide_outcome(priced, event)]
    return []
