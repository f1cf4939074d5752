"""A large, consistent economy log on Kafka, decided in-process by the services' pure domains.

    python -m bench.log_generator [--events 1000000] [--prefix bench.<id>.] [--keep]

No service runs: `tests/unit/economy_model.Economy` routes every input through the same pure
decisions the handlers make (gifting decide_gift / decide_outcome, wallet decide + fold, payout
decide + evolve) with every queue drained after each input, so every decision sees its cause
first. Every external input and every decision is published to its topic (prefix + registry
name, key = event.key, aiokafka's default partitioner) in the order it was made, so each
partition holds its entities' events in decision order, as the relay would have appended them.

What the log holds (defaults; figures follow ops/simulation and ops/demo):

1. the default policy and the gift catalog (ops.seed), the retired disco ball;
2. 500 creators (age and creator verification), 50 000 viewers: age verified (97 % adults),
   one to three coin packs (whales two of the biggest), a third a week of promo coins;
3. gift traffic over ~60 concurrent live streams that end and restart all the time (so every
   creator streams, and no creator's state grows large): cheap gifts in combos, now and then a
   big gift, 1 % taps beyond the budget, 0.4 % wrong on purpose (retired / unknown gift, a
   creator gifting their own stream); viewers who run out of coins buy another pack now and
   then; half-way 0.5 % of the purchases are refunded and 0.2 % charged back (clawbacks,
   frozen wallets, creators' diamonds clawed back);
4. 16 days later: 5 % of the viewers buy a small pack (expiring their promo coins), every
   creator with enough withdrawable diamonds asks for a payout, two days later the provider
   pays nine in ten and fails the rest.

Event times come from a simulated clock (a few ms to a few hundred ms apart); record
timestamps are the producer's wall clock.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rich.console import Console

from ops.seed import seed_events
from ops.simulation.outside import RETIRED_GIFT, Outside, retired_gift_events
from ops.simulation.payouts import payout_size, provider_answers
from ops.simulation.people import (
    ADULT_SHARE,
    PACKAGE_WEIGHTS,
    PACKAGES,
    PROMO_CAMPAIGN,
    PROMO_COINS,
    PROMO_LIFETIME,
    PROMO_SHARE,
    WHALE_PACKAGES,
    WHALE_SHARE,
)
from ops.simulation.traffic import (
    BIG_GIFT_SHARE,
    BIG_GIFTS,
    COMBO_MAX_UNIT_COINS,
    GIFT_WEIGHTS,
    OVERSPEND_SHARE,
    PRICES,
    UNKNOWN_GIFT,
    WRONG_SHARE,
)
from shared import kafka_client
from shared.contract.codec import encode
from shared.contract.envelope import Event
from shared.contract.topics import ALL_TOPICS, topic_of
from shared.runtime.kafka_admin import ensure_topics
from tests.unit.economy_model import Economy

console = Console(stderr=True, soft_wrap=True)

START_AT = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
"""After the seeded policy and catalog (2026-01-01)."""
REFUND_SHARE = 0.005
CHARGEBACK_SHARE = 0.002
RETURNING_SHARE = 0.05
REBUY_SHARE = 0.3
"""Chance that a viewer picked to gift who has no coins left buys another pack."""
CASH_OUT_AFTER = timedelta(days=16)
PROVIDER_DELAY = timedelta(days=2)
FLUSH_EVERY = 20_000
"""Events decided before they are handed to the producer in one go."""


class StepClock:
    """Event time: starts at START_AT, moves only when told (deterministic, fast)."""

    def __init__(self, start: datetime = START_AT):
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


class StreamingEconomy(Economy):
    """The economy model without its per-delivery records (1M deliveries would hold every
    wallet and creator state ever): inputs and outputs go to one list, in emission order."""

    def __init__(self) -> None:
        super().__init__(lagging=False)
        self.emitted: list[Event] = []
        self.inputs = self.log = self.emitted

    def deliver(self, consumer: str, event: Event) -> list[Event]:
        delivery = self._receive(consumer, event)
        for output in delivery.outputs:
            self._emit(output)
        return delivery.outputs

    def deliver_next(self, consumer: str, key: str) -> None:
        # Drop emptied queues: Economy.pending() sorts every queue's key on each drain.
        queues = self.queues[consumer]
        queue = queues[key]
        event = queue.popleft()
        if not queue:
            del queues[key]
        self.deliver(consumer, event)

    def take(self) -> list[Event]:
        taken = list(self.emitted)
        self.emitted.clear()
        return taken


@dataclass
class Stats:
    events: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    decide_s: float = 0.0
    publish_s: float = 0.0
    total_s: float = 0.0


Sink = Callable[[list[Event]], Awaitable[None]]


class Generator:
    def __init__(self, *, viewers: int, creators: int, live: int, seed: int, run_id: str):
        self.rng = random.Random(seed)
        self.clock = StepClock()
        self.outside = Outside(run_id, self.clock)  # type: ignore[arg-type]  # StepClock has the same methods
        self.economy = StreamingEconomy()
        self.n_viewers = viewers
        self.n_creators = creators
        self.n_live = max(1, min(live, creators // 2))
        self.budget: dict[str, int] = {}
        self.viewer_ids: list[str] = []
        self.creator_ids: list[str] = []
        self.purchases: list = []
        self.live: list = []
        self.stats = Stats()
        self._gifts = sorted(GIFT_WEIGHTS, key=lambda gift_id: PRICES[gift_id])
        self._gift_prices = [PRICES[g] for g in self._gifts]
        self._gift_weights = list(itertools.accumulate(GIFT_WEIGHTS[g] for g in self._gifts))
        self._stream_weights = list(itertools.accumulate(
            1 / rank ** 0.5 for rank in range(1, self.n_live + 1)))
        self._packages = list(PACKAGE_WEIGHTS)
        self._package_weights = list(PACKAGE_WEIGHTS.values())

    # -- building blocks ------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        self.economy.publish(event)

    def tick(self, low_ms: int = 2, high_ms: int = 120) -> None:
        self.clock.advance(timedelta(milliseconds=self.rng.randint(low_ms, high_ms)))

    def buy(self, user_id: str, package_id: str) -> None:
        package = PACKAGES[package_id]
        purchase = self.outside.purchase(user_id, package.package_id, package.platform,
                                         package.coins, package.amount_minor)
        self.purchases.append(purchase)
        self.budget[user_id] = self.budget.get(user_id, 0) + package.coins
        self.publish(purchase)

    def start_stream(self, exclude: set[str]) -> None:
        while True:
            creator_id = self.rng.choice(self.creator_ids)
            if creator_id not in exclude:
                break
        started = self.outside.stream_started(creator_id)
        self.publish(started)
        self.live.append(started)

    # -- phases ---------------------------------------------------------------------------

    def setup(self) -> None:
        self.economy.emitted.extend(seed_events())  # the economy starts from these already
        for event in retired_gift_events():
            self.publish(event)
        for _ in range(self.n_creators):
            creator_id = self.outside.new_id("creator")
            self.creator_ids.append(creator_id)
            self.publish(self.outside.age_verified(creator_id, adult=True))
            self.publish(self.outside.creator_verified(creator_id))
            self.tick(1, 5)

    def viewer(self) -> None:
        user_id = self.outside.new_id("viewer")
        self.viewer_ids.append(user_id)
        self.budget[user_id] = 0
        self.publish(self.outside.age_verified(user_id, self.rng.random() < ADULT_SHARE))
        if self.rng.random() < WHALE_SHARE:
            chosen = self.rng.choices(WHALE_PACKAGES, k=2) + self._pick_packages(
                self.rng.randint(0, 1))
        else:
            chosen = self._pick_packages(self.rng.randint(1, 3))
        for package_id in chosen:
            self.buy(user_id, package_id)
        if self.rng.random() < PROMO_SHARE:
            coins = self.rng.choice(PROMO_COINS)
            self.budget[user_id] += coins
            self.publish(self.outside.promo(user_id, coins, PROMO_LIFETIME, PROMO_CAMPAIGN))
        self.tick(1, 10)

    def _pick_packages(self, count: int) -> list[str]:
        return self.rng.choices(self._packages, weights=self._package_weights, k=count)

    def open_streams(self) -> None:
        for _ in range(self.n_live):
            self.start_stream({s.creator_id for s in self.live})

    def rotate_stream(self) -> None:
        """One live stream ends, another creator goes live."""
        index = self.rng.randrange(len(self.live))
        ended = self.live.pop(index)
        self.publish(self.outside.stream_ended(ended))
        self.start_stream({s.creator_id for s in self.live} | {ended.creator_id})

    def gift(self) -> None:
        rng = self.rng
        stream = self.live[rng.choices(range(self.n_live), cum_weights=self._stream_weights)[0]]
        self.tick()
        if rng.random() < WRONG_SHARE:
            self._wrong(stream)
            return
        sender = rng.choice(self.viewer_ids)
        budget = self.budget[sender]
        if budget < self._gift_prices[0]:
            if rng.random() < REBUY_SHARE:
                self.buy(sender, self._pick_packages(1)[0])
                self.stats.kinds["rebuy"] += 1
            return
        if rng.random() < OVERSPEND_SHARE:
            gift_id = rng.choice(("rose", "heart", "doughnut"))
            quantity = min(budget // PRICES[gift_id] + 1 + rng.randrange(5), 9999)
            self.stats.kinds["overspend"] += 1
        else:
            big = [g for g in BIG_GIFTS if PRICES[g] <= budget]
            if big and rng.random() < BIG_GIFT_SHARE:
                gift_id, quantity = big[0], 1
                self.stats.kinds["big gift"] += 1
            else:
                gift_id, quantity = self._everyday(budget)
            self.budget[sender] = budget - PRICES[gift_id] * quantity
        self.publish(self.outside.gift_request(sender, stream.stream_id, gift_id, quantity))

    def _everyday(self, budget: int) -> tuple[str, int]:
        affordable = sum(1 for price in self._gift_prices if price <= budget)
        gift_id = self.rng.choices(self._gifts[:affordable],
                                   cum_weights=self._gift_weights[:affordable])[0]
        unit = PRICES[gift_id]
        if unit > COMBO_MAX_UNIT_COINS:
            self.stats.kinds["gift"] += 1
            return gift_id, 1
        roll = self.rng.random()
        size = (1 if roll < 0.55 else self.rng.randint(2, 9) if roll < 0.80
                else self.rng.randint(10, 49) if roll < 0.95 else self.rng.randint(50, 99))
        quantity = min(size, budget // unit)
        self.stats.kinds["combo" if quantity > 1 else "gift"] += 1
        return gift_id, quantity

    def _wrong(self, stream) -> None:
        sender = self.rng.choice(self.viewer_ids)
        match self.rng.randrange(3):
            case 0:
                self.stats.kinds["retired gift"] += 1
                request = self.outside.gift_request(sender, stream.stream_id, RETIRED_GIFT, 1)
            case 1:
                self.stats.kinds["unknown gift"] += 1
                request = self.outside.gift_request(sender, stream.stream_id, UNKNOWN_GIFT, 1)
            case _:
                self.stats.kinds["self gift"] += 1
                request = self.outside.gift_request(stream.creator_id, stream.stream_id,
                                                    "rose", 1)
        self.publish(request)

    def claw_back(self) -> None:
        purchases = self.purchases
        refunds = max(1, round(len(purchases) * REFUND_SHARE))
        chargebacks = max(1, round(len(purchases) * CHARGEBACK_SHARE))
        chosen = self.rng.sample(purchases, min(len(purchases), refunds + chargebacks))
        for purchase in chosen[:refunds]:
            self.publish(self.outside.refund(purchase))
            self.tick(1, 5)
        for purchase in chosen[refunds:]:
            self.publish(self.outside.chargeback(purchase))
            self.tick(1, 5)
        self.stats.kinds["refund"] += min(refunds, len(chosen))
        self.stats.kinds["chargeback"] += len(chosen[refunds:])

    def end_streams(self) -> None:
        for stream in self.live:
            self.publish(self.outside.stream_ended(stream))
        self.live = []

    def returning(self) -> None:
        self.clock.advance(CASH_OUT_AFTER)
        small = ("coins-65", "coins-70")
        for user_id in self.rng.sample(self.viewer_ids,
                                       round(len(self.viewer_ids) * RETURNING_SHARE)):
            self.buy(user_id, self.rng.choice(small))
            self.tick(1, 20)

    def cash_out(self) -> None:
        now = self.clock.now()
        requests = []
        for creator_id in self.creator_ids:
            creator = self.economy.creators.get(creator_id)
            size = payout_size(creator.withdrawable(now)) if creator else None
            if size is not None:
                request = self.outside.payout_request(creator_id, size)
                requests.append(request)
                self.publish(request)
        reserved = [r for r in requests
                    if r.payout_id in self.economy.creators[r.creator_id].reservations]
        self.clock.advance(PROVIDER_DELAY)
        for answer in provider_answers(self.outside, reserved, self.rng):
            self.publish(answer)
        self.stats.kinds["payout requested"] += len(requests)
        self.stats.kinds["payout reserved"] += len(reserved)


TAIL_ESTIMATE_PER_VIEWER = RETURNING_SHARE * 2.2
TAIL_ESTIMATE_PER_CREATOR = 4


async def generate(target: int, sink: Sink, *, viewers: int = 50_000, creators: int = 500,
                   live: int = 60, rotate_every: int = 400, seed: int = 1,
                   run_id: str | None = None, progress: bool = True) -> Stats:
    """Decide at least `target` events and hand them to `sink` in chunks, in decision order."""
    run_id = run_id or uuid.uuid4().hex[:8]
    gen = Generator(viewers=viewers, creators=creators, live=live, seed=seed, run_id=run_id)
    stats = gen.stats
    started = time.perf_counter()
    last_report = started

    async def flush(force: bool = False) -> None:
        nonlocal last_report
        if not force and len(gen.economy.emitted) < FLUSH_EVERY:
            return
        events = gen.economy.take()
        stats.events += len(events)
        stats.by_type.update(event.type for event in events)
        before = time.perf_counter()
        await sink(events)
        stats.publish_s += time.perf_counter() - before
        if progress and time.perf_counter() - last_report > 5:
            last_report = time.perf_counter()
            elapsed = last_report - started
            console.print(f"  generated {stats.events:,} of {target:,} events in {elapsed:.0f}s "
                          f"({stats.events / elapsed:,.0f}/s)", highlight=False)

    gen.setup()
    await flush()
    for _ in range(viewers):
        gen.viewer()
        await flush()
    gen.open_streams()
    tail = int(viewers * TAIL_ESTIMATE_PER_VIEWER + creators * TAIL_ESTIMATE_PER_CREATOR)
    gifting_target = max(0, target - tail)
    clawed = False
    requests = 0
    while stats.events + len(gen.economy.emitted) < gifting_target:
        gen.gift()
        requests += 1
        if requests % rotate_every == 0:
            gen.rotate_stream()
        if not clawed and stats.events + len(gen.economy.emitted) > (gifting_target * 2) // 3:
            gen.claw_back()
            clawed = True
        await flush()
    if not clawed:
        gen.claw_back()
    gen.end_streams()
    gen.returning()
    gen.cash_out()
    await flush(force=True)
    while stats.events < target:  # the tail was smaller than estimated: top up with purchases
        gen.buy(gen.rng.choice(gen.viewer_ids), "coins-65")
        gen.tick(1, 20)
        if len(gen.economy.emitted) >= target - stats.events:
            await flush(force=True)
    stats.total_s = time.perf_counter() - started
    stats.decide_s = stats.total_s - stats.publish_s
    stats.kinds["gift requests"] = stats.by_type["streams.gift_requested"]
    return stats


# ---------------------------------------------------------------------------- Kafka

class KafkaSink:
    """Publishes events to prefix + topic with one fast producer (acks=1, large batches)."""

    def __init__(self, bootstrap: str, prefix: str):
        self.prefix = prefix
        self.producer = kafka_client.producer(bootstrap_servers=bootstrap, acks=1, linger_ms=20,
                                              max_batch_size=1024 * 1024,
                                              max_request_size=8 * 1024 * 1024)
        self._topics: dict[type, str] = {}
        self.bytes = 0

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    def _topic(self, event: Event) -> str:
        kind = type(event)
        name = self._topics.get(kind)
        if name is None:
            name = self._topics[kind] = self.prefix + topic_of(event).name
        return name

    async def __call__(self, events: list[Event]) -> None:
        send = self.producer.send
        pending = []
        for event in events:
            value = encode(event)
            self.bytes += len(value)
            pending.append(await send(self._topic(event), value, key=event.key.encode()))
        await asyncio.gather(*pending)


async def create_topics(bootstrap: str, prefix: str) -> list[str]:
    await ensure_topics(bootstrap, ALL_TOPICS, prefix=prefix)
    return [prefix + topic.name for topic in ALL_TOPICS]


async def delete_topics(bootstrap: str, prefix: str) -> None:
    admin = kafka_client.admin(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        names = [prefix + topic.name for topic in ALL_TOPICS if prefix + topic.name in existing]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


async def generate_to_kafka(bootstrap: str, prefix: str, target: int, **options) -> Stats:
    await create_topics(bootstrap, prefix)
    sink = KafkaSink(bootstrap, prefix)
    await sink.start()
    try:
        return await generate(target, sink, **options)
    finally:
        await sink.stop()


async def _main(args: argparse.Namespace) -> int:
    from shared.settings import Settings

    bootstrap = Settings().kafka_bootstrap_servers
    prefix = args.prefix or f"bench.{uuid.uuid4().hex[:8]}."
    console.print(f"generating >= {args.events:,} events under {prefix}")
    try:
        stats = await generate_to_kafka(bootstrap, prefix, args.events, viewers=args.viewers,
                                        creators=args.creators, live=args.live, seed=args.seed)
    except BaseException:
        if not args.keep:
            await delete_topics(bootstrap, prefix)
        raise
    console.print(f"{stats.events:,} events in {stats.total_s:.1f}s "
                  f"(deciding {stats.decide_s:.1f}s, publishing {stats.publish_s:.1f}s)")
    for kind, n in stats.by_type.most_common():
        console.print(f"  {n:>9,}  {kind}", highlight=False)
    console.print(", ".join(f"{n:,} {k}" for k, n in stats.kinds.most_common()))
    if args.keep:
        console.print(f"kept: reuse with --reuse {prefix}")
    else:
        await delete_topics(bootstrap, prefix)
        console.print("topics deleted (--keep to keep them)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.log_generator",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--prefix", default=None, help="default: bench.<random id>.")
    parser.add_argument("--viewers", type=int, default=50_000)
    parser.add_argument("--creators", type=int, default=500)
    parser.add_argument("--live", type=int, default=60, help="concurrent live streams")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the topics")
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
