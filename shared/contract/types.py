"""Field types shared by every event. Money is never a float: see the validators below."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
)

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:@-]{1,128}$")]
"""Ids minted by other systems (users, streams, purchases). Opaque, bounded, printable."""

Coins = Annotated[int, Strict(), Field(ge=0, le=10**15)]
PositiveCoins = Annotated[int, Strict(), Field(gt=0, le=10**15)]
Diamonds = Annotated[int, Strict(), Field(ge=0, le=10**15)]
AmountMinor = Annotated[int, Strict(), Field(ge=0, le=10**15)]
"""Cash in the currency's minor unit (cents for USD)."""

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
"""ISO 4217 alphabetic code."""

RateVersion = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


_DECIMAL_TEXT = re.compile(r"^[0-9]+(\.[0-9]+)?$")


def _decimal_from_text(value: Any) -> Any:
    # JSON numbers arrive as binary floats and have already lost precision; only text is exact,
    # and only plain digits: no sign, spaces or exponent, so every reader parses the same way.
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise ValueError("rates are decimal strings, never floats")
    if not isinstance(value, str) or not _DECIMAL_TEXT.match(value):
        raise ValueError('rates are decimal strings of digits, e.g. "0.5"')
    return value


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("rate must be finite")
    return value


ExactDecimal = Annotated[
    Decimal,
    BeforeValidator(_decimal_from_text),
    AfterValidator(_finite),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
]
"""A Decimal that travels as a string ("0.5"), so every reader computes with the same digits."""

Rate = Annotated[ExactDecimal, Field(gt=0, le=10**9)]
Share = Annotated[ExactDecimal, Field(gt=0, le=1)]
Multiplier = Annotated[ExactDecimal, Field(ge=1, le=1000)]

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339_text(value: Any) -> Any:
    # Pydantic alone takes epoch numbers and naive-looking strings as times; the contract does
    # not, so every consumer reads one instant from one text, whatever the publisher's library.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("times are RFC 3339 strings with an offset, e.g. 2026-01-01T00:00:00Z")
    return value


def _in_utc(value: datetime) -> datetime:
    return value if value.tzinfo is UTC else value.astimezone(UTC)


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_in_utc)]
"""An instant. On the wire only RFC 3339 text with an explicit offset; held in UTC, so one
instant written with `Z` or `+00:00` (or `+02:00`) is one value."""
