"""The event contract as an AsyncAPI 3.0 document, generated from the models and the topic
registry, so the published document can never drift from the code.

    python -m shared.contract.asyncapi > docs/asyncapi.yaml
"""

from __future__ import annotations

from typing import Annotated, Union

import yaml
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import Field

from shared.contract.topics import ALL_TOPICS, Topic

TITLE = "coinlog event contract"
VERSION = "1"


def _payload_type(topic: Topic):
    if len(topic.events) == 1:
        return topic.events[0]
    return Annotated[Union[topic.events], Field(discriminator="type")]  # noqa: UP007


def document() -> str:
    broker = KafkaBroker("kafka:9092", description="The log of record of the coin economy.")
    for topic in ALL_TOPICS:
        broker.publisher(
            topic.name,
            title=f"{topic.name}:publish",
            description=(f"{topic.description} Owner: {topic.owner}. Key: {topic.key}. "
                         f"Partitions: {topic.partitions}. Events: "
                         f"{', '.join(sorted(topic.event_types))}."),
            schema=_payload_type(topic),
        )
    spec = AsyncAPI(broker, title=TITLE, version=VERSION, schema_version="3.0.0",
                    description="Events published and consumed by coinlog. Money is integer "
                                "minor units or coins; rates are decimal strings.")
    # Sorted keys: the generator's own order follows hash seeds and would differ per run.
    return yaml.safe_dump(spec.to_specification().to_jsonable(), sort_keys=True,
                          allow_unicode=True, width=100)


if __name__ == "__main__":
    print(document(), end="")
