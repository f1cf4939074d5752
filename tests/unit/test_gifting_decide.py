"""Gifting's decide and evolve: routing of inputs, requests decided before, answers for gifts
not priced here, and the state folded from facts and decisions.

Table-driven given/when/then; no infrastructure.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

import pytest

from services.gifting.domain import (
    CatalogGift,
    GiftingDraft,
    GiftingState,
    Stream,
    decide,
    decide_gift,
    decide_outcome,
    evolve,
    fold,
)
from shared.consistency import InconsistentHistory
from shared.contract.events.catalog import CampaignEnded, CampaignStarted, GiftListed, GiftRepriced
from shared.contract.events.gifting import GiftPriced, GiftRejected, GiftRejection
from shared.contract.events.streams import GiftRequested, StreamEnded, StreamStarted
from shared.contract.events.users import AgeVerified, CreatorVerified
from shared.contract.events.wallet import (
    CoinsSpent,
    LotKind,
    LotUse,
    SpendRejected,
    SpendRejection,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _eid(label: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"test/gifting-decide/{label}")


# ---- givens -------------------------------------------------------------------------------

LIVE = Stream("stream-1", "creator-1", started_at=T0 - SECOND)
ROSE = CatalogGift("rose", "Rose", 5, 1)


def state(*, adult: bool | None = True, priced: tuple[GiftPriced, ...] = (),
          requests: frozenset[str] = frozenset()) -> GiftingState:
    """A live stream and a listed rose; `adult` is what was said of the creator."""
    return GiftingState(
        streams=MappingProxyType({"stream-1": LIVE}), gifts=MappingProxyType({"rose": ROSE}),
        creator_ages=MappingProxyType({} if adult is None else {"creator-1": adult}),
        priced=MappingProxyType({gift.request_id: gift for gift in priced}),
        requests=requests | {gift.request_id for gift in priced})


def request(req: str = "req-1", label: str | None = None, stream: str = "stream-1",
            sender: str = "viewer-1") -> GiftRequested:
    return GiftRequested(event_id=_eid(label or req), occurred_at=T0, request_id=req,
                         stream_id=stream, sender_id=sender, gift_id="rose", quantity=2)


PRICED = decide_gift(request(), LIVE, ROSE, [])


def spent(req: str = "req-1") -> CoinsSpent:
    return CoinsSpent(event_id=_eid(f"spent/{req}"), occurred_at=T0 + SECOND, user_id="viewer-1",
                      request_id=req, creator_id="creator-1", stream_id="stream-1",
                      gift_id="rose", coins=10, balance_after=0,
                      lots=(LotUse(lot_id="pur-1", kind=LotKind.purchase, coins=10,
                                   value_minor=10, currency="USD"),))


def refused(req: str = "req-1") -> SpendRejected:
    return SpendRejected(event_id=_eid(f"refused/{req}"), occurred_at=T0 + SECOND,
                         user_id="viewer-1", request_id=req, creator_id="creator-1",
                         stream_id="stream-1", coins=10, reason=SpendRejection.wallet_frozen)


def started(stream: str = "stream-2", at: datetime = T0 - SECOND) -> StreamStarted:
    return StreamStarted(event_id=_eid(f"start/{stream}/{at}"), occurred_at=at,
                         stream_id=stream, creator_id="creator-2")


def ended(stream: str = "stream-1", at: datetime = T0 - SECOND / 2) -> StreamEnded:
    return StreamEnded(event_id=_eid(f"end/{stream}/{at}"), occurred_at=at, stream_id=stream,
                       creator_id="creator-1")


def aged(user: str, adult: bool) -> AgeVerified:
    return AgeVerified(event_id=_eid(f"age/{user}/{adult}"), occurred_at=T0, user_id=user,
                       adult=adult)


def listed(gift: str, coins: int, version: int = 1) -> GiftListed:
    return GiftListed(event_id=_eid(f"listed/{gift}/{version}"), occurred_at=T0, gift_id=gift,
                      catalog_version=version, name=gift.title(), coins=coins)


def repriced(gift: str, coins: int, version: int) -> GiftRepriced:
    return GiftRepriced(event_id=_eid(f"repriced/{gift}/{version}"), occurred_at=T0,
                        gift_id=gift, catalog_version=version, coins=coins)


CAMPAIGN = CampaignStarted(event_id=_eid("spring"), occurred_at=T0 - SECOND,
                           campaign_id="spring", multiplier=Decimal(2), gift_ids=(),
                           starts_at=T0 - SECOND, ends_at=T0 + SECOND)


# ---- decide: routing ----------------------------------------------------------------------

@pytest.mark.parametrize("given, event, expected", [
    (state(), request(), [PRICED]),
    (state(adult=None), request(), [GiftRejection.creator_not_adult]),
    (state(adult=False), request(), [GiftRejection.creator_not_adult]),
    (state(), request(stream="stream-9"), [GiftRejection.stream_not_live]),
    (state(), request(sender="creator-1"), [GiftRejection.self_gift]),
    # decided before (priced or rejected), republished under a new event id
    (state(priced=(PRICED,)), request(label="again"), []),
    (state(requests=frozenset({"req-1"})), request(label="again"), []),
    # the wallet's answers
    (state(priced=(PRICED,)), spent(), [decide_outcome(PRICED, spent())]),
    (state(priced=(PRICED,)), refused(), [decide_outcome(PRICED, refused())]),
    (state(), spent("req-unknown"), []),
    (state(requests=frozenset({"req-1"})), spent(), []),     # settled already
    # facts decide nothing
    (state(), started(), []),
    (state(), aged("creator-1", False), []),
    (state(), CAMPAIGN, []),
    (state(), CreatorVerified(event_id=_eid("cv"), occurred_at=T0, user_id="creator-1",
                              verified=True), []),
], ids=lambda value: None if isinstance(value, list | GiftingState) else type(value).__name__)
def test_decide(given, event, expected):
    outputs = decide(given, event)
    assert [output.reason if isinstance(output, GiftRejected) else output
            for output in outputs] == expected
    assert decide(GiftingDraft.of(given), event) == outputs     # the draft reads the same


def test_a_request_decided_before_keeps_its_first_decision_whatever_changed_since():
    first = fold(state(), [request(), PRICED])
    changed = fold(first, [repriced("rose", 7, 2), ended()])
    assert decide(changed, request(label="again")) == []
    [fresh] = decide(changed, request("req-2"))       # a new request sees the changes
    assert fresh.reason is GiftRejection.stream_not_live


# ---- evolve: facts ------------------------------------------------------------------------

def test_facts_change_what_later_requests_see():
    after = fold(GiftingState(), [started(), aged("creator-2", True), listed("rose", 3),
                                  CAMPAIGN])
    priced = decide(after, request(stream="stream-2"))[0]
    assert isinstance(priced, GiftPriced)
    assert (priced.creator_id, priced.coins, priced.campaign_id, priced.points) == (
        "creator-2", 6, "spring", 12)


@pytest.mark.parametrize("events, field, expected", [
    ([started(), started(at=T0)], "streams",
     {"stream-2": Stream("stream-2", "creator-2", started_at=T0 - SECOND)}),
    ([repriced("heart", 9, 2)], "gifts", {}),                 # never listed: ignored
    ([listed("heart", 3), repriced("heart", 9, 2), repriced("heart", 4, 1)], "gifts",
     {"heart": CatalogGift("heart", "Heart", 9, 2)}),
    ([CampaignEnded(event_id=_eid("end"), occurred_at=T0, campaign_id="spring")],
     "campaigns", {}),                                        # an end without a start
    ([aged("creator-2", True), aged("creator-2", False)], "creator_ages", {"creator-2": False}),
])
def test_facts_apply_by_their_own_rules(events, field, expected):
    assert dict(getattr(fold(GiftingState(), events), field)) == expected


# ---- evolve: decisions --------------------------------------------------------------------

REJECTED = decide_gift(request("req-2"), None, ROSE, [])


@pytest.mark.parametrize("events, priced, requests", [
    ([PRICED], {"req-1"}, {"req-1"}),
    ([REJECTED], set(), {"req-2"}),
    ([PRICED, decide_outcome(PRICED, spent())], set(), {"req-1"}),
    ([PRICED, decide_outcome(PRICED, refused())], set(), {"req-1"}),
    # requests and answers change nothing by themselves
    ([request(), spent()], set(), set()),
])
def test_decisions_record_what_was_decided_and_what_awaits_the_wallet(events, priced, requests):
    after = fold(GiftingState(), events)
    assert set(after.priced) == priced
    assert after.requests == requests


@pytest.mark.parametrize("given, event", [
    (state(priced=(PRICED,)), PRICED),                                   # priced twice
    (state(requests=frozenset({"req-2"})), REJECTED),                    # rejected twice
    (state(), decide_outcome(PRICED, spent())),                          # nothing to settle
], ids=["priced-twice", "rejected-twice", "settles-nothing"])
def test_a_decision_that_cannot_follow_the_state_is_an_inconsistent_history(given, event):
    with pytest.raises(InconsistentHistory):
        evolve(given, event)


def test_fold_is_evolve_one_event_at_a_time_and_leaves_its_input_alone():
    before = state()
    events = [started(), request(), PRICED, aged("creator-2", False), spent(),
              decide_outcome(PRICED, spent()), listed("heart", 2)]
    stepwise = before
    for event in events:
        stepwise = evolve(stepwise, event)
    assert fold(before, events) == stepwise
    assert before == state()


def test_the_draft_keeps_the_keys_its_facts_touched_in_first_applied_order():
    draft = GiftingDraft.of(GiftingState())
    for event in [repriced("heart", 9, 2), listed("rose", 1), listed("heart", 3), started(),
                  started("stream-3"), started(), aged("v", True), aged("c", True),
                  aged("v", False), CAMPAIGN, PRICED]:
        draft.apply(event)
    assert list(draft.changed_gifts) == ["rose", "heart"]
    assert list(draft.changed_streams) == ["stream-2", "stream-3"]
    assert list(draft.changed_ages) == ["v", "c"]
    assert list(draft.changed_campaigns) == ["spring"]
    assert draft.freeze() == fold(GiftingState(), [listed("rose", 1), listed("heart", 3),
                                                    started(), started("stream-3"),
                                                    aged("c", True), aged("v", False),
                                                    CAMPAIGN, PRICED])
