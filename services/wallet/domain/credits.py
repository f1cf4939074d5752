"""Coins coming in (purchases, promo grants) and promo coins lapsing.

Debt first: while the wallet owes coins after a clawback, the first coins of any credit, paid
or promotional, pay the debt off (`debt_repaid` on the credit event, counted as used coins of
the new lot). Once the debt reaches 0, a freeze for debt lifts (WalletUnfrozen); a chargeback
freeze stays.

Credits are idempotent by business id: a purchase_id or grant_id already credited decides
nothing.

A purchase must match the coin package price list (prices.py) for its rate_version, package,
platform and region: coins, amount and currency. One that does not is refused
(PurchaseRefused, with the reason and both sets of figures) and credits nothing. A refusal
leaves the wallet as it was and keeps nothing, so the purchase_id is not used up: the same
purchase republished (a new event id) is decided again, and credited if it now matches (its
price list may have reached the wallet after it). A refund or chargeback of a refused purchase
finds no lot and decides nothing: nothing was credited, so nothing is clawed back, and a
chargeback of coins never credited is no reason to freeze the wallet.

Coins are credited even to a wallet on hold (not adult) or frozen: the money or grant is real,
and those wallets simply cannot spend.
"""

from __future__ import annotations

from services.wallet.domain.prices import (
    DEFAULT_PRICES,
    PriceList,
    price_key,
    purchase_refusal,
)
from services.wallet.domain.state import Wallet, assert_swept, balance
from shared.contract.envelope import Event
from shared.contract.events.payments import PurchaseCompleted
from shared.contract.events.promotions import PromoCoinsGranted
from shared.contract.events.wallet import (
    CoinsPurchased,
    FreezeReason,
    PromoCoinsCredited,
    PromoCoinsExpired,
    PurchaseRefusal,
    PurchaseRefused,
    UnfreezeReason,
    WalletEvent,
    WalletUnfrozen,
)


def decide_purchase(wallet: Wallet, purchase: PurchaseCompleted,
                    prices: PriceList = DEFAULT_PRICES) -> list[WalletEvent]:
    """A new purchase lot: CoinsPurchased [+ WalletUnfrozen]; or PurchaseRefused when the
    purchase does not match the price list, which credits nothing."""
    assert purchase.user_id == wallet.user_id, (wallet.user_id, purchase.user_id)
    if wallet.purchase(purchase.purchase_id) is not None:
        return []
    assert_swept(wallet, purchase.occurred_at)
    refusal = purchase_refusal(purchase, prices)
    if refusal is not None:
        return [_refused(wallet, purchase, refusal, prices)]
    repaid = min(wallet.debt, purchase.coins)
    credited = purchase.caused(
        CoinsPurchased, "credit", user_id=wallet.user_id, purchase_id=purchase.purchase_id,
        coins=purchase.coins, amount_minor=purchase.amount_minor, currency=purchase.currency,
        rate_version=purchase.rate_version, balance_after=balance(wallet) + purchase.coins,
        debt_repaid=repaid)
    return [credited, *_unfreeze_when_repaid(wallet, purchase, repaid)]


def _refused(wallet: Wallet, purchase: PurchaseCompleted, reason: PurchaseRefusal,
             prices: PriceList) -> PurchaseRefused:
    # The step is the credit's: a re-decision that came out the other way would reuse the id
    # and be caught downstream as a conflict rather than pass as a second decision.
    listed = prices.price(price_key(purchase))
    return purchase.caused(
        PurchaseRefused, "credit", user_id=wallet.user_id, purchase_id=purchase.purchase_id,
        reason=reason, coins=purchase.coins, amount_minor=purchase.amount_minor,
        currency=purchase.currency, platform=purchase.platform.value, region=purchase.region,
        package_id=purchase.package_id, rate_version=purchase.rate_version,
        listed_coins=listed.coins if listed else None,
        listed_amount_minor=listed.amount_minor if listed else None,
        listed_currency=listed.currency if listed else None, balance_after=balance(wallet))


def decide_grant(wallet: Wallet, grant: PromoCoinsGranted) -> list[WalletEvent]:
    """A new promo lot: PromoCoinsCredited [+ WalletUnfrozen]. A grant that has already
    expired at its own event time (expires_at <= occurred_at) is ignored: it could never be
    spent, and crediting then expiring it would only add noise."""
    assert grant.user_id == wallet.user_id, (wallet.user_id, grant.user_id)
    if wallet.promo(grant.grant_id) is not None or grant.expires_at <= grant.occurred_at:
        return []
    assert_swept(wallet, grant.occurred_at)
    repaid = min(wallet.debt, grant.coins)
    credited = grant.caused(
        PromoCoinsCredited, "credit", user_id=wallet.user_id, grant_id=grant.grant_id,
        coins=grant.coins, expires_at=grant.expires_at, campaign_id=grant.campaign_id,
        balance_after=balance(wallet) + grant.coins, debt_repaid=repaid)
    return [credited, *_unfreeze_when_repaid(wallet, grant, repaid)]


def decide_expiry(wallet: Wallet, cause: Event) -> list[PromoCoinsExpired]:
    """Promo coins whose expires_at <= cause.occurred_at lapse, soonest expiry first.

    Time is the event time of the input about to be decided, never a clock: the handler (or
    decide()) calls this with every input for the wallet and applies the result BEFORE
    deciding that input, so a spend at or after expires_at can never use those coins. Ids
    derive from the cause, one step per grant."""
    now = cause.occurred_at
    due = sorted((lot for lot in wallet.promos if lot.remaining and lot.expires_at <= now),
                 key=lambda lot: lot.expires_at)
    expired: list[PromoCoinsExpired] = []
    running = balance(wallet)
    for lot in due:
        running -= lot.remaining
        expired.append(cause.caused(
            PromoCoinsExpired, f"expire:{lot.grant_id}", user_id=wallet.user_id,
            grant_id=lot.grant_id, coins=lot.remaining, balance_after=running))
    return expired


def _unfreeze_when_repaid(wallet: Wallet, cause: Event, repaid: int) -> list[WalletUnfrozen]:
    if repaid and repaid == wallet.debt and wallet.frozen_reason is FreezeReason.debt:
        return [cause.caused(WalletUnfrozen, "unfreeze", user_id=wallet.user_id,
                             reason=UnfreezeReason.debt_repaid.value)]
    return []
