"""What of a wallet is looked up one by one, never in bulk, and so can be kept apart from it.

A wallet's history grows three ways, and each is only ever looked up by an id a decision
holds:
- decided request ids: decide_spend asks whether its request_id is among them;
- lots that hold no coins (used up, clawed back, expired): a credit asks whether its
  purchase_id or grant_id was credited before, a clawback takes its purchase's lot; no lot
  without coins is spent, covers a clawback, expires or counts towards a balance again;
- a purchase lot's funded gifts: only its clawback lists them.
Everything else a decision reads in bulk (open lots, debt, freeze, facts, limits, windows)
stays. `without_lookups` is the wallet less those parts (the service's snapshot; it keeps them
as rows of their own), `with_lookups` puts back what a batch looks up, and decisions then give
the same answers as on the whole wallet: absent ids were never decided or credited.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from services.wallet.domain.state import PromoLot, PurchaseLot, Wallet
from shared.contract.events.wallet import FundedGift


def without_lookups(wallet: Wallet) -> Wallet:
    """The wallet as its snapshot keeps it: only lots that hold coins, none with its funded
    gifts, no decided request ids."""
    purchases = tuple(replace(lot, gifts=(), funded_apart=lot.gifts_funded) if lot.gifts
                      else lot for lot in wallet.purchases if lot.remaining)
    promos = tuple(lot for lot in wallet.promos if lot.remaining)
    return replace(wallet, purchases=purchases, promos=promos, requests=frozenset())


def with_lookups(wallet: Wallet, *, requests: Iterable[str] = (),
                 lots: Iterable[PurchaseLot | PromoLot] = (),
                 gifts: Mapping[str, Sequence[FundedGift]] | None = None) -> Wallet:
    """The wallet with these, kept apart from it, back: decided request ids; lots (without
    coins) it does not hold, after the others; and by purchase_id every funded gift a lot keeps
    apart, in the order spent (lots put back first, so theirs can come with them)."""
    purchases, promos = list(wallet.purchases), list(wallet.promos)
    held = {lot.purchase_id for lot in purchases} | {lot.grant_id for lot in promos}
    for lot in lots:
        if lot.remaining:
            raise ValueError(f"a lot that holds coins is kept in the wallet, not apart: {lot}")
        if isinstance(lot, PurchaseLot) and lot.purchase_id not in held:
            purchases.append(lot)
        elif isinstance(lot, PromoLot) and lot.grant_id not in held:
            promos.append(lot)
    if gifts:
        purchases = [_with_gifts(lot, gifts.get(lot.purchase_id)) for lot in purchases]
    return replace(wallet, requests=wallet.requests | frozenset(requests),
                   purchases=tuple(purchases), promos=tuple(promos))


def _with_gifts(lot: PurchaseLot, apart: Sequence[FundedGift] | None) -> PurchaseLot:
    if apart is None or not lot.funded_apart:
        return lot
    if len(apart) != lot.funded_apart:
        raise ValueError(f"lot {lot.purchase_id} keeps {lot.funded_apart} funded gifts apart, "
                         f"not {len(apart)}")
    return replace(lot, gifts=(*apart, *lot.gifts), funded_apart=0)
