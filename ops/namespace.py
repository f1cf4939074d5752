"""Where a demo's services keep their data: the topic prefix and the schema of each service.

The default is the deployment's own: the topics as the registry names them (or with the
COINLOG_TOPIC_PREFIX the environment sets) and one schema per service, named after it. An
isolated namespace gives a run topics and schemas of its own, which nothing else has written
(the integration test uses one).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from services.registry import NAMES as SERVICE_NAMES


@dataclass(frozen=True)
class Namespace:
    topic_prefix: str = ""
    schema_prefix: str = ""

    @classmethod
    def deployment(cls) -> Namespace:
        return cls(topic_prefix=os.environ.get("COINLOG_TOPIC_PREFIX", ""))

    @classmethod
    def isolated(cls, name: str) -> Namespace:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", name):
            raise ValueError(f"namespace {name!r}: lowercase letters, digits and _ only")
        return cls(topic_prefix=f"{name}.", schema_prefix=f"{name}_")

    def schema(self, service: str) -> str:
        return f"{self.schema_prefix}{service}"

    @property
    def schemas(self) -> dict[str, str]:
        """Quoted schema names by service, to format into SQL."""
        return {service: f'"{self.schema(service)}"' for service in SERVICE_NAMES}
