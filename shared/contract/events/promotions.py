"""Published by the promotions service: free coins for activities and campaigns."""

from __future__ import annotations

from typing import Literal

from shared.contract.envelope import Event
from shared.contract.types import Identifier, PositiveCoins, Timestamp


class PromoCoinsGranted(Event):
    """Promotional coins, spendable until `expires_at` (judged by event time, never a clock)."""

    key_field = "user_id"
    type: Literal["promotions.promo_coins_granted"] = "promotions.promo_coins_granted"
    schema_version: Literal[1] = 1
    producer: Identifier = "promotions"
    user_id: Identifier
    """The user granted the coins."""
    grant_id: Identifier
    """The promotions service's id of the grant."""
    campaign_id: Identifier
    """The promotion campaign that granted them."""
    coins: PositiveCoins
    """Promotional coins granted."""
    expires_at: Timestamp
    """When the coins left unspent expire."""
