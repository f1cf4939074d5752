"""The wallet and payout folds that must give the same figures, over the random economies of
test_economy_properties: the services' domains (services/*/domain: replay, rebuild), the
auditor (ops/audit: its own re-implementation, kept apart on purpose) and explain (ops/explain:
the domains' folds, with running sums of its own).

Per wallet: balance, purchased and promo coins left in lots, debt. Per creator: earned, held,
available, reserved, withdrawn, clawed back and debt, at the creator's clock and once every
hold has ended. Explain's running figures equal the domain's after every event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis.stateful import invariant

from ops.audit import Auditor
from ops.audit.creators import CreatorState
from ops.audit.wallets import WalletState
from ops.explain import explain_creator, explain_viewer
from services.payout.domain import Creator, Replay, rebuild
from services.wallet.domain import Wallet, WalletDraft, balance, replay
from shared.contract.codec import encode
from shared.contract.envelope import Event
from shared.contract.events.payout import PayoutEvent
from shared.contract.events.wallet import WalletEvent
from shared.contract.topics import topic_of
from shared.logread import LogRecord
from tests.unit.test_audit import record
from tests.unit.test_economy_properties import EconomyMachine

AUDITED = ("coin_conservation", "no_overspend", "diamond_conservation")
"""The audit's invariants that wallet and payout events alone decide."""
EVERY_HOLD_ENDED = timedelta(days=400)


def wallet_figures(wallet: Wallet) -> dict[str, int]:
    return {"balance": balance(wallet),
            "purchased": sum(lot.remaining for lot in wallet.purchases),
            "promo": sum(lot.remaining for lot in wallet.promos), "debt": wallet.debt}


def audited_wallet_figures(wallet: WalletState) -> dict[str, int]:
    return {"balance": wallet.balance,
            "purchased": sum(lot.remaining for lot in wallet.purchases.values()),
            "promo": sum(lot.remaining for lot in wallet.promos.values()), "debt": wallet.debt}


def creator_figures(creator: Creator, at: datetime) -> dict[str, int]:
    return {"earned": creator.earned_diamonds, "held": creator.held(at),
            "available": creator.available(at), "reserved": creator.reserved_diamonds,
            "withdrawn": creator.withdrawn_diamonds,
            "clawed_back": creator.clawed_back_diamonds, "debt": creator.debt_diamonds}


def audited_creator_figures(creator: CreatorState, at: datetime) -> dict[str, int]:
    return {"earned": creator.earned, "held": creator.held(at),
            "available": creator.available(at), "reserved": creator.reserved,
            "withdrawn": creator.withdrawn, "clawed_back": creator.clawed, "debt": creator.debt}


def own_events(log: Iterable[Event]) -> tuple[dict[str, list[WalletEvent]],
                                               dict[str, list[PayoutEvent]]]:
    wallets: dict[str, list[WalletEvent]] = defaultdict(list)
    creators: dict[str, list[PayoutEvent]] = defaultdict(list)
    for event in log:
        if isinstance(event, WalletEvent):
            wallets[event.user_id].append(event)
        elif isinstance(event, PayoutEvent):
            creators[event.creator_id].append(event)
    return wallets, creators


class FoldsAgree(EconomyMachine):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[LogRecord] = []
        self.offsets: dict[tuple[str, int], int] = {}

    def log_records(self) -> list[LogRecord]:
        """The economy's log as the auditor reads it (wallet and payout events only matter
        here), encoded once per event."""
        for event in self.economy.log[len(self.records):]:
            self.records.append(record(topic_of(event).name, 0, self.offsets, encode(event)))
        return self.records

    @invariant()
    def the_auditor_agrees_with_the_domains(self):
        auditor = Auditor()
        for log_record in self.log_records():
            auditor.feed(log_record)
        report = auditor.report()
        for name in AUDITED:
            assert report.invariant(name).passed, report.invariant(name).examples
        wallets, creators = own_events(self.economy.log)
        assert set(auditor.wallets.wallets) == set(wallets)
        for user_id, events in wallets.items():
            assert audited_wallet_figures(auditor.wallets.wallets[user_id]) == \
                wallet_figures(replay(user_id, events)), user_id
        assert set(auditor.creators.creators) == set(creators)
        for creator_id, events in creators.items():
            creator = rebuild(creator_id, events)
            assert creator.clock is not None
            for at in (creator.clock, creator.clock + EVERY_HOLD_ENDED):
                assert audited_creator_figures(auditor.creators.creators[creator_id], at) == \
                    creator_figures(creator, at), (creator_id, at)

    @invariant()
    def explain_follows_the_domains_event_by_event(self):
        wallets, creators = own_events(self.economy.log)
        for user_id, events in wallets.items():
            explanation = explain_viewer(user_id, list(enumerate(events)))
            assert explanation.replay_error is None
            wallet = WalletDraft.of(Wallet(user_id))
            for line, event in zip(explanation.lines, events, strict=True):
                wallet.apply(event)
                assert (line.balance, line.consistent) == (balance(wallet), True), line
        for creator_id, events in creators.items():
            explanation = explain_creator(creator_id, list(enumerate(events)))
            assert explanation.replay_error is None
            creator = Replay.of(Creator(creator_id))
            for line, event in zip(explanation.lines, events, strict=True):
                creator.apply(event)
                state = creator.freeze()
                expected = creator_figures(state, state.clock)
                running = line.running
                assert (running.held, running.available, running.reserved, running.debt,
                        running.balance, running.as_of) == (
                    expected["held"], expected["available"], expected["reserved"],
                    expected["debt"], state.balance_diamonds, state.clock), line


TestFoldsAgree = FoldsAgree.TestCase
TestFoldsAgree.settings = settings(max_examples=25, stateful_step_count=40, deadline=None,
                                   suppress_health_check=[HealthCheck.too_slow])
