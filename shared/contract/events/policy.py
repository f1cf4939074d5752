"""Published by platform operations: every number of the economy, versioned in the log.

Decisions record the `rate_version` they used, so a replay or an audit can check each one
against the policy in effect, and a changed policy never rewrites history.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field, StrictInt

from shared.contract.envelope import Event
from shared.contract.types import AmountMinor, Coins, Currency, Identifier, Rate, RateVersion, Share

POLICY_KEY: Final = "policy"
"""Every policy event shares one key, hence one partition, hence one total order."""


class PolicyEvent(Event):
    key_field = "policy_key"
    producer: Identifier = "policy"
    policy_key: Literal["policy"] = POLICY_KEY
    """The one key of every policy event."""
    rate_version: RateVersion
    """The version of this policy, which decisions that use it record."""


class CreatorShareSet(PolicyEvent):
    """Diamonds per coin of gift value; 0.5 on the platform this models."""

    type: Literal["policy.creator_share_set"] = "policy.creator_share_set"
    schema_version: Literal[1] = 1
    diamonds_per_coin: Share
    """Diamonds a creator earns per coin of gift value"""


class DiamondCashRateSet(PolicyEvent):
    """What a diamond is worth in cash, and the fee taken when converting."""

    type: Literal["policy.diamond_cash_rate_set"] = "policy.diamond_cash_rate_set"
    schema_version: Literal[1] = 1
    currency: Currency
    """ISO 4217 currency of the rate."""
    minor_per_diamond: Rate
    """Cash per diamond, in minor units of `currency`"""
    fee_ppm: StrictInt = Field(ge=0, le=1_000_000)
    """Fee as parts per million of the gross amount; rounded up to the minor unit."""
    fee_fixed_minor: AmountMinor = 0
    """A fixed fee per payout, in minor units of `currency`."""


class HoldPeriodSet(PolicyEvent):
    type: Literal["policy.hold_period_set"] = "policy.hold_period_set"
    schema_version: Literal[1] = 1
    hold_s: StrictInt = Field(ge=0, le=365 * 86400)
    """Seconds earned diamonds are held before they can be paid out."""


class PayoutLimitsSet(PolicyEvent):
    type: Literal["policy.payout_limits_set"] = "policy.payout_limits_set"
    schema_version: Literal[1] = 1
    currency: Currency
    """ISO 4217 currency of the limits."""
    min_minor: AmountMinor
    """The smallest payout, net, in minor units of `currency`."""
    max_per_day_minor: AmountMinor
    """The most a creator can be paid out per day, in minor units of `currency`."""


class SpendingPolicySet(PolicyEvent):
    """Caps required by regulation in some markets; None means no cap."""

    type: Literal["policy.spending_policy_set"] = "policy.spending_policy_set"
    schema_version: Literal[1] = 1
    daily_coins: Coins | None = None
    """Coins a user may spend per day, or null for no cap."""
    monthly_coins: Coins | None = None
    """Coins a user may spend per month, or null for no cap."""


class CoinPackagePriced(PolicyEvent):
    """The price of a coin package on one platform and region: the money-to-coin rate."""

    type: Literal["policy.coin_package_priced"] = "policy.coin_package_priced"
    schema_version: Literal[1] = 1
    package_id: Identifier
    """The coin package."""
    platform: Identifier
    """The platform the price applies on."""
    region: Identifier
    """The pricing region."""
    coins: Coins
    """Coins in the package."""
    amount_minor: AmountMinor
    """The package's price, in minor units of `currency`."""
    currency: Currency
    """ISO 4217 currency of the price."""
