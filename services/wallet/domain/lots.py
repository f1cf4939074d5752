"""Which lots fund a debit, and what those coins are worth in cash (evolve takes them out).

Spend order (a published rule): promo coins first, soonest expiry first (ties: the order they
were credited), so free coins are used before they lapse; then purchased lots oldest first
(FIFO, the order credited). Purchased coins are never spent while promo coins remain.

Cover order (for the spent part of a clawed-back purchase): purchased lots oldest first, then
promo lots soonest expiry first. The clawback reverses money, so it recovers coins that were
paid for before free ones.

Cash value: the uses of one purchase lot are valued by cumulative allocation,
value = floor(used_after * amount / coins) - floor(used_before * amount / coins),
so the values of all uses of a lot sum exactly to its amount_minor once it is fully used,
whatever the order or size of the slices. Promo coins are worth 0, currency None.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.wallet.domain.state import Lot, PromoLot, PurchaseLot, Wallet
from shared.contract.events.wallet import LotKind, LotUse


def cash_value_of_first(lot: PurchaseLot, used: int) -> int:
    """The cash value of the first `used` coins of a lot, rounded down."""
    return used * lot.amount_minor // lot.coins


def spend_order(wallet: Wallet) -> list[Lot]:
    promos = sorted((lot for lot in wallet.promos if lot.remaining), key=_expiry)
    return [*promos, *(lot for lot in wallet.purchases if lot.remaining)]


def cover_order(wallet: Wallet) -> list[Lot]:
    promos = sorted((lot for lot in wallet.promos if lot.remaining), key=_expiry)
    return [*(lot for lot in wallet.purchases if lot.remaining), *promos]


def use_of(lot: Lot, coins: int) -> LotUse:
    if isinstance(lot, PromoLot):
        return LotUse(lot_id=lot.grant_id, kind=LotKind.promo, coins=coins, value_minor=0)
    value = cash_value_of_first(lot, lot.used + coins) - cash_value_of_first(lot, lot.used)
    return LotUse(lot_id=lot.purchase_id, kind=LotKind.purchase, coins=coins,
                  value_minor=value, currency=lot.currency)


def take(lots: Iterable[Lot], coins: int) -> tuple[LotUse, ...]:
    """Up to `coins` from the lots in the order given; fewer if they hold fewer."""
    uses: list[LotUse] = []
    wanted = coins
    for lot in lots:
        if wanted == 0:
            break
        taken = min(wanted, lot.remaining)
        if taken:
            uses.append(use_of(lot, taken))
            wanted -= taken
    return tuple(uses)


def _expiry(lot: PromoLot):  # noqa: ANN202 - a sort key
    return lot.expires_at
