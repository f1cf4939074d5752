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


class AgeVerified(UsersEvent):
    """`adult` false places a hold: the user can neither buy, send nor receive."""

    type: Literal["users.age_verified"] = "users.age_verified"
    schema_version: Literal[1] = 1
    adult: StrictBool


class SpendingLimitSet(UsersEvent):
    """A cap on coins spent per period; `coins` None removes it. The stricter of the user's
    and the policy's limit applies."""

    type: Literal["users.spending_limit_set"] = "users.spending_limit_set"
    schema_version: Literal[1] = 1
    period: LimitPeriod
    set_by: LimitSetter
    coins: Coins | None


class CreatorVerified(UsersEvent):
    """Identity and tax checks passed (or were revoked); payouts need it."""

    type: Literal["users.creator_verified"] = "users.creator_verified"
    schema_version: Literal[1] = 1
    verified: StrictBool
