"""The audit fold over hand-built logs: a consistent economy passes every invariant; each kind
of tampering fails the invariant it breaks, pinpointing the record."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from ops.audit import Auditor, AuditReport
from ops.audit.report import write_html, write_json
from services.gifting.domain import CatalogGift, Stream, decide_gift, decide_outcome
from services.payout.domain import Creator, creators_funded, decide as payout_decide, evolve
from services.payout.domain.policy import PolicyInEffect
from services.wallet.domain import DEFAULT_PRICES, Wallet, decide as wallet_decide, fold
from shared.contract.codec import decode, encode
from shared.contract.defaults import default_policy
from shared.contract.envelope import Event
from shared.contract.events import creators, payments, streams, users
from shared.contract.events.catalog import GiftListed
from shared.contract.events.deadletter import DeadLetterReason, EventDeadLettered
from shared.contract.events.policy import CoinPackagePriced, PayoutLimitsSet
from shared.contract.topics import TOPICS_BY_NAME, topic_of
from shared.logread import LogRecord

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@dataclass
class Log:
    """A log being written: per (topic, partition) offsets, like Kafka."""

    records: list[tuple[str, int, Event]] = field(default_factory=list)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)

    def append(self, event: Event) -> None:
        topic = topic_of(event)
        partition = hash(event.key) % 1  # one partition per topic keeps the test readable
        self.records.append((topic.name, partition, event))

    def log_records(self, replace: dict[uuid.UUID, Event | None] | None = None
                    ) -> list[LogRecord]:
        replace = replace or {}
        out: list[LogRecord] = []
        offsets: dict[tuple[str, int], int] = {}
        for topic, partition, event in self.records:
            if event.event_id in replace:
                event = replace[event.event_id]
                if event is None:
                    continue
            out.append(record(topic, partition, offsets, encode(event)))
        return out


def record(topic: str, partition: int, offsets: dict, value: bytes) -> LogRecord:
    offset = offsets.get((topic, partition), 0)
    offsets[(topic, partition)] = offset + 1
    from shared.contract.codec import InvalidEvent
    try:
        decoded, error = decode(TOPICS_BY_NAME[topic], value), None
    except InvalidEvent as invalid:
        decoded, error = None, invalid
    stamp = int(decoded.event.occurred_at.timestamp() * 1000) if decoded else 0
    return LogRecord(topic, partition, offset, stamp, None, value, decoded, error)


class Economy:
    """Drives the real pure domains, so the outputs are what the services would write."""

    def __init__(self) -> None:
        self.log = Log()
        self.wallets: dict[str, Wallet] = {}
        self.creators: dict[str, Creator] = {}
        self.policy = PolicyInEffect()
        self.streams: dict[str, Stream] = {}
        self.gifts = {"rose": CatalogGift("rose", "Rose", 1, 1),
                      "lion": CatalogGift("lion", "Lion", 299, 1)}
        self.priced = {}
        self.prices = DEFAULT_PRICES
        self.now = T0
        low_minimum = PayoutLimitsSet(event_id=uuid.uuid4(), occurred_at=T0,
                                      rate_version="limits-test", currency="USD", min_minor=1,
                                      max_per_day_minor=100000)
        for event in [*default_policy(), low_minimum]:
            self.log.append(event)
            self.policy = self.policy.apply(event)
        for gift in self.gifts.values():
            self.log.append(GiftListed(event_id=uuid.uuid4(), occurred_at=T0, gift_id=gift.gift_id,
                                       catalog_version=1, name=gift.name, coins=gift.coins))

    def env(self) -> dict:
        self.now += timedelta(minutes=1)
        return {"event_id": uuid.uuid4(), "occurred_at": self.now}

    def _wallet(self, event: Event) -> list[Event]:
        wallet = self.wallets.get(event.key) or Wallet(event.key)
        out = wallet_decide(wallet, event, None, self.prices)
        self.wallets[event.key] = fold(wallet, out)
        for output in out:
            self.log.append(output)
        return out

    def _payout(self, event: Event) -> list[Event]:
        outputs = []
        targets = creators_funded(event) if event.type == "wallet.coins_clawed_back" else [
            getattr(event, "creator_id", None) or event.key]
        for creator_id in targets:
            creator = self.creators.get(creator_id) or Creator(creator_id)
            for output in payout_decide(creator, event, self.policy):
                creator = evolve(creator, output)
                self.log.append(output)
                outputs.append(output)
            self.creators[creator_id] = creator
        return outputs

    def publish(self, event: Event) -> list[Event]:
        self.log.append(event)
        match event:
            case streams.StreamStarted():
                self.streams[event.stream_id] = Stream(event.stream_id, event.creator_id,
                                                       event.occurred_at)
                return []
            case streams.GiftRequested():
                decision = decide_gift(event, self.streams.get(event.stream_id),
                                       self.gifts.get(event.gift_id), [])
                self.log.append(decision)
                if decision.type != "gifting.gift_priced":
                    return [decision]
                answer = self._wallet(decision)[-1]
                self.log.append(decide_outcome(decision, answer))
                if answer.type == "wallet.coins_spent":
                    return [decision, answer, *self._payout(answer)]
                return [decision, answer]
            case CoinPackagePriced():
                self.prices = self.prices.with_price(event)
                return []
            case users.CreatorVerified():
                return self._payout(event)
            case creators.PayoutRequested() | creators.PayoutSucceeded():
                return self._payout(event)
        out = self._wallet(event)
        for output in out:
            if output.type == "wallet.coins_clawed_back":
                self._payout(output)
        return out


def build() -> tuple[Economy, dict[str, Event]]:
    e = Economy()
    marks: dict[str, Event] = {}
    e.publish(users.AgeVerified(**e.env(), user_id="v1", adult=True))
    e.publish(users.AgeVerified(**e.env(), user_id="v2", adult=True))
    e.publish(users.CreatorVerified(**e.env(), user_id="c1", verified=True))
    p1 = payments.PurchaseCompleted(**e.env(), user_id="v1", purchase_id="p1", coins=660,
                                    amount_minor=999, currency="USD",
                                    platform=payments.Platform.app_ios, region="US",
                                    package_id="coins-660", rate_version="packs-2026-01")
    e.publish(p1)
    p2 = payments.PurchaseCompleted(**e.env(), user_id="v2", purchase_id="p2", coins=330,
                                    amount_minor=499, currency="USD",
                                    platform=payments.Platform.app_ios, region="US",
                                    package_id="coins-330", rate_version="packs-2026-01")
    e.publish(p2)
    stream = streams.StreamStarted(**e.env(), stream_id="s1", creator_id="c1")
    e.publish(stream)
    for sender, gift, quantity in (("v1", "lion", 1), ("v1", "rose", 7), ("v2", "lion", 1),
                                   ("v2", "lion", 1), ("v1", "rose", 3)):
        out = e.publish(streams.GiftRequested(**e.env(), request_id=f"r{len(e.log.records)}",
                                              stream_id="s1", sender_id=sender, gift_id=gift,
                                              quantity=quantity))
        for event in out:
            marks.setdefault(event.type, event)
            if event.type == "wallet.spend_rejected":
                marks["rejected"] = event
    e.now += timedelta(days=16)
    request = creators.PayoutRequested(**e.env(), creator_id="c1", payout_id="po1",
                                       diamonds=100, currency="USD", method="bank")
    reserved = e.publish(request)
    assert reserved and reserved[0].type == "payout.payout_reserved", reserved
    e.publish(creators.PayoutSucceeded(**e.env(), creator_id="c1", payout_id="po1",
                                       provider_reference="prov-1"))
    e.publish(payments.PurchaseChargedBack(**e.env(), user_id="v2", purchase_id="p2",
                                           amount_minor=499, currency="USD", reason="fraud"))
    return e, marks


def audit(records: list[LogRecord]) -> AuditReport:
    auditor = Auditor()
    for rec in records:
        auditor.feed(rec)
    auditor.note_missing(len({(rec.topic, rec.partition) for rec in records}), [])
    return auditor.report()


def located(report: AuditReport, name: str) -> list[str]:
    return [f"{v.location.topic}:{v.location.offset}" for v in report.invariant(name).examples
            if v.location]


def offset_of(records: list[LogRecord], event_id: uuid.UUID) -> str:
    rec = next(r for r in records if r.decoded and r.decoded.event.event_id == event_id)
    return f"{rec.topic}:{rec.offset}"


def test_a_consistent_economy_passes_every_invariant(tmp_path):
    economy, marks = build()
    assert {"wallet.coins_spent", "payout.diamonds_earned", "rejected"} <= set(marks)
    report = audit(economy.log.log_records())
    assert report.passed, [(i.name, [v.message for v in i.examples])
                           for i in report.invariants if not i.passed]
    assert all(inv.checked > 0 for inv in report.invariants), [
        inv.name for inv in report.invariants if not inv.checked]
    usd = report.money["USD"]
    assert usd["received"] == 999 + 499 and usd["charged_back"] == 499
    assert usd["paid_out"] == 50 and usd["revenue"] >= 0
    assert sum(v for k, v in usd.items() if k not in ("received",)) == usd["received"]
    assert report.figures["diamonds"]["clawed_back"] > 0
    write_json(report, tmp_path / "a.json")
    write_html(report, tmp_path / "a.html")
    page = (tmp_path / "a.html").read_text()
    assert "<svg" in page and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_republished_events_are_harmless():
    economy, _ = build()
    records = economy.log.log_records()
    report = audit(records + records[-5:])
    assert report.passed
    assert report.figures["republished_duplicates"] == 5


def tampered(economy: Economy, event: Event, **changes) -> list[LogRecord]:
    altered = event.model_copy(update=changes) if changes else None
    return economy.log.log_records({event.event_id: altered})


@dataclass(frozen=True)
class Tampered:
    """A consistent log altered in one way, and the records its broken invariants must name."""

    records: list[LogRecord]
    named: list[str]


def appended_to_the_wallet_ledger(records: list[LogRecord], *values: bytes) -> Tampered:
    offsets = {("wallet.ledger", 0): sum(r.topic == "wallet.ledger" for r in records)}
    named = []
    for value in values:
        named.append(f"wallet.ledger:{offsets[('wallet.ledger', 0)]}")
        records.append(record("wallet.ledger", 0, offsets, value))
    return Tampered(records, named)


def first_of(economy: Economy, event_type: str) -> Event:
    return next(ev for _, _, ev in economy.log.records if ev.type == event_type)


def a_spend_with_a_wrong_balance_after(economy: Economy, marks: dict[str, Event]) -> Tampered:
    spent = marks["wallet.coins_spent"]
    records = tampered(economy, spent, balance_after=spent.balance_after + 1)
    return Tampered(records, [offset_of(records, spent.event_id)])


def a_spend_beyond_the_balance(economy: Economy, marks: dict[str, Event]) -> Tampered:
    spent = marks["wallet.coins_spent"]
    records = tampered(economy, spent, balance_after=-1)
    return Tampered(records, [offset_of(records, spent.event_id)])


def an_earning_at_a_wrong_rate(economy: Economy, marks: dict[str, Event]) -> Tampered:
    earned = marks["payout.diamonds_earned"]
    records = tampered(economy, earned, diamonds=earned.diamonds + 1)
    return Tampered(records, [offset_of(records, earned.event_id)])


def a_removed_gift_priced(economy: Economy, marks: dict[str, Event]) -> Tampered:
    records = tampered(economy, marks["gifting.gift_priced"])  # removed
    # The spend it caused is the record left without a cause.
    return Tampered(records, [offset_of(records, marks["wallet.coins_spent"].event_id)])


def a_double_decision(economy: Economy, marks: dict[str, Event]) -> Tampered:
    twin = marks["wallet.coins_spent"].model_copy(update={"event_id": uuid.uuid4()})
    return appended_to_the_wallet_ledger(economy.log.log_records(), encode(twin))


def a_payout_at_a_wrong_conversion(economy: Economy, marks: dict[str, Event]) -> Tampered:
    reserved = first_of(economy, "payout.payout_reserved")
    records = tampered(economy, reserved, net_minor=reserved.net_minor - 1,
                       fee_minor=reserved.fee_minor + 1)
    return Tampered(records, [offset_of(records, reserved.event_id)])


def a_clawback_whose_parts_do_not_add_up(economy: Economy, marks: dict[str, Event]) -> Tampered:
    clawed = first_of(economy, "payout.diamonds_clawed_back")
    records = tampered(economy, clawed, to_debt=clawed.to_debt + 5)
    return Tampered(records, [offset_of(records, clawed.event_id)])


def an_altered_output_reusing_an_id_and_garbage(economy: Economy,
                                                 marks: dict[str, Event]) -> Tampered:
    spent = marks["wallet.coins_spent"]
    return appended_to_the_wallet_ledger(
        economy.log.log_records(), encode(spent.model_copy(update={"coins": spent.coins + 1})),
        b"not json")


def a_removed_coins_spent(economy: Economy, marks: dict[str, Event]) -> Tampered:
    # What goes missing is a whole record: no one record is left to name.
    return Tampered(tampered(economy, marks["wallet.coins_spent"]), [])


def a_removed_diamonds_earned(economy: Economy, marks: dict[str, Event]) -> Tampered:
    return Tampered(tampered(economy, marks["payout.diamonds_earned"]), [])


def tampering(alter: Callable[[Economy, dict[str, Event]], Tampered], *failing: str,
              only: bool = False):
    """A row of the table below: with `only`, no other invariant fails and the failing ones
    name exactly the records given, in order."""
    fails = "fails_only" if only else "fails"
    return pytest.param(alter, set(failing), only,
                        id=f"{alter.__name__}_{fails}_{'_and_'.join(failing)}")


@pytest.mark.parametrize("alter, failing, only", [
    tampering(a_spend_with_a_wrong_balance_after, "coin_conservation"),
    tampering(a_spend_beyond_the_balance, "no_overspend"),
    tampering(an_earning_at_a_wrong_rate, "rates"),
    tampering(a_removed_gift_priced, "causation"),
    tampering(a_double_decision, "causation"),
    tampering(a_payout_at_a_wrong_conversion, "rates"),
    tampering(a_clawback_whose_parts_do_not_add_up, "double_entry"),
    tampering(an_altered_output_reusing_an_id_and_garbage, "decodability", only=True),
    tampering(a_removed_coins_spent, "causation"),
    tampering(a_removed_diamonds_earned, "causation"),
])
def test_a_tampered_log_fails_the_invariant_it_breaks_naming_the_record(alter, failing, only):
    economy, marks = build()
    altered = alter(economy, marks)
    report = audit(altered.records)
    failed = report.failed_names()
    for name in failing:
        assert name in failed
        if only:
            assert located(report, name) == altered.named
        else:
            assert set(altered.named) <= set(located(report, name))
    if only:
        assert set(failed) == failing


# ------------------------------------------------------------ derivation, balances, decisions

def test_derived_ids_are_checked_exactly_as_derive_event_id_builds_them():
    from ops.audit.causality import is_derived
    from shared.contract.envelope import derive_event_id

    for cause in [uuid.uuid4() for _ in range(100)]:
        for step in ("credit", "expire:grant-1", "clawback:c1:r9", "payout_duplicate", "ünï"):
            derived = derive_event_id(cause, step)
            assert is_derived(derived, cause, step)
            assert not is_derived(derived, cause, step + "x")
            assert not is_derived(derived, uuid.uuid4(), step)
            for bit in (0, 62, 63, 76, 79, 127):  # incl. the variant and version bits
                assert not is_derived(uuid.UUID(int=derived.int ^ (1 << bit)), cause, step)


def an_economy_with_expiry_and_debt() -> Economy:
    """build(), then v1's promo coins lapse (expired by v1's next purchase) and v2, in debt
    since the chargeback, buys again (the purchase repays the debt first)."""
    from shared.contract.events import promotions

    economy, _ = build()
    e = economy
    e.publish(promotions.PromoCoinsGranted(**e.env(), user_id="v1", grant_id="g1",
                                           campaign_id="welcome", coins=50,
                                           expires_at=e.now + timedelta(days=1)))
    e.now += timedelta(days=2)
    for user_id, purchase_id in (("v1", "p3"), ("v2", "p4")):
        e.publish(payments.PurchaseCompleted(**e.env(), user_id=user_id,
                                             purchase_id=purchase_id, coins=660,
                                             amount_minor=999, currency="USD",
                                             platform=payments.Platform.app_ios, region="US",
                                             package_id="coins-660",
                                             rate_version="packs-2026-01"))
    return economy


def test_running_wallet_balances_equal_the_lots_summed_even_when_tampered():
    economy = an_economy_with_expiry_and_debt()
    events = [event for _, _, event in economy.log.records]
    types = {event.type for event in events}
    assert {"wallet.promo_coins_expired", "wallet.coins_clawed_back",
            "wallet.wallet_frozen"} <= types
    assert any(getattr(event, "debt_repaid", 0) for event in events)
    records = economy.log.log_records()
    assert audit(records).passed
    variants = [records]
    for event in events:
        if event.type.startswith("wallet."):
            variants.append(tampered(economy, event))  # removed
            if getattr(event, "coins", None):
                variants.append(tampered(economy, event, coins=event.coins + 1))
    broken = 0
    for variant in variants:
        auditor = Auditor()
        for rec in variant:
            auditor.feed(rec)
        for wallet in auditor.wallets.wallets.values():
            assert wallet.balance == wallet.recount()
        broken += "coin_conservation" in auditor.report().failed_names()
    assert broken > len(variants) // 2


def test_an_undecided_input_fails_causation_unless_dead_lettered_or_within_the_grace():
    economy, marks = build()
    spent = marks["wallet.coins_spent"]
    settled = next(ev for _, _, ev in economy.log.records
                   if ev.type == "gifting.gift_sent" and ev.causation_id == spent.event_id)
    records = tampered(economy, settled)  # the spend is never answered
    report = audit(records)
    assert report.failed_names() == ["causation"]
    [violation] = report.invariant("causation").examples
    assert violation.message.startswith("wallet answer settles the gift: wallet.coins_spent")
    assert violation.message.endswith("never decided")
    assert f"{violation.location.topic}:{violation.location.offset}" == \
        offset_of(records, spent.event_id)
    assert violation.location.event_id == str(spent.event_id)

    auditor = Auditor(grace_s=40 * 86400)  # the whole log is still "recent"
    for rec in records:
        auditor.feed(rec)
    report = auditor.report()
    assert report.passed and report.figures["causation"]["undecided_pending"] == 1

    dead_letter = EventDeadLettered(
        event_id=uuid.uuid4(), occurred_at=economy.now, producer="gifting", consumer="gifting",
        source_topic="wallet.ledger", source_partition=0, source_offset=0, source_key=None,
        source_event_id=str(spent.event_id), payload="{}", payload_sha256="0" * 64,
        reason=DeadLetterReason.handler_error, detail="crashed")
    offsets = {("gifting.dead-letter", 0): 0}
    report = audit([*records, record("gifting.dead-letter", 0, offsets, encode(dead_letter))])
    assert report.passed and report.figures["causation"]["undecided_exempt"] == 1


def test_a_repeated_payout_request_rejected_as_duplicate_is_not_a_second_decision():
    economy, _ = build()
    e = economy
    [rejected] = e.publish(creators.PayoutRequested(**e.env(), creator_id="c1",
                                                    payout_id="po1", diamonds=100,
                                                    currency="USD", method="bank"))
    assert rejected.type == "payout.payout_rejected" and rejected.reason == "duplicate_payout"
    report = audit(economy.log.log_records())
    assert report.passed, [(i.name, [v.message for v in i.examples])
                           for i in report.invariants if not i.passed]
    assert report.figures["causation"]["decisions"]["payout request reserved or rejected"] == 1


def test_an_output_caused_by_the_wrong_event_or_differing_from_its_cause_fails_causation():
    economy, marks = build()
    spent = marks["wallet.coins_spent"]
    purchase = next(ev for _, _, ev in economy.log.records
                    if ev.type == "payments.purchase_completed")
    earned = marks["payout.diamonds_earned"]
    records = economy.log.log_records({
        spent.event_id: spent.model_copy(update={"causation_id": purchase.event_id}),
        earned.event_id: earned.model_copy(update={"coins": earned.coins + 1}),
    })
    report = audit(records)
    messages = {v.message.split(" (")[0] for v in report.invariant("causation").examples}
    assert "wallet.coins_spent caused by a payments.purchase_completed" in messages
    assert any(m.startswith("payout.diamonds_earned differs from its cause wallet.coins_spent")
               for m in messages)
    assert {offset_of(records, spent.event_id), offset_of(records, earned.event_id)} <= \
        set(located(report, "causation"))
    assert all(isinstance(v.location.event_id, str)
               for inv in report.invariants for v in inv.examples if v.location)


def test_read_tables_are_compared_row_by_row_with_the_replay():
    from ops.audit.model import Invariant
    from ops.audit.read_models import compare
    from ops.verdict import Verdict

    invariant = Invariant("read_models", "tables agree with the log")
    compare(invariant, "wallet_balances", ("balance", "debt"),
            stored={"u1": {"balance": 5, "debt": 0}, "u2": {"balance": 0, "debt": 0}},
            replayed={"u1": {"balance": 5, "debt": 0}, "u3": {"balance": -2, "debt": 2}})
    assert (invariant.checked, invariant.failed) == (3, 1)
    assert invariant.examples[0].message == (
        "wallet_balances row of u3 (missing): balance 0 (log: -2), debt 0 (log: 2)")
    verdict = Verdict.of(invariant)
    assert not verdict.passed and verdict.detail.startswith("1 of 3 checks failed, first at")


# ------------------------------------------------------------ purchases off the price list

def mispriced(e: Economy, purchase_id: str, **figures: object) -> payments.PurchaseCompleted:
    """17,500 coins for a cent under a version nobody published, unless changed."""
    fields: dict = dict(coins=17500, amount_minor=1, currency="USD",
                        platform=payments.Platform.web, region="US", package_id="coins-17500",
                        rate_version="packs-made-up")
    return payments.PurchaseCompleted(**e.env(), user_id="v1", purchase_id=purchase_id,
                                      **{**fields, **figures})


def test_refused_purchases_mint_nothing_and_their_cash_is_held_until_returned():
    economy, _ = build()
    [refused] = economy.publish(mispriced(economy, "p-bad"))
    assert refused.type == "wallet.purchase_refused"
    # Refunded: nothing to claw back, the cash goes back.
    assert economy.publish(payments.PurchaseRefunded(
        **economy.env(), user_id="v1", purchase_id="p-bad", amount_minor=1,
        currency="USD")) == []
    # Bought before its price list reached the wallet, then published again: credited.
    early = mispriced(economy, "p-late", rate_version="packs-2026-02", amount_minor=17000)
    [late] = economy.publish(early)
    assert late.type == "wallet.purchase_refused" and late.reason == "unknown_rate_version"
    economy.publish(CoinPackagePriced(
        **economy.env(), rate_version="packs-2026-02", package_id="coins-17500",
        platform="web", region="US", coins=17500, amount_minor=17000, currency="USD"))
    [credited] = economy.publish(early.model_copy(update=economy.env()))
    assert credited.type == "wallet.coins_purchased"
    [held] = economy.publish(mispriced(economy, "p-held", package_id="coins-70",
                                       rate_version="packs-2026-01", coins=70,
                                       amount_minor=74, region="FR"))
    assert held.type == "wallet.purchase_refused" and held.reason == "unknown_package"
    [kept] = economy.publish(mispriced(economy, "p-kept", rate_version="packs-2026-01",
                                       amount_minor=18000))
    assert kept.type == "wallet.purchase_refused" and kept.reason == "price_mismatch"
    report = audit(economy.log.log_records())
    assert report.passed, [(i.name, [v.message for v in i.examples])
                           for i in report.invariants if not i.passed]
    usd = report.money["USD"]
    assert usd["refused_unreturned"] == 74 + 18000  # p-bad refunded, p-late credited
    assert sum(v for k, v in usd.items() if k != "received") == usd["received"]
    assert report.figures["coins"]["purchases_refused"] == {
        "price_mismatch": 1, "unknown_package": 1, "unknown_rate_version": 2}
    assert report.figures["rates"]["purchases_checked"] == 2 + 1 + 4


def test_a_credit_off_the_price_list_or_a_refusal_against_other_figures_fails_rates():
    economy, _ = build()
    [refused] = economy.publish(mispriced(economy, "p-bad", rate_version="packs-2026-01"))
    credit = first_of(economy, "wallet.coins_purchased")
    records = economy.log.log_records({
        credit.event_id: credit.model_copy(update={"amount_minor": 1}),
        refused.event_id: refused.model_copy(update={"listed_amount_minor": 1})})
    report = audit(records)
    assert "rates" in report.failed_names()
    assert set(located(report, "rates")) >= {offset_of(records, credit.event_id),
                                              offset_of(records, refused.event_id)}
    # A refusal forged over a credit of the same purchase breaks conservation too.
    forged = refused.model_copy(update={"purchase_id": credit.purchase_id,
                                        "user_id": credit.user_id})
    assert "coin_conservation" in audit(economy.log.log_records(
        {refused.event_id: forged})).failed_names()
