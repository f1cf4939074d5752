"""Every output explained by an input, and every input decided exactly once.

Causes and effects are on different topics, read concurrently, so both sides are kept as
small records (the few fields compared) and matched in `finish`; each rule's inputs and
decisions are grouped by business key as they are fed, so `finish` visits every record once
rather than once per rule.

Each output event of wallet, gifting and payout must have a causation_id naming an event seen
on an input topic of its service, of an allowed type (CAUSES), with the id derived from it
(`derive_event_id(cause, step)`, STEPS) and the fields it copies equal (FIELDS).

Each input is decided exactly once, by business key (RULES): a GiftRequested's request_id gets
one GiftPriced or GiftRejected, a GiftPriced one CoinsSpent or SpendRejected, a purchase one
CoinsPurchased (after as many PurchaseRefused as it was published and refused), ... An input
may legitimately get no decision: a repeat of an already decided key (another event id), a
refund of a purchase not credited before it (unknown, or refused off the price list), an
outcome of a payout never reserved, a grant already expired when granted. Inputs the consumer
dead-lettered, and inputs within `grace_s` of the end of the log (not decided yet on a live
system), are not counted as missing.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import defaultdict, namedtuple
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, NamedTuple

from ops.audit.model import Invariant, Location
from shared.contract.envelope import EVENT_NAMESPACE, Event

WALLET_INPUTS = frozenset({
    "payments.purchase_completed", "payments.purchase_refunded",
    "payments.purchase_charged_back", "promotions.promo_coins_granted", "gifting.gift_priced",
    "users.age_verified", "users.spending_limit_set"})
CLAWBACKS = frozenset({"payments.purchase_refunded", "payments.purchase_charged_back"})

CAUSES: dict[str, frozenset[str]] = {
    "wallet.coins_purchased": frozenset({"payments.purchase_completed"}),
    "wallet.purchase_refused": frozenset({"payments.purchase_completed"}),
    "wallet.promo_coins_credited": frozenset({"promotions.promo_coins_granted"}),
    "wallet.promo_coins_expired": WALLET_INPUTS,
    "wallet.coins_spent": frozenset({"gifting.gift_priced"}),
    "wallet.spend_rejected": frozenset({"gifting.gift_priced"}),
    "wallet.coins_clawed_back": CLAWBACKS,
    "wallet.wallet_frozen": CLAWBACKS,
    "wallet.wallet_unfrozen": frozenset({"payments.purchase_completed",
                                         "promotions.promo_coins_granted"}),
    "wallet.age_verification_recorded": frozenset({"users.age_verified"}),
    "wallet.spending_limit_recorded": frozenset({"users.spending_limit_set"}),
    "gifting.gift_priced": frozenset({"streams.gift_requested"}),
    "gifting.gift_rejected": frozenset({"streams.gift_requested"}),
    "gifting.gift_sent": frozenset({"wallet.coins_spent"}),
    "gifting.gift_failed": frozenset({"wallet.spend_rejected"}),
    "payout.diamonds_earned": frozenset({"wallet.coins_spent"}),
    "payout.diamonds_clawed_back": frozenset({"wallet.coins_clawed_back"}),
    "payout.payout_reserved": frozenset({"creators.payout_requested"}),
    "payout.payout_rejected": frozenset({"creators.payout_requested"}),
    "payout.payout_posted": frozenset({"provider.payout_succeeded"}),
    "payout.payout_released": frozenset({"provider.payout_failed"}),
    "payout.creator_verification_recorded": frozenset({"users.creator_verified"}),
}


STEPS: dict[str, tuple[str, ...] | Callable[[Any], tuple[str, ...]]] = {
    # output type: the steps its id may be derived with, from the cause's id
    "wallet.coins_purchased": ("credit",),
    "wallet.purchase_refused": ("credit",),
    "wallet.promo_coins_credited": ("credit",),
    "wallet.promo_coins_expired": lambda event: (f"expire:{event.grant_id}",),
    "wallet.coins_spent": ("debit",),
    "wallet.spend_rejected": ("debit",),
    "wallet.coins_clawed_back": ("clawback",),
    "wallet.wallet_frozen": ("freeze",),
    "wallet.wallet_unfrozen": ("unfreeze",),
    "wallet.age_verification_recorded": ("record",),
    "wallet.spending_limit_recorded": ("record",),
    "gifting.gift_priced": ("priced",),
    "gifting.gift_rejected": ("rejected",),
    "gifting.gift_sent": ("sent",),
    "gifting.gift_failed": ("failed",),
    "payout.diamonds_earned": ("earned",),
    "payout.diamonds_clawed_back":
        lambda event: (f"clawback:{event.creator_id}:{event.request_id}",),
    "payout.payout_reserved": ("payout",),
    "payout.payout_rejected": ("payout", "payout_duplicate"),
    "payout.payout_posted": ("posted",),
    "payout.payout_released": ("released",),
    "payout.creator_verification_recorded": ("verification",),
}


_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes
_UUID5_KEEP = ~((0xC000 << 48) | (0xF000 << 64)) & ((1 << 128) - 1)
_UUID5_SET = (0x8000 << 48) | (5 << 76)


def is_derived(event_id: uuid.UUID, cause: uuid.UUID, step: str) -> bool:
    """Whether `event_id == derive_event_id(cause, step)`: the same SHA-1 name-based UUID
    (RFC 4122 version 5), compared as an integer instead of built as a UUID object, since it is
    done for every output of the log."""
    digest = hashlib.sha1(_NAMESPACE_BYTES + f"{cause}/{step}".encode()).digest()
    return (int.from_bytes(digest[:16], "big") & _UUID5_KEEP) | _UUID5_SET == event_id.int


FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    # output type: (output field, cause field) pairs that must be equal
    "wallet.coins_purchased": (("user_id", "user_id"), ("purchase_id", "purchase_id"),
                               ("coins", "coins"), ("amount_minor", "amount_minor"),
                               ("currency", "currency"), ("rate_version", "rate_version")),
    "wallet.purchase_refused": (("user_id", "user_id"), ("purchase_id", "purchase_id"),
                                ("coins", "coins"), ("amount_minor", "amount_minor"),
                                ("currency", "currency"), ("rate_version", "rate_version"),
                                ("package_id", "package_id"), ("region", "region")),
    "wallet.promo_coins_credited": (("user_id", "user_id"), ("grant_id", "grant_id"),
                                    ("coins", "coins"), ("expires_at", "expires_at")),
    "wallet.promo_coins_expired": (("user_id", "key"),),
    "wallet.coins_spent": (("user_id", "sender_id"), ("request_id", "request_id"),
                           ("creator_id", "creator_id"), ("stream_id", "stream_id"),
                           ("coins", "coins"), ("gift_id", "gift_id")),
    "wallet.spend_rejected": (("user_id", "sender_id"), ("request_id", "request_id"),
                              ("creator_id", "creator_id"), ("coins", "coins")),
    "wallet.coins_clawed_back": (("user_id", "user_id"), ("purchase_id", "purchase_id")),
    "wallet.wallet_frozen": (("user_id", "user_id"),),
    "wallet.wallet_unfrozen": (("user_id", "user_id"),),
    "wallet.age_verification_recorded": (("user_id", "user_id"), ("adult", "adult")),
    "wallet.spending_limit_recorded": (("user_id", "user_id"), ("coins", "coins")),
    "gifting.gift_priced": (("request_id", "request_id"), ("sender_id", "sender_id"),
                            ("stream_id", "stream_id"), ("gift_id", "gift_id"),
                            ("quantity", "quantity")),
    "gifting.gift_rejected": (("request_id", "request_id"), ("sender_id", "sender_id")),
    "gifting.gift_sent": (("request_id", "request_id"), ("sender_id", "user_id"),
                          ("creator_id", "creator_id"), ("coins", "coins")),
    "gifting.gift_failed": (("request_id", "request_id"), ("sender_id", "user_id")),
    "payout.diamonds_earned": (("request_id", "request_id"), ("creator_id", "creator_id"),
                               ("sender_id", "user_id"), ("coins", "coins")),
    "payout.diamonds_clawed_back": (("purchase_id", "purchase_id"),),
    "payout.payout_reserved": (("creator_id", "creator_id"), ("payout_id", "payout_id"),
                               ("diamonds", "diamonds"), ("currency", "currency")),
    "payout.payout_rejected": (("creator_id", "creator_id"), ("payout_id", "payout_id")),
    "payout.payout_posted": (("creator_id", "creator_id"), ("payout_id", "payout_id")),
    "payout.payout_released": (("creator_id", "creator_id"), ("payout_id", "payout_id")),
    "payout.creator_verification_recorded": (("creator_id", "user_id"),
                                             ("verified", "verified")),
}

KEPT: dict[str, tuple[str, ...]] = defaultdict(tuple)
"""Fields kept of each event that may be a cause."""
for _output, _pairs in FIELDS.items():
    for _cause in CAUSES[_output]:
        KEPT[_cause] = tuple(dict.fromkeys((*KEPT[_cause], *(c for _, c in _pairs))))


class Seen(NamedTuple):
    """An event kept as a possible cause or as an input of a rule. `fields` is a tuple of the
    few fields compared, read by name (`fields.user_id`): a named tuple class per event type
    (`_TypeBook`), far smaller than the event and cheaper to build than a dict."""

    type: str
    location: Location
    timestamp_ms: int
    fields: tuple


class Output(NamedTuple):
    """An output event: what Seen holds (in the same positions, so an Output is also the
    event's Seen) and what its cause is matched with."""

    type: str
    location: Location
    timestamp_ms: int
    fields: tuple
    event_id: uuid.UUID
    causation_id: uuid.UUID | None
    steps: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    """Inputs of `inputs` types with one `input_key` get exactly one output of `outputs`
    types with that `output_key` (fields by name)."""

    name: str
    inputs: frozenset[str]
    outputs: frozenset[str]
    input_key: tuple[str, ...]
    output_key: tuple[str, ...]
    repeatable: frozenset[str] = frozenset()
    """Output types that may answer one key more than once, each for an input of its own: a
    refusal keeps nothing, so the same purchase published again is decided again."""


RULES = (
    Rule("gift request priced or rejected", frozenset({"streams.gift_requested"}),
         frozenset({"gifting.gift_priced", "gifting.gift_rejected"}),
         ("sender_id", "request_id"), ("sender_id", "request_id")),
    Rule("priced gift debited or refused", frozenset({"gifting.gift_priced"}),
         frozenset({"wallet.coins_spent", "wallet.spend_rejected"}),
         ("sender_id", "request_id"), ("user_id", "request_id")),
    Rule("wallet answer settles the gift", frozenset({"wallet.coins_spent",
                                                      "wallet.spend_rejected"}),
         frozenset({"gifting.gift_sent", "gifting.gift_failed"}),
         ("user_id", "request_id"), ("sender_id", "request_id")),
    Rule("spent gift earns diamonds", frozenset({"wallet.coins_spent"}),
         frozenset({"payout.diamonds_earned"}),
         ("creator_id", "request_id"), ("creator_id", "request_id")),
    Rule("purchase credited or refused", frozenset({"payments.purchase_completed"}),
         frozenset({"wallet.coins_purchased", "wallet.purchase_refused"}),
         ("user_id", "purchase_id"), ("user_id", "purchase_id"),
         repeatable=frozenset({"wallet.purchase_refused"})),
    Rule("promo grant credited", frozenset({"promotions.promo_coins_granted"}),
         frozenset({"wallet.promo_coins_credited"}),
         ("user_id", "grant_id"), ("user_id", "grant_id")),
    Rule("refund or chargeback clawed back", CLAWBACKS,
         frozenset({"wallet.coins_clawed_back"}),
         ("user_id", "purchase_id"), ("user_id", "purchase_id")),
    Rule("payout request reserved or rejected", frozenset({"creators.payout_requested"}),
         frozenset({"payout.payout_reserved", "payout.payout_rejected"}),
         ("creator_id", "payout_id"), ("creator_id", "payout_id")),
    Rule("provider outcome settles the payout", frozenset({"provider.payout_succeeded",
                                                          "provider.payout_failed"}),
         frozenset({"payout.payout_posted", "payout.payout_released"}),
         ("creator_id", "payout_id"), ("creator_id", "payout_id")),
)
RULE_FIELDS: dict[str, set[str]] = defaultdict(set)
for _rule in RULES:
    for _type in _rule.inputs:
        RULE_FIELDS[_type].update(_rule.input_key)
    for _type in _rule.outputs:
        RULE_FIELDS[_type].update(_rule.output_key)
RULE_FIELDS["promotions.promo_coins_granted"].update({"expires_at", "occurred_at"})
RULE_FIELDS["payout.payout_rejected"].add("reason")
RULE_FIELDS["wallet.coins_clawed_back"].add("funded_gifts")
RULE_FIELDS["payout.diamonds_clawed_back"].update({"creator_id", "request_id"})
RULE_FIELDS["payout.diamonds_earned"].add("request_id")


def _tuple_getter(names: tuple[str, ...]) -> Callable[[Any], tuple]:
    """A function reading the attributes `names` as a tuple, whatever their number
    (attrgetter returns a bare value for one name)."""
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda source: (one(source),)
    return attrgetter(*names) if names else lambda _: ()


class _TypeBook:
    """How the events of one type are kept, worked out at its first event: which fields
    (`read` reads them into a `fields` named tuple), whether they are outputs, and the rules
    they are an input or a decision of, as (key function, groups by key) pairs; and the
    events of the type kept so far, in feed order."""

    __slots__ = ("names", "fields", "read", "is_output", "steps", "input_to", "decision_of",
                 "kept")

    def __init__(self, event_type: str, rules: tuple[_RuleBook, ...]):
        names = (*KEPT.get(event_type, ()), *RULE_FIELDS.get(event_type, ()))
        self.is_output = event_type in CAUSES
        if self.is_output:
            names = (*names, *(o for o, _ in FIELDS[event_type]))
        self.names = names = tuple(dict.fromkeys(names))
        self.fields: type[tuple] = namedtuple(  # noqa: PYI024 - fields known at run time
            "Fields_" + re.sub(r"\W", "_", event_type), names)
        self.read: Callable[[Event], tuple] = _tuple_getter(names)
        self.steps = STEPS.get(event_type, ())
        self.input_to = tuple((_tuple_getter(book.rule.input_key), book.inputs)
                              for book in rules if event_type in book.rule.inputs)
        self.decision_of = tuple((_tuple_getter(book.rule.output_key), book.decided)
                                 for book in rules if event_type in book.rule.outputs)
        self.kept: list[Seen | Output] = []


@dataclass(slots=True)
class _RuleBook:
    """The inputs and the decisions of one rule by business key, grouped while feeding (in
    feed order, which the report's examples follow)."""

    rule: Rule
    inputs: dict[tuple, list[Seen]] = field(default_factory=dict)
    decided: dict[tuple, list[Output]] = field(default_factory=dict)


class Causality:
    """Fed every event once (the Auditor drops repeated event ids), in feed order."""

    def __init__(self, invariant: Invariant, grace_s: float = 0.0):
        self.invariant = invariant
        self.grace_ms = int(grace_s * 1000)
        self.seen: dict[int, Seen | Output] = {}
        """By event_id.int (an int hashes faster than a UUID)."""
        self.outputs: list[Output] = []
        self.dead_lettered: set[str] = set()
        self.last_ts_ms = 0
        self.pending = 0
        self.exempt = 0
        self.rules = tuple(_RuleBook(rule) for rule in RULES)
        self.types: dict[str, _TypeBook | None] = {}

    def dead_letter(self, source_event_id: str | None) -> None:
        if source_event_id:
            self.dead_lettered.add(source_event_id)

    def _type_book(self, event_type: str) -> _TypeBook | None:
        book = _TypeBook(event_type, self.rules)
        kept = book.names or book.is_output or event_type in WALLET_INPUTS
        self.types[event_type] = book if kept else None
        return self.types[event_type]

    def feed(self, event: Event, at: Location, timestamp_ms: int) -> None:
        if timestamp_ms > self.last_ts_ms:
            self.last_ts_ms = timestamp_ms
        event_type = event.type
        try:
            book = self.types[event_type]
        except KeyError:
            book = self._type_book(event_type)
        if book is None:
            return
        fields = tuple.__new__(book.fields, book.read(event))  # what the class's _make does
        if book.is_output:
            steps = book.steps
            kept = Output(event_type, at, timestamp_ms, fields, event.event_id,
                          event.causation_id, steps(event) if callable(steps) else steps)
            self.outputs.append(kept)
            # a rejection of a repeated payout request answers the repeat: the first
            # request's decision is the one that counts
            if book.decision_of and not (event_type == "payout.payout_rejected"
                                         and fields.reason == "duplicate_payout"):
                for key_of, decided in book.decision_of:
                    decided.setdefault(key_of(fields), []).append(kept)
        else:
            kept = Seen(event_type, at, timestamp_ms, fields)
        self.seen[event.event_id.int] = kept
        book.kept.append(kept)
        for key_of, inputs in book.input_to:
            inputs.setdefault(key_of(fields), []).append(kept)

    def _kept(self, event_type: str) -> list[Seen | Output]:
        book = self.types.get(event_type)
        return book.kept if book else []

    def finish(self) -> dict:
        invariant = self.invariant
        fail = invariant.fail
        seen = self.seen
        passed = 0
        matches: dict[str, tuple[frozenset[str], Callable, Callable]] = {}
        """Per output type: the types of its causes, and functions reading the fields it
        copies and its cause's as tuples (by attribute name, so they read any type of
        cause)."""
        for output_type, location, _, fields, event_id, causation_id, steps in self.outputs:
            cause = seen.get(causation_id.int) if causation_id is not None else None
            if cause is None:
                fail(f"{output_type}: its cause {causation_id} is not in the log", location)
                continue
            passed += 1
            match = matches.get(output_type)
            if match is None:
                pairs = FIELDS[output_type]
                match = matches[output_type] = (
                    CAUSES[output_type], _tuple_getter(tuple(mine for mine, _ in pairs)),
                    _tuple_getter(tuple(theirs for _, theirs in pairs)))
            causes, copied, copied_from = match
            if cause.type not in causes:
                fail(f"{output_type} caused by a {cause.type} ({cause.location})", location)
                continue
            passed += 1
            for step in steps:
                if is_derived(event_id, causation_id, step):
                    passed += 1
                    break
            else:
                fail(f"{output_type}: event id is not derived from its cause {causation_id}",
                     location)
            if copied(fields) == copied_from(cause.fields):
                passed += 1
            else:
                differ = [f"{mine}={getattr(fields, mine)!r} vs "
                          f"{theirs}={getattr(cause.fields, theirs)!r}"
                          for mine, theirs in FIELDS[output_type]
                          if getattr(fields, mine) != getattr(cause.fields, theirs)]
                fail(f"{output_type} differs from its cause {cause.type} "
                     f"({cause.location}): {'; '.join(differ)}", location)
        invariant.ok(passed)
        decisions = {book.rule.name: self._decisions(book) for book in self.rules}
        decisions["clawed gift loses its diamonds"] = self._diamond_clawbacks()
        return {"outputs_checked": len(self.outputs), "decisions": decisions,
                "undecided_pending": self.pending, "undecided_exempt": self.exempt}

    def _decisions(self, book: _RuleBook) -> int:
        rule = book.rule
        invariant = self.invariant
        fail = invariant.fail
        decided = book.decided
        for key, outputs in decided.items():
            counted = [o for o in outputs if o.type not in rule.repeatable]
            for extra in counted[1:]:
                fail(f"{rule.name}: {key} decided {len(counted)} times (first at "
                     f"{counted[0].location})", extra.location)
        answered = 0
        for key, seen in book.inputs.items():
            if key in decided:
                answered += 1
                continue
            if not self._required(rule, key, seen):
                continue
            first = min(seen, key=lambda s: (s.location.partition, s.location.offset))
            if any(str(s.location.event_id) in self.dead_lettered for s in seen):
                self.exempt += 1
            elif first.timestamp_ms > self.last_ts_ms - self.grace_ms and self.grace_ms:
                self.pending += 1
            else:
                fail(f"{rule.name}: {first.type} {key} never decided", first.location)
        invariant.ok(answered)
        return sum(len(outputs) for outputs in decided.values())

    def _required(self, rule: Rule, key: tuple, seen: list[Seen]) -> bool:
        """Whether the input must have had a decision."""
        if rule.inputs == CLAWBACKS:
            return self._purchase_before(key, seen)
        if "promotions.promo_coins_granted" in rule.inputs:
            return any(s.fields.expires_at > s.fields.occurred_at for s in seen)
        if "provider.payout_succeeded" in rule.inputs:
            return key in self._reserved_payouts()
        return True

    def _purchase_before(self, key: tuple, seen: list[Seen]) -> bool:
        """Whether a purchase of the key was credited before one of these take-backs (on the
        payments partition): one refused, or never seen, has nothing to claw back."""
        if not hasattr(self, "_purchases"):
            self._purchases: dict[tuple, Location] = {}
            credited = {o.causation_id for o in self.outputs
                        if o.type == "wallet.coins_purchased"}
            for s in self._kept("payments.purchase_completed"):
                if s.location.event_id not in credited:
                    continue
                k = (s.fields.user_id, s.fields.purchase_id)
                if k not in self._purchases or s.location.offset < self._purchases[k].offset:
                    self._purchases[k] = s.location
        purchase = self._purchases.get(key)
        return purchase is not None and any(
            s.location.partition == purchase.partition and s.location.offset > purchase.offset
            for s in seen)

    def _reserved_payouts(self) -> set[tuple]:
        if not hasattr(self, "_reserved"):
            self._reserved = {(o.fields.creator_id, o.fields.payout_id)
                              for o in self._kept("payout.payout_reserved")}
        return self._reserved

    def _diamond_clawbacks(self) -> int:
        """Each gift a clawed purchase funded loses its diamonds once, if it earned any."""
        invariant = self.invariant
        fail = invariant.fail
        earned = {(o.fields.creator_id, o.fields.request_id)
                  for o in self._kept("payout.diamonds_earned")}
        done: dict[tuple, list[Output]] = defaultdict(list)
        for o in self._kept("payout.diamonds_clawed_back"):
            done[(o.fields.purchase_id, o.fields.creator_id, o.fields.request_id)].append(o)
        for key, outputs in done.items():
            for extra in outputs[1:]:
                fail(f"diamonds of {key} clawed back {len(outputs)} times", extra.location)
        for o in self._kept("wallet.coins_clawed_back"):
            for gift in o.fields.funded_gifts:
                key = (o.fields.purchase_id, gift.creator_id, gift.request_id)
                if (gift.creator_id, gift.request_id) not in earned or key in done:
                    invariant.ok()
                    continue
                fail(f"clawback of {o.fields.purchase_id} funded gift "
                     f"{gift.request_id} of {gift.creator_id}: its diamonds were "
                     f"never clawed back", o.location)
        return sum(len(v) for v in done.values())
