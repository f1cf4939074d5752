"""Which lots fund a debit, what those coins are worth in cash, and taking them out.

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

from collections.abc import Iterable, Sequence
from dataclasses import replace

from services.wallet.domain.state import Lot, PromoLot, PurchaseLot, Wallet
from shared.contract.events.wallet import FundedGift, LotKind, LotUse


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


def apply_uses(wallet: Wallet, uses: Sequence[LotUse],
               gift: tuple[str, str] | None = None) -> Wallet:
    """Take recorded uses out of their lots; `gift` (request_id, creator_id) marks the uses of
    purchase lots as funding that gift, for a later clawback's funded_gifts."""
    purchases, promos = list(wallet.purchases), list(wallet.promos)
    for use in uses:
        if use.kind is LotKind.promo:
            index = _index(promos, use.lot_id, "grant_id")
            promos[index] = _used(promos[index], use.coins)
        else:
            index = _index(purchases, use.lot_id, "purchase_id")
            lot = _used(purchases[index], use.coins)
            if gift is not None:
                funded = FundedGift(request_id=gift[0], creator_id=gift[1], coins=use.coins)
                lot = replace(lot, gifts=(*lot.gifts, funded))
            purchases[index] = lot
    return replace(wallet, purchases=tuple(purchases), promos=tuple(promos))


def _index(lots: Sequence[Lot], lot_id: str, id_field: str) -> int:
    for index, lot in enumerate(lots):
        if getattr(lot, id_field) == lot_id:
            return index
    raise AssertionError(f"no lot {lot_id!r}: the event does not belong to this wallet")


def _used(lot: Lot, coins: int) -> Lot:
    assert 0 < coins <= lot.remaining, (lot, coins)
    return replace(lot, used=lot.used + coins)


def _expiry(lot: PromoLot):  # noqa: ANN202 - a sort key
    return lot.expires_at
