"""The audit as a pure fold: `Auditor.feed(record)` for every LogRecord of every topic (in any
interleaving of partitions, each partition in offset order), then `report()`.

No I/O here: the command feeds records read by shared/logread.LogReader; tests feed records
built by hand.

Duplicates: a record whose event_id was seen before with the same content is a harmless
republish (the relay after a crash, a producer retry) and is skipped, as every consumer's inbox
does. The same id with different content on an output topic (wallet, gifting, payout) is a
`decodability` violation (tampering or a broken decision); on an input topic it is the
producer's conflict, dead-lettered by the consumers, and only counted.

The cut time (for held vs available diamonds) is `until` when given, else the latest
occurred_at in the log: decisions run on event time, never on a clock.

The money identity, per currency (every term an integer in the minor unit):

    received      = sum of PurchaseCompleted.amount_minor (once per user and purchase_id)
    refunded      = sum of PurchaseRefunded.amount_minor  (the first take-back per purchase)
    charged_back  = sum of PurchaseChargedBack.amount_minor (idem)
    refused_unreturned = cash of the purchases the wallet refused off the price list and never
                        credited (PurchaseRefused.amount_minor, once per purchase), less what
                        their refunds and chargebacks gave back: money held for no coins
    paid_out      = sum of PayoutPosted.net_minor
    fees          = sum of fee_minor of posted payouts
    payouts_in_flight = sum of gross_minor of reserved, not yet settled payouts
    coins_liability   = cash value of the purchased coins still in wallets: per lot not
                        clawed back, amount_minor - floor(used * amount_minor / coins)
                        (promo coins are worth nothing; a wallet's debt is not a receivable)
    diamonds_liability = floor(diamonds owed * minor_per_diamond) at the latest
                        DiamondCashRateSet of the reference currency (USD by default), where
                        diamonds owed = sum over creators of max(0, held + available - debt);
                        0 in other currencies
    revenue       = received - every term above   (the residual: what the platform kept)

The identity then holds by definition; what is checked is that revenue >= 0 in every currency,
that the terms agree with each other (purchases credited at the cash received, less the
refused; the lots' cash clawed back = refunded + charged back, less what went back for refused
purchases; every LotUse.value_minor is the exact cumulative
allocation; posted nets = reserved nets) and that the conversion arithmetic is exact (`rates`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime

from ops.audit.causality import Causality
from ops.audit.creators import CreatorBook
from ops.audit.ledger import Ledger
from ops.audit.model import AuditReport, Invariant, Location, new_invariants
from ops.audit.rates import RateBook
from ops.audit.wallets import WalletBook
from shared.contract.events.catalog import GiftListed, GiftRepriced
from shared.contract.events.deadletter import EventDeadLettered
from shared.contract.events.gifting import GiftPriced, GiftSent
from shared.contract.events.payments import (
    PurchaseChargedBack,
    PurchaseCompleted,
    PurchaseRefunded,
)
from shared.contract.events.payout import DiamondsEarned, PayoutEvent, PayoutReserved
from shared.contract.events.policy import PolicyEvent
from shared.contract.events.wallet import (
    CoinsClawedBack,
    CoinsPurchased,
    PurchaseRefused,
    WalletEvent,
)
from shared.contract.topics import DEAD_LETTERS, GIFTS, PAYOUT_LEDGER, WALLET_LEDGER
from shared.logread import LogRecord, Missing

OUTPUT_TOPICS = frozenset({WALLET_LEDGER.name, GIFTS.name, PAYOUT_LEDGER.name})
DEAD_LETTER_TOPICS = frozenset(topic.name for topic in DEAD_LETTERS)
SERIES_POINTS = 240


class Auditor:
    def __init__(self, *, until: datetime | None = None, grace_s: float = 0.0,
                 reference_currency: str = "USD"):
        self.until = until
        self.reference_currency = reference_currency
        self.invariants: dict[str, Invariant] = new_invariants()
        self.ledger = Ledger(self.invariants["double_entry"])
        self.wallets = WalletBook(self.invariants, self.ledger)
        self.creators = CreatorBook(self.invariants, self.ledger)
        self.rates = RateBook(self.invariants["rates"])
        self.causality = Causality(self.invariants["causation"], grace_s)
        self.decodability = self.invariants["decodability"]
        self.digests: dict[int, bytes] = {}
        """First 16 bytes of each event's content digest, by event_id.int (an int hashes
        faster than a UUID)."""
        self._handlers: dict[type, Callable | None] = {}
        self.records = 0
        self.events: Counter[str] = Counter()
        self.by_topic: Counter[str] = Counter()
        self.republished = 0
        self.input_conflicts = 0
        self.undecodable_dead_letters = 0
        self.dead_letters: Counter[str] = Counter()
        self.latest: datetime | None = None
        self.buckets: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        self.stream_totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        """Per stream, of its delivered gifts: sends, gifts, coins, points."""
        self.received: dict[str, int] = defaultdict(int)
        self.refunded: dict[str, int] = defaultdict(int)
        self.charged_back: dict[str, int] = defaultdict(int)
        self.credited_cash: dict[str, int] = defaultdict(int)
        self.clawed_cash: dict[str, int] = defaultdict(int)
        self._purchases: set[tuple[str, str]] = set()
        self._taken_back: dict[tuple[str, str], tuple[str, int]] = {}
        """(user_id, purchase_id) -> (currency, amount) of its first refund or chargeback."""
        self._credited: set[tuple[str, str]] = set()
        self._refused: dict[tuple[str, str], tuple[str, int]] = {}
        """(user_id, purchase_id) -> (currency, amount_minor) of its first refusal."""

    # ------------------------------------------------------------------ feeding

    def feed(self, record: LogRecord) -> None:
        self.records += 1
        topic = record.topic
        self.by_topic[topic] += 1
        decoded = record.decoded
        if decoded is None:
            error = record.error
            at = Location(topic, record.partition, record.offset,
                          error.event_id if error else None)
            if topic in DEAD_LETTER_TOPICS:
                self.undecodable_dead_letters += 1
            else:
                self.decodability.fail(f"undecodable: {error.reason.value}: {error.detail}"
                                       if error else "not decoded", at)
            return
        event = decoded.event
        event_id = event.event_id
        at = Location(topic, record.partition, record.offset, event_id)
        digest = decoded.content_sha256[:16]
        id_key = event_id.int
        prior = self.digests.get(id_key)
        if prior is not None:
            if prior == digest:
                self.republished += 1
            elif topic in OUTPUT_TOPICS:
                self.decodability.fail(f"event id {event_id} reused with different content",
                                       at)
            else:
                self.input_conflicts += 1
            return
        self.digests[id_key] = digest
        self.decodability.ok()
        self.events[event.type] += 1
        occurred_at = event.occurred_at
        if self.latest is None or occurred_at > self.latest:
            self.latest = occurred_at
        timestamp_ms = record.timestamp_ms
        try:
            handler = self._handlers[event.__class__]
        except KeyError:
            handler = self._handlers[event.__class__] = self._handler_of(event.__class__)
        if handler is not None:
            handler(event, at, timestamp_ms)
        self.causality.feed(event, at, timestamp_ms)

    def _handler_of(self, event_class: type) -> Callable | None:  # noqa: PLR0911 - one case per event type
        """What an event of this class changes besides causality (found once per class)."""
        if issubclass(event_class, WalletEvent):
            return self._wallet_event
        if issubclass(event_class, PayoutEvent):
            return self._payout_event
        if issubclass(event_class, PolicyEvent):
            return lambda event, at, timestamp_ms: self.rates.policy(event)
        if issubclass(event_class, GiftListed | GiftRepriced):
            return lambda event, at, timestamp_ms: self.rates.catalog(event)
        if issubclass(event_class, GiftPriced):
            return lambda event, at, timestamp_ms: self.rates.gift_priced(event, at)
        if issubclass(event_class, GiftSent):
            return self._gift_sent
        if issubclass(event_class, PurchaseCompleted):
            return self._purchase
        if issubclass(event_class, PurchaseRefunded | PurchaseChargedBack):
            return self._taken_back_purchase
        if issubclass(event_class, EventDeadLettered):
            return self._dead_letter
        return None

    def _wallet_event(self, event: WalletEvent, at: Location, timestamp_ms: int) -> None:
        delta = self.wallets.apply(event, at)
        if delta:
            self.buckets[timestamp_ms // 1000][0] += delta
        if isinstance(event, CoinsPurchased):
            self.credited_cash[event.currency] += event.amount_minor
            self._credited.add((event.user_id, event.purchase_id))
            self.rates.credited(event, at)
        elif isinstance(event, CoinsClawedBack):
            self.clawed_cash[event.currency] += event.amount_minor
        elif isinstance(event, PurchaseRefused):
            self._refused.setdefault((event.user_id, event.purchase_id),
                                     (event.currency, event.amount_minor))
            self.rates.refused(event, at)

    def _payout_event(self, event: PayoutEvent, at: Location, timestamp_ms: int) -> None:
        delta = self.creators.apply(event, at)
        if delta:
            self.buckets[timestamp_ms // 1000][1] += delta
        if isinstance(event, DiamondsEarned):
            self.rates.earned(event, at)
        elif isinstance(event, PayoutReserved):
            self.rates.reserved(event, at)

    def _gift_sent(self, event: GiftSent, at: Location, timestamp_ms: int) -> None:
        # What a stream's page shows: sends, gifts (a combo of 99 is one send, 99 gifts;
        # events from before `quantity` count one), coins, points.
        totals = self.stream_totals[event.stream_id]
        totals[0] += 1
        totals[1] += 1 if event.quantity is None else event.quantity
        totals[2] += event.coins
        totals[3] += event.points

    def _purchase(self, event: PurchaseCompleted, at: Location, timestamp_ms: int) -> None:
        key = (event.user_id, event.purchase_id)
        if key not in self._purchases:
            self._purchases.add(key)
            self.received[event.currency] += event.amount_minor
            self.ledger.post(at, event.type, [
                (f"cash:{event.currency}", "payers", -event.amount_minor),
                (f"cash:{event.currency}", "platform:cash", event.amount_minor)])

    def _taken_back_purchase(self, event: PurchaseRefunded | PurchaseChargedBack,
                             at: Location, timestamp_ms: int) -> None:
        key = (event.user_id, event.purchase_id)
        if key not in self._taken_back:
            self._taken_back[key] = (event.currency, event.amount_minor)
            refund = isinstance(event, PurchaseRefunded)
            (self.refunded if refund else self.charged_back)[event.currency] += \
                event.amount_minor
            self.ledger.post(at, event.type, [
                (f"cash:{event.currency}", "platform:cash", -event.amount_minor),
                (f"cash:{event.currency}", "refunded" if refund else "charged_back",
                 event.amount_minor)])

    def _dead_letter(self, event: EventDeadLettered, at: Location, timestamp_ms: int) -> None:
        self.dead_letters[f"{event.consumer}:{event.reason.value}"] += 1
        self.causality.dead_letter(event.source_event_id)

    # ------------------------------------------------------------------ reporting

    def note_missing(self, partitions: int, missing: Iterable[Missing]) -> None:
        """What the log reader found of the `partitions` it read: offsets without a record."""
        complete = self.invariants["log_complete"]
        incomplete = set()
        for gap in missing:
            incomplete.add((gap.topic, gap.partition))
            complete.fail(f"offsets {gap.first} to {gap.end - 1} hold no record: "
                          f"{gap.end - gap.first:,} records deleted",
                          Location(gap.topic, gap.partition, gap.first))
        complete.ok(partitions - len(incomplete))

    def report(self) -> AuditReport:
        cut = self.until or self.latest
        wallets = self.wallets.finish()
        creators = self.creators.finish(cut)
        rates = self.rates.finish()
        causality = self.causality.finish()
        money = self._money(creators["owed"])
        ledger = self.ledger.finish()
        self._tie_ledger_to_replays(ledger, wallets, creators)
        figures = {
            "records": self.records,
            "events": sum(self.events.values()),
            "records_by_topic": dict(sorted(self.by_topic.items())),
            "events_by_type": dict(sorted(self.events.items())),
            "republished_duplicates": self.republished,
            "input_id_conflicts": self.input_conflicts,
            "dead_letters": dict(sorted(self.dead_letters.items())),
            "undecodable_dead_letters": self.undecodable_dead_letters,
            "coins": wallets,
            "diamonds": creators,
            "rates": rates,
            "causation": causality,
            "double_entry": ledger,
        }
        return AuditReport(list(self.invariants.values()), figures, money, self._series(),
                           cut.isoformat() if cut else None)

    def _money(self, diamonds_owed: int) -> dict[str, dict[str, int]]:
        check = self.invariants["money"].check
        in_flight: dict[str, int] = defaultdict(int)
        for reservation in self.creators.open_reservations():
            in_flight[reservation.currency] += reservation.gross_minor
        coins = self.wallets.coin_liability()
        refused, returned = self._refused_cash()
        currencies = sorted(set(self.received) | set(self.refunded) | set(self.charged_back)
                            | set(self.creators.paid_out) | set(in_flight) | set(coins)
                            | ({self.reference_currency} if diamonds_owed else set()))
        terms: dict[str, dict[str, int]] = {}
        for currency in currencies:
            row = {
                "received": self.received.get(currency, 0),
                "refunded": self.refunded.get(currency, 0),
                "charged_back": self.charged_back.get(currency, 0),
                "paid_out": self.creators.paid_out.get(currency, 0),
                "fees": self.creators.fees.get(currency, 0),
                "payouts_in_flight": in_flight.get(currency, 0),
                "coins_liability": coins.get(currency, 0),
                "refused_unreturned": refused.get(currency, 0) - returned.get(currency, 0),
                "diamonds_liability": (self.rates.diamond_value(diamonds_owed, currency)
                                       if currency == self.reference_currency else 0),
            }
            row["revenue"] = row["received"] - sum(v for k, v in row.items() if k != "received")
            terms[currency] = row
            check(row["revenue"] >= 0,
                  f"{currency}: platform revenue {row['revenue']} < 0 "
                  f"(received {row['received']} does not cover the other terms)")
            credited = row["received"] - refused.get(currency, 0)
            check(self.credited_cash.get(currency, 0) == credited,
                  f"{currency}: purchases credited at {self.credited_cash.get(currency, 0)}, "
                  f"cash received for purchases not refused {credited}")
            taken_back = row["refunded"] + row["charged_back"] - returned.get(currency, 0)
            check(self.clawed_cash.get(currency, 0) == taken_back,
                  f"{currency}: lots clawed back worth {self.clawed_cash.get(currency, 0)}, "
                  f"refunded + charged back for credited purchases {taken_back}")
        return terms

    def _refused_cash(self) -> tuple[dict[str, int], dict[str, int]]:
        """Per currency: the cash of purchases refused and never credited, and what refunds
        and chargebacks of those gave back."""
        refused: dict[str, int] = defaultdict(int)
        returned: dict[str, int] = defaultdict(int)
        for key, (currency, amount) in self._refused.items():
            if key in self._credited:
                continue
            refused[currency] += amount
            if key in self._taken_back:
                back_currency, back = self._taken_back[key]
                returned[back_currency] += back
        return refused, returned

    def _tie_ledger_to_replays(self, ledger: dict, wallets: dict, creators: dict) -> None:
        """The ledger's account balances equal what the replays hold."""
        check = self.invariants["double_entry"].check
        coins = self.ledger.balance("coins", "wallet") + self.ledger.balance("coins",
                                                                             "wallet:debt")
        check(coins == wallets["balance"],
              f"coins ledger: wallet accounts hold {coins}, balances sum to "
              f"{wallets['balance']}")
        diamonds = (self.ledger.balance("diamonds", "creator")
                    + self.ledger.balance("diamonds", "creator:reserved")
                    + self.ledger.balance("diamonds", "creator:debt"))
        expected = creators["held"] + creators["available"] + creators["reserved"] \
            - creators["debt"]
        check(diamonds == expected,
              f"diamonds ledger: creator accounts hold {diamonds}, replay gives {expected}")

    def _series(self) -> list[dict[str, int]]:
        points: list[dict[str, int]] = []
        coins = diamonds = 0
        for second in sorted(self.buckets):
            delta_coins, delta_diamonds = self.buckets[second]
            coins += delta_coins
            diamonds += delta_diamonds
            points.append({"ts_ms": second * 1000, "coins": coins, "diamonds": diamonds})
        if len(points) <= SERIES_POINTS:
            return points
        step = len(points) / SERIES_POINTS
        sampled = [points[int(i * step)] for i in range(SERIES_POINTS)]
        return [*sampled[:-1], points[-1]]
