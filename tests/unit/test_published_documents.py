"""The published AsyncAPI document is the one the code generates."""

from pathlib import Path

import yaml

from shared.contract.asyncapi import document
from shared.contract.topics import ALL_TOPICS

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


def test_published_document_is_current():
    assert PUBLISHED.read_text() == document(), (
        "docs/asyncapi.yaml is stale: run python -m shared.contract.asyncapi > docs/asyncapi.yaml")


def test_document_describes_every_topic_and_event():
    spec = yaml.safe_load(document())
    addresses = {channel["address"] for channel in spec["channels"].values()}
    assert addresses == {topic.name for topic in ALL_TOPICS}
    schemas = spec["components"]["schemas"]
    for topic in ALL_TOPICS:
        for model in topic.events:
            assert model.__name__ in schemas, model.__name__


def test_published_openapi_documents_are_current():
    from ops.openapi import DOCS, document as openapi
    from services.registry import SERVICES

    for definition in SERVICES:
        published = (DOCS / f"{definition.name}.json").read_bytes()
        assert published == openapi(definition), (
            f"docs/openapi/{definition.name}.json is stale: run python -m ops.openapi")
