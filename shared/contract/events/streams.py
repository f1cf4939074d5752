"""Published by the live-stream service: streams and the gifts viewers ask to send."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt

from shared.contract.envelope import Event
from shared.contract.types import Identifier

MAX_GIFT_QUANTITY = 9999


class StreamStarted(Event):
    key_field = "stream_id"
    type: Literal["streams.stream_started"] = "streams.stream_started"
    schema_version: Literal[1] = 1
    producer: Identifier = "live"
    stream_id: Identifier
    creator_id: Identifier


class StreamEnded(Event):
    key_field = "stream_id"
    type: Literal["streams.stream_ended"] = "streams.stream_ended"
    schema_version: Literal[1] = 1
    producer: Identifier = "live"
    stream_id: Identifier
    creator_id: Identifier


class GiftRequested(Event):
    """A viewer tapped a gift. Quantity is validated by gifting, so a bad one gets a reasoned
    rejection instead of a dead letter."""

    key_field = "sender_id"
    type: Literal["streams.gift_requested"] = "streams.gift_requested"
    schema_version: Literal[1] = 1
    producer: Identifier = "live"
    request_id: Identifier
    stream_id: Identifier
    sender_id: Identifier
    gift_id: Identifier
    quantity: StrictInt = Field(ge=-(10**9), le=10**9)
