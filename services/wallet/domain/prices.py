"""The coin package price list, and whether a purchase matches it.

A price is keyed by (rate_version, package_id, platform, region) and names the package's coins,
amount_minor and currency (policy.coin_package_priced). A rate_version is a fixed list: the
first price published for a key stands, and a later one with other figures is a conflict
(`price_conflict`), never a change; a new price is a new rate_version. Publishing the same
price again changes nothing. The wallet starts from the default list
(shared/contract/defaults.py), as it does before any other policy event reached it.

`purchase_refusal` is the check a purchase must pass before it is credited; the reasons are
tried in the order of PurchaseRefusal, and the first that applies is the one recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from shared.contract.defaults import default_policy
from shared.contract.events.payments import PurchaseCompleted
from shared.contract.events.policy import CoinPackagePriced
from shared.contract.events.wallet import PurchaseRefusal

PriceKey = tuple[str, str, str, str]
"""(rate_version, package_id, platform, region)."""


@dataclass(frozen=True, slots=True)
class PackagePrice:
    coins: int
    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class PriceList:
    """Prices by key; `versions` are the rate_versions that price anything."""

    prices: Mapping[PriceKey, PackagePrice] = field(
        default_factory=lambda: MappingProxyType({}))
    versions: frozenset[str] = frozenset()

    @classmethod
    def of(cls, priced: Iterable[tuple[PriceKey, PackagePrice]]) -> PriceList:
        """The list of these prices; for a key given twice the first stands."""
        prices: dict[PriceKey, PackagePrice] = {}
        for key, price in priced:
            prices.setdefault(key, price)
        return cls(MappingProxyType(prices), frozenset(key[0] for key in prices))

    def price(self, key: PriceKey) -> PackagePrice | None:
        return self.prices.get(key)

    def with_price(self, event: CoinPackagePriced) -> PriceList:
        """The list once `event` is applied: a new key is added; a known key stays as it was
        (the caller checks `price_conflict` first)."""
        key = price_key(event)
        if key in self.prices:
            return self
        return PriceList.of([*self.prices.items(), (key, price_of(event))])

    def merged(self, other: PriceList) -> PriceList:
        """This list, then the keys of `other` it does not price."""
        return PriceList.of([*self.prices.items(), *other.prices.items()])


def price_key(event: CoinPackagePriced | PurchaseCompleted) -> PriceKey:
    return (event.rate_version, event.package_id, str(event.platform), event.region)


def price_of(event: CoinPackagePriced) -> PackagePrice:
    return PackagePrice(event.coins, event.amount_minor, event.currency)


def price_conflict(prices: PriceList, event: CoinPackagePriced) -> str | None:
    """Why `event` cannot be applied (its key is priced with other figures), or None: a new
    key, or the same price again."""
    known = prices.price(price_key(event))
    if known is None or known == price_of(event):
        return None
    rate_version, package_id, platform, region = price_key(event)
    return (f"{package_id} on {platform} in {region} under {rate_version} is priced "
            f"{known.coins} coins for {known.amount_minor} {known.currency}; "
            f"{event.coins} coins for {event.amount_minor} {event.currency} would change it")


def purchase_refusal(purchase: PurchaseCompleted, prices: PriceList) -> PurchaseRefusal | None:
    """Why the purchase does not match the price list, or None when it does."""
    if purchase.rate_version not in prices.versions:
        return PurchaseRefusal.unknown_rate_version
    listed = prices.price(price_key(purchase))
    if listed is None:
        return PurchaseRefusal.unknown_package
    if listed.coins != purchase.coins:
        return PurchaseRefusal.coins_mismatch
    if (listed.amount_minor, listed.currency) != (purchase.amount_minor, purchase.currency):
        return PurchaseRefusal.price_mismatch
    return None


DEFAULT_PRICES = PriceList.of(
    (price_key(event), price_of(event)) for event in default_policy()
    if isinstance(event, CoinPackagePriced))
"""The price list the wallet decides with before any policy.coin_package_priced reached it."""
