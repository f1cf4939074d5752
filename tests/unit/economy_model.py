"""The whole economy in memory: the three services' pure decisions, routed as their handlers
route them, with the broker replaced by per-partition FIFO queues.

    gifting   streams, catalog, campaigns;
              GiftRequested -> decide_gift -> GiftPriced | GiftRejected;
              CoinsSpent | SpendRejected -> decide_outcome -> GiftSent | GiftFailed
    wallet    wallet.decide(wallet, input, spending policy) -> wallet events, folded with fold()
    payout    payout.decide(creator, input, PolicyInEffect) for each creator in creators_of(input)
              (creators_funded(...) for a CoinsClawedBack), each output folded with evolve()

External inputs (payments, promotions, users, streams, catalog, policy, creator app, provider)
are delivered to their consumer at once. Events one service emits for another travel through a
queue per (consumer, partition key), so they arrive in their partition's order but may lag
behind other topics: GiftPriced to the wallet (key: sender), CoinsSpent | SpendRejected to
gifting and CoinsSpent | CoinsClawedBack to payout (key: the wallet's user). With
`lagging=False` every queue is drained after each input, which is the synchronous case.

Nothing here asserts an invariant; the property test reads `log` and `deliveries`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from services.gifting.domain import (
    Catalog,
    Stream,
    build_catalog,
    decide_gift,
    decide_outcome,
    evolve_catalog,
    evolve_stream,
)
from services.gifting.handlers import (
    CAMPAIGN_CHANGES,
    GIFT_CHANGES,
    STREAM_CHANGES,
    WALLET_ANSWERS,
)
from services.gifting.seed_catalog import seed_catalog
from services.payout import domain as payout
from services.payout.handlers import creators_of
from services.wallet import domain as wallet_domain
from services.wallet.handlers import WALLET_INPUTS
from shared.contract.defaults import default_policy
from shared.contract.envelope import Event
from shared.contract.events.creators import PayoutFailed, PayoutRequested, PayoutSucceeded
from shared.contract.events.gifting import GiftPriced
from shared.contract.events.policy import PolicyEvent, SpendingPolicySet
from shared.contract.events.streams import GiftRequested
from shared.contract.events.users import CreatorVerified
from shared.contract.events.wallet import CoinsClawedBack, CoinsSpent

GIFTING, WALLET, PAYOUT = "gifting", "wallet", "payout"
CONSUMERS = (GIFTING, WALLET, PAYOUT)


def default_payout_policy() -> payout.PolicyInEffect:
    """As services/payout/store.load_policy builds it before any policy row."""
    policy = payout.PolicyInEffect()
    for event in default_policy():
        policy = policy.apply(event)
    return policy


def default_spending_policy() -> wallet_domain.SpendingPolicy | None:
    """As the wallet handler holds it once the default SpendingPolicySet was consumed."""
    found = [event for event in default_policy() if isinstance(event, SpendingPolicySet)]
    return wallet_domain.SpendingPolicy.from_event(found[-1]) if found else None


@dataclass
class Delivery:
    """One input decided by one consumer: what it saw and what it emitted."""

    consumer: str
    event: Event
    outputs: list[Event]
    before: Any = None
    """wallet: the Wallet before the input; payout: {creator_id: Creator before}."""
    policy: Any = None
    """The policy passed to decide (SpendingPolicy | None, or PolicyInEffect)."""


@dataclass
class Economy:
    lagging: bool = False
    spending_policy: wallet_domain.SpendingPolicy | None = field(
        default_factory=default_spending_policy)
    payout_policy: payout.PolicyInEffect = field(default_factory=default_payout_policy)
    catalog: Catalog = field(default_factory=lambda: build_catalog(seed_catalog()))
    streams: dict[str, Stream] = field(default_factory=dict)
    known_requests: set[str] = field(default_factory=set)
    priced: dict[str, GiftPriced] = field(default_factory=dict)
    """Gifting's GiftPriced awaiting the wallet's answer."""
    wallets: dict[str, wallet_domain.Wallet] = field(default_factory=dict)
    creators: dict[str, payout.Creator] = field(default_factory=dict)
    log: list[Event] = field(default_factory=list)
    """Every event the three services emitted, in emission order."""
    inputs: list[Event] = field(default_factory=list)
    """Every external input published, in order."""
    deliveries: list[Delivery] = field(default_factory=list)
    delivered: set[tuple[str, Any]] = field(default_factory=set)
    """(consumer, event_id) of every event a consumer has processed."""
    queues: dict[str, dict[str, deque[Event]]] = field(
        default_factory=lambda: {consumer: {} for consumer in CONSUMERS})

    # -- publishing and delivering ---------------------------------------------------------

    def publish(self, event: Event) -> None:
        """An external producer publishes `event`; its consumers take it at once."""
        self.inputs.append(event)
        for consumer in consumers_of_input(event):
            self.deliver(consumer, event)
        if not self.lagging:
            self.drain()

    def deliver(self, consumer: str, event: Event) -> list[Event]:
        delivery = self._receive(consumer, event)
        self.deliveries.append(delivery)
        self.delivered.add((consumer, event.event_id))
        for output in delivery.outputs:
            self._emit(output)
        return delivery.outputs

    def pending(self) -> list[tuple[str, str]]:
        return [(consumer, key) for consumer in CONSUMERS
                for key, queue in sorted(self.queues[consumer].items()) if queue]

    def deliver_next(self, consumer: str, key: str) -> None:
        queue = self.queues[consumer][key]
        self.deliver(consumer, queue.popleft())

    def drain(self) -> None:
        while pending := self.pending():
            for consumer, key in pending:
                self.deliver_next(consumer, key)

    def is_pending(self, consumer: str, event: Event) -> bool:
        return (consumer, event.event_id) not in self.delivered

    def redeliver(self, consumer: str, event: Event) -> list[Event]:
        """Decide `event` again as `consumer` (bypassing the runtime's inbox); returns the
        outputs, which are NOT emitted. The caller compares state() before and after."""
        return self._receive(consumer, event).outputs

    def state(self) -> tuple:
        return (dict(self.wallets), dict(self.creators), dict(self.streams), self.catalog,
                frozenset(self.known_requests), dict(self.priced), self.spending_policy,
                self.payout_policy)

    # -- the handlers' routing -------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        self.log.append(event)
        targets = []
        if isinstance(event, GiftPriced):
            targets.append(WALLET)
        if isinstance(event, WALLET_ANSWERS):
            targets.append(GIFTING)
        if isinstance(event, CoinsSpent | CoinsClawedBack):
            targets.append(PAYOUT)
        for consumer in targets:
            self.queues[consumer].setdefault(event.key, deque()).append(event)

    def _receive(self, consumer: str, event: Event) -> Delivery:
        if consumer == GIFTING:
            return self._gifting(event)
        if consumer == WALLET:
            return self._wallet(event)
        return self._payout(event)

    def _gifting(self, event: Event) -> Delivery:
        """services/gifting/handlers.handle, one inbound at a time."""
        outputs: list[Event] = []
        if isinstance(event, STREAM_CHANGES):
            self.streams[event.stream_id] = evolve_stream(self.streams.get(event.stream_id),
                                                          event)
        elif isinstance(event, (*GIFT_CHANGES, *CAMPAIGN_CHANGES)):
            self.catalog = evolve_catalog(self.catalog, event)
        elif isinstance(event, GiftRequested):
            if event.request_id not in self.known_requests:
                self.known_requests.add(event.request_id)
                outcome = decide_gift(event, self.streams.get(event.stream_id),
                                      self.catalog.gifts.get(event.gift_id),
                                      self.catalog.campaigns.values())
                if isinstance(outcome, GiftPriced):
                    self.priced[event.request_id] = outcome
                outputs.append(outcome)
        elif isinstance(event, WALLET_ANSWERS):
            priced = self.priced.pop(event.request_id, None)
            if priced is not None:
                outputs.append(decide_outcome(priced, event))
        return Delivery(GIFTING, event, outputs)

    def _wallet(self, event: Event) -> Delivery:
        """services/wallet/handlers.handle, one inbound at a time."""
        if isinstance(event, SpendingPolicySet):
            self.spending_policy = wallet_domain.SpendingPolicy.from_event(event)
            return Delivery(WALLET, event, [])
        if not isinstance(event, WALLET_INPUTS):
            return Delivery(WALLET, event, [])
        wallet = self.wallets.get(event.key) or wallet_domain.Wallet(user_id=event.key)
        decided = wallet_domain.decide(wallet, event, self.spending_policy)
        if decided:
            self.wallets[event.key] = wallet_domain.fold(wallet, decided)
        return Delivery(WALLET, event, list(decided), before=wallet,
                        policy=self.spending_policy)

    def _payout(self, event: Event) -> Delivery:
        """services/payout/handlers.handle, one inbound at a time."""
        if isinstance(event, PolicyEvent):
            self.payout_policy = self.payout_policy.apply(event)
            return Delivery(PAYOUT, event, [])
        before: dict[str, payout.Creator] = {}
        policy = self.payout_policy
        outputs: list[Event] = []
        for creator_id in creators_of(event):
            creator = self.creators.get(creator_id) or payout.Creator(creator_id)
            before[creator_id] = creator
            decided = payout.decide(creator, event, policy)
            for output in decided:
                creator = payout.evolve(creator, output)
            if decided:
                self.creators[creator_id] = creator
                outputs.extend(decided)
        return Delivery(PAYOUT, event, outputs, before=before, policy=policy)


def consumers_of_input(event: Event) -> list[str]:
    """Which services consume an external input's topic and act on it."""
    if isinstance(event, (*STREAM_CHANGES, *GIFT_CHANGES, *CAMPAIGN_CHANGES, GiftRequested)):
        return [GIFTING]
    if isinstance(event, SpendingPolicySet):
        return [WALLET]
    if isinstance(event, PolicyEvent):
        return [PAYOUT]
    if isinstance(event, WALLET_INPUTS):
        return [WALLET]
    if isinstance(event, CreatorVerified | PayoutRequested | PayoutSucceeded | PayoutFailed):
        return [PAYOUT]
    raise TypeError(f"no consumer for {type(event).__name__}")


__all__ = ["CONSUMERS", "GIFTING", "PAYOUT", "WALLET", "Delivery", "Economy",
           "consumers_of_input", "default_payout_policy", "default_spending_policy"]
