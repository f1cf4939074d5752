"""The AsyncAPI document says what the code accepts: its schemas are checked against the decoder
(shared/contract/codec.py) field by field, its operations against the services' consumers."""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema_rs
import orjson
import pytest

from services.registry import SERVICES
from shared.contract.asyncapi import document_dict
from shared.contract.codec import InvalidEvent, decode
from shared.contract.event_schemas import DECIMAL_PATTERN
from shared.contract.topics import ALL_TOPICS, Topic

MESSAGES = [(topic, model) for topic in ALL_TOPICS for model in topic.events]
IDS = [model.__name__ for _, model in MESSAGES]


@cache
def spec() -> dict[str, Any]:
    return document_dict()


def schema_of(name: str) -> dict[str, Any]:
    return spec()["components"]["schemas"][name]


@cache
def validator(name: str) -> Any:
    # Draft 7 ignores the siblings of a root $ref; allOf keeps the components beside it.
    root = {"allOf": [{"$ref": f"#/components/schemas/{name}"}],
            "components": {"schemas": spec()["components"]["schemas"]}}
    return jsonschema_rs.Draft7Validator(root)


def example_of(name: str) -> dict[str, Any]:
    (example,) = spec()["components"]["messages"][name]["examples"]
    return example["payload"]


def accepted(topic: Topic, payload: dict[str, Any]) -> bool:
    try:
        decode(topic, orjson.dumps(payload))
    except InvalidEvent:
        return False
    return True


@pytest.mark.parametrize("topic, model", MESSAGES, ids=IDS)
def test_every_message_has_an_example_the_model_and_the_schema_accept(topic, model):
    payload = example_of(model.__name__)
    assert type(decode(topic, orjson.dumps(payload)).event) is model
    assert validator(model.__name__).is_valid(payload)


@pytest.mark.parametrize("topic, model", MESSAGES, ids=IDS)
def test_required_fields_are_exactly_those_the_decoder_requires(topic, model):
    payload = example_of(model.__name__)
    required = set(schema_of(model.__name__)["required"])
    assert {"type", "schema_version"} <= required
    assert required <= set(payload), "the example lacks a required field"
    for name in payload:
        without = {field: value for field, value in payload.items() if field != name}
        assert accepted(topic, without) == (name not in required), name


WRONG_VALUES: list[Any] = [None, True, 0, 1, -1, 10**16, 0.5, "", "1", "0.5", "USD", "x" * 129,
                           "not an id!", "2026-03-01T12:00:00Z", [], {}, ["x"]]


@pytest.mark.parametrize("topic, model", MESSAGES, ids=IDS)
def test_what_the_schema_accepts_the_decoder_accepts(topic, model):
    """A producer that follows the document is never dead-lettered. Two rules the schemas
    cannot state are left out: `key` must equal the entity field (so both change together
    here), and a rate's numeric bounds (in its description)."""
    payload = example_of(model.__name__)
    properties = schema_of(model.__name__)["properties"]
    for name in payload:
        if name == "key" or properties[name].get("pattern") == DECIMAL_PATTERN:
            continue
        for value in WRONG_VALUES:
            changed = {**payload, name: value}
            if name == model.key_field:
                changed["key"] = value
            if validator(model.__name__).is_valid(changed):
                assert accepted(topic, changed), (name, value)


def _integer_properties(schema: dict[str, Any]) -> list[str]:
    # A const (schema_version) compares as a number both in JSON Schema and in the decoder.
    return [name for name, prop in schema["properties"].items()
            if prop.get("type") == "integer" and "const" not in prop
            or any(variant.get("type") == "integer" for variant in prop.get("anyOf", ()))]


@pytest.mark.parametrize("topic, model", MESSAGES, ids=IDS)
def test_integers_are_strict_and_rates_are_decimal_strings(topic, model):
    """JSON Schema counts 1.0 as an integer; the decoder does not, as the document says."""
    payload = example_of(model.__name__)
    schema = schema_of(model.__name__)
    for name in _integer_properties(schema):
        if isinstance(payload.get(name), int):
            assert not accepted(topic, {**payload, name: float(payload[name])}), name
    for name, prop in schema["properties"].items():
        if prop.get("pattern") == DECIMAL_PATTERN:
            assert prop["type"] == "string"
            assert not accepted(topic, {**payload, name: float(payload[name])}), name
            assert validator(model.__name__).is_valid(payload)


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    return schema.get("properties", {})


def test_every_property_has_a_description():
    undescribed = [f"{name}.{field}" for name, schema in spec()["components"]["schemas"].items()
                   for field, prop in _properties(schema).items()
                   if not prop.get("description", "").strip()]
    assert not undescribed


def _consumed() -> set[tuple[str, str]]:
    return {(topic.name, spec_.name) for definition in SERVICES
            for spec_ in definition.consumers for topic in spec_.topics}


def test_every_topic_has_its_owners_send_and_its_consumers_receive():
    operations = spec()["operations"]
    sends = {op["channel"]["$ref"].removeprefix("#/channels/") for op in operations.values()
             if op["action"] == "send"}
    assert sends == {topic.name for topic in ALL_TOPICS}
    receives = {(op["channel"]["$ref"].removeprefix("#/channels/"),
                 op["bindings"]["kafka"]["groupId"]["enum"][0])
                for op in operations.values() if op["action"] == "receive"}
    assert receives == _consumed()
    for op in operations.values():
        channel = spec()["channels"][op["channel"]["$ref"].removeprefix("#/channels/")]
        assert {ref["$ref"].rsplit("/", 1)[1] for ref in op["messages"]} == set(
            channel["messages"])


@pytest.mark.parametrize("topic", ALL_TOPICS, ids=[topic.name for topic in ALL_TOPICS])
def test_channel_bindings_state_the_topic(topic):
    binding = spec()["channels"][topic.name]["bindings"]["kafka"]
    assert binding["topic"] == topic.name
    assert binding["partitions"] == topic.partitions
    assert binding["topicConfiguration"]["retention.ms"] == topic.retention_ms


@pytest.mark.parametrize("topic, model", MESSAGES, ids=IDS)
def test_the_record_key_is_the_entity_field(topic, model):
    message = spec()["components"]["messages"][model.__name__]
    key_schema = message["bindings"]["kafka"]["key"]
    payload = example_of(model.__name__)
    assert model.key_field in key_schema["description"]
    assert jsonschema_rs.Draft7Validator(key_schema).is_valid(payload[model.key_field])
    assert payload["key"] == payload[model.key_field]
    location = message["correlationId"]["location"]
    assert location == "$message.payload#/correlation_id"
    assert "correlation_id" in schema_of(model.__name__)["properties"]
