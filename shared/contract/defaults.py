"""The default policy and catalog as events, with ids derived from their names, so publishing
them again (every demo start does) changes nothing. Services that must decide before any policy
event reached them (policy and gifts travel on different topics) start from this same policy,
so their decisions carry the same rate versions either way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from shared.contract.events import policy

SEED_NAMESPACE = uuid.UUID("3d8a3c5e-51b2-4a57-9c53-9b6c2a1f0d77")
POLICY_AT = datetime(2026, 1, 1, tzinfo=UTC)


def _policy_id(rate_version: str) -> uuid.UUID:
    return uuid.uuid5(SEED_NAMESPACE, f"policy/{rate_version}")


def default_policy() -> list[policy.PolicyEvent]:
    """The figures of the platform this models (see the product brief's default policy)."""
    common = {"occurred_at": POLICY_AT}
    return [
        policy.CreatorShareSet(event_id=_policy_id("share-2026-01"), rate_version="share-2026-01",
                               diamonds_per_coin=Decimal("0.5"), **common),
        policy.HoldPeriodSet(event_id=_policy_id("hold-2026-01"), rate_version="hold-2026-01",
                             hold_s=15 * 86400, **common),
        policy.DiamondCashRateSet(event_id=_policy_id("cash-usd-2026-01"),
                                  rate_version="cash-usd-2026-01", currency="USD",
                                  minor_per_diamond=Decimal("0.5"), fee_ppm=0,
                                  fee_fixed_minor=0, **common),
        policy.PayoutLimitsSet(event_id=_policy_id("limits-usd-2026-01"),
                               rate_version="limits-usd-2026-01", currency="USD",
                               min_minor=5000, max_per_day_minor=100000, **common),
        policy.SpendingPolicySet(event_id=_policy_id("spending-2026-01"),
                                 rate_version="spending-2026-01", daily_coins=None,
                                 monthly_coins=None, **common),
        *[policy.CoinPackagePriced(event_id=_policy_id(f"packs-2026-01/{package}/{platform}"),
                                   rate_version="packs-2026-01", package_id=package,
                                   platform=platform, region="US", coins=coins,
                                   amount_minor=amount, currency="USD", **common)
          for package, platform, coins, amount in COIN_PACKAGES],
    ]


COIN_PACKAGES = [
    ("coins-65", "app_ios", 65, 99), ("coins-330", "app_ios", 330, 499),
    ("coins-660", "app_ios", 660, 999), ("coins-16500", "app_ios", 16500, 24999),
    ("coins-70", "web", 70, 74), ("coins-350", "web", 350, 370),
    ("coins-1400", "web", 1400, 1480), ("coins-17500", "web", 17500, 18500),
]
"""(package, platform, coins, price in US cents). The app stores' cut makes the app dearer."""
