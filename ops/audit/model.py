"""What an audit reports: named invariants with counts and pinpointed violations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple

MAX_EXAMPLES = 20
"""Violations kept per invariant (all are counted)."""

INVARIANTS: dict[str, str] = {
    "coin_conservation": "Coins credited - spent - clawed back - expired = balance, per wallet "
                         "and in total; every balance_after follows from the previous one",
    "double_entry": "Every wallet, payout and payment event as balanced transfers; "
                    "sum of debits = sum of credits per ledger",
    "no_overspend": "No spend beyond the balance; below zero only by a clawback, and then "
                    "no spend",
    "diamond_conservation": "Per creator: earned - withdrawn - reserved - clawed back = "
                            "held + available - debt; no payout beyond what is withdrawable",
    "money": "Cash received = refunded + charged back + paid out + fees + liabilities + "
             "platform revenue, to the minor unit, revenue >= 0",
    "causation": "Every output event is caused by an input event of the right type, with "
                 "matching fields; every input is decided exactly once",
    "rates": "Every earning, conversion and price at the rate of the version it names",
    "decodability": "Every record on a non-dead-letter topic decodes; no event id reused "
                    "with different content on an output topic",
    "log_complete": "Every partition holds a record at every offset from 0 to the cut: "
                    "nothing was deleted from a log kept forever",
}


class Location(NamedTuple):
    """Where a record is in the log. One is built for every record fed, so it is a tuple (the
    cheapest immutable object to build); while auditing the event id may be the event's UUID,
    a reported violation always carries it as text (see Invariant.fail)."""

    topic: str
    partition: int
    offset: int
    event_id: str | uuid.UUID | None = None

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}" + (
            f" ({self.event_id})" if self.event_id else "")


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: str
    message: str
    location: Location | None = None


@dataclass
class Invariant:
    name: str
    description: str
    checked: int = 0
    failed: int = 0
    examples: list[Violation] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.failed == 0

    def ok(self, count: int = 1) -> None:
        self.checked += count

    def fail(self, message: str, location: Location | None = None) -> None:
        self.checked += 1
        self.failed += 1
        if len(self.examples) < MAX_EXAMPLES:
            if location is not None and isinstance(location.event_id, uuid.UUID):
                location = location._replace(event_id=str(location.event_id))
            self.examples.append(Violation(self.name, message, location))

    def check(self, condition: bool, message: str, location: Location | None = None) -> bool:
        """Count one check; record a violation when `condition` is false.

        The message is built before the call; where a check runs for every record and its
        message formats ids or times, callers test the condition themselves and call `ok()` or
        `fail(message)`, so the message is only built for a violation."""
        if condition:
            self.checked += 1
        else:
            self.fail(message, location)
        return condition


def new_invariants() -> dict[str, Invariant]:
    return {name: Invariant(name, description) for name, description in INVARIANTS.items()}


@dataclass
class AuditReport:
    invariants: list[Invariant]
    figures: dict[str, Any]
    """Key numbers: events per topic, coin and diamond totals, trial balances."""
    money: dict[str, dict[str, int]]
    """Per currency: every term of the money identity (see fold.money_terms)."""
    series: list[dict[str, int]]
    """Liabilities along the log: {"ts_ms", "coins", "diamonds"}."""
    cut_time: str | None = None

    @property
    def passed(self) -> bool:
        return all(invariant.passed for invariant in self.invariants)

    def invariant(self, name: str) -> Invariant:
        return next(invariant for invariant in self.invariants if invariant.name == name)

    def failed_names(self) -> list[str]:
        return [invariant.name for invariant in self.invariants if not invariant.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "cut_time": self.cut_time,
            "invariants": [
                {"name": inv.name, "description": inv.description, "passed": inv.passed,
                 "checked": inv.checked, "failed": inv.failed,
                 "violations": [{"message": v.message,
                                 "location": v.location._asdict() if v.location else None}
                                for v in inv.examples]}
                for inv in self.invariants],
            "figures": self.figures,
            "money": self.money,
            "series": self.series,
        }
