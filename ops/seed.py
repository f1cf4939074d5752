"""What a fresh economy starts from: the default policy and the gift catalog, as events."""

from __future__ import annotations

from services.gifting.seed_catalog import seed_catalog
from shared.contract.defaults import default_policy
from shared.contract.envelope import Event


def seed_events() -> list[Event]:
    return [*default_policy(), *seed_catalog()]
