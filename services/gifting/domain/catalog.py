"""Catalog state (gifts and campaigns) and how catalog events change it.

Versioning rule: every gift change carries a `catalog_version`, and a change applies only if
its version is greater than the gift's current one. An event with a version not greater than
the current one is a redelivery or arrived out of order, and is ignored; so applying catalog
events is idempotent and a late, older price never overwrites a newer one. A price change is a
new version of the gift; GiftPriced events already written keep the price and version they
recorded, because nothing here rewrites history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType

from shared.contract.events.catalog import (
    CampaignEnded,
    CampaignStarted,
    GiftListed,
    GiftRepriced,
    GiftRetired,
)

GiftChange = GiftListed | GiftRepriced | GiftRetired
CampaignChange = CampaignStarted | CampaignEnded
CatalogEvent = GiftChange | CampaignChange


@dataclass(frozen=True, slots=True)
class CatalogGift:
    gift_id: str
    name: str
    coins: int
    """Unit price in coins at `catalog_version`."""
    catalog_version: int
    retired: bool = False

    def __post_init__(self) -> None:
        assert self.coins > 0, self
        assert self.catalog_version >= 1, self


@dataclass(frozen=True, slots=True)
class Campaign:
    """Boosts leaderboard points of the gifts it covers, in [starts_at, ends_at)."""

    campaign_id: str
    multiplier: Decimal
    gift_ids: frozenset[str]
    """Empty means every gift."""
    starts_at: datetime
    ends_at: datetime
    ended_at: datetime | None = None
    """When a CampaignEnded cut the campaign short; requests from then on are not boosted."""

    def __post_init__(self) -> None:
        assert self.multiplier >= 1, self

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def applies(self, gift_id: str, at: datetime) -> bool:
        """Whether a gift requested at `at` is boosted: the window includes its start and
        excludes its end, and an early end counts from the CampaignEnded's time. Time is the
        request's, never a clock, so a re-decision gives the same answer."""
        if not self.starts_at <= at < self.ends_at:
            return False
        if self.ended_at is not None and at >= self.ended_at:
            return False
        return not self.gift_ids or gift_id in self.gift_ids


def evolve_gift(gift: CatalogGift | None, event: GiftChange) -> CatalogGift | None:
    """Apply one gift change. A reprice or retirement of a gift never listed is ignored: the
    catalog topic has one partition, so a listing always precedes the gift's changes."""
    assert gift is None or gift.gift_id == event.gift_id, (gift, event)
    if gift is not None and event.catalog_version <= gift.catalog_version:
        return gift
    match event:
        case GiftListed():
            # Listing again under a newer version re-lists a retired gift.
            return CatalogGift(event.gift_id, event.name, event.coins, event.catalog_version)
        case GiftRepriced() if gift is not None:
            return replace(gift, coins=event.coins, catalog_version=event.catalog_version)
        case GiftRetired() if gift is not None:
            return replace(gift, retired=True, catalog_version=event.catalog_version)
    return gift


def evolve_campaign(campaign: Campaign | None, event: CampaignChange) -> Campaign | None:
    """Campaigns have no versions: the first CampaignStarted for an id wins and a repeat is
    ignored; the first CampaignEnded fixes `ended_at`. An end without a start is ignored."""
    assert campaign is None or campaign.campaign_id == event.campaign_id, (campaign, event)
    match event:
        case CampaignStarted() if campaign is None:
            return Campaign(event.campaign_id, event.multiplier, frozenset(event.gift_ids),
                            event.starts_at, event.ends_at)
        case CampaignEnded() if campaign is not None and campaign.ended_at is None:
            return replace(campaign, ended_at=event.occurred_at)
    return campaign


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every gift and campaign, read-only. The store keeps the same state as rows and uses
    `evolve_gift` / `evolve_campaign` one row at a time."""

    gifts: Mapping[str, CatalogGift] = field(default_factory=lambda: MappingProxyType({}))
    campaigns: Mapping[str, Campaign] = field(default_factory=lambda: MappingProxyType({}))


def evolve_catalog(catalog: Catalog, event: CatalogEvent) -> Catalog:
    match event:
        case CampaignStarted() | CampaignEnded():
            campaign = evolve_campaign(catalog.campaigns.get(event.campaign_id), event)
            if campaign is None or campaign is catalog.campaigns.get(event.campaign_id):
                return catalog
            campaigns = MappingProxyType({**catalog.campaigns, campaign.campaign_id: campaign})
            return replace(catalog, campaigns=campaigns)
        case _:
            gift = evolve_gift(catalog.gifts.get(event.gift_id), event)
            if gift is None or gift is catalog.gifts.get(event.gift_id):
                return catalog
            return replace(catalog, gifts=MappingProxyType({**catalog.gifts, gift.gift_id: gift}))


def build_catalog(events: Iterable[CatalogEvent], catalog: Catalog | None = None) -> Catalog:
    """Fold catalog events, in log order, into a catalog."""
    result = catalog or Catalog()
    for event in events:
        result = evolve_catalog(result, event)
    return result
