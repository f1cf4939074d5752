"""The pure checks of the event boundary (shared/contract/codec.py), record by record."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import orjson
import pytest

from shared.contract.codec import (
    MAX_CLOCK_SKEW_S,
    MAX_RECORD_BYTES,
    InvalidEvent,
    check_record,
    decode,
    decode_record,
    legacy_content_sha256,
)
from shared.contract.events.streams import GiftRequested
from shared.contract.topics import GIFT_REQUESTS

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AT_MS = int(AT.timestamp() * 1000)


def gift(**changes) -> dict:
    event = GiftRequested(event_id=uuid.UUID(int=7), occurred_at=AT, request_id="r1",
                          stream_id="s1", sender_id="viewer-1", gift_id="rose", quantity=2)
    return {**orjson.loads(orjson.dumps(event.model_dump(mode="json"))), **changes}


def refusal(payload: dict | bytes) -> tuple[str, str]:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    with pytest.raises(InvalidEvent) as caught:
        decode(GIFT_REQUESTS, raw)
    return caught.value.reason.value, caught.value.detail


@pytest.mark.parametrize("occurred_at", [
    1772366400, 1772366400.5, "1772366400", "2026-03-01T12:00:00", "2026-03-01",
    "2026-03-01 12:00:00Z", None, True,
])
def test_times_are_rfc3339_text_with_an_offset(occurred_at):
    reason, detail = refusal(gift(occurred_at=occurred_at))
    assert (reason, "occurred_at" in detail) == ("schema_invalid", True)


@pytest.mark.parametrize("occurred_at", [
    "2026-03-01T12:00:00Z", "2026-03-01T12:00:00+00:00", "2026-03-01T13:00:00+01:00",
    "2026-03-01T12:00:00.000000z",
])
def test_one_instant_in_any_offset_is_one_value(occurred_at):
    decoded = decode(GIFT_REQUESTS, orjson.dumps(gift(occurred_at=occurred_at)))
    assert decoded.event.occurred_at == AT and decoded.event.occurred_at.tzinfo is UTC
    assert decoded.content_sha256 == decode(GIFT_REQUESTS, orjson.dumps(gift())).content_sha256


def test_spelling_does_not_change_the_content_digest():
    plain = gift()
    respelled = dict(reversed([(k, v) for k, v in plain.items() if v is not None]))
    respelled["occurred_at"] = "2026-03-01T12:00:00+00:00"
    digests = {decode(GIFT_REQUESTS, orjson.dumps(payload)).content_sha256
               for payload in (plain, respelled)}
    assert len(digests) == 1
    assert decode(GIFT_REQUESTS, orjson.dumps(gift(quantity=3))).content_sha256 not in digests


def test_the_legacy_digest_is_that_of_the_sorted_raw_json():
    raw = orjson.dumps(gift())
    expected = hashlib.sha256(orjson.dumps(gift(), option=orjson.OPT_SORT_KEYS)).digest()
    assert legacy_content_sha256(GIFT_REQUESTS, raw) == expected
    assert legacy_content_sha256(GIFT_REQUESTS, b"{not json") is None


def test_unknown_fields_are_refused_by_name():
    assert refusal(gift(bonus=1, colour="red")) == ("unknown_fields",
                                                    "not in the schema: bonus, colour")


def test_records_over_the_size_limit_are_refused_before_parsing():
    raw = orjson.dumps(gift()) + b" " * MAX_RECORD_BYTES
    assert refusal(raw)[0] == "too_large"
    assert decode(GIFT_REQUESTS, orjson.dumps(gift(gift_id="g" * 100)))


@pytest.mark.parametrize("key, reason, words", [
    (b"someone-else", "key_mismatch", ["'someone-else'", "'viewer-1'"]),
    (None, "key_mismatch", ["no key", "'viewer-1'"]),
])
def test_the_record_key_is_the_events_key(key, reason, words):
    event = decode(GIFT_REQUESTS, orjson.dumps(gift())).event
    with pytest.raises(InvalidEvent) as caught:
        check_record(event, key, AT_MS)
    assert caught.value.reason.value == reason
    assert all(word in caught.value.detail for word in words)
    assert caught.value.event_id == str(event.event_id)


@pytest.mark.parametrize("ahead_s, refused", [
    (-86400, False), (0, False), (MAX_CLOCK_SKEW_S, False), (MAX_CLOCK_SKEW_S + 1, True),
])
def test_occurred_at_may_lead_the_log_timestamp_by_the_skew_only(ahead_s, refused):
    raw = orjson.dumps(gift())
    timestamp_ms = AT_MS - ahead_s * 1000
    if not refused:
        assert decode_record(GIFT_REQUESTS, b"viewer-1", raw, timestamp_ms).event
        return
    with pytest.raises(InvalidEvent) as caught:
        decode_record(GIFT_REQUESTS, b"viewer-1", raw, timestamp_ms)
    assert caught.value.reason.value == "occurred_in_future"
