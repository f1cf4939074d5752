"""What a fresh economy starts from: the default policy and the gift catalog, as events.

`deploy/seed/default.toml` states the same events as a seed file (`coinlog seed`), and the demo
seeds from that file; tests/unit/test_seed_file.py holds the two equal, event id for event id,
so a log seeded either way holds duplicates, never conflicts."""

from __future__ import annotations

from pathlib import Path

from services.gifting.seed_catalog import seed_catalog
from shared.contract.defaults import default_policy
from shared.contract.envelope import Event

DEFAULT_SEED_FILE = Path(__file__).resolve().parent.parent / "deploy" / "seed" / "default.toml"


def seed_events() -> list[Event]:
    return [*default_policy(), *seed_catalog()]


def default_seed_file_events() -> list[Event]:
    """The events of deploy/seed/default.toml (from a source tree, as the demo runs)."""
    from ops.seeding.run import load_seed_file

    return [seeded.event for seeded in load_seed_file(DEFAULT_SEED_FILE)]
