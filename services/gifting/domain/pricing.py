"""Deciding a gift request: validate it, price it, and pick the campaign that boosts it.

Checks run in a fixed order, so the same request and state always give the same answer, and
a request with several faults is rejected for the first one:

    1. bad_quantity       quantity < 1 or > 9999
    2. stream_not_live    the stream is unknown, or not live at the request's time
    3. unknown_gift       the gift was never listed
    4. gift_retired       the gift's current version is retired
    5. self_gift          the sender is the stream's creator
    6. creator_not_adult  the user service never said the stream's creator is an adult (no
                          users.age_verified yet, or one with adult false)

Price: coins = unit price of the gift's current catalog version * quantity. The GiftPriced
records the unit price and catalog version, so a later reprice never changes it.

Campaigns touch only leaderboard points, never coins or any cash value. Of the campaigns that
apply (see Campaign.applies), the highest multiplier wins; on equal multipliers the smallest
campaign_id wins. points = floor(coins * multiplier); with no campaign, multiplier 1 and
points = coins.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_FLOOR, Context, Decimal, Inexact

from services.gifting.domain.catalog import Campaign, CatalogGift
from services.gifting.domain.streams import Stream
from shared.contract.events.gifting import GiftPriced, GiftRejected, GiftRejection
from shared.contract.events.streams import MAX_GIFT_QUANTITY, GiftRequested

NO_BOOST = Decimal(1)


def decide_gift(request: GiftRequested, stream: Stream | None, gift: CatalogGift | None,
                campaigns: Iterable[Campaign], *,
                creator_adult: bool | None = True) -> GiftPriced | GiftRejected:
    """`stream` and `gift` are the request's own (or None if unknown); `campaigns` may hold
    any campaigns, the ones that do not apply are skipped. `creator_adult` is what the user
    service said of the stream's creator: None (never said) counts as not an adult, as for
    senders; the service always passes it, the default only spares pricing-only callers."""
    assert stream is None or stream.stream_id == request.stream_id, (stream, request)
    assert gift is None or gift.gift_id == request.gift_id, (gift, request)
    reason = _rejection(request, stream, gift, creator_adult)
    if reason is not None:
        return request.caused(GiftRejected, "rejected", request_id=request.request_id,
                              sender_id=request.sender_id, stream_id=request.stream_id,
                              reason=reason)
    assert stream is not None and gift is not None
    coins = gift.coins * request.quantity
    campaign = best_campaign(campaigns, request.gift_id, request.occurred_at)
    multiplier = campaign.multiplier if campaign else NO_BOOST
    return request.caused(
        GiftPriced, "priced",
        request_id=request.request_id, sender_id=request.sender_id,
        stream_id=request.stream_id, creator_id=stream.creator_id, gift_id=gift.gift_id,
        quantity=request.quantity, unit_coins=gift.coins, coins=coins,
        catalog_version=gift.catalog_version,
        campaign_id=campaign.campaign_id if campaign else None,
        points_multiplier=multiplier, points=points_for(coins, multiplier),
    )


def _rejection(request: GiftRequested, stream: Stream | None, gift: CatalogGift | None,  # noqa: PLR0911 - one per rejection
               creator_adult: bool | None) -> GiftRejection | None:
    if not 1 <= request.quantity <= MAX_GIFT_QUANTITY:
        return GiftRejection.bad_quantity
    if stream is None or not stream.live_at(request.occurred_at):
        return GiftRejection.stream_not_live
    if gift is None:
        return GiftRejection.unknown_gift
    if gift.retired:
        return GiftRejection.gift_retired
    if request.sender_id == stream.creator_id:
        return GiftRejection.self_gift
    if creator_adult is not True:
        return GiftRejection.creator_not_adult
    return None


def best_campaign(campaigns: Iterable[Campaign], gift_id: str, at: datetime) -> Campaign | None:
    """The applying campaign with the highest multiplier; ties go to the smallest id, so the
    choice never depends on the order campaigns are passed in."""
    applying = [campaign for campaign in campaigns if campaign.applies(gift_id, at)]
    if not applying:
        return None
    return min(applying, key=lambda campaign: (-campaign.multiplier, campaign.campaign_id))


def points_for(coins: int, multiplier: Decimal) -> int:
    """floor(coins * multiplier), exactly: the context is wide enough that the product is
    never rounded before the floor (a 28-digit default could round 4.999... up to 5)."""
    assert coins >= 0 and multiplier >= 1, (coins, multiplier)
    digits = len(str(coins)) + len(multiplier.as_tuple().digits) + 2
    exact = Context(prec=digits, traps=[Inexact])
    return int(exact.multiply(Decimal(coins), multiplier).to_integral_value(rounding=ROUND_FLOOR))
