"""Who takes part in a demo run: viewers with their coin purchases and promo grants, creators,
and the live streams some of them run. Pure data and random choices; publishing is elsewhere.

The figures follow the product brief: about 97% of viewers are verified adults, most buy small
coin packs once to three times, a few whales buy the biggest pack, about a third get a week of
promo coins, and a handful of creators are live at once, some far more popular than others.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from ops.simulation.outside import Outside
from shared.contract.defaults import COIN_PACKAGES
from shared.contract.envelope import Event
from shared.contract.events.payments import PurchaseCompleted
from shared.contract.events.streams import StreamStarted

ADULT_SHARE = 0.97
WHALE_SHARE = 0.01
PROMO_SHARE = 1 / 3
PROMO_LIFETIME = timedelta(days=7)
PROMO_CAMPAIGN = "welcome-week"
PROMO_COINS = (10, 20, 50, 100)
LIVE_STREAMS = (6, 8)
"""How many creators are live at once (inclusive range)."""

PACKAGE_WEIGHTS = {
    "coins-65": 30, "coins-70": 20, "coins-330": 18, "coins-350": 12,
    "coins-660": 10, "coins-1400": 6, "coins-16500": 0.3, "coins-17500": 0.2,
}
"""Small packs dominate; the biggest ones are mostly bought by whales (see WHALE_SHARE), who
buy two of them."""
WHALE_PACKAGES = ("coins-16500", "coins-17500")


@dataclass(frozen=True)
class Package:
    package_id: str
    platform: str
    coins: int
    amount_minor: int


PACKAGES = {package_id: Package(package_id, platform, coins, amount)
            for package_id, platform, coins, amount in COIN_PACKAGES}


@dataclass
class Viewer:
    user_id: str
    adult: bool
    purchases: list[PurchaseCompleted] = field(default_factory=list)
    promo_coins: int = 0

    @property
    def coins(self) -> int:
        """What the viewer believes they hold before gifting."""
        return sum(purchase.coins for purchase in self.purchases) + self.promo_coins


@dataclass
class Creator:
    creator_id: str


@dataclass
class LiveStream:
    started: StreamStarted
    popularity: float
    """Relative share of the gifts this stream attracts."""

    @property
    def stream_id(self) -> str:
        return self.started.stream_id

    @property
    def creator_id(self) -> str:
        return self.started.creator_id


@dataclass
class Population:
    viewers: list[Viewer]
    creators: list[Creator]
    streams: list[LiveStream]
    setup_events: list[Event]
    """Everything the outside systems publish before the first gift, in publishing order."""

    @property
    def purchases(self) -> list[PurchaseCompleted]:
        return [purchase for viewer in self.viewers for purchase in viewer.purchases]


def populate(outside: Outside, rng: random.Random, *, viewers: int,
             creators: int) -> Population:
    events: list[Event] = []
    creator_list = [Creator(outside.new_id("creator")) for _ in range(creators)]
    for creator in creator_list:
        events.append(outside.age_verified(creator.creator_id, adult=True))
        events.append(outside.creator_verified(creator.creator_id))
    viewer_list = [_viewer(outside, rng, events) for _ in range(viewers)]
    live_count = min(creators, rng.randint(*LIVE_STREAMS))
    streams = []
    for rank, creator in enumerate(rng.sample(creator_list, live_count), start=1):
        started = outside.stream_started(creator.creator_id)
        events.append(started)
        # Zipf-like: the most popular stream draws about as many gifts as the next three.
        streams.append(LiveStream(started, popularity=1 / rank ** 1.1))
    return Population(viewer_list, creator_list, streams, events)


def _viewer(outside: Outside, rng: random.Random, events: list[Event]) -> Viewer:
    viewer = Viewer(outside.new_id("viewer"), adult=rng.random() < ADULT_SHARE)
    events.append(outside.age_verified(viewer.user_id, viewer.adult))
    if rng.random() < WHALE_SHARE:
        # Two of the biggest packs: enough for a Lion or a Universe.
        chosen = rng.choices(WHALE_PACKAGES, k=2) + _packages(rng, rng.randint(0, 1))
    else:
        chosen = _packages(rng, rng.randint(1, 3))
    for package_id in chosen:
        package = PACKAGES[package_id]
        purchase = outside.purchase(viewer.user_id, package.package_id, package.platform,
                                    package.coins, package.amount_minor)
        viewer.purchases.append(purchase)
        events.append(purchase)
    if rng.random() < PROMO_SHARE:
        viewer.promo_coins = rng.choice(PROMO_COINS)
        events.append(outside.promo(viewer.user_id, viewer.promo_coins, PROMO_LIFETIME,
                                    PROMO_CAMPAIGN))
    return viewer


def _packages(rng: random.Random, count: int) -> list[str]:
    return rng.choices(list(PACKAGE_WEIGHTS), weights=list(PACKAGE_WEIGHTS.values()), k=count)
