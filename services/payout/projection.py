"""Payout's read model, written once: its tables, the row of each creator, earning and payout,
and the fold of payout.ledger that rebuilds them. The live store writes these rows after each
batch; a rebuild writes the same rows from the log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.payout import snapshot
from services.payout.domain import Creator, Earning, Replay
from shared.consistency import InconsistentHistory
from shared.contract.events.payout import (
    DiamondsClawedBack,
    DiamondsEarned,
    PayoutEvent,
    PayoutPosted,
    PayoutRejected,
    PayoutReleased,
    PayoutReserved,
)
from shared.contract.events.policy import PolicyEvent
from shared.contract.topics import PAYOUT_LEDGER, POLICY_CHANGES
from shared.logread import LogRecord
from shared.projection import EntityKind, Projection
from shared.readmodel import ReadTable, Rows, TableChange
from shared.runtime.aggregates import SnapshotTable
from shared.runtime.history import EVENT_HISTORY

creators = SnapshotTable("creators", Creator, dump=snapshot.dump_row, load=snapshot.load,
                         # A row saved with every earning in it (before `earnings` existed)
                         # compares as the row it would be saved as now.
                         compared_as=Creator.without_earnings)
"""Rows without the earnings (see snapshot.dump_row): every earning is a row of `earnings`."""

EARNINGS = ReadTable(
    "earnings",
    (("creator_id", "text"), ("request_id", "text"), ("coins", "bigint"),
     ("diamonds", "bigint"), ("applied_to_debt", "bigint"), ("available_at", "timestamptz"),
     ("clawed_coins", "bigint"), ("clawed_diamonds", "bigint"),
     ("clawed_from_held", "bigint")),
    keys=("creator_id", "request_id"))

EARNING_FIELDS = EARNINGS.column_names[1:]
"""An Earning's fields, in the order of its columns."""

CREATOR_BALANCES = ReadTable(
    "creator_balances",
    (("creator_id", "text"), ("verified", "boolean"), ("earned", "bigint"), ("held", "bigint"),
     ("available", "bigint"), ("reserved", "bigint"), ("withdrawn", "bigint"),
     ("clawed_back", "bigint"), ("debt", "bigint"), ("as_of", "timestamptz")),
    keys=("creator_id",))
"""`as_of` is log time (the creator's clock), so it is compared."""

PAYOUTS = ReadTable(
    "payouts",
    (("payout_id", "text"), ("creator_id", "text"), ("status", "text"), ("diamonds", "bigint"),
     ("gross_minor", "bigint"), ("fee_minor", "bigint"), ("net_minor", "bigint"),
     ("currency", "text"), ("rate_version", "text"), ("reason", "text"),
     ("requested_at", "timestamptz"), ("settled_at", "timestamptz")),
    keys=("payout_id",))

POLICY_EVENTS = ReadTable(
    "policy_events", (("event_id", "uuid"), ("payload", "json")),
    # `seq` is a bigserial in the order the consumer read them: matched by ordinal instead.
    keys=("ordinal",), excluded=("seq",), ordinal=((), "seq"),
    normalize=EVENT_HISTORY.normalize)


def earning_rows(earnings: Iterable[tuple[str, Earning]]) -> list[tuple]:
    """The rows of these (creator_id, earning), in EARNINGS' column order (a test checks it):
    written out, since a rebuild makes one per gift."""
    return [(creator_id, e.request_id, e.coins, e.diamonds, e.applied_to_debt, e.available_at,
             e.clawed_coins, e.clawed_diamonds, e.clawed_from_held)
            for creator_id, e in earnings]


def earning_of(row: Any) -> Earning:
    """An Earning from a stored row (a record or mapping with its columns)."""
    return Earning(**{name: row[name] for name in EARNING_FIELDS})


def balance_row(creator_id: str, creator: Creator) -> tuple | None:
    """The creator's figures as of its own clock; None before its first event."""
    at = creator.clock
    if at is None:
        return None
    return (creator_id, creator.verified, creator.earned_diamonds, creator.held(at),
            creator.available(at), creator.reserved_diamonds, creator.withdrawn_diamonds,
            creator.clawed_back_diamonds, creator.debt_diamonds, at)


