"""The event contract: samples of every published version, money typing, keys, upcasting."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Literal

import orjson
import pytest

from shared.contract.codec import InvalidEvent, decode, encode
from shared.contract.envelope import Event, derive_event_id
from shared.contract.events.deadletter import DeadLetterReason, EventDeadLettered
from shared.contract.topics import ALL_TOPICS, POLICY_CHANGES, PURCHASES, Topic, topic_of
from shared.contract.upcasting import upcaster
from tests.contract.examples import EXAMPLES

SAMPLES = Path(__file__).parent.parent / "contract" / "samples"
ALL_EVENT_MODELS = [model for topic in ALL_TOPICS for model in topic.events]


def _current(model: type[Event]) -> tuple[str, int]:
    return model.model_fields["type"].default, model.model_fields["schema_version"].default


@pytest.mark.parametrize("model", ALL_EVENT_MODELS, ids=lambda m: _current(m)[0])
def test_every_current_event_version_has_a_frozen_sample(model):
    event_type, version = _current(model)
    assert (SAMPLES / event_type / f"v{version}.json").is_file()


SAMPLE_FILES = sorted(SAMPLES.glob("*/v*.json"))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_sample_ever_published_still_parses(path):
    event_type = path.parent.name
    topics = [t for t in ALL_TOPICS if event_type in t.event_types]
    assert topics, f"no topic carries {event_type}"
    decoded = decode(topics[0], path.read_bytes())
    assert decoded.event.type == event_type
    # Whatever version was read, it is written back as the current one.
    assert orjson.loads(encode(decoded.event))["schema_version"] == _current(
        type(decoded.event))[1]


def test_examples_cover_every_event_model():
    assert {type(example) for example in EXAMPLES} == set(ALL_EVENT_MODELS)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.type)
def test_encoding_round_trips(example):
    assert decode(topic_of(example), encode(example)).event == example


def _purchase_json(**changes) -> bytes:
    sample = orjson.loads((SAMPLES / "payments.purchase_completed" / "v1.json").read_bytes())
    return orjson.dumps({**sample, **changes})


@pytest.mark.parametrize("field, value", [
    ("coins", 330.0), ("coins", "330"), ("coins", True), ("amount_minor", 4.99),
    ("coins", -5), ("coins", 0), ("currency", "usd"), ("currency", "DOLLARS"),
])
def test_money_is_an_exact_integer_in_a_known_currency(field, value):
    with pytest.raises(InvalidEvent) as error:
        decode(PURCHASES, _purchase_json(**{field: value}))
    assert error.value.reason is DeadLetterReason.schema_invalid
    assert field in error.value.detail


def test_rates_travel_as_decimal_strings_never_json_numbers():
    sample = orjson.loads((SAMPLES / "policy.creator_share_set" / "v1.json").read_bytes())
    assert sample["diamonds_per_coin"] == "0.5"
    with pytest.raises(InvalidEvent, match="never floats"):
        decode(POLICY_CHANGES, orjson.dumps({**sample, "diamonds_per_coin": 0.5}))
    with pytest.raises(InvalidEvent):
        decode(POLICY_CHANGES, orjson.dumps({**sample, "diamonds_per_coin": "NaN"}))


@pytest.mark.parametrize("written", [1, "+0.5", " 0.5", "5e-1", "0.5 ", "-0.5", ".5", True])
def test_a_rate_is_plain_digits_in_a_string_as_the_contract_says(written):
    sample = orjson.loads((SAMPLES / "policy.creator_share_set" / "v1.json").read_bytes())
    with pytest.raises(InvalidEvent, match="decimal strings"):
        decode(POLICY_CHANGES, orjson.dumps({**sample, "diamonds_per_coin": written}))


@pytest.mark.parametrize("written", [1.0, True, "1"])
def test_schema_version_is_a_json_integer(written):
    sample = orjson.loads((SAMPLES / "policy.creator_share_set" / "v1.json").read_bytes())
    with pytest.raises(InvalidEvent, match="JSON integer") as error:
        decode(POLICY_CHANGES, orjson.dumps({**sample, "schema_version": written}))
    assert error.value.reason is DeadLetterReason.schema_invalid


def test_the_partition_key_must_name_the_entity():
    with pytest.raises(InvalidEvent, match="must equal user_id"):
        decode(PURCHASES, _purchase_json(key="someone-else"))


@pytest.mark.parametrize("raw, reason", [
    (b"", DeadLetterReason.malformed),
    (b"{not json", DeadLetterReason.malformed),
    (b"[1, 2]", DeadLetterReason.malformed),
    (b'{"type": 7}', DeadLetterReason.malformed),
    (b'{"type": "wallet.coins_spent", "schema_version": 1}', DeadLetterReason.unknown_type),
    (b'{"type": "payments.purchase_completed", "schema_version": 9}',
     DeadLetterReason.schema_invalid),
])
def test_unreadable_input_gets_a_reason(raw, reason):
    with pytest.raises(InvalidEvent) as error:
        decode(PURCHASES, raw)
    assert error.value.reason is reason


def test_derived_ids_are_stable_and_distinct_per_step():
    cause = uuid.UUID(int=42)
    assert derive_event_id(cause, "spent") == derive_event_id(cause, "spent")
    assert derive_event_id(cause, "spent") != derive_event_id(cause, "earned")


class _Renamed(Event):
    key_field = "user_id"
    type: Literal["tests.renamed"] = "tests.renamed"
    schema_version: Literal[2] = 2
    producer: str = "tests"
    user_id: str
    amount_minor: int


@upcaster("tests.renamed", from_version=1)
def _renamed_v1_to_v2(payload: dict) -> dict:
    upgraded = {**payload, "amount_minor": payload["cents"]}
    del upgraded["cents"]
    return upgraded


def test_old_versions_are_upcast_on_read():
    topic = Topic("tests.renamed", "tests", "user_id", 1, (_Renamed,))
    v1 = orjson.dumps({"event_id": str(uuid.UUID(int=1)), "type": "tests.renamed",
                       "schema_version": 1, "occurred_at": "2026-01-01T00:00:00Z",
                       "producer": "tests", "key": "u", "user_id": "u", "cents": 250})
    event = decode(topic, v1).event
    assert (event.schema_version, event.amount_minor) == (2, 250)


def test_topic_registry_is_consistent():
    names = [topic.name for topic in ALL_TOPICS]
    assert len(names) == len(set(names))
    for topic in ALL_TOPICS:
        assert topic.partitions >= 1 and topic.owner
        for model in topic.events:
            assert model.key_field in model.model_fields, (topic.name, model.__name__)
    for model in set(ALL_EVENT_MODELS) - {EventDeadLettered}:
        assert sum(model in topic.events for topic in ALL_TOPICS) == 1, model.__name__
    # Each service owns its own dead-letter topic of the same shape.
    assert sum(EventDeadLettered in topic.events for topic in ALL_TOPICS) == 3
