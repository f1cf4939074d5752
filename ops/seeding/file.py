"""A seed file (TOML) read into the policy and catalog events it stands for, all validated first.

The format is documented in `deploy/seed/README.md`. Every entry becomes one contract event,
validated by the contract's own model, so the file accepts exactly what the topics accept. The
event ids derive from what identifies an entry (a policy's rate_version, a price's package and
platform within it, a gift's id and catalog version, a campaign's id), never from its figures:
the same entry published twice is a duplicate, and a figure changed under the same identity is
the same id with other content, a conflict. Reading is pure; nothing here touches Kafka.
"""

from __future__ import annotations

import re
import tomllib
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from services.gifting.seed_catalog import (
    SEED_NAMESPACE as GIFT_NAMESPACE,
    seed_event_id as gift_listing_id,
)
from shared.contract.codec import MAX_CLOCK_SKEW_S
from shared.contract.defaults import SEED_NAMESPACE as POLICY_NAMESPACE
from shared.contract.envelope import Event
from shared.contract.events import catalog, policy

FORMAT = 1
"""The version of the file format; a file names it as `format = 1`."""

DERIVED_FIELDS = frozenset({"event_id", "type", "schema_version", "key", "producer",
                            "policy_key", "correlation_id", "causation_id"})
"""Envelope fields the seed fills in itself; an entry that sets one is refused."""


class SeedFileInvalid(Exception):
    """The file cannot be seeded; `problems` name each place (`where: what`)."""

    def __init__(self, source: str, problems: list[str]):
        super().__init__(f"{source}: {len(problems)} problem(s):\n"
                         + "\n".join(f"  {problem}" for problem in problems))
        self.source = source
        self.problems = problems


@dataclass(frozen=True)
class SeedEvent:
    event: Event
    identity: str
    """What the entry is, in words (`policy/share-2026-01`, `gift/rose@1`); its id derives
    from it."""
    where: str
    """The entry's place in the file (`line 12, gifts[0]`)."""


@dataclass(frozen=True)
class Section:
    """One kind of entry: the TOML key, the event it becomes, what identifies an entry."""

    name: str
    model: type[Event]
    identity: Callable[[Mapping[str, Any]], str]
    many: bool = True
    defaults: Mapping[str, Any] = field(default_factory=dict)


def _policy_identity(entry: Mapping[str, Any]) -> str:
    return f"policy/{entry.get('rate_version')}"


def _package_identity(entry: Mapping[str, Any]) -> str:
    # The defaults' ids name rate version, package and platform; a region of its own therefore
    # takes a rate version of its own (like every currency's cash rate does).
    return f"policy/{entry.get('rate_version')}/{entry.get('package_id')}/{entry.get('platform')}"


def gift_identity(entry: Mapping[str, Any]) -> str:
    return f"gift/{entry.get('gift_id')}@{entry.get('catalog_version')}"


def campaign_identity(entry: Mapping[str, Any]) -> str:
    return f"campaign/{entry.get('campaign_id')}"


SECTIONS = (
    # In the order the defaults publish them (shared/contract/defaults.py), policy first.
    Section("creator_share", policy.CreatorShareSet, _policy_identity, many=False),
    Section("hold_period", policy.HoldPeriodSet, _policy_identity, many=False),
    Section("cash_rates", policy.DiamondCashRateSet, _policy_identity),
    Section("payout_limits", policy.PayoutLimitsSet, _policy_identity),
    Section("spending_policy", policy.SpendingPolicySet, _policy_identity, many=False),
    Section("coin_packages", policy.CoinPackagePriced, _package_identity),
    Section("gifts", catalog.GiftListed, gift_identity, defaults={"catalog_version": 1}),
    Section("campaigns", catalog.CampaignStarted, campaign_identity),
)
TOP_LEVEL = frozenset({"format", "occurred_at"}) | {section.name for section in SECTIONS}


def event_id_for(section: Section, entry: Mapping[str, Any]) -> uuid.UUID:
    """The id of the event an entry becomes. A version-1 gift listing keeps the id the gift
    catalog seed always gave it (the gift id alone), and policy ids are the defaults' own, so a
    log seeded before holds duplicates of a seed of the default file, not conflicts."""
    if section.model is catalog.GiftListed and entry.get("catalog_version") == 1:
        return gift_listing_id(str(entry.get("gift_id")))
    namespace = POLICY_NAMESPACE if issubclass(section.model, policy.PolicyEvent) \
        else GIFT_NAMESPACE
    return uuid.uuid5(namespace, section.identity(entry))


