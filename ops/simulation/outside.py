"""Events of the systems around coinlog (payments, users, promotions, live streams, the creator
app, the payout provider, catalog operations), built the way those systems would publish them.

Ids are unique per run (`<kind>-<run id>-<n>`), so a demo run never collides with an earlier
one in the same log; event times come from the simulated clock.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta

from ops.simulation.clock import SimulatedClock
from services.gifting.seed_catalog import SEED_AT
from shared.contract.envelope import EVENT_NAMESPACE
from shared.contract.events import catalog, creators, payments, promotions, streams, users

PAYOUT_CURRENCY = "USD"

RETIRED_GIFT = "disco-ball"
"""A gift that was on sale once and is retired now, so the demo can show a request for it being
refused. Its events have fixed ids and times: publishing them on every run changes nothing."""


def retired_gift_events() -> list[catalog.GiftListed | catalog.GiftRetired]:
    def event_id(step: str) -> uuid.UUID:
        return uuid.uuid5(EVENT_NAMESPACE, f"coinlog.demo.catalog/{RETIRED_GIFT}/{step}")

    return [
        catalog.GiftListed(event_id=event_id("listed"), occurred_at=SEED_AT,
                           gift_id=RETIRED_GIFT, catalog_version=1, name="Disco Ball",
                           coins=450),
        catalog.GiftRetired(event_id=event_id("retired"), occurred_at=SEED_AT,
                            gift_id=RETIRED_GIFT, catalog_version=2),
    ]


MISPRICED_BASE = {"package_id": "coins-17500", "platform": payments.Platform.web,
                  "coins": 17500, "amount_minor": 18500, "rate_version": "packs-2026-01"}
"""The web's largest pack at its listed price (shared/contract/defaults.py)..."""
MISPRICED: dict[str, dict] = {
    "17,500 coins for a cent at an unknown price list": {"amount_minor": 1,
                                                         "rate_version": "packs-made-up"},
    "a cent instead of 185 USD": {"amount_minor": 1},
    "more coins than the pack holds": {"coins": 175000},
}
"""... changed in each way the demo publishes (and the wallet refuses)."""


class Outside:
    """Builds the external events of one run, stamped by `clock`."""

    def __init__(self, run_id: str, clock: SimulatedClock):
        self.run_id = run_id
        self.clock = clock
        self._counters: dict[str, itertools.count] = {}

    def new_id(self, kind: str) -> str:
        counter = self._counters.setdefault(kind, itertools.count(1))
        return f"{kind}-{self.run_id}-{next(counter)}"

    def _envelope(self, at: datetime | None = None) -> dict:
        return {"event_id": uuid.uuid4(), "occurred_at": at or self.clock.now()}

    # The user service.
    def age_verified(self, user_id: str, adult: bool) -> users.AgeVerified:
        return users.AgeVerified(**self._envelope(), user_id=user_id, adult=adult)

    def creator_verified(self, creator_id: str) -> users.CreatorVerified:
        return users.CreatorVerified(**self._envelope(), user_id=creator_id, verified=True)

    # The payments service.
    def purchase(self, user_id: str, package_id: str, platform: str, coins: int,
                 amount_minor: int) -> payments.PurchaseCompleted:
        return payments.PurchaseCompleted(
            **self._envelope(), user_id=user_id, purchase_id=self.new_id("purchase"),
            coins=coins, amount_minor=amount_minor, currency="USD",
            platform=payments.Platform(platform), region="US", package_id=package_id,
            rate_version="packs-2026-01")

    def purchase_off_the_list(self, user_id: str, how: str) -> payments.PurchaseCompleted:
        """A purchase the wallet must refuse (MISPRICED names the ways): the bad input a
        payments integration might send."""
        figures = {**MISPRICED_BASE, **MISPRICED[how]}
        return payments.PurchaseCompleted(
            **self._envelope(), user_id=user_id, purchase_id=self.new_id("mispriced"),
            currency="USD", region="US", **figures)

    def refund(self, purchase: payments.PurchaseCompleted) -> payments.PurchaseRefunded:
        return payments.PurchaseRefunded(
            **self._envelope(), user_id=purchase.user_id, purchase_id=purchase.purchase_id,
            amount_minor=purchase.amount_minor, currency=purchase.currency,
            reason="requested by the buyer")

    def chargeback(self, purchase: payments.PurchaseCompleted) -> payments.PurchaseChargedBack:
        return payments.PurchaseChargedBack(
            **self._envelope(), user_id=purchase.user_id, purchase_id=purchase.purchase_id,
            amount_minor=purchase.amount_minor, currency=purchase.currency,
            reason="disputed with the card issuer")

    # The promotions service.
    def promo(self, user_id: str, coins: int, expires_in: timedelta,
              campaign_id: str) -> promotions.PromoCoinsGranted:
        at = self.clock.now()
        return promotions.PromoCoinsGranted(
            **self._envelope(at), user_id=user_id, grant_id=self.new_id("grant"),
            campaign_id=campaign_id, coins=coins, expires_at=at + expires_in)

    # The live-stream service.
    def stream_started(self, creator_id: str) -> streams.StreamStarted:
        return streams.StreamStarted(**self._envelope(), stream_id=self.new_id("stream"),
                                     creator_id=creator_id)

    def stream_ended(self, started: streams.StreamStarted) -> streams.StreamEnded:
        return streams.StreamEnded(**self._envelope(), stream_id=started.stream_id,
                                   creator_id=started.creator_id)

    def gift_request(self, sender_id: str, stream_id: str, gift_id: str,
                     quantity: int) -> streams.GiftRequested:
        return streams.GiftRequested(**self._envelope(), request_id=self.new_id("req"),
                                     stream_id=stream_id, sender_id=sender_id,
                                     gift_id=gift_id, quantity=quantity)

    # The creator app and the payout provider.
    def payout_request(self, creator_id: str, diamonds: int) -> creators.PayoutRequested:
        return creators.PayoutRequested(
            **self._envelope(), creator_id=creator_id, payout_id=self.new_id("payout"),
            diamonds=diamonds, currency=PAYOUT_CURRENCY, method="bank-transfer")

    def payout_succeeded(self, request: creators.PayoutRequested) -> creators.PayoutSucceeded:
        return creators.PayoutSucceeded(
            **self._envelope(), creator_id=request.creator_id, payout_id=request.payout_id,
            provider_reference=self.new_id("transfer"))

    def payout_failed(self, request: creators.PayoutRequested) -> creators.PayoutFailed:
        return creators.PayoutFailed(
            **self._envelope(), creator_id=request.creator_id, payout_id=request.payout_id,
            reason="bank account closed")