def payout_row(row: tuple | None, event: PayoutEvent) -> tuple | None:
    """The payout's row after the event, from the row before it (None: no row): a reservation
    writes it; a rejection writes one unless the payout has one; posting or releasing settles
    the row if there is one."""
    match event:
        case PayoutReserved():
            return (event.payout_id, event.creator_id, "reserved", event.diamonds,
                    event.gross_minor, event.fee_minor, event.net_minor, event.currency,
                    event.rate_version, None, event.occurred_at, None)
        case PayoutRejected() if row is None:
            return (event.payout_id, event.creator_id, "rejected", event.diamonds, None, None,
                    None, None, None, event.reason.value, event.occurred_at, event.occurred_at)
        case PayoutPosted() if row is not None:
            return PAYOUTS.with_values(row, status="paid", reason=None,
                                       settled_at=event.occurred_at)
        case PayoutReleased() if row is not None:
            return PAYOUTS.with_values(row, status="failed", reason=event.reason,
                                       settled_at=event.occurred_at)
    return row


PAYOUT_EVENTS = (PayoutReserved, PayoutRejected, PayoutPosted, PayoutReleased)


def describe(creator: Creator, at: datetime | None = None) -> dict:
    """A creator's diamonds, judged at `at` (default: its own clock), as an answer about it at
    a point of its log."""
    moment = at or creator.clock
    body = {"creator_id": creator.creator_id, "verified": creator.verified,
            "earned": creator.earned_diamonds, "reserved": creator.reserved_diamonds,
            "withdrawn": creator.withdrawn_diamonds, "clawed_back": creator.clawed_back_diamonds,
            "debt": creator.debt_diamonds, "judged_at": moment}
    if moment is not None:
        body |= {"held": creator.held(moment), "available": creator.available(moment),
                 "withdrawable": creator.withdrawable(moment)}
    return body


def _replay_step(draft: Replay, event: PayoutEvent) -> Replay:
    draft.apply(event)
    return draft


def _start(creator_id: str) -> Replay:
    return Replay.of(Creator(creator_id))


CREATOR = EntityKind("creator", PAYOUT_LEDGER, _start, _replay_step, Replay.freeze, Replay.of,
                     snapshot.dump, snapshot.load, describe)


def policy_event_row(event: PolicyEvent) -> tuple:
    return (event.event_id, event.model_dump_json())


