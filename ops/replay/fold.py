"""Pure folds of a service's own output events (and the fact topics it keeps tables of) into
the rows of its read tables. No I/O: records in, rows out.

Never re-decides: each service's state is the fold of what it decided (wallet.ledger,
payout.ledger, gifting.gifts) with the domain's own evolve / fold / rebuild. Records are applied
per partition in offset order (LogReader's guarantee); every table's rows depend only on the
order of one entity's events, which all live on one partition.

As the live consumers do (their inbox), a repeated event_id is applied once; undecodable records
are skipped and counted (live consumers dead-letter them, they never change state).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.gifting.domain import evolve_campaign, evolve_gift, evolve_stream
from services.gifting.domain.leaderboard import units
from services.payout import snapshot as creator_snapshot
from services.payout.domain import Creator, InconsistentHistory, Replay
from services.wallet.domain import (
    SpendingPolicy,
    Wallet,
    WalletDraft,
    balance,
    effective_limit,
)
from services.wallet.store import buckets, wallets as wallet_snapshots
from shared.contract.events.catalog import (
    CampaignEnded,
    CampaignStarted,
    GiftListed,
    GiftRepriced,
    GiftRetired,
)
from shared.contract.events.gifting import GiftFailed, GiftPriced, GiftRejected, GiftSent
from shared.contract.events.payout import (
    DiamondsClawedBack,
    DiamondsEarned,
    PayoutPosted,
    PayoutRejected,
    PayoutReleased,
    PayoutReserved,
)
from shared.contract.events.policy import SpendingPolicySet
from shared.contract.events.streams import GiftRequested, StreamEnded, StreamStarted
from shared.contract.events.users import AgeVerified, LimitPeriod
from shared.contract.events.wallet import CoinsSpent, SpendRejected
from shared.contract.topics import (
    CATALOG_CHANGES,
    GIFT_REQUESTS,
    GIFTS,
    PAYOUT_LEDGER,
    POLICY_CHANGES,
    STREAM_LIFECYCLE,
    USER_ACCOUNTS,
    WALLET_LEDGER,
    Topic,
)
from shared.logread import LogRecord

SPEND_DECISIONS = (CoinsSpent, SpendRejected)


@dataclass
class Rows:
    columns: tuple[str, ...]
    rows: list[tuple]


@dataclass
class TableChange:
    """How a table written from an earlier rows() becomes what rows() gives now: delete the rows
    whose `key_columns` equal one of `keys` (every row with `replace_all`), then write `rows`.
    Without keys the table only grows (event history)."""

    rows: Rows
    key_columns: tuple[str, ...] = ()
    keys: list[tuple] = field(default_factory=list)
    replace_all: bool = False


@dataclass
class FoldStats:
    records: int = 0
    applied: int = 0
    duplicates: int = 0
    undecodable: int = 0
    broken: dict[str, str] = field(default_factory=dict)
    """Entities whose events do not fold (the domain raised): entity -> first problem. Their
    later events are skipped and their rows left out, so verify shows them."""


class Projection:
    service: str
    topics: tuple[Topic, ...]

    def __init__(self) -> None:
        self.stats = FoldStats()
        self._seen: set[int] = set()
        """Event ids applied, as integers (hashing a UUID object runs Python code)."""
        self._history: list[tuple] = []
        """(timestamp_ms, topic, partition, offset, *event_history row): sorts in log order."""

    def apply_batch(self, records: Iterable[LogRecord]) -> None:
        for record in records:
            self.apply(record)

    def apply(self, record: LogRecord) -> None:
        stats = self.stats
        stats.records += 1
        decoded = record.decoded
        if decoded is None:
            stats.undecodable += 1
            return
        event = decoded.event
        seen = self._seen
        before = len(seen)
        seen.add(event.event_id.int)
        if len(seen) == before:
            stats.duplicates += 1
            return
        stats.applied += 1
        self._apply(record, event)

    def _apply(self, record: LogRecord, event: Any) -> None:
        raise NotImplementedError

    def track_changes(self) -> None:
        """From now on remember what each event changes, for changes(). The history folded so
        far is taken to be written already (take_history)."""
        raise NotImplementedError

    def changes(self) -> dict[str, TableChange] | None:
        """What turns the rows() of track_changes() time into the rows() of now, touching only
        the rows of entities that events changed since; None when a change may reach every
        row (the caller compares all rows instead)."""
        raise NotImplementedError

    def _record_history(self, record: LogRecord, event: Any) -> None:
        # Only the row is kept, not the record or the decoded event: a long log's history
        # would otherwise hold every event model in memory until rows().
        self._history.append((record.timestamp_ms, record.topic, record.partition,
                              record.offset, event.key, event.event_id, event.type,
                              event.occurred_at, published_json(record, event)))

    HISTORY_COLUMNS = ("entity", "event_id", "type", "occurred_at", "payload")

    @property
    def history_backlog(self) -> int:
        return len(self._history)

    def take_history(self) -> list[tuple]:
        """The event_history rows folded so far, in fold order (log order per entity), for a
        caller that writes them while the fold goes on; rows() leaves them out. Rows of an
        entity that breaks later are among them: the caller removes those (stats.broken)."""
        taken = [entry[4:] for entry in self._history]
        self._history = []
        return taken

    def _history_rows(self) -> Rows:
        """In log order per entity; across entities roughly in decision (append-time) order."""
        broken = self.stats.broken
        # (topic, partition, offset) is unique, so the sort never compares the rows themselves.
        return Rows(self.HISTORY_COLUMNS,
                    [entry[4:] for entry in sorted(self._history) if entry[4] not in broken])

    def _break(self, entity: str, problem: object) -> None:
        self.stats.broken.setdefault(entity, str(problem)[:300])

    def rows(self) -> dict[str, Rows]:
        raise NotImplementedError


class WalletProjection(Projection):
    """wallet.ledger folded with evolve, plus policy.changes for `spending_policy`.

    `wallet_balances.daily/monthly_limit_coins` use the spending policy the live handler had
    when it saved the wallet: if the wallet's last event is a spend decision, the policy whose
    rate_version it records; otherwise the latest SpendingPolicySet appended to the log before
    the wallet's last ledger record (append time). That is the live value except when a policy
    change raced the wallet's last decision within one consumer batch (the live handler uses the
    end-of-batch policy)."""

    service = "wallet"
    topics = (WALLET_LEDGER, POLICY_CHANGES)

    def __init__(self) -> None:
        super().__init__()
        self.wallets: dict[str, WalletDraft] = {}
        self.last: dict[str, tuple[datetime, int, str | None, bool]] = {}
        self.counts: dict[str, int] = defaultdict(int)
        self.policies: list[tuple[int, SpendingPolicy]] = []
        self._changed: set[str] | None = None
        self._policy_changed = False

    def track_changes(self) -> None:
        self.take_history()
        self._changed, self._policy_changed = set(), False

    def _apply(self, record: LogRecord, event: Any) -> None:
        if record.topic == POLICY_CHANGES.name:
            if isinstance(event, SpendingPolicySet):
                self.policies.append((record.timestamp_ms, SpendingPolicy.from_event(event)))
                self._policy_changed = True
            return
        user = event.user_id
        if self._changed is not None:
            self._changed.add(user)
        if user in self.stats.broken:
            return
        wallet = self.wallets.get(user)
        if wallet is None:
            wallet = self.wallets[user] = WalletDraft.of(Wallet(user))
        try:
            wallet.apply(event)
        except AssertionError as problem:
            self._break(user, f"{event.type} {event.event_id} at {record.partition}:"
                              f"{record.offset}: {problem}")
            return
        decision = isinstance(event, SPEND_DECISIONS)
        self.last[user] = (event.occurred_at, record.timestamp_ms,
                           event.spending_policy_version if decision else None, decision)
        self.counts[user] += 1
        self._record_history(record, event)

    def policy_for(self, user: str) -> SpendingPolicy | None:
        _, timestamp_ms, version, decision = self.last[user]
        if decision:
            if version is None:
                return None
            matching = [p for _, p in self.policies if p.rate_version == version]
            if matching:
                return matching[-1]
        before = [p for ts, p in self.policies if ts <= timestamp_ms]
        return before[-1] if before else None

    def rows(self) -> dict[str, Rows]:
        return {**self._wallet_rows(self.wallets),
                "spending_policy": self._policy_rows(),
                "event_history": self._history_rows()}

    def changes(self) -> dict[str, TableChange] | None:
        if self._changed is None:
            raise RuntimeError("changes() without track_changes()")
        if self._policy_changed:
            # The limits shown with every balance follow the policy.
            return None
        tables = self._wallet_rows(self._changed)
        keys = [(user,) for user in sorted(self._changed)]
        return {"wallets": TableChange(tables["wallets"], ("key",), keys),
                "wallet_balances": TableChange(tables["wallet_balances"], ("user_id",), keys),
                "event_history": TableChange(self._history_rows())}

    def _wallet_rows(self, users: Iterable[str]) -> dict[str, Rows]:
        broken = self.stats.broken
        wallets = {u: self.wallets[u].freeze() for u in users
                   if u in self.wallets and u not in broken}
        snapshots = [(user, wallet_snapshots.dump(w).decode(), self.counts[user])
                     for user, w in wallets.items()]
        balances = []
        for user, wallet in wallets.items():
            purchased, promo = buckets(wallet)
            policy = self.policy_for(user)
            balances.append((
                user, balance(wallet), purchased, promo, wallet.debt, wallet.frozen,
                wallet.frozen_reason.value if wallet.frozen_reason else None,
                self.last[user][0], wallet.adult,
                effective_limit(wallet, LimitPeriod.daily, policy),
                effective_limit(wallet, LimitPeriod.monthly, policy)))
        return {
            "wallets": Rows(("key", "state", "version"), snapshots),
            "wallet_balances": Rows(
                ("user_id", "balance", "purchased_coins", "promo_coins", "debt", "frozen",
                 "frozen_reason", "updated_at", "adult", "daily_limit_coins",
                 "monthly_limit_coins"), balances),
        }

    def _policy_rows(self) -> Rows:
        policy_rows = []
        if self.policies:
            latest = self.policies[-1][1]
            policy_rows.append((True, latest.rate_version, latest.daily_coins,
                                latest.monthly_coins))
        return Rows(("singleton", "rate_version", "daily_coins", "monthly_coins"), policy_rows)


class PayoutProjection(Projection):
    """payout.ledger folded with the domain's Replay (what `rebuild` uses), plus every policy
    event for `policy_events` (the live consumer records every one it reads)."""

    service = "payout"
    topics = (PAYOUT_LEDGER, POLICY_CHANGES)

    def __init__(self) -> None:
        super().__init__()
        self.creators: dict[str, Replay] = {}
        self.counts: dict[str, int] = defaultdict(int)
        self.payouts: dict[str, list] = {}
        self.policy: list[tuple[Any, str]] = []
        self._changed: PayoutChanges | None = None

    def track_changes(self) -> None:
        self.take_history()
        self._changed = PayoutChanges(policy_written=len(self.policy),
                                      broken=len(self.stats.broken))

    def _apply(self, record: LogRecord, event: Any) -> None:
        if record.topic == POLICY_CHANGES.name:
            self.policy.append((event.event_id, event.model_dump_json()))
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
        except (InconsistentHistory, AssertionError) as problem:
            self._break(creator_id, f"{problem} at {record.partition}:{record.offset}")
            return
        self.counts[creator_id] += 1
        self._payout_row(event)
        self._record_history(record, event)

    def _payout_row(self, event: Any) -> None:
        # The same statements as services/payout/store.record_payouts, as row updates.
        match event:
            case DiamondsEarned():  # most of the log; not a payout
                pass
            case PayoutReserved():
                self.payouts[event.payout_id] = [
                    event.payout_id, event.creator_id, "reserved", event.diamonds,
                    event.gross_minor, event.fee_minor, event.net_minor, event.currency,
                    event.rate_version, None, event.occurred_at, None]
            case PayoutRejected():
                self.payouts.setdefault(event.payout_id, [
                    event.payout_id, event.creator_id, "rejected", event.diamonds, None, None,
                    None, None, None, event.reason.value, event.occurred_at, event.occurred_at])
            case PayoutPosted() | PayoutReleased():
                row = self.payouts.get(event.payout_id)
                if row is not None:
                    row[2] = "paid" if isinstance(event, PayoutPosted) else "failed"
                    row[9] = event.reason if isinstance(event, PayoutReleased) else None
                    row[11] = event.occurred_at

    def rows(self) -> dict[str, Rows]:
        broken = self.stats.broken
        creators = {c: d.freeze() for c, d in self.creators.items() if c not in broken}
        return {**self._creator_rows(creators),
                "earnings": Rows(self.EARNING_COLUMNS, [
                    (c, e.request_id, e.coins, e.diamonds, e.applied_to_debt, e.available_at,
                     e.clawed_coins, e.clawed_diamonds, e.clawed_from_held)
                    for c, s in creators.items() for e in s.earnings.values()]),
                "payouts": Rows(self.PAYOUT_COLUMNS, [tuple(r) for r in self.payouts.values()
                                                      if r[1] not in broken]),
                "policy_events": Rows(self.POLICY_COLUMNS, list(self.policy)),
                "event_history": self._history_rows()}

    POLICY_COLUMNS = ("event_id", "payload")

    def changes(self) -> dict[str, TableChange] | None:
        changed = self._changed
        if changed is None:
            raise RuntimeError("changes() without track_changes()")
        if len(self.stats.broken) != changed.broken:
            # A creator that stops folding loses every row, not only the changed ones.
            return None
        broken = self.stats.broken
        creators = {c: self.creators[c].freeze() for c in changed.creators
                    if c in self.creators and c not in broken}
        tables = self._creator_rows(creators)
        keys = [(creator,) for creator in sorted(changed.creators)]
        earnings = sorted(changed.earnings)
        payouts = sorted(changed.payouts)
        return {
            "creators": TableChange(tables["creators"], ("key",), keys),
            "creator_balances": TableChange(tables["creator_balances"], ("creator_id",), keys),
            # Earnings and payouts change one by one (a gift earned or clawed back, a payout
            # settled): a creator's other rows stay as they are, however many.
            "earnings": TableChange(self._earning_rows(creators, earnings),
                                    ("creator_id", "request_id"), earnings),
            "payouts": TableChange(self._payout_rows(payouts), ("payout_id",),
                                   [(p,) for p in payouts]),
            "policy_events": TableChange(Rows(self.POLICY_COLUMNS,
                                              self.policy[changed.policy_written:])),
            "event_history": TableChange(self._history_rows()),
        }

    EARNING_COLUMNS = ("creator_id", "request_id", "coins", "diamonds", "applied_to_debt",
                       "available_at", "clawed_coins", "clawed_diamonds", "clawed_from_held")
    PAYOUT_COLUMNS = ("payout_id", "creator_id", "status", "diamonds", "gross_minor",
                      "fee_minor", "net_minor", "currency", "rate_version", "reason",
                      "requested_at", "settled_at")

    def _earning_rows(self, creators: dict[str, Creator],
                      keys: Iterable[tuple[str, str]]) -> Rows:
        rows = []
        for creator_id, request_id in keys:
            creator = creators.get(creator_id)
            e = None if creator is None else creator.earnings.get(request_id)
            if e is not None:
                rows.append((creator_id, e.request_id, e.coins, e.diamonds, e.applied_to_debt,
                             e.available_at, e.clawed_coins, e.clawed_diamonds,
                             e.clawed_from_held))
        return Rows(self.EARNING_COLUMNS, rows)

    def _payout_rows(self, payout_ids: Iterable[str]) -> Rows:
        return Rows(self.PAYOUT_COLUMNS, [tuple(self.payouts[p]) for p in payout_ids
                                          if p in self.payouts])

    def _creator_rows(self, creators: dict[str, Creator]) -> dict[str, Rows]:
        """creators and creator_balances of these (frozen) creators."""
        balances = []
        for creator_id, creator in creators.items():
            at = creator.clock
            if at is None:
                continue
            balances.append((creator_id, creator.verified, creator.earned_diamonds,
                             creator.held(at), creator.available(at), creator.reserved_diamonds,
                             creator.withdrawn_diamonds, creator.clawed_back_diamonds,
                             creator.debt_diamonds, at))
        return {
            # The service's rows leave earnings out (matured ones folded into totals, every
            # one a row of `earnings`); that is a function of the state, so the rebuilt rows
            # do not depend on how the live consumer batched.
            "creators": Rows(("key", "state", "version"), [
                (c, creator_snapshot.dump_row(s).decode(), self.counts[c])
                for c, s in creators.items()]),
            "creator_balances": Rows(("creator_id", "verified", "earned", "held", "available",
                                      "reserved", "withdrawn", "clawed_back", "debt", "as_of"),
                                     balances),
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


class GiftingProjection(Projection):
    """gifting.gifts (its decisions) plus the facts gifting keeps tables of: streams.lifecycle
    (streams), catalog.changes (catalog_gifts, campaigns), users.accounts (creator_ages) and
    streams.gift-requests, read only for the gift_id and quantity of rejected requests
    (GiftRejected does not carry them)."""

    service = "gifting"
    topics = (GIFTS, STREAM_LIFECYCLE, CATALOG_CHANGES, USER_ACCOUNTS, GIFT_REQUESTS)

    def __init__(self) -> None:
        super().__init__()
        self.streams: dict[str, Any] = {}
        self.ages: dict[str, bool] = {}
        self.catalog: dict[str, Any] = {}
        self.campaigns: dict[str, Any] = {}
        self.requests: dict[Any, tuple[str, int]] = {}
        self.gifts: dict[str, list] = {}
        self.rejected: list[GiftRejected] = []
        self.totals: dict[str, list] = {}
        self.scores: dict[tuple[str, str, str], list[int]] = {}
        self._changed: GiftingChanges | None = None

    def track_changes(self) -> None:
        self.take_history()
        self._changed = GiftingChanges()

    def apply(self, record: LogRecord) -> None:
        # Requests are only looked up by event id: a republish under a new id is harmless.
        if record.topic == GIFT_REQUESTS.name:
            self.stats.records += 1
            if record.decoded is not None:
                event = record.decoded.event
                if isinstance(event, GiftRequested):
                    self.requests.setdefault(event.event_id, (event.gift_id, event.quantity))
            return
        super().apply(record)

    def _apply(self, record: LogRecord, event: Any) -> None:  # noqa: C901 - one case per event type
        # Gift decisions first: they are most of the records (the cases exclude each other).
        if self._changed is not None:
            self._changed.note(event)
        match event:
            case GiftSent() | GiftFailed():
                self._record_history(record, event)
                self._settle(event)
            case GiftPriced():
                self._record_history(record, event)
                # The JSON of priced_event is made in rows(), only for gifts still unsettled.
                self.gifts.setdefault(event.request_id, [
                    event.request_id, event.sender_id, event.stream_id, event.creator_id,
                    event.gift_id, event.quantity, event.coins, event.points,
                    event.catalog_version, event.campaign_id, "priced", None,
                    event, event.occurred_at, event.occurred_at])
            case GiftRejected():
                self._record_history(record, event)
                self.rejected.append(event)
                self.gifts.setdefault(event.request_id, [
                    event.request_id, event.sender_id, event.stream_id, None, None, None, None,
                    None, None, None, "rejected", event.reason.value, None, event.occurred_at,
                    event.occurred_at])
            case StreamStarted() | StreamEnded():
                self.streams[event.stream_id] = evolve_stream(
                    self.streams.get(event.stream_id), event)
            case AgeVerified():
                self.ages[event.user_id] = event.adult
            case GiftListed() | GiftRepriced() | GiftRetired():
                gift = evolve_gift(self.catalog.get(event.gift_id), event)
                if gift is not None:
                    self.catalog[event.gift_id] = gift
            case CampaignStarted() | CampaignEnded():
                campaign = evolve_campaign(self.campaigns.get(event.campaign_id), event)
                if campaign is not None:
                    self.campaigns[event.campaign_id] = campaign

    def _settle(self, event: GiftSent | GiftFailed) -> None:
        sent = isinstance(event, GiftSent)
        row = self.gifts.get(event.request_id)
        if row is not None:
            row[10:13] = ("sent", None, None) if sent else ("failed", event.reason, None)
        if not sent:
            return
        gifts, coins, points = units(event), event.coins, event.points
        total = self.totals.get(event.stream_id)
        if total is None:
            total = self.totals[event.stream_id] = [event.creator_id, 0, 0, 0, 0]
        total[1] += 1
        total[2] += gifts
        total[3] += coins
        total[4] += points
        scores = self.scores
        for key in (("stream", event.stream_id, event.sender_id),
                    ("creator", event.creator_id, event.sender_id)):
            score = scores.get(key)
            if score is None:
                score = scores[key] = [0, 0, 0]
            score[0] += points
            score[1] += coins
            score[2] += gifts

    def rows(self) -> dict[str, Rows]:
        return {
            "catalog_gifts": self._catalog_rows(),
            "campaigns": self._campaign_rows(),
            "creator_ages": self._age_rows(self.ages),
            "streams": self._stream_rows(self.streams),
            "gifts": self._gift_rows(self.gifts),
            "stream_totals": self._total_rows(self.totals),
            "gifter_scores": self._score_rows(self.scores),
            "event_history": self._history_rows(),
        }

    def changes(self) -> dict[str, TableChange] | None:
        changed = self._changed
        if changed is None:
            raise RuntimeError("changes() without track_changes()")
        requests = [(r,) for r in sorted(changed.requests)]
        streams = [(s,) for s in sorted(changed.streams)]
        tables = {
            "gifts": TableChange(self._gift_rows(changed.requests), ("request_id",), requests),
            "streams": TableChange(self._stream_rows(changed.streams), ("stream_id",),
                                   streams),
            "stream_totals": TableChange(self._total_rows(changed.streams), ("stream_id",),
                                         streams),
            "gifter_scores": TableChange(self._score_rows(changed.scores),
                                         ("scope", "scope_id", "sender_id"),
                                         sorted(changed.scores)),
            "creator_ages": TableChange(self._age_rows(changed.ages), ("user_id",),
                                        [(u,) for u in sorted(changed.ages)]),
            "event_history": TableChange(self._history_rows()),
        }
        # A handful of rows each: written whole when anything in them changed.
        if changed.catalog:
            tables["catalog_gifts"] = TableChange(self._catalog_rows(), replace_all=True)
        if changed.campaigns:
            tables["campaigns"] = TableChange(self._campaign_rows(), replace_all=True)
        return tables

    GIFT_COLUMNS = ("request_id", "sender_id", "stream_id", "creator_id", "gift_id", "quantity",
                    "coins", "points", "catalog_version", "campaign_id", "status", "reason",
                    "priced_event", "requested_at", "decided_at")

    def _gift_rows(self, request_ids: Iterable[str]) -> Rows:
        for event in self.rejected:
            request = self.requests.get(event.causation_id)
            row = self.gifts[event.request_id]
            if request is not None and row[10] == "rejected":
                row[4], row[5] = request
        gifts = []
        for request_id in request_ids:
            row = self.gifts.get(request_id)
            if row is None:
                continue
            if row[4] is None:  # a rejection whose request is not in the log: cannot be a row
                self._break(row[0], "rejected request not found on streams.gift-requests")
                continue
            priced = row[12]
            gifts.append((*row[:12], None if priced is None else priced.model_dump_json(),
                          *row[13:]))
        return Rows(self.GIFT_COLUMNS, gifts)

    def _catalog_rows(self) -> Rows:
        return Rows(("gift_id", "name", "coins", "catalog_version", "retired"),
                    [(g.gift_id, g.name, g.coins, g.catalog_version, g.retired)
                     for g in self.catalog.values()])

    def _campaign_rows(self) -> Rows:
        return Rows(("campaign_id", "multiplier", "gift_ids", "starts_at", "ends_at",
                     "ended_at"),
                    [(c.campaign_id, c.multiplier, sorted(c.gift_ids), c.starts_at, c.ends_at,
                      c.ended_at) for c in self.campaigns.values()])

    def _age_rows(self, users: Iterable[str]) -> Rows:
        return Rows(("user_id", "adult"),
                    [(u, self.ages[u]) for u in users if u in self.ages])

    def _stream_rows(self, stream_ids: Iterable[str]) -> Rows:
        found = [self.streams[s] for s in stream_ids if s in self.streams]
        return Rows(("stream_id", "creator_id", "started_at", "ended_at"),
                    [(s.stream_id, s.creator_id, s.started_at, s.ended_at) for s in found])

    def _total_rows(self, stream_ids: Iterable[str]) -> Rows:
        return Rows(("stream_id", "creator_id", "sends", "gifts", "coins", "points"),
                    [(s, *self.totals[s]) for s in stream_ids if s in self.totals])

    def _score_rows(self, keys: Iterable[tuple[str, str, str]]) -> Rows:
        return Rows(("scope", "scope_id", "sender_id", "points", "coins", "gifts"),
                    [(*k, *self.scores[k]) for k in keys if k in self.scores])


@dataclass
class GiftingChanges:
    """The keys of gifting's rows that events changed since track_changes()."""

    requests: set[str] = field(default_factory=set)
    streams: set[str] = field(default_factory=set)
    scores: set[tuple[str, str, str]] = field(default_factory=set)
    ages: set[str] = field(default_factory=set)
    catalog: bool = False
    campaigns: bool = False

    def note(self, event: Any) -> None:
        match event:
            case GiftSent():
                self.requests.add(event.request_id)
                self.streams.add(event.stream_id)
                self.scores.add(("stream", event.stream_id, event.sender_id))
                self.scores.add(("creator", event.creator_id, event.sender_id))
            case GiftFailed() | GiftPriced() | GiftRejected():
                self.requests.add(event.request_id)
            case StreamStarted() | StreamEnded():
                self.streams.add(event.stream_id)
            case AgeVerified():
                self.ages.add(event.user_id)
            case GiftListed() | GiftRepriced() | GiftRetired():
                self.catalog = True
            case CampaignStarted() | CampaignEnded():
                self.campaigns = True


def published_json(record: LogRecord, event: Any) -> str:
    """The event's JSON as the service published it, which is what its event_history holds:
    the record's own bytes, unless decoding upcast them to the current schema version, in
    which case the event as decoded."""
    raw = record.value
    if raw is not None and record.decoded is not None and not record.decoded.upcast:
        return raw.decode()
    return event.model_dump_json()


PROJECTIONS: dict[str, type[Projection]] = {
    "wallet": WalletProjection, "payout": PayoutProjection, "gifting": GiftingProjection}


def projection(service: str) -> Projection:
    try:
        return PROJECTIONS[service]()
    except KeyError:
        raise ValueError(f"unknown service {service!r}; one of {', '.join(PROJECTIONS)}") from None
