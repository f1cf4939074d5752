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

    def _apply(self, record: LogRecord, event: Any) -> None:
        if record.topic == POLICY_CHANGES.name:
            if isinstance(event, SpendingPolicySet):
                self.policies.append((record.timestamp_ms, SpendingPolicy.from_event(event)))
            return
        user = event.user_id
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
        wallets = {u: w.freeze() for u, w in self.wallets.items() if u not in self.stats.broken}
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
        policy_rows = []
        if self.policies:
            latest = self.policies[-1][1]
            policy_rows.append((True, latest.rate_version, latest.daily_coins,
                                latest.monthly_coins))
        return {
            "wallets": Rows(("key", "state", "version"), snapshots),
            "wallet_balances": Rows(
                ("user_id", "balance", "purchased_coins", "promo_coins", "debt", "frozen",
                 "frozen_reason", "updated_at", "adult", "daily_limit_coins",
                 "monthly_limit_coins"), balances),
            "spending_policy": Rows(("singleton", "rate_version", "daily_coins",
                                     "monthly_coins"), policy_rows),
            "event_history": self._history_rows(),
        }


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

    def _apply(self, record: LogRecord, event: Any) -> None:
        if record.topic == POLICY_CHANGES.name:
            self.policy.append((event.event_id, event.model_dump_json()))
            return
        creator_id = event.creator_id
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
            "earnings": Rows(("creator_id", "request_id", "coins", "diamonds",
                              "applied_to_debt", "available_at", "clawed_coins",
                              "clawed_diamonds", "clawed_from_held"), [
                (c, e.request_id, e.coins, e.diamonds, e.applied_to_debt, e.available_at,
                 e.clawed_coins, e.clawed_diamonds, e.clawed_from_held)
                for c, s in creators.items() for e in s.earnings.values()]),
            "creator_balances": Rows(("creator_id", "verified", "earned", "held", "available",
                                      "reserved", "withdrawn", "clawed_back", "debt", "as_of"),
                                     balances),
            "payouts": Rows(("payout_id", "creator_id", "status", "diamonds", "gross_minor",
                             "fee_minor", "net_minor", "currency", "rate_version", "reason",
                             "requested_at", "settled_at"),
                            [tuple(r) for r in self.payouts.values() if r[1] not in broken]),
            "policy_events": Rows(("event_id", "payload"), list(self.policy)),
            "event_history": self._history_rows(),
        }


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

    def _apply(self, record: LogRecord, event: Any) -> None:
        # Gift decisions first: they are most of the records (the cases exclude each other).
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
        for event in self.rejected:
            request = self.requests.get(event.causation_id)
            row = self.gifts[event.request_id]
            if request is not None and row[10] == "rejected":
                row[4], row[5] = request
        gifts = []
        for row in self.gifts.values():
            if row[4] is None:  # a rejection whose request is not in the log: cannot be a row
                self._break(row[0], "rejected request not found on streams.gift-requests")
                continue
            priced = row[12]
            gifts.append((*row[:12], None if priced is None else priced.model_dump_json(),
                          *row[13:]))
        return {
            "catalog_gifts": Rows(("gift_id", "name", "coins", "catalog_version", "retired"),
                                  [(g.gift_id, g.name, g.coins, g.catalog_version, g.retired)
                                   for g in self.catalog.values()]),
            "campaigns": Rows(("campaign_id", "multiplier", "gift_ids", "starts_at", "ends_at",
                               "ended_at"),
                              [(c.campaign_id, c.multiplier, sorted(c.gift_ids), c.starts_at,
                                c.ends_at, c.ended_at) for c in self.campaigns.values()]),
            "creator_ages": Rows(("user_id", "adult"), list(self.ages.items())),
            "streams": Rows(("stream_id", "creator_id", "started_at", "ended_at"),
                            [(s.stream_id, s.creator_id, s.started_at, s.ended_at)
                             for s in self.streams.values()]),
            "gifts": Rows(("request_id", "sender_id", "stream_id", "creator_id", "gift_id",
                           "quantity", "coins", "points", "catalog_version", "campaign_id",
                           "status", "reason", "priced_event", "requested_at", "decided_at"),
                          gifts),
            "stream_totals": Rows(("stream_id", "creator_id", "sends", "gifts", "coins",
                                   "points"), [(s, *t) for s, t in self.totals.items()]),
            "gifter_scores": Rows(("scope", "scope_id", "sender_id", "points", "coins", "gifts"),
                                  [(*k, *v) for k, v in self.scores.items()]),
            "event_history": self._history_rows(),
        }


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
