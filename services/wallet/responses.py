"""What the wallet's HTTP reads answer: coins are integers, times are ISO 8601 in UTC."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from shared.contract.topics import WALLET_LEDGER
from shared.runtime.api import NextCursor, entry_model

if TYPE_CHECKING:
    WalletEntry = Any
else:
    WalletEntry = entry_model(WALLET_LEDGER)


class WalletBalance(BaseModel):
    """A wallet as its last decision left it."""

    user_id: str
    balance: int = Field(description="Spendable coins minus debt: below zero only after a "
                                     "clawback")
    purchased_coins: int = Field(ge=0, description="Spendable coins bought")
    promo_coins: int = Field(ge=0, description="Spendable promotional coins")
    debt: int = Field(ge=0, description="Coins clawed back beyond what the wallet held")
    frozen: bool
    frozen_reason: str | None = Field(description="`debt` or `chargeback` while frozen")
    adult: bool | None = Field(description="What the user service said; null: never said")
    daily_limit_coins: int | None = Field(description="Spending cap per UTC day in force")
    monthly_limit_coins: int | None = Field(description="Spending cap per UTC month in force")
    updated_at: datetime = Field(description="Log time of the wallet's last deciding input")


class WalletAsOf(BaseModel):
    """A wallet rebuilt from its own events up to a moment of log time."""

    user_id: str
    as_of: datetime
    events: int = Field(ge=1, description="How many of its events happened by then")
    balance: int
    purchased_coins: int = Field(ge=0)
    promo_coins: int = Field(ge=0)
    debt: int = Field(ge=0)
    frozen: bool


class WalletHistory(BaseModel):
    """One page of a wallet's events, oldest first, as published (lots and rates included)."""

    user_id: str
    items: list[WalletEntry]
    next: NextCursor