def read_seed(text: str, source: str = "<seed>") -> list[SeedEvent]:
    """Every event of the file in publishing order (policy, then catalog), or SeedFileInvalid
    listing every problem found; none is published when there is any."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SeedFileInvalid(source, [f"not TOML: {error}"]) from None
    lines = text.splitlines()
    problems = _top_level_problems(document)
    events: list[SeedEvent] = []
    for section in SECTIONS:
        for where, entry in _entries(document, section, lines, problems):
            seeded = _event(section, entry, document.get("occurred_at"), where, problems)
            if seeded is not None:
                events.append(seeded)
    problems += _repeated_identities(events)
    if problems:
        raise SeedFileInvalid(source, problems)
    return events


def _top_level_problems(document: Mapping[str, Any]) -> list[str]:
    problems = []
    if document.get("format") != FORMAT:
        problems.append(f"format: must be {FORMAT} (the seed file format this coinlog reads), "
                        f"not {document.get('format')!r}")
    if "occurred_at" not in document:
        problems.append("occurred_at: missing (the time every event of the file carries, "
                        "e.g. 2026-01-01T00:00:00Z)")
    problems += [f"{key}: not a section of a seed file (known: {', '.join(sorted(TOP_LEVEL))})"
                 for key in document if key not in TOP_LEVEL]
    return problems


def _entries(document: Mapping[str, Any], section: Section, lines: list[str],
             problems: list[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    value = document.get(section.name)
    if value is None:
        return
    if not section.many:
        if isinstance(value, dict):
            yield f"line {_line_of(lines, section.name)}, {section.name}", value
        else:
            problems.append(f"{section.name}: must be a table ([{section.name}])")
        return
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        problems.append(f"{section.name}: must be an array of tables ([[{section.name}]] or "
                        f"{section.name} = [{{...}}, ...])")
        return
    for index, entry in enumerate(value):
        yield f"line {_line_of(lines, section.name, index)}, {section.name}[{index}]", entry


_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z_]+)\s*\]\]?\s*(#.*)?$")
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z_]+)\s*=")


def _line_of(lines: list[str], name: str, index: int = 0) -> int:
    """The line where a section (or its index-th entry) starts: its `[[name]]` header, or the
    index-th inline table after `name = [`. A guide for people; 0 when not found."""
    seen = -1
    inline = False
    for number, line in enumerate(lines, start=1):
        header = _HEADER.match(line)
        if header:
            inline = False
            if header.group(1) == name:
                seen += 1
                if seen == index:
                    return number
            continue
        assignment = _ASSIGNMENT.match(line)
        if assignment:
            inline = assignment.group(1) == name
        if inline and "{" in line:
            for _ in range(line.count("{")):
                seen += 1
                if seen == index:
                    return number
    return 0


def _event(section: Section, entry: Mapping[str, Any], occurred_at: Any, where: str,
           problems: list[str]) -> SeedEvent | None:
    derived = sorted(DERIVED_FIELDS & entry.keys())
    if derived:
        problems.append(f"{where}: {', '.join(derived)}: set by coinlog seed, not by the file")
        return None
    swallowed = sorted(TOP_LEVEL & entry.keys())
    if swallowed:
        problems.append(f"{where}: {', '.join(swallowed)}: a key after a [table] header belongs "
                        "to that table; write the sections as inline tables at the top level, "
                        "as deploy/seed/default.toml does")
        return None
    entry = {**section.defaults, **entry}
    fields = {**({} if occurred_at is None else {"occurred_at": occurred_at}), **entry,
              "event_id": event_id_for(section, entry)}
    try:
        event = section.model.model_validate(fields)
    except ValidationError as error:
        problems += [f"{where}: {_location(item['loc'])}: {item['msg']}"
                     for item in error.errors(include_url=False)]
        return None
    return SeedEvent(event, section.identity(entry), where)


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(entry)"


def ahead_of(events: Iterable[SeedEvent], now: datetime) -> list[str]:
    """Events dated further ahead of `now` than the topics accept: a consumer would dead-letter
    them as occurred_in_future (shared/contract/codec.MAX_CLOCK_SKEW_S)."""
    latest = now + timedelta(seconds=MAX_CLOCK_SKEW_S)
    return [f"{seeded.where}: occurred_at {seeded.event.occurred_at.isoformat()} is in the "
            f"future (more than {MAX_CLOCK_SKEW_S} s ahead of now); coinlog would dead-letter "
            "it as occurred_in_future" for seeded in events if seeded.event.occurred_at > latest]


def _repeated_identities(events: list[SeedEvent]) -> list[str]:
    first: dict[str, SeedEvent] = {}
    problems = []
    for seeded in events:
        earlier = first.setdefault(seeded.identity, seeded)
        if earlier is not seeded:
            problems.append(f"{seeded.where}: {seeded.identity} again (first at "
                            f"{earlier.where}): each rate_version, package price, gift version "
                            "and campaign is one entry")
    return problems
