"""What one batch of gifting decisions sees: the streams, catalog gifts and campaigns requests
are priced against, what the user service said of creators' ages, the gifts priced and still
awaiting the wallet's answer, and the request ids decided before. Nothing here decides; see
decide and evolve.

The state is partial by design: the handler loads only the entries the batch's events look up
(their streams and gifts, the ages of those streams' creators, the priced gifts their answers
settle, whether their request ids were decided before) and every campaign. A decision made on
it is the one the whole of gifting's tables would give, because no decision looks further.
"""

from __future__ import annotations

from collections.abc import Mapping, Set as AbstractSet
from dataclasses import dataclass, field
from types import MappingProxyType

from services.gifting.domain.catalog import Campaign, CatalogGift
from services.gifting.domain.streams import Stream
from shared.contract.events.gifting import GiftPriced


def _frozen_map() -> Mapping:
    return MappingProxyType({})


class GiftingView:
    """What decisions read of the state: one rule for GiftingState and the mutable draft evolve
    folds events into (evolve.GiftingDraft), so the handler decides on its draft without
    freezing a copy of the batch's state for every event."""

    __slots__ = ()
    streams: Mapping[str, Stream]
    gifts: Mapping[str, CatalogGift]
    campaigns: Mapping[str, Campaign]
    creator_ages: Mapping[str, bool]
    priced: Mapping[str, GiftPriced]
    requests: AbstractSet[str]

    def creator_adult(self, stream: Stream | None) -> bool | None:
        """What the user service said of the stream's creator: None if it never said, or if
        there is no stream (and so no creator)."""
        return None if stream is None else self.creator_ages.get(stream.creator_id)


@dataclass(frozen=True, slots=True)
class GiftingState(GiftingView):
    """Immutable; `evolve` returns a new one. Mappings are read-only views."""

    streams: Mapping[str, Stream] = field(default_factory=_frozen_map)
    """By stream_id."""
    gifts: Mapping[str, CatalogGift] = field(default_factory=_frozen_map)
    """Catalog gifts by gift_id, each at its current version."""
    campaigns: Mapping[str, Campaign] = field(default_factory=_frozen_map)
    """By campaign_id, ended ones included (a request before the end is still boosted)."""
    creator_ages: Mapping[str, bool] = field(default_factory=_frozen_map)
    """users.age_verified's `adult` by user_id: a user absent here was never verified."""
    priced: Mapping[str, GiftPriced] = field(default_factory=_frozen_map)
    """Gifts priced and not yet answered by the wallet, by request_id."""
    requests: frozenset[str] = frozenset()
    """Gift request ids already decided (priced or rejected): a repeat decides nothing."""
