"""The event contract as an AsyncAPI 3.0 document, generated from the models, the topic
registry and the frozen samples, so the published document can never drift from the code.

    python -m shared.contract.asyncapi > docs/asyncapi.yaml

Each topic is a channel with its owner's `send` operation and one `receive` operation per
coinlog consumer that reads it; each event is a message whose example is its frozen sample.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml

from shared.contract.envelope import Event
from shared.contract.event_schemas import event_schemas
from shared.contract.topics import ALL_TOPICS, Topic, consumers_of

TITLE = "coinlog event contract"
VERSION = "1"
KAFKA_BINDING = "0.5.0"
SAMPLES = Path(__file__).resolve().parents[2] / "tests" / "contract" / "samples"
"""Frozen samples of every event version; absent where only the package is installed."""

DESCRIPTION = (
    "Events published and consumed by coinlog, one JSON object per Kafka record. Money is "
    "integer coins, diamonds or cash minor units (with an ISO 4217 `currency`); integers are "
    "strict: `1.0`, `\"1\"` and `true` are rejected. Rates are decimal strings (\"0.5\"). "
    "Properties not in a schema are ignored. An event a consumer cannot accept goes to that "
    "consumer's dead-letter topic with the reason. Topic names and consumer groups carry "
    "the environment's COINLOG_TOPIC_PREFIX, empty by default.")

TRACE_HEADERS = {
    "type": "object",
    "description": "Kafka record headers. Only trace context travels here, and no consumer "
                   "depends on it; a dead letter keeps the headers of the record it holds.",
    "properties": {
        name: {"type": "string", "description": f"{text} (OpenTelemetry's propagator)."}
        for name, text in (("traceparent", "W3C trace context of the span that wrote the event"),
                           ("tracestate", "W3C vendor trace state"),
                           ("baggage", "W3C baggage"))},
}

TOPIC_CONFIGURATION = {"cleanup.policy", "retention.ms", "retention.bytes",
                       "delete.retention.ms", "max.message.bytes"}
"""The topic settings the Kafka channel binding can state."""
DESCRIBED_CONFIGURATION = {"message.timestamp.type"}
"""Topic settings the binding has no field for: the channel's description states them."""


def document_dict(samples: Path = SAMPLES) -> dict[str, Any]:
    events = [model for topic in ALL_TOPICS for model in topic.events]
    operations: dict[str, Any] = {}
    for topic in ALL_TOPICS:
        operations.update(_operations(topic))
    return {
        "asyncapi": "3.0.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "servers": {"development": {
            "host": "kafka:9092", "protocol": "kafka",
            "description": "The broker of docker-compose.yml; the log of record."}},
        "channels": {topic.name: _channel(topic) for topic in ALL_TOPICS},
        "operations": operations,
        "components": {
            "schemas": event_schemas(events),
            "messages": {model.__name__: _message(model, samples) for model in events},
        },
    }


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        # An object used twice is written twice: anchors and aliases would hinder readers.
        return True


def document(samples: Path = SAMPLES) -> str:
    return yaml.dump(document_dict(samples), Dumper=_Dumper, sort_keys=False,
                     allow_unicode=True, width=100)


def _channel(topic: Topic) -> dict[str, Any]:
    configuration = {"retention.ms": topic.retention_ms, **topic.config}
    described = {name: configuration.pop(name) for name in DESCRIBED_CONFIGURATION
                 if name in configuration}
    unknown = set(configuration) - TOPIC_CONFIGURATION
    if unknown:
        raise ValueError(f"{topic.name}: the Kafka binding cannot state {sorted(unknown)}")
    stamped = ""
    if described.get("message.timestamp.type") == "LogAppendTime":
        stamped = (" The broker stamps each record with the time it appends it "
                   "(`message.timestamp.type=LogAppendTime`): an event whose `occurred_at` is "
                   "more than MAX_CLOCK_SKEW_S ahead of that time is dead-lettered "
                   "(`occurred_in_future`).")
    return {
        "address": topic.name,
        "title": topic.name,
        "description": (f"{topic.description} Owner: {topic.owner}. Partitioned by "
                        f"`{topic.key}`: the record key is that field of the event."
                        + stamped),
        "servers": [{"$ref": "#/servers/development"}],
        "messages": {model.__name__: {"$ref": f"#/components/messages/{model.__name__}"}
                     for model in topic.events},
        "bindings": {"kafka": {
            "topic": topic.name, "partitions": topic.partitions,
            "topicConfiguration": {name: _configured(name, value)
                                   for name, value in configuration.items()},
            "bindingVersion": KAFKA_BINDING}},
    }


