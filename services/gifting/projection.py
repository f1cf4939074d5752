"""Gifting's read model, written once: its tables, the row of each stream, gift, campaign and
gift request, the increments a sent gift adds to totals and leaderboards, and the fold of
gifting.gifts (with the fact topics gifting keeps tables of) that rebuilds them. The live store
writes these rows after each batch; a rebuild writes the same rows from the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from services.gifting.domain import (
    Campaign,
    CatalogGift,
    Stream,
    evolve_campaign,
    evolve_gift,
    evolve_stream,
)
from services.gifting.domain.leaderboard import boards_of, score_added, totals_added
from shared.contract.events.catalog import (
    CampaignEnded,
    CampaignStarted,
    GiftListed,
    GiftRepriced,
    GiftRetired,
)
from shared.contract.events.gifting import GiftFailed, GiftPriced, GiftRejected, GiftSent
from shared.contract.events.streams import GiftRequested, StreamEnded, StreamStarted
from shared.contract.events.users import AgeVerified
from shared.contract.topics import (
    CATALOG_CHANGES,
    GIFT_REQUESTS,
    GIFTS,
    STREAM_LIFECYCLE,
    USER_ACCOUNTS,
)
from shared.logread import LogRecord
from shared.projection import Projection
from shared.readmodel import ReadTable, Rows, TableChange
from shared.runtime.history import EVENT_HISTORY

CATALOG_GIFTS = ReadTable(
    "catalog_gifts",
    (("gift_id", "text"), ("name", "text"), ("coins", "bigint"), ("catalog_version", "integer"),
     ("retired", "boolean")),
    keys=("gift_id",))
CAMPAIGNS = ReadTable(
    "campaigns",
    (("campaign_id", "text"), ("multiplier", "numeric"), ("gift_ids", "text[]"),
     ("starts_at", "timestamptz"), ("ends_at", "timestamptz"), ("ended_at", "timestamptz")),
    keys=("campaign_id",))
STREAMS = ReadTable(
    "streams",
    (("stream_id", "text"), ("creator_id", "text"), ("started_at", "timestamptz"),
     ("ended_at", "timestamptz")),
    keys=("stream_id",))
CREATOR_AGES = ReadTable("creator_ages", (("user_id", "text"), ("adult", "boolean")),
                         keys=("user_id",))
GIFTS_TABLE = ReadTable(
    "gifts",
    (("request_id", "text"), ("sender_id", "text"), ("stream_id", "text"),
     ("creator_id", "text"), ("gift_id", "text"), ("quantity", "integer"), ("coins", "bigint"),
     ("points", "bigint"), ("catalog_version", "integer"), ("campaign_id", "text"),
     ("status", "text"), ("reason", "text"), ("priced_event", "json"),
     ("requested_at", "timestamptz"), ("decided_at", "timestamptz")),
    keys=("request_id",), normalize={"priced_event": orjson.loads})
STREAM_TOTALS = ReadTable(
    "stream_totals",
    (("stream_id", "text"), ("creator_id", "text"), ("sends", "bigint"), ("gifts", "bigint"),
     ("coins", "bigint"), ("points", "bigint")),
    keys=("stream_id",))
GIFTER_SCORES = ReadTable(
    "gifter_scores",
    (("scope", "text"), ("scope_id", "text"), ("sender_id", "text"), ("points", "bigint"),
     ("coins", "bigint"), ("gifts", "bigint")),
    keys=("scope", "scope_id", "sender_id"))


def catalog_row(gift: CatalogGift) -> tuple:
    return (gift.gift_id, gift.name, gift.coins, gift.catalog_version, gift.retired)


def campaign_row(campaign: Campaign) -> tuple:
    return (campaign.campaign_id, campaign.multiplier, sorted(campaign.gift_ids),
            campaign.starts_at, campaign.ends_at, campaign.ended_at)


def stream_row(stream: Stream) -> tuple:
    return (stream.stream_id, stream.creator_id, stream.started_at, stream.ended_at)


def priced_row(priced: GiftPriced, priced_event: object) -> list:
    """A priced gift waiting for the wallet's answer, which is settled against the GiftPriced
    kept in the row: `priced_event` is its JSON (or the event, for a fold that encodes it only
    if the gift is still unanswered at the end)."""
    return [priced.request_id, priced.sender_id, priced.stream_id, priced.creator_id,
            priced.gift_id, priced.quantity, priced.coins, priced.points,
            priced.catalog_version, priced.campaign_id, "priced", None, priced_event,
            priced.occurred_at, priced.occurred_at]


def rejected_row(rejection: GiftRejected, gift_id: str | None, quantity: int | None) -> list:
    """A request rejected when priced. GiftRejected does not carry the gift and quantity
    asked for: they come from the request."""
    return [rejection.request_id, rejection.sender_id, rejection.stream_id, None, gift_id,
            quantity, None, None, None, None, "rejected", rejection.reason.value, None,
            rejection.occurred_at, rejection.occurred_at]


STATUS, REASON, PRICED_EVENT = (GIFTS_TABLE.position(column)
                                for column in ("status", "reason", "priced_event"))
GIFT_ID, QUANTITY = GIFTS_TABLE.position("gift_id"), GIFTS_TABLE.position("quantity")
TOTALS_ADDED = ("sends", "gifts", "coins", "points")
SCORES_ADDED = ("points", "coins", "gifts")


def settlement(outcome: GiftSent | GiftFailed) -> tuple[str, str | None]:
    """(status, reason) of a gift the wallet answered; its priced_event is dropped then."""
    return ("sent", None) if isinstance(outcome, GiftSent) else ("failed", outcome.reason)


def total_increment(sent: GiftSent) -> tuple:
    """The stream_totals row one sent gift adds (domain.leaderboard.totals_added)."""
    return (sent.stream_id, sent.creator_id, *totals_added(sent))


def score_keys(sent: GiftSent) -> list[tuple[str, str, str]]:
    """The gifter_scores rows a sent gift changes: its sender on each of its boards."""
    sender_id = sent.sender_id
    return [(scope, scope_id, sender_id) for scope, scope_id in boards_of(sent)]


def score_increments(sent: GiftSent) -> list[tuple]:
    """The gifter_scores rows one sent gift adds (domain.leaderboard.score_added)."""
    points, coins, gifts = score_added(sent)
    sender_id = sent.sender_id
    return [(scope, scope_id, sender_id, points, coins, gifts)
            for scope, scope_id in boards_of(sent)]


class GiftingProjection(Projection):
    """gifting.gifts (its decisions) plus the facts gifting keeps tables of: streams.lifecycle
    (streams), catalog.changes (catalog_gifts, campaigns), users.accounts (creator_ages) and
    streams.gift-requests, read only for the gift_id and quantity of rejected requests
    (GiftRejected does not carry them)."""

    service = "gifting"
    topics = (GIFTS, STREAM_LIFECYCLE, CATALOG_CHANGES, USER_ACCOUNTS, GIFT_REQUESTS)
    tables = (CATALOG_GIFTS, CAMPAIGNS, STREAMS, CREATOR_AGES, GIFTS_TABLE, STREAM_TOTALS,
              GIFTER_SCORES, EVENT_HISTORY)
    # Decisions and the requests they answer are both keyed by sender with as many partitions.
    ledgers = (GIFTS, GIFT_REQUESTS)
    shared_tables = ("catalog_gifts", "campaigns", "creator_ages", "streams")
    summed_tables = {"stream_totals": 2}

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

    def _apply(self, record: LogRecord, event: Any) -> None:  # noqa: C901 - one case per type
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
                self.gifts.setdefault(event.request_id, priced_row(event, event))
            case GiftRejected():
                self._record_history(record, event)
                self.rejected.append(event)
                self.gifts.setdefault(event.request_id, rejected_row(event, None, None))
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
        row = self.gifts.get(event.request_id)
        if row is not None:
            row[STATUS], row[REASON] = settlement(event)
            row[PRICED_EVENT] = None
        if not isinstance(event, GiftSent):
            return
        # total_increment and score_increments, unrolled: this runs for most of the log.
        sends, gifts, coins, points = totals_added(event)
        total = self.totals.get(event.stream_id)
        if total is None:
            total = self.totals[event.stream_id] = [event.creator_id, 0, 0, 0, 0]
        total[1] += sends
        total[2] += gifts
        total[3] += coins
        total[4] += points
        scores, sender_id = self.scores, event.sender_id
        for scope, scope_id in boards_of(event):
            key = (scope, scope_id, sender_id)
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

    def _gift_rows(self, request_ids: Iterable[str]) -> Rows:
        for event in self.rejected:
            request = self.requests.get(event.causation_id)
            row = self.gifts[event.request_id]
            if request is not None and row[STATUS] == "rejected":
                row[GIFT_ID], row[QUANTITY] = request
        gifts = []
        for request_id in request_ids:
            found = self.gifts.get(request_id)
            if found is None:
                continue
            if found[GIFT_ID] is None:  # a rejection whose request is not in the log: no row
                self._break(found[0], "rejected request not found on streams.gift-requests")
                continue
            priced = found[PRICED_EVENT]
            gifts.append((*found[:PRICED_EVENT],
                          None if priced is None else priced.model_dump_json(),
                          *found[PRICED_EVENT + 1:]))
        return GIFTS_TABLE.of(gifts)

    def _catalog_rows(self) -> Rows:
        return CATALOG_GIFTS.of([catalog_row(g) for g in self.catalog.values()])

    def _campaign_rows(self) -> Rows:
        return CAMPAIGNS.of([campaign_row(c) for c in self.campaigns.values()])

    def _age_rows(self, users: Iterable[str]) -> Rows:
        return CREATOR_AGES.of([(u, self.ages[u]) for u in users if u in self.ages])

    def _stream_rows(self, stream_ids: Iterable[str]) -> Rows:
        return STREAMS.of([stream_row(self.streams[s]) for s in stream_ids if s in self.streams])

    def _total_rows(self, stream_ids: Iterable[str]) -> Rows:
        return STREAM_TOTALS.of([(s, *self.totals[s]) for s in stream_ids if s in self.totals])

    def _score_rows(self, keys: Iterable[tuple[str, str, str]]) -> Rows:
        return GIFTER_SCORES.of([(*k, *self.scores[k]) for k in keys if k in self.scores])


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
                self.scores.update(score_keys(event))
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
