"""Applying events to what a batch of gifting decisions sees: the facts gifting keeps (stream
lifecycle, catalog changes, users' ages) and gifting's own decisions.

Facts apply by their own rules: streams.evolve_stream, catalog.evolve_gift and evolve_campaign
(versions; a change to a gift never listed is ignored), and the latest AgeVerified of a user
wins. A decision applies what it records: a GiftPriced or GiftRejected marks its request id
decided, and a GiftPriced awaits the wallet's answer until the GiftSent or GiftFailed that
settles it. A request or a wallet answer changes nothing by itself (its decision does), and an
event gifting neither keeps nor decides leaves the state as it is.

Events are applied to a `GiftingDraft`, a mutable copy of a GiftingState that `freeze` turns
back into one. `evolve`, `fold` and the handler (which decides on its draft, event after event)
run the same code; a batch copies the state once rather than once per event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from types import MappingProxyType

from services.gifting.domain.catalog import Campaign, CatalogGift, evolve_campaign, evolve_gift
from services.gifting.domain.state import GiftingState, GiftingView
from services.gifting.domain.streams import Stream, evolve_stream
from shared.consistency import InconsistentHistory
from shared.contract.envelope import Event
from shared.contract.events.catalog import (
    CampaignEnded,
    CampaignStarted,
    GiftListed,
    GiftRepriced,
    GiftRetired,
)
from shared.contract.events.gifting import GiftFailed, GiftPriced, GiftRejected, GiftSent
from shared.contract.events.streams import StreamEnded, StreamStarted
from shared.contract.events.users import AgeVerified


def evolve(state: GiftingState, event: Event) -> GiftingState:
    draft = GiftingDraft.of(state)
    draft.apply(event)
    return draft.freeze()


def fold(state: GiftingState, events: Iterable[Event]) -> GiftingState:
    draft = GiftingDraft.of(state)
    for event in events:
        draft.apply(event)
    return draft.freeze()


@dataclass(slots=True)
class GiftingDraft(GiftingView):
    """A mutable fold over a batch's events: apply them one by one, and `freeze` a GiftingState
    (a copy) whenever one is needed. GiftingState's fields, with dicts and a set, and the keys
    of what the facts applied so far touched: the rows a handler writes back."""

    streams: dict[str, Stream]
    gifts: dict[str, CatalogGift]
    campaigns: dict[str, Campaign]
    creator_ages: dict[str, bool]
    priced: dict[str, GiftPriced]
    requests: set[str]
    changed_streams: dict[str, None] = field(default_factory=dict)
    """Stream ids a lifecycle event applied to, in the order first applied (used as an ordered
    set, as are the three below). A repeat the rules ignore counts too: writing the same row
    again changes nothing."""
    changed_gifts: dict[str, None] = field(default_factory=dict)
    """Gift ids a catalog change applied to, once the gift exists: a change to a gift never
    listed touches nothing."""
    changed_campaigns: dict[str, None] = field(default_factory=dict)
    """Campaign ids likewise: an end without a start touches nothing."""
    changed_ages: dict[str, None] = field(default_factory=dict)
    """User ids of every AgeVerified applied."""

    @classmethod
    def of(cls, state: GiftingState) -> GiftingDraft:
        return cls(dict(state.streams), dict(state.gifts), dict(state.campaigns),
                   dict(state.creator_ages), dict(state.priced), set(state.requests))

    def freeze(self) -> GiftingState:
        return GiftingState(
            MappingProxyType(dict(self.streams)), MappingProxyType(dict(self.gifts)),
            MappingProxyType(dict(self.campaigns)), MappingProxyType(dict(self.creator_ages)),
            MappingProxyType(dict(self.priced)), frozenset(self.requests))

    def apply(self, event: Event) -> None:
        match event:
            case StreamStarted() | StreamEnded():
                self.streams[event.stream_id] = evolve_stream(self.streams.get(event.stream_id),
                                                              event)
                self.changed_streams[event.stream_id] = None
            case GiftListed() | GiftRepriced() | GiftRetired():
                gift = evolve_gift(self.gifts.get(event.gift_id), event)
                if gift is not None:
                    self.gifts[event.gift_id] = gift
                    self.changed_gifts[event.gift_id] = None
            case CampaignStarted() | CampaignEnded():
                campaign = evolve_campaign(self.campaigns.get(event.campaign_id), event)
                if campaign is not None:
                    self.campaigns[event.campaign_id] = campaign
                    self.changed_campaigns[event.campaign_id] = None
            case AgeVerified():
                self.creator_ages[event.user_id] = event.adult
                self.changed_ages[event.user_id] = None
            case GiftPriced():
                _check(event.request_id not in self.requests, "request decided twice", event)
                self.requests.add(event.request_id)
                self.priced[event.request_id] = event
            case GiftRejected():
                _check(event.request_id not in self.requests, "request decided twice", event)
                self.requests.add(event.request_id)
            case GiftSent() | GiftFailed():
                settled = self.priced.pop(event.request_id, None)
                _check(settled is not None, "settles no priced gift", event)


def _check(condition: bool, problem: str, event: Event) -> None:
    if not condition:
        raise InconsistentHistory(f"{problem}: {event.type} {event.event_id}")
