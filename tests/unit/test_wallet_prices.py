"""The coin package price list (services/wallet/domain/prices.py): every refusal reason in
check order, prices that conflict, and the default list the wallet starts from."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.wallet.domain import (
    DEFAULT_PRICES,
    PackagePrice,
    Wallet,
    balance,
    decide,
    price_conflict,
    price_key,
    purchase_refusal,
)
from shared.contract.defaults import COIN_PACKAGES
from shared.contract.envelope import derive_event_id
from shared.contract.events.payments import Platform, PurchaseCompleted
from shared.contract.events.policy import CoinPackagePriced
from shared.contract.events.wallet import CoinsPurchased, PurchaseRefusal, PurchaseRefused

T0 = datetime(2026, 3, 1, tzinfo=UTC)
USER = "viewer-1"


def purchase(**changes: object) -> PurchaseCompleted:
    """The web's largest default pack, bought at its listed price, unless changed."""
    fields: dict = dict(
        event_id=uuid.UUID(int=1), occurred_at=T0, user_id=USER, purchase_id="pur-1",
        coins=17500, amount_minor=18500, currency="USD", platform=Platform.web, region="US",
        package_id="coins-17500", rate_version="packs-2026-01")
    return PurchaseCompleted(**{**fields, **changes})


def priced(**changes: object) -> CoinPackagePriced:
    fields: dict = dict(
        event_id=uuid.UUID(int=2), occurred_at=T0, rate_version="packs-2026-01",
        package_id="coins-17500", platform="web", region="US", coins=17500,
        amount_minor=18500, currency="USD")
    return CoinPackagePriced(**{**fields, **changes})


@pytest.mark.parametrize(("changes", "reason"), [
    pytest.param({}, None, id="listed"),
    pytest.param({"coins": 17500, "amount_minor": 1, "rate_version": "packs-made-up"},
                 PurchaseRefusal.unknown_rate_version, id="unknown-rate-version-first"),
    pytest.param({"package_id": "coins-99999"}, PurchaseRefusal.unknown_package,
                 id="unknown-package"),
    pytest.param({"platform": Platform.app_android}, PurchaseRefusal.unknown_package,
                 id="not-priced-on-the-platform"),
    pytest.param({"region": "FR"}, PurchaseRefusal.unknown_package, id="not-priced-in-region"),
    pytest.param({"coins": 17501, "amount_minor": 1}, PurchaseRefusal.coins_mismatch,
                 id="coins-before-price"),
    pytest.param({"amount_minor": 1}, PurchaseRefusal.price_mismatch, id="amount"),
    pytest.param({"currency": "EUR"}, PurchaseRefusal.price_mismatch, id="currency"),
])
def test_every_refusal_reason_in_check_order(changes, reason):
    assert purchase_refusal(purchase(**changes), DEFAULT_PRICES) is reason


def test_every_default_pack_is_listed_as_the_simulation_sells_it():
    for package_id, platform, coins, amount in COIN_PACKAGES:
        bought = purchase(package_id=package_id, platform=Platform(platform), coins=coins,
                          amount_minor=amount)
        assert purchase_refusal(bought, DEFAULT_PRICES) is None, package_id


def test_a_refused_purchase_credits_nothing_and_records_both_figures():
    wallet = Wallet(USER)
    mispriced = purchase(amount_minor=1)
    [refused] = decide(wallet, mispriced)
    assert isinstance(refused, PurchaseRefused)
    assert refused.event_id == derive_event_id(mispriced.event_id, "credit")
    assert (refused.reason, refused.coins, refused.amount_minor, refused.currency) == (
        PurchaseRefusal.price_mismatch, 17500, 1, "USD")
    assert (refused.listed_coins, refused.listed_amount_minor, refused.listed_currency) == (
        17500, 18500, "USD")
    assert (refused.platform, refused.region, refused.package_id, refused.rate_version) == (
        "web", "US", "coins-17500", "packs-2026-01")
    assert refused.balance_after == balance(wallet) == 0


def test_a_refusal_keeps_nothing_so_the_purchase_can_be_credited_later():
    wallet = Wallet(USER)
    unknown = purchase(rate_version="packs-2026-02")
    [refused] = decide(wallet, unknown)
    assert isinstance(refused, PurchaseRefused)
    newer = DEFAULT_PRICES.with_price(priced(rate_version="packs-2026-02"))
    republished = unknown.model_copy(update={"event_id": uuid.UUID(int=3)})
    [credited] = decide(wallet, republished, prices=newer)
    assert isinstance(credited, CoinsPurchased) and credited.rate_version == "packs-2026-02"


def test_a_price_is_fixed_within_its_rate_version():
    assert price_conflict(DEFAULT_PRICES, priced()) is None  # the same price again
    assert price_conflict(DEFAULT_PRICES, priced(rate_version="packs-2")) is None  # new key
    conflict = price_conflict(DEFAULT_PRICES, priced(amount_minor=1))
    assert conflict is not None and "18500 USD" in conflict and "1 USD" in conflict
    assert price_conflict(DEFAULT_PRICES, priced(coins=20000)) is not None
    assert price_conflict(DEFAULT_PRICES, priced(currency="EUR")) is not None
    # Applying a price already listed changes nothing; a new one joins its version.
    assert DEFAULT_PRICES.with_price(priced()) is DEFAULT_PRICES
    newer = DEFAULT_PRICES.with_price(priced(rate_version="packs-2", amount_minor=9))
    assert "packs-2" in newer.versions
    assert newer.price(price_key(priced(rate_version="packs-2"))) == PackagePrice(
        17500, 9, "USD")


def test_the_first_price_of_a_key_stands_when_lists_merge():
    cheaper = DEFAULT_PRICES.with_price(priced(rate_version="packs-2", amount_minor=9))
    dearer = DEFAULT_PRICES.with_price(priced(rate_version="packs-2", amount_minor=99))
    key = price_key(priced(rate_version="packs-2"))
    assert cheaper.merged(dearer).price(key) == PackagePrice(17500, 9, "USD")
