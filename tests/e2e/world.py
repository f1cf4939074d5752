"""The systems around coinlog, as a test drives them: they publish facts and requests."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer

from shared.contract.codec import encode
from shared.contract.defaults import COIN_PACKAGES
from shared.contract.envelope import Event
from shared.contract.events import creators, payments, policy, promotions, streams, users
from shared.contract.topics import topic_of

START = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
PACKAGES = {coins: (package_id, platform, amount)
            for package_id, platform, coins, amount in COIN_PACKAGES}
"""The default price list by coins (each pack has a coin count of its own)."""
E2E_RATE_VERSION = "packs-e2e"
E2E_COINS = (300, 500, 1000, 10 * 30, 100 * 30)
"""Coin counts the tests buy that no default pack holds (30 is a doughnut's price): priced
under E2E_RATE_VERSION by e2e_price_list(), which the session publishes before any test."""


def e2e_price_list() -> list[policy.CoinPackagePriced]:
    """The test packs, with ids derived from their figures: publishing them again changes
    nothing."""
    return [policy.CoinPackagePriced(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"coinlog-e2e/{E2E_RATE_VERSION}/{coins}"),
        occurred_at=START, rate_version=E2E_RATE_VERSION, package_id=f"coins-{coins}",
        platform="app_ios", region="US", coins=coins, amount_minor=coins * 3 // 2,
        currency="USD") for coins in sorted(set(E2E_COINS))]


class World:
    """Builds valid external events with unique ids and a clock the test moves by hand."""

    def __init__(self, producer: AIOKafkaProducer, run_id: str, topic_prefix: str = ""):
        self.producer = producer
        self.topic_prefix = topic_prefix
        self.run_id = run_id
        self.now = START
        self._counter = itertools.count(1)

    def id(self, kind: str) -> str:
        return f"{kind}-{self.run_id}-{next(self._counter)}"

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def _envelope(self) -> dict:
        return {"event_id": uuid.uuid4(), "occurred_at": self.now}

    async def publish(self, *events: Event) -> None:
        deliveries = [await self.producer.send(self.topic_prefix + topic_of(event).name,
                                               encode(event),
                                               key=event.key.encode()) for event in events]
        for delivery in deliveries:
            await delivery

    def adult(self, user_id: str, adult: bool = True) -> users.AgeVerified:
        return users.AgeVerified(**self._envelope(), user_id=user_id, adult=adult)

    def verified_creator(self, creator_id: str, verified: bool = True
                         ) -> users.CreatorVerified:
        return users.CreatorVerified(**self._envelope(), user_id=creator_id, verified=verified)

    def limit(self, user_id: str, coins: int | None,
              period: users.LimitPeriod = users.LimitPeriod.daily,
              set_by: users.LimitSetter = users.LimitSetter.user) -> users.SpendingLimitSet:
        return users.SpendingLimitSet(**self._envelope(), user_id=user_id, period=period,
                                      set_by=set_by, coins=coins)

    def purchase(self, user_id: str, coins: int, purchase_id: str | None = None
                 ) -> payments.PurchaseCompleted:
        """A pack of `coins` at its listed price: a default pack's, or a test pack's."""
        if coins in PACKAGES:
            package_id, platform, amount = PACKAGES[coins]
            rate_version = "packs-2026-01"
        elif coins in E2E_COINS:
            package_id, platform, amount = f"coins-{coins}", "app_ios", coins * 3 // 2
            rate_version = E2E_RATE_VERSION
        else:
            raise ValueError(f"no pack holds {coins} coins: add it to E2E_COINS")
        return payments.PurchaseCompleted(
            **self._envelope(), user_id=user_id, purchase_id=purchase_id or self.id("pur"),
            coins=coins, amount_minor=amount, currency="USD",
            platform=payments.Platform(platform), region="US", package_id=package_id,
            rate_version=rate_version)

    def refund(self, purchase: payments.PurchaseCompleted) -> payments.PurchaseRefunded:
        return payments.PurchaseRefunded(
            **self._envelope(), user_id=purchase.user_id, purchase_id=purchase.purchase_id,
            amount_minor=purchase.amount_minor, currency=purchase.currency, reason="requested")

    def chargeback(self, purchase: payments.PurchaseCompleted) -> payments.PurchaseChargedBack:
        return payments.PurchaseChargedBack(
            **self._envelope(), user_id=purchase.user_id, purchase_id=purchase.purchase_id,
            amount_minor=purchase.amount_minor, currency=purchase.currency, reason="fraud")

    def promo(self, user_id: str, coins: int, expires_in: timedelta
              ) -> promotions.PromoCoinsGranted:
        return promotions.PromoCoinsGranted(
            **self._envelope(), user_id=user_id, grant_id=self.id("grant"), campaign_id="welcome",
            coins=coins, expires_at=self.now + expires_in)

    def stream_started(self, creator_id: str) -> streams.StreamStarted:
        return streams.StreamStarted(**self._envelope(), stream_id=self.id("stream"),
                                     creator_id=creator_id)

    def stream_ended(self, stream: streams.StreamStarted) -> streams.StreamEnded:
        return streams.StreamEnded(**self._envelope(), stream_id=stream.stream_id,
                                   creator_id=stream.creator_id)

    def gift(self, sender_id: str, stream: streams.StreamStarted, gift_id: str,
             quantity: int = 1) -> streams.GiftRequested:
        return streams.GiftRequested(**self._envelope(), request_id=self.id("req"),
                                     stream_id=stream.stream_id, sender_id=sender_id,
                                     gift_id=gift_id, quantity=quantity)

    def payout_request(self, creator_id: str, diamonds: int) -> creators.PayoutRequested:
        return creators.PayoutRequested(**self._envelope(), creator_id=creator_id,
                                        payout_id=self.id("payout"), diamonds=diamonds,
                                        currency="USD", method="bank")

    def payout_succeeded(self, request: creators.PayoutRequested) -> creators.PayoutSucceeded:
        return creators.PayoutSucceeded(**self._envelope(), creator_id=request.creator_id,
                                        payout_id=request.payout_id,
                                        provider_reference=self.id("prov"))

    def payout_failed(self, request: creators.PayoutRequested) -> creators.PayoutFailed:
        return creators.PayoutFailed(**self._envelope(), creator_id=request.creator_id,
                                     payout_id=request.payout_id, reason="account closed")
