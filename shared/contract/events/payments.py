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
    """The viewer who bought the coins."""
    purchase_id: Identifier
    """The payments service's id of the purchase."""


class PurchaseCompleted(PaymentsEvent):
    """A viewer paid for a coin package; the wallet credits the coins as one lot."""

    type: Literal["payments.purchase_completed"] = "payments.purchase_completed"
    schema_version: Literal[1] = 1
    coins: PositiveCoins
    """Coins bought, credited as one lot."""
    amount_minor: AmountMinor
    """The price paid, in minor units of `currency`."""
    currency: Currency
    """ISO 4217 currency of the payment."""
    platform: Platform
    """Where the purchase was made."""
    region: Identifier
    """The buyer's pricing region."""
    package_id: Identifier
    """The coin package bought."""
    rate_version: RateVersion
    """The coin package price version (policy.coin_package_priced) the purchase was made at."""


class PurchaseRefunded(PaymentsEvent):
    """The platform returned the money; the purchase's coins are clawed back."""

    type: Literal["payments.purchase_refunded"] = "payments.purchase_refunded"
    schema_version: Literal[1] = 1
    amount_minor: AmountMinor
    """The money returned, in minor units of `currency`."""
    currency: Currency
    """ISO 4217 currency of the refund."""
    reason: str = ""
    """Why it was refunded (free text, may be empty)."""


class PurchaseChargedBack(PaymentsEvent):
    """The card issuer reversed the payment; coins are clawed back and the wallet frozen."""

    type: Literal["payments.purchase_charged_back"] = "payments.purchase_charged_back"
    schema_version: Literal[1] = 1
    amount_minor: AmountMinor
    """The money reversed, in minor units of `currency`."""
    currency: Currency
    """ISO 4217 currency of the chargeback."""
    reason: str = ""
    """The issuer's reason (free text, may be empty)."""
