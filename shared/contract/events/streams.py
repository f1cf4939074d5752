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
    """The live-stream service's id of the stream."""
    creator_id: Identifier
    """The creator streaming."""


class StreamEnded(Event):
    key_field = "stream_id"
    type: Literal["streams.stream_ended"] = "streams.stream_ended"
    schema_version: Literal[1] = 1
    producer: Identifier = "live"
    stream_id: Identifier
    """The stream that ended."""
    creator_id: Identifier
    """The creator who streamed."""


class GiftRequested(Event):
    """A viewer tapped a gift. Quantity is validated by gifting, so a bad one gets a reasoned
    rejection instead of a dead letter."""

    key_field = "sender_id"
    type: Literal["streams.gift_requested"] = "streams.gift_requested"
    schema_version: Literal[1] = 1
    producer: Identifier = "live"
    request_id: Identifier
    """The id of the request, which gifting's answer repeats."""
    stream_id: Identifier
    """The stream the gift is sent in."""
    sender_id: Identifier
    """The viewer sending the gift."""
    gift_id: Identifier
    """The catalog's id of the gift."""
    quantity: StrictInt = Field(ge=-(10**9), le=10**9)
    """Units of the gift asked for; gifting rejects a quantity outside 1..9999 with a reason."""
