"""Gift requests during the live streams: who sends what to which stream, at a target rate.

Viewers mostly tap cheap gifts (a rose, a heart, a doughnut), often as combos; viewers with a
whale's budget now and then send a Lion or a Universe. Each viewer only taps what they think
they can still afford, except for the occasional tap beyond it (the wallet refuses those).
Popular streams draw most gifts, which is also what lifts their creators over the payout
minimum. A few requests are wrong on purpose (a retired gift, a gift that does not exist, a
creator gifting their own stream) to show the services refusing them with a reason.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from typing import Protocol

from ops.simulation.outside import RETIRED_GIFT, Outside
from ops.simulation.people import LiveStream, Population
from ops.simulation.publisher import Publisher
from services.gifting.seed_catalog import SEED_GIFTS
from shared.contract.events.streams import GiftRequested

GIFT_WEIGHTS = {
    "rose": 30, "heart": 15, "finger-heart": 12, "perfume": 10, "doughnut": 8,
    "hand-hearts": 5, "confetti": 4, "sunglasses": 3, "corgi": 2, "money-gun": 2,
    "galaxy": 1, "whale-diving": 0.5, "motorcycle": 0.4, "private-jet": 0.3,
    "sports-car": 0.2, "interstellar": 0.15, "falcon": 0.1, "rosa-nebula": 0.1,
    "lion": 0.05, "universe": 0.03,
}
COMBO_MAX_UNIT_COINS = 30
"""Gifts up to this price are tapped in combos (1 to 99 at once)."""
BIG_GIFTS = ("universe", "lion", "rosa-nebula", "falcon", "interstellar")
BIG_GIFT_SHARE = 0.25
"""Chance that a viewer who can afford a big gift sends the biggest one they can."""
OVERSPEND_SHARE = 0.01
WRONG_SHARE = 0.004
UNKNOWN_GIFT = "golden-goose"
"""Never listed in the catalog."""

PRICES = {gift_id: coins for gift_id, _, coins in SEED_GIFTS}


class GiftTraffic:
    """Draws gift requests; keeps what each viewer believes is left of their coins."""

    def __init__(self, population: Population, outside: Outside, rng: random.Random):
        self.outside = outside
        self.rng = rng
        self.streams = population.streams
        self._stream_weights = list(itertools.accumulate(s.popularity for s in self.streams))
        self._budget = {viewer.user_id: viewer.coins for viewer in population.viewers}
        self._active = [user_id for user_id, coins in self._budget.items() if coins > 0]
        by_price = sorted(GIFT_WEIGHTS, key=lambda gift_id: PRICES[gift_id])
        self._gifts = by_price
        self._gift_prices = [PRICES[gift_id] for gift_id in by_price]
        self._gift_weights = list(itertools.accumulate(GIFT_WEIGHTS[g] for g in by_price))
        self.kinds: Counter[str] = Counter()
        """Requests drawn, by kind (gift, combo, big gift, overspend, wrong on purpose)."""

    @property
    def viewers_with_coins(self) -> int:
        return len(self._active)

    def next_request(self) -> GiftRequested | None:
        """The next request, or None once no viewer believes they have coins left."""
        stream = self.rng.choices(self.streams, cum_weights=self._stream_weights)[0]
        if self.rng.random() < WRONG_SHARE:
            return self._wrong_request(stream)
        while self._active:
            index = self.rng.randrange(len(self._active))
            sender = self._active[index]
            budget = self._budget[sender]
            if budget >= self._gift_prices[0]:
                return self._request(sender, budget, stream)
            self._active[index] = self._active[-1]
            self._active.pop()
        return None

    def _request(self, sender: str, budget: int, stream: LiveStream) -> GiftRequested:
        if self.rng.random() < OVERSPEND_SHARE:
            # A tap beyond what is left: the wallet answers insufficient_funds.
            gift_id = self.rng.choice(("rose", "heart", "doughnut"))
            quantity = min(budget // PRICES[gift_id] + 1 + self.rng.randrange(5), 9999)
            self.kinds["overspend"] += 1
            return self.outside.gift_request(sender, stream.stream_id, gift_id, quantity)
        big = [gift_id for gift_id in BIG_GIFTS if PRICES[gift_id] <= budget]
        if big and self.rng.random() < BIG_GIFT_SHARE:
            gift_id, quantity = big[0], 1
            self.kinds["big gift"] += 1
        else:
            gift_id, quantity = self._everyday_gift(budget)
        self._budget[sender] = budget - PRICES[gift_id] * quantity
        return self.outside.gift_request(sender, stream.stream_id, gift_id, quantity)

    def _everyday_gift(self, budget: int) -> tuple[str, int]:
        affordable = sum(1 for price in self._gift_prices if price <= budget)
        gift_id = self.rng.choices(self._gifts[:affordable],
                                   cum_weights=self._gift_weights[:affordable])[0]
        unit = PRICES[gift_id]
        if unit > COMBO_MAX_UNIT_COINS:
            self.kinds["gift"] += 1
            return gift_id, 1
        quantity = min(self._combo_size(), budget // unit)
        self.kinds["combo" if quantity > 1 else "gift"] += 1
        return gift_id, quantity

    def _combo_size(self) -> int:
        roll = self.rng.random()
        if roll < 0.55:
            return 1
        if roll < 0.80:
            return self.rng.randint(2, 9)
        if roll < 0.95:
            return self.rng.randint(10, 49)
        return self.rng.randint(50, 99)

    def _wrong_request(self, stream: LiveStream) -> GiftRequested:
        sender = self.rng.choice(self._active) if self._active else stream.creator_id
        match self.rng.randrange(3):
            case 0:
                self.kinds["retired gift"] += 1
                return self.outside.gift_request(sender, stream.stream_id, RETIRED_GIFT, 1)
            case 1:
                self.kinds["unknown gift"] += 1
                return self.outside.gift_request(sender, stream.stream_id, UNKNOWN_GIFT, 1)
            case _:
                self.kinds["self gift"] += 1
                return self.outside.gift_request(stream.creator_id, stream.stream_id, "rose", 1)


TICK_S = 0.01


class RequestSource(Protocol):
    def next_request(self) -> GiftRequested | None: ...


async def drive(traffic: RequestSource, publisher: Publisher, *, rate: float, seconds: float,
                stop: asyncio.Event | None = None) -> int:
    """Publish requests at `rate` per second for `seconds`, in small bursts every tick (what is
    due since the last one). Stops early once no viewer has coins left, or when `stop` is set.
    Returns how many."""
    started = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - started) < seconds:
        if stop is not None and stop.is_set():
            return sent
        for _ in range(int(elapsed * rate) - sent):
            request = traffic.next_request()
            if request is None:
                return sent
            await publisher.publish(request)
            sent += 1
        await asyncio.sleep(TICK_S)
    return sent
