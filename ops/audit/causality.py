"""Every output explained by an input, and every input decided exactly once.

Causes and effects are on different topics, read concurrently, so both sides are kept as
small records (the few fields compared) and matched in `finish`.

Each output event of wallet, gifting and payout must have a causation_id naming an event seen
on an input topic of its service, of an allowed type (CAUSES), with the id derived from it
(`derive_event_id(cause, step)`, STEPS) and the fields it copies equal (FIELDS).

Each input is decided exactly once, by business key (RULES): a GiftRequested's request_id gets
one GiftPriced or GiftRejected, a GiftPriced one CoinsSpent or SpendRejected, ... An input
may legitimately get no decision: a repeat of an already decided key (another event id), a
refund of a purchase not credited before it, an outcome of a payout never reserved, a grant
already expired when granted. Inputs the consumer dead-lettered, and inputs within `grace_s`
of the end of the log (not decided yet on a live system), are not counted as missing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ops.audit.model import Invariant, Location
from shared.contract.envelope import Event, derive_event_id

WALLET_INPUTS = frozenset({
    "payments.purchase_completed", "payments.purchase_refunded",
    "payments.purchase_charged_back", "promotions.promo_coins_granted", "gifting.gift_priced",
    "users.age_verified", "users.spending_limit_set"})
CLAWBACKS = frozenset({"payments.purchase_refunded", "payments.purchase_charged_back"})

CAUSES: dict[str, frozenset[str]] = {
    "wallet.coins_purchased": frozenset({"payments.purchase_completed"}),
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


def _step(event: Event) -> tuple[str, ...]:
    match event.type:
        case "wallet.coins_purchased" | "wallet.promo_coins_credited":
            return ("credit",)
        case "wallet.promo_coins_expired":
            return (f"expire:{event.grant_id}",)
        case "wallet.coins_spent" | "wallet.spend_rejected":
            return ("debit",)
        case "wallet.coins_clawed_back":
            return ("clawback",)
        case "wallet.wallet_frozen":
            return ("freeze",)
        case "wallet.wallet_unfrozen":
            return ("unfreeze",)
        case "wallet.age_verification_recorded" | "wallet.spending_limit_recorded":
            return ("record",)
        case "gifting.gift_priced":
            return ("priced",)
        case "gifting.gift_rejected":
            return ("rejected",)
        case "gifting.gift_sent":
            return ("sent",)
        case "gifting.gift_failed":
            return ("failed",)
        case "payout.diamonds_earned":
            return ("earned",)
        case "payout.diamonds_clawed_back":
            return (f"clawback:{event.creator_id}:{event.request_id}",)
        case "payout.payout_reserved":
            return ("payout",)
        case "payout.payout_rejected":
            return ("payout", "payout_duplicate")
        case "payout.payout_posted":
            return ("posted",)
        case "payout.payout_released":
            return ("released",)
        case "payout.creator_verification_recorded":
            return ("verification",)
    return ()


FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    # output type: (output field, cause field) pairs that must be equal
    "wallet.coins_purchased": (("user_id", "user_id"), ("purchase_id", "purchase_id"),
                               ("coins", "coins"), ("amount_minor", "amount_minor"),
                               ("currency", "currency"), ("rate_version", "rate_version")),
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


@dataclass(frozen=True, slots=True)
class Seen:
    type: str
    location: Location
    timestamp_ms: int
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Output:
    type: str
    event_id: uuid.UUID
    causation_id: uuid.UUID | None
    location: Location
    steps: tuple[str, ...]
    fields: dict[str, Any]


@dataclass(frozen=True)
class Rule:
    """Inputs of `inputs` types with one `input_key` get exactly one output of `outputs`
    types with that `output_key` (fields by name)."""

    name: str
    inputs: frozenset[str]
    outputs: frozenset[str]
    input_key: tuple[str, ...]
    output_key: tuple[str, ...]


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
    Rule("purchase credited", frozenset({"payments.purchase_completed"}),
         frozenset({"wallet.coins_purchased"}),
         ("user_id", "purchase_id"), ("user_id", "purchase_id")),
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


class Causality:
    def __init__(self, invariant: Invariant, grace_s: float = 0.0):
        self.invariant = invariant
        self.grace_ms = int(grace_s * 1000)
        self.seen: dict[uuid.UUID, Seen] = {}
        self.outputs: list[Output] = []
        self.dead_lettered: set[str] = set()
        self.last_ts_ms = 0
        self.pending = 0
        self.exempt = 0

    def dead_letter(self, source_event_id: str | None) -> None:
        if source_event_id:
            self.dead_lettered.add(source_event_id)

    def feed(self, event: Event, at: Location, timestamp_ms: int) -> None:
        self.last_ts_ms = max(self.last_ts_ms, timestamp_ms)
        names = (*KEPT.get(event.type, ()), *RULE_FIELDS.get(event.type, ()))
        if event.type in CAUSES:
            names = (*names, *(o for o, _ in FIELDS[event.type]))
        if not names and event.type not in CAUSES and event.type not in WALLET_INPUTS:
            return
        fields = {name: getattr(event, name) for name in dict.fromkeys(names)}
        self.seen[event.event_id] = Seen(event.type, at, timestamp_ms, fields)
        if event.type in CAUSES:
            self.outputs.append(Output(event.type, event.event_id, event.causation_id, at,
                                       _step(event), fields))

    def finish(self) -> dict:
        check = self.invariant.check
        for output in self.outputs:
            cause = self.seen.get(output.causation_id) if output.causation_id else None
            if not check(cause is not None,
                         f"{output.type}: its cause {output.causation_id} is not in the log",
                         output.location):
                continue
            assert cause is not None and output.causation_id is not None
            if not check(cause.type in CAUSES[output.type],
                         f"{output.type} caused by a {cause.type} ({cause.location})",
                         output.location):
                continue
            check(any(derive_event_id(output.causation_id, step) == output.event_id
                      for step in output.steps),
                  f"{output.type}: event id is not derived from its cause "
                  f"{output.causation_id}", output.location)
            differ = [f"{mine}={output.fields[mine]!r} vs {theirs}={cause.fields[theirs]!r}"
                      for mine, theirs in FIELDS[output.type]
                      if output.fields[mine] != cause.fields[theirs]]
            check(not differ, f"{output.type} differs from its cause {cause.type} "
                              f"({cause.location}): {'; '.join(differ)}", output.location)
        decisions = {rule.name: self._decisions(rule) for rule in RULES}
        decisions["clawed gift loses its diamonds"] = self._diamond_clawbacks()
        return {"outputs_checked": len(self.outputs), "decisions": decisions,
                "undecided_pending": self.pending, "undecided_exempt": self.exempt}

    def _decisions(self, rule: Rule) -> int:  # noqa: C901
        check = self.invariant.check
        inputs: dict[tuple, list[Seen]] = defaultdict(list)
        decided: dict[tuple, list[Output]] = defaultdict(list)
        by_id = {}
        for event_id, seen in self.seen.items():
            if seen.type in rule.inputs:
                inputs[tuple(seen.fields[f] for f in rule.input_key)].append(seen)
                by_id[event_id] = seen
        for output in self.outputs:
            if output.type in rule.outputs:
                if output.type == "payout.payout_rejected" and \
                        output.fields["reason"] == "duplicate_payout":
                    continue
                decided[tuple(output.fields[f] for f in rule.output_key)].append(output)
        for key, outputs in decided.items():
            for extra in outputs[1:]:
                check(False, f"{rule.name}: {key} decided {len(outputs)} times (first at "
                             f"{outputs[0].location})", extra.location)
        for key, seen in inputs.items():
            if key in decided:
                self.invariant.ok()
                continue
            if not self._required(rule, key, seen):
                continue
            first = min(seen, key=lambda s: (s.location.partition, s.location.offset))
            if any(str(s.location.event_id) in self.dead_lettered for s in seen):
                self.exempt += 1
            elif first.timestamp_ms > self.last_ts_ms - self.grace_ms and self.grace_ms:
                self.pending += 1
            else:
                check(False, f"{rule.name}: {first.type} {key} never decided", first.location)
        return sum(len(outputs) for outputs in decided.values())

    def _required(self, rule: Rule, key: tuple, seen: list[Seen]) -> bool:
        """Whether the input must have had a decision."""
        if rule.inputs == CLAWBACKS:
            return self._purchase_before(key, seen)
        if "promotions.promo_coins_granted" in rule.inputs:
            return any(s.fields["expires_at"] > s.fields["occurred_at"] for s in seen)
        if "provider.payout_succeeded" in rule.inputs:
            return key in self._reserved_payouts()
        return True

    def _purchase_before(self, key: tuple, seen: list[Seen]) -> bool:
        if not hasattr(self, "_purchases"):
            self._purchases: dict[tuple, Location] = {}
            for s in self.seen.values():
                if s.type == "payments.purchase_completed":
                    k = (s.fields["user_id"], s.fields["purchase_id"])
                    if k not in self._purchases or s.location.offset < self._purchases[k].offset:
                        self._purchases[k] = s.location
        purchase = self._purchases.get(key)
        return purchase is not None and any(
            s.location.partition == purchase.partition and s.location.offset > purchase.offset
            for s in seen)

    def _reserved_payouts(self) -> set[tuple]:
        if not hasattr(self, "_reserved"):
            self._reserved = {(o.fields["creator_id"], o.fields["payout_id"])
                              for o in self.outputs if o.type == "payout.payout_reserved"}
        return self._reserved

    def _diamond_clawbacks(self) -> int:
        """Each gift a clawed purchase funded loses its diamonds once, if it earned any."""
        check = self.invariant.check
        earned = {(o.fields["creator_id"], o.fields["request_id"]) for o in self.outputs
                  if o.type == "payout.diamonds_earned"}
        done: dict[tuple, list[Output]] = defaultdict(list)
        for o in self.outputs:
            if o.type == "payout.diamonds_clawed_back":
                done[(o.fields["purchase_id"], o.fields["creator_id"],
                      o.fields["request_id"])].append(o)
        for key, outputs in done.items():
            for extra in outputs[1:]:
                check(False, f"diamonds of {key} clawed back {len(outputs)} times",
                      extra.location)
        for o in self.outputs:
            if o.type != "wallet.coins_clawed_back":
                continue
            for gift in o.fields["funded_gifts"]:
                key = (o.fields["purchase_id"], gift.creator_id, gift.request_id)
                if (gift.creator_id, gift.request_id) not in earned or key in done:
                    self.invariant.ok()
                    continue
                check(False, f"clawback of {o.fields['purchase_id']} funded gift "
                             f"{gift.request_id} of {gift.creator_id}: its diamonds were "
                             f"never clawed back", o.location)
        return sum(len(v) for v in done.values())
