"""The event contract as an AsyncAPI 3.0 document, generated from the models and the topic
registry, so the published document can never drift from the code.

    python -m shared.contract.asyncapi > docs/asyncapi.yaml
"""

from __future__ import annotations

import yaml
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from shared.contract.topics import ALL_TOPICS

TITLE = "coinlog event contract"
VERSION = "1"


def document() -> str:
    broker = KafkaBroker("kafka:9092", description="The log of record of the coin economy.")
    for topic in ALL_TOPICS:
        broker.publisher(
            topic.name,
            title=f"{topic.name}:publish",
            description=(f"{topic.description} Owner: {topic.owner}. Key: {topic.key}. "
                         f"Partitions: {topic.partitions}. Events: "
                         f"{', '.join(sorted(topic.event_types))}."),
            schema=topic.payload_type,
        )
    spec = AsyncAPI(broker, title=TITLE, version=VERSION, schema_version="3.0.0",
                    description="Events published and consumed by coinlog. Money is integer "
                                "minor units or coins; rates are decimal strings.")
    # Sorted keys: the generator's own order follows hash seeds and would differ per run.
    return yaml.safe_dump(spec.to_specification().to_jsonable(), sort_keys=True,
                          allow_unicode=True, width=100)


if __name__ == "__main__":
    print(document(), end="")
