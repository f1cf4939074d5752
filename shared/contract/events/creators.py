"""Published by the creator app and the creator-payments provider."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt

from shared.contract.envelope import Event
from shared.contract.types import Currency, Identifier


class CreatorPayoutEvent(Event):
    key_field = "creator_id"
    creator_id: Identifier
    """The creator being paid out."""
    payout_id: Identifier
    """The id of the payout, shared by its request and its outcome."""


class PayoutRequested(CreatorPayoutEvent):
    """A creator asks to convert diamonds to cash and withdraw it."""

    type: Literal["creators.payout_requested"] = "creators.payout_requested"
    schema_version: Literal[1] = 1
    producer: Identifier = "creator-app"
    diamonds: StrictInt = Field(gt=0, le=10**15)
    """Diamonds to convert to cash and withdraw."""
    currency: Currency
    """The currency to be paid in (ISO 4217)."""
    method: Identifier
    """The payout method the creator chose."""


class PayoutSucceeded(CreatorPayoutEvent):
    type: Literal["provider.payout_succeeded"] = "provider.payout_succeeded"
    schema_version: Literal[1] = 1
    producer: Identifier = "payout-provider"
    provider_reference: Identifier
    """The provider's reference of the transfer."""


class PayoutFailed(CreatorPayoutEvent):
    type: Literal["provider.payout_failed"] = "provider.payout_failed"
    schema_version: Literal[1] = 1
    producer: Identifier = "payout-provider"
    reason: str = Field(max_length=500)
    """Why the provider failed the payout, in its words."""
