"""One entry point for the handler: any input event for a wallet -> the wallet's events.

Promo expiry runs first, judged by the input's event time, and is applied before the input is
decided; the result is the expiries followed by the input's own events, ready to be stored,
applied with fold() and published in that order.
"""

from __future__ import annotations

from services.wallet.domain.clawback import decide_clawback
from services.wallet.domain.credits import decide_expiry, decide_grant, decide_purchase
from services.wallet.domain.evolve import fold
from services.wallet.domain.facts import decide_age, decide_limit
from services.wallet.domain.prices import DEFAULT_PRICES, PriceList
from services.wallet.domain.spending import decide_spend
from services.wallet.domain.state import SpendingPolicy, Wallet
from shared.contract.envelope import Event
from shared.contract.events.gifting import GiftPriced
from shared.contract.events.payments import (
    PurchaseChargedBack,
    PurchaseCompleted,
    PurchaseRefunded,
)
from shared.contract.events.promotions import PromoCoinsGranted
from shared.contract.events.users import AgeVerified, SpendingLimitSet
from shared.contract.events.wallet import WalletEvent


def decide(wallet: Wallet, event: Event, policy: SpendingPolicy | None = None,
           prices: PriceList = DEFAULT_PRICES) -> list[WalletEvent]:
    """`event` must be keyed by this wallet's user (user_id, or sender_id for gifts). Inputs
    the wallet does not act on (GiftSent, CreatorVerified, ...) still advance promo expiry.
    `prices` must price the purchase's rate_version wholly if it prices it at all."""
    assert event.key == wallet.user_id, (wallet.user_id, event.key)
    expired = decide_expiry(wallet, event)
    return [*expired, *_decide_input(fold(wallet, expired), event, policy, prices)]


def _decide_input(wallet: Wallet, event: Event,  # noqa: PLR0911 - one case per type
                  policy: SpendingPolicy | None, prices: PriceList) -> list[WalletEvent]:
    match event:
        case PurchaseCompleted():
            return decide_purchase(wallet, event, prices)
        case PurchaseRefunded() | PurchaseChargedBack():
            return decide_clawback(wallet, event)
        case PromoCoinsGranted():
            return decide_grant(wallet, event)
        case GiftPriced():
            return list(decide_spend(wallet, event, policy))
        case AgeVerified():
            return list(decide_age(wallet, event))
        case SpendingLimitSet():
            return list(decide_limit(wallet, event))
    return []