def _configured(name: str, value: Any) -> Any:
    # Topic.config holds Kafka's own string values; the binding wants them typed.
    if name == "cleanup.policy":
        return str(value).split(",")
    return int(value)


def _operations(topic: Topic) -> dict[str, Any]:
    operations = {f"{topic.name}.send": {
        "action": "send", "channel": _channel_ref(topic),
        "title": f"{topic.owner} publishes {topic.name}",
        "summary": f"Only {topic.owner} writes {topic.name}.", "messages": _message_refs(topic)}}
    for consumer in consumers_of(topic):
        operations[f"{topic.name}.receive.{consumer}"] = {
            "action": "receive", "channel": _channel_ref(topic),
            "title": f"{consumer} consumes {topic.name}",
            "summary": (f"The {consumer} service reads {topic.name} in its consumer group "
                        f"and dead-letters what it cannot accept to {consumer}.dead-letter."),
            "messages": _message_refs(topic),
            "bindings": {"kafka": {
                "groupId": {"type": "string", "enum": [consumer]},
                "bindingVersion": KAFKA_BINDING}},
        }
    return operations


def _channel_ref(topic: Topic) -> dict[str, str]:
    return {"$ref": f"#/channels/{topic.name}"}


def _message_refs(topic: Topic) -> list[dict[str, str]]:
    return [{"$ref": f"#/channels/{topic.name}/messages/{model.__name__}"}
            for model in topic.events]


def _message(model: type[Event], samples: Path) -> dict[str, Any]:
    key_field = model.model_fields[model.key_field]
    message: dict[str, Any] = {
        "name": model.model_fields["type"].default,
        "title": model.__name__,
        "contentType": "application/json",
        "headers": TRACE_HEADERS,
        "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
        "correlationId": {
            "description": "The id of the first event of the causal chain; absent or null "
                           "on an event that starts one.",
            "location": "$message.payload#/correlation_id"},
        "bindings": {"kafka": {
            "key": {**_key_schema(model),
                    "description": f"The event's `{model.key_field}` (UTF-8), equal to the "
                                   f"payload's `key`. {key_field.description or ''}".strip()},
            "bindingVersion": KAFKA_BINDING}},
    }
    summary = _first_paragraph(model.__doc__)
    if summary:
        message["summary"] = summary
    examples = _examples(model, samples)
    if examples:
        message["examples"] = examples
    return message


def _examples(model: type[Event], samples: Path) -> list[dict[str, Any]]:
    """The frozen sample of the model's current version: what a producer writes today."""
    event_type = model.model_fields["type"].default
    sample = samples / event_type / f"v{model.model_fields['schema_version'].default}.json"
    if not sample.exists():
        return []
    return [{"name": sample.stem,
             "summary": f"The frozen sample tests/contract/samples/{event_type}/{sample.name}.",
             "payload": orjson.loads(sample.read_bytes())}]


def _key_schema(model: type[Event]) -> dict[str, Any]:
    schema = dict(model.model_json_schema()["properties"][model.key_field])
    for noise in ("title", "description", "default"):
        schema.pop(noise, None)
    return schema


def _first_paragraph(text: str | None) -> str:
    if not text:
        return ""
    return " ".join(text.strip().split("\n\n")[0].split())


if __name__ == "__main__":
    print(document(), end="")
