"""Pure decisions of the wallet service: no database, no broker, no clock.

Time and ids come only from input events (ids via Event.caused, uuid5 of input id + step);
every function returns events and raises nothing for business outcomes (an AssertionError
means a caller paired the wrong wallet and event; a replayed log that does not add up raises
shared.consistency.InconsistentHistory).

    state      Wallet, PurchaseLot, PromoLot, SpendingPolicy, Window; balance, spendable,
               coins_by_source
    lots       spend order, cover order, cash value of coins (cumulative allocation)
    prices     PriceList, purchase_refusal, price_conflict: the coin package price list
    credits    decide_purchase (refused off the price list), decide_grant, decide_expiry
               (debt is repaid first)
    facts      decide_age, decide_limit (user-service facts recorded as wallet events)
    spending   decide_spend: check order, limits per UTC day and month
    clawback   decide_clawback: refunds, chargebacks, debt, freeze
    evolve     evolve, fold, replay (the wallet rebuilt from its own events), WalletDraft
    decide     decide: expiry first, then the input's own decision
    lookups    without_lookups, with_lookups: the parts looked up one by one, kept apart
"""

from services.wallet.domain.clawback import decide_clawback, freeze_reason, funded_gifts
from services.wallet.domain.credits import decide_expiry, decide_grant, decide_purchase
from services.wallet.domain.decide import decide
from services.wallet.domain.evolve import WalletDraft, evolve, fold, replay
from services.wallet.domain.facts import decide_age, decide_limit
from services.wallet.domain.lookups import with_lookups, without_lookups
from services.wallet.domain.lots import cash_value_of_first, cover_order, spend_order, take
from services.wallet.domain.prices import (
    DEFAULT_PRICES,
    PackagePrice,
    PriceList,
    price_conflict,
    price_key,
    price_of,
    purchase_refusal,
)
from services.wallet.domain.spending import decide_spend, effective_limit, refusal_of
from services.wallet.domain.state import (
    Lot,
    PromoLot,
    PurchaseLot,
    SpendingLimit,
    SpendingPolicy,
    Wallet,
    Window,
    balance,
    coins_by_source,
    day_key,
    month_key,
    spendable,
)

__all__ = [
    "DEFAULT_PRICES", "Lot", "PackagePrice", "PriceList", "PromoLot", "PurchaseLot",
    "SpendingLimit", "SpendingPolicy", "Wallet", "WalletDraft", "Window",
    "balance", "cash_value_of_first", "coins_by_source", "cover_order", "day_key", "decide",
    "decide_age", "decide_clawback", "decide_expiry", "decide_grant", "decide_limit",
    "decide_purchase", "decide_spend", "effective_limit", "evolve", "fold", "freeze_reason",
    "funded_gifts", "month_key", "price_conflict", "price_key", "price_of",
    "purchase_refusal", "refusal_of", "replay", "spend_order", "spendable", "take",
    "with_lookups", "without_lookups",
]
