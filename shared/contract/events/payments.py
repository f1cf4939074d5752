"""Published by the payments service: money in, and money taken back."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from shared.contract.envelope import Event
from shared.contract.types import AmountMinor, Currency, Identifier, PositiveCoins, RateVersion


class Platform(StrEnum):
    app_ios = "app_ios"
    app_android = "app_android"
    web = "web"


class PaymentsEvent(Event):
    key_field = "user_id"
    producer: Identifier = "payments"
    user_id: Identifier
    purchase_id: Identifier


class PurchaseCompleted(PaymentsEvent):
    """A viewer paid for a coin package; the wallet credits the coins as one lot."""

    type: Literal["payments.purchase_completed"] = "payments.purchase_completed"
    schema_version: Literal[1] = 1
    coins: PositiveCoins
    amount_minor: AmountMinor
    currency: Currency
    platform: Platform
    region: Identifier
    package_id: Identifier
    rate_version: RateVersion


class PurchaseRefunded(PaymentsEvent):
    """The platform returned the money; the purchase's coins are clawed back."""

    type: Literal["payments.purchase_refunded"] = "payments.purchase_refunded"
    schema_version: Literal[1] = 1
    amount_minor: AmountMinor
    currency: Currency
    reason: str = ""


class PurchaseChargedBack(PaymentsEvent):
    """The card issuer reversed the payment; coins are clawed back and the wallet frozen."""

    type: Literal["payments.purchase_charged_back"] = "payments.purchase_charged_back"
    schema_version: Literal[1] = 1
    amount_minor: AmountMinor
    currency: Currency
    reason: str = ""
