"""The HTTP API of each service as an OpenAPI document, generated from its routes.

    python -m ops.openapi   (rewrites docs/openapi/<service>.json)
"""

from __future__ import annotations

from pathlib import Path

import orjson

from services.registry import SERVICES
from shared.runtime.http import service_app
from shared.runtime.service import ServiceDefinition

DOCS = Path(__file__).resolve().parents[1] / "docs" / "openapi"


def document(definition: ServiceDefinition) -> bytes:
    app = service_app(definition, None, None)  # the document needs no database
    return orjson.dumps(app.openapi(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def main() -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    for definition in SERVICES:
        (DOCS / f"{definition.name}.json").write_bytes(document(definition))


if __name__ == "__main__":
    main()
