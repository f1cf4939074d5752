"""Published by the user service: facts about a person that gate spending and payouts."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import StrictBool

from shared.contract.envelope import Event
from shared.contract.types import Coins, Identifier


class LimitPeriod(StrEnum):
    daily = "daily"
    monthly = "monthly"


class LimitSetter(StrEnum):
    user = "user"
    policy = "policy"


class UsersEvent(Event):
    key_field = "user_id"
    producer: Identifier = "users"
    user_id: Identifier
    """The user the fact is about."""


class AgeVerified(UsersEvent):
    """`adult` false places a hold: the user can neither buy, send nor receive."""

    type: Literal["users.age_verified"] = "users.age_verified"
    schema_version: Literal[1] = 1
    adult: StrictBool
    """Whether the user is verified to be 18 or older."""


class SpendingLimitSet(UsersEvent):
    """A cap on coins spent per period; `coins` None removes it. The stricter of the user's
    and the policy's limit applies."""

    type: Literal["users.spending_limit_set"] = "users.spending_limit_set"
    schema_version: Literal[1] = 1
    period: LimitPeriod
    """The period the cap applies to."""
    set_by: LimitSetter
    """Who set the cap: the user or a policy."""
    coins: Coins | None
    """Coins that may be spent per period, or null to remove the cap."""


class CreatorVerified(UsersEvent):
    """Identity and tax checks passed (or were revoked); payouts need it."""

    type: Literal["users.creator_verified"] = "users.creator_verified"
    schema_version: Literal[1] = 1
    verified: StrictBool
    """Whether the creator passed the checks; false revokes."""