class PayoutProjection(Projection):
    """payout.ledger folded with the domain's Replay (what `rebuild` uses), plus every policy
    event for `policy_events` (the live consumer records every one it reads)."""

    service = "payout"
    topics = (PAYOUT_LEDGER, POLICY_CHANGES)
    tables = (creators.read_table, EARNINGS, CREATOR_BALANCES, PAYOUTS, POLICY_EVENTS,
              EVENT_HISTORY)
    ledgers = (PAYOUT_LEDGER,)
    shared_tables = ("policy_events",)

    def __init__(self) -> None:
        super().__init__()
        self.creators: dict[str, Replay] = {}
        self.counts: dict[str, int] = defaultdict(int)
        self.payouts: dict[str, tuple] = {}
        self.policy: list[tuple] = []
        self._changed: PayoutChanges | None = None

    def track_changes(self) -> None:
        self.take_history()
        self._changed = PayoutChanges(policy_written=len(self.policy),
                                      broken=len(self.stats.broken))

    def _apply(self, record: LogRecord, event: Any) -> None:
        if record.topic == POLICY_CHANGES.name:
            self.policy.append(policy_event_row(event))
            return
        creator_id = event.creator_id
        if self._changed is not None:
            self._changed.note(event)
        if creator_id in self.stats.broken:
            return
        draft = self.creators.get(creator_id)
        if draft is None:
            draft = self.creators[creator_id] = Replay.of(Creator(creator_id))
        try:
            draft.apply(event)
        except InconsistentHistory as problem:
            self._break(creator_id, f"{problem} at {record.partition}:{record.offset}")
            return
        self.counts[creator_id] += 1
        if isinstance(event, PAYOUT_EVENTS):  # DiamondsEarned, most of the log, is not one
            row = payout_row(self.payouts.get(event.payout_id), event)
            if row is not None:
                self.payouts[event.payout_id] = row
        self._record_history(record, event)

    def rows(self) -> dict[str, Rows]:
        broken = self.stats.broken
        frozen = {c: d.freeze() for c, d in self.creators.items() if c not in broken}
        return {**self._creator_rows(frozen),
                "earnings": EARNINGS.of(earning_rows(
                    (c, e) for c, s in frozen.items() for e in s.earnings.values())),
                "payouts": PAYOUTS.of([r for r in self.payouts.values() if r[1] not in broken]),
                "policy_events": POLICY_EVENTS.of(list(self.policy)),
                "event_history": self._history_rows()}

    def changes(self) -> dict[str, TableChange] | None:
        changed = self._changed
        if changed is None:
            raise RuntimeError("changes() without track_changes()")
        if len(self.stats.broken) != changed.broken:
            # A creator that stops folding loses every row, not only the changed ones.
            return None
        broken = self.stats.broken
        frozen = {c: self.creators[c].freeze() for c in changed.creators
                  if c in self.creators and c not in broken}
        tables = self._creator_rows(frozen)
        keys = [(creator,) for creator in sorted(changed.creators)]
        earnings = sorted(changed.earnings)
        payouts = sorted(changed.payouts)
        return {
            "creators": TableChange(tables["creators"], ("key",), keys),
            "creator_balances": TableChange(tables["creator_balances"], ("creator_id",), keys),
            # Earnings and payouts change one by one (a gift earned or clawed back, a payout
            # settled): a creator's other rows stay as they are, however many.
            "earnings": TableChange(self._earning_rows(frozen, earnings),
                                    ("creator_id", "request_id"), earnings),
            "payouts": TableChange(PAYOUTS.of([self.payouts[p] for p in payouts
                                               if p in self.payouts]),
                                   ("payout_id",), [(p,) for p in payouts]),
            "policy_events": TableChange(POLICY_EVENTS.of(self.policy[changed.policy_written:])),
            "event_history": TableChange(self._history_rows()),
        }

    def _earning_rows(self, frozen: dict[str, Creator],
                      keys: Iterable[tuple[str, str]]) -> Rows:
        rows = []
        for creator_id, request_id in keys:
            creator = frozen.get(creator_id)
            earning = None if creator is None else creator.earnings.get(request_id)
            if earning is not None:
                rows.append((creator_id, earning))
        return EARNINGS.of(earning_rows(rows))

    def _creator_rows(self, frozen: dict[str, Creator]) -> dict[str, Rows]:
        """creators and creator_balances of these (frozen) creators."""
        balances = [balance_row(c, s) for c, s in frozen.items()]
        return {
            # The service's rows leave earnings out (matured ones folded into totals, every
            # one a row of `earnings`); that is a function of the state, so the rebuilt rows
            # do not depend on how the live consumer batched.
            "creators": creators.read_table.of([creators.row_of(c, s, self.counts[c])
                                                for c, s in frozen.items()]),
            "creator_balances": CREATOR_BALANCES.of([b for b in balances if b is not None]),
        }


@dataclass
class PayoutChanges:
    """The keys of payout's rows that events changed since track_changes()."""

    policy_written: int
    """policy_events rows written before."""
    broken: int
    """Creators that did not fold before."""
    creators: set[str] = field(default_factory=set)
    earnings: set[tuple[str, str]] = field(default_factory=set)
    payouts: set[str] = field(default_factory=set)

    def note(self, event: Any) -> None:
        self.creators.add(event.creator_id)
        match event:
            case DiamondsEarned() | DiamondsClawedBack():
                self.earnings.add((event.creator_id, event.request_id))
            case PayoutReserved() | PayoutRejected() | PayoutPosted() | PayoutReleased():
                self.payouts.add(event.payout_id)
