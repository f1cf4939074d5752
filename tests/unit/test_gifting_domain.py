"""Gifting's pure decisions: catalog versions, streams, pricing, campaigns, outcomes, boards.

Table-driven given/when/then; no infrastructure.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from services.gifting.domain import (
    Campaign,
    Catalog,
    CatalogGift,
    Leaderboard,
    Stream,
    StreamTotals,
    add_to_totals,
    apply_sent,
    best_campaign,
    build_catalog,
    decide_gift,
    decide_outcome,
    evolve_campaign,
    evolve_gift,
    evolve_stream,
    points_for,
    top,
)
from services.gifting.seed_catalog import SEED_GIFTS, seed_catalog
from shared.contract.codec import decode, encode
from shared.contract.envelope import derive_event_id
from shared.contract.events.catalog import (
    CampaignEnded,
    CampaignStarted,
    GiftListed,
    GiftRepriced,
    GiftRetired,
)
from shared.contract.events.gifting import (
    GiftFailed,
    GiftPriced,
    GiftRejected,
    GiftRejection,
    GiftSent,
)
from shared.contract.events.streams import GiftRequested, StreamEnded, StreamStarted
from shared.contract.events.wallet import CoinsSpent, LotKind, LotUse, SpendRejected, SpendRejection
from shared.contract.topics import CATALOG_CHANGES

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
HOUR = timedelta(hours=1)


def _eid(label: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"test/{label}")


# ---- givens -------------------------------------------------------------------------------

def request(quantity: int = 1, *, gift: str = "rose", sender: str = "viewer-1",
            stream: str = "stream-1", at: datetime = T0, req: str = "req-1") -> GiftRequested:
    return GiftRequested(event_id=_eid(req), occurred_at=at, request_id=req, stream_id=stream,
                         sender_id=sender, gift_id=gift, quantity=quantity)


LIVE = Stream("stream-1", "creator-1", started_at=T0 - HOUR)
ENDED = Stream("stream-1", "creator-1", started_at=T0 - 2 * HOUR, ended_at=T0 - HOUR)
ENDS_AT_T0 = Stream("stream-1", "creator-1", started_at=T0 - HOUR, ended_at=T0)
STARTS_LATER = Stream("stream-1", "creator-1", started_at=T0 + US)
END_ONLY = Stream("stream-1", "creator-1", ended_at=T0 + HOUR)
ROSE = CatalogGift("rose", "Rose", 1, 1)
RETIRED_ROSE = CatalogGift("rose", "Rose", 1, 2, retired=True)


def gift(coins: int = 1, version: int = 1, gift_id: str = "rose") -> CatalogGift:
    return CatalogGift(gift_id, gift_id.title(), coins, version)


def campaign(campaign_id: str, multiplier: str, *, gifts: tuple[str, ...] = (),
             starts_at: datetime = T0 - HOUR, ends_at: datetime = T0 + HOUR,
             ended_at: datetime | None = None) -> Campaign:
    return Campaign(campaign_id, Decimal(multiplier), frozenset(gifts), starts_at, ends_at,
                    ended_at)


def listed(coins: int, version: int, gift_id: str = "rose") -> GiftListed:
    return GiftListed(event_id=_eid(f"listed/{gift_id}/{version}/{coins}"), occurred_at=T0,
                      gift_id=gift_id, catalog_version=version, name=gift_id.title(),
                      coins=coins)


def repriced(coins: int, version: int, gift_id: str = "rose") -> GiftRepriced:
    return GiftRepriced(event_id=_eid(f"repriced/{gift_id}/{version}/{coins}"), occurred_at=T0,
                        gift_id=gift_id, catalog_version=version, coins=coins)


def retired(version: int, gift_id: str = "rose") -> GiftRetired:
    return GiftRetired(event_id=_eid(f"retired/{gift_id}/{version}"), occurred_at=T0,
                       gift_id=gift_id, catalog_version=version)


def sent(sender: str, coins: int, points: int | None = None, *, stream: str = "stream-1",
         creator: str = "creator-1", quantity: int | None = 1, n: int = 0) -> GiftSent:
    return GiftSent(event_id=_eid(f"sent/{sender}/{stream}/{n}/{coins}"), occurred_at=T0,
                    request_id=f"req-{sender}-{n}", sender_id=sender, stream_id=stream,
                    creator_id=creator, coins=coins,
                    points=coins if points is None else points, quantity=quantity)


# ---- decide_gift: rejections and their order ----------------------------------------------

R = GiftRejection


@pytest.mark.parametrize("given_request, stream, gift_state, reason", [
    # 1. quantity, checked before anything else
    (request(0), LIVE, ROSE, R.bad_quantity),
    (request(-1), LIVE, ROSE, R.bad_quantity),
    (request(10_000), LIVE, ROSE, R.bad_quantity),
    (request(10**9), LIVE, ROSE, R.bad_quantity),
    (request(0, sender="creator-1"), None, None, R.bad_quantity),
    (request(0), ENDED, RETIRED_ROSE, R.bad_quantity),
    # 2. stream live at the request's time, checked before the gift
    (request(), None, ROSE, R.stream_not_live),
    (request(), ENDED, ROSE, R.stream_not_live),
    (request(), ENDS_AT_T0, ROSE, R.stream_not_live),
    (request(), STARTS_LATER, ROSE, R.stream_not_live),
    (request(), END_ONLY, ROSE, R.stream_not_live),
    (request(), None, None, R.stream_not_live),
    (request(sender="creator-1"), ENDED, RETIRED_ROSE, R.stream_not_live),
    # 3. gift known, before retired and self
    (request(), LIVE, None, R.unknown_gift),
    (request(sender="creator-1"), LIVE, None, R.unknown_gift),
    # 4. gift not retired, before self
    (request(), LIVE, RETIRED_ROSE, R.gift_retired),
    (request(sender="creator-1"), LIVE, RETIRED_ROSE, R.gift_retired),
    # 5. self gift
    (request(sender="creator-1"), LIVE, ROSE, R.self_gift),
], ids=lambda v: v.value if isinstance(v, GiftRejection) else None)
def test_rejections_in_check_order(given_request, stream, gift_state, reason):
    result = decide_gift(given_request, stream, gift_state, [campaign("boost", "2")])
    assert isinstance(result, GiftRejected)
    assert result.reason is reason
    assert (result.request_id, result.sender_id, result.stream_id, result.key) == (
        given_request.request_id, given_request.sender_id, given_request.stream_id,
        given_request.sender_id)
    assert result.event_id == derive_event_id(given_request.event_id, "rejected")
    assert result.causation_id == given_request.event_id
    assert result.occurred_at == given_request.occurred_at


@pytest.mark.parametrize("creator_adult, reason", [
    (False, R.creator_not_adult),
    (None, R.creator_not_adult),      # never said: not an adult, as for senders
])
def test_gifts_to_a_creator_not_known_adult_are_rejected_last(creator_adult, reason):
    result = decide_gift(request(), LIVE, ROSE, [], creator_adult=creator_adult)
    assert isinstance(result, GiftRejected) and result.reason is reason
    # Every other check comes first.
    earlier = decide_gift(request(sender="creator-1"), LIVE, ROSE, [],
                          creator_adult=creator_adult)
    assert earlier.reason is R.self_gift
    assert isinstance(decide_gift(request(), LIVE, ROSE, [], creator_adult=True), GiftPriced)


@pytest.mark.parametrize("given_request, stream", [
    (request(1), LIVE),
    (request(9999), LIVE),
    (request(at=T0), Stream("stream-1", "creator-1", started_at=T0)),   # start included
    (request(at=T0 - US), ENDS_AT_T0),                                    # end excluded
    (request(at=T0), Stream("stream-1", "creator-1", started_at=T0 - HOUR, ended_at=T0 + US)),
])
def test_accepted_at_the_edges(given_request, stream):
    assert isinstance(decide_gift(given_request, stream, ROSE, []), GiftPriced)


# ---- pricing ------------------------------------------------------------------------------

@pytest.mark.parametrize("unit_coins, quantity, coins", [
    (1, 1, 1),
    (1, 99, 99),
    (5, 3, 15),
    (299, 10, 2990),
    (34999, 9999, 349_955_001),
])
def test_price_is_unit_price_times_quantity(unit_coins, quantity, coins):
    req = request(quantity)
    priced = decide_gift(req, LIVE, gift(unit_coins, version=7), [])
    assert isinstance(priced, GiftPriced)
    assert (priced.unit_coins, priced.quantity, priced.coins) == (unit_coins, quantity, coins)
    assert priced.catalog_version == 7
    assert (priced.creator_id, priced.gift_id, priced.request_id) == ("creator-1", "rose", "req-1")
    assert (priced.campaign_id, priced.points_multiplier, priced.points) == (None, 1, coins)
    assert priced.event_id == derive_event_id(req.event_id, "priced")
    assert priced.correlation_id == req.event_id and priced.causation_id == req.event_id
    assert priced.key == "viewer-1" and priced.occurred_at == T0


def test_the_same_request_prices_to_the_same_event():
    assert decide_gift(request(3), LIVE, ROSE, []) == decide_gift(request(3), LIVE, ROSE, [])


def test_a_reprice_between_two_requests_never_changes_the_earlier_price():
    catalog = build_catalog([listed(coins=1, version=1)])
    first = decide_gift(request(3, req="req-1"), LIVE, catalog.gifts["rose"], [])
    first_bytes = encode(first)
    catalog = build_catalog([repriced(coins=2, version=2)], catalog)
    second = decide_gift(request(3, req="req-2", at=T0 + US), LIVE, catalog.gifts["rose"], [])
    assert (first.unit_coins, first.coins, first.catalog_version) == (1, 3, 1)
    assert (second.unit_coins, second.coins, second.catalog_version) == (2, 6, 2)
    assert encode(first) == first_bytes


def test_retire_and_relist():
    catalog = build_catalog([listed(1, 1), retired(2)])
    assert decide_gift(request(), LIVE, catalog.gifts["rose"], []).reason is R.gift_retired
    catalog = build_catalog([listed(3, 3)], catalog)
    priced = decide_gift(request(), LIVE, catalog.gifts["rose"], [])
    assert (priced.unit_coins, priced.catalog_version) == (3, 3)


# ---- catalog versions ---------------------------------------------------------------------

@pytest.mark.parametrize("events, expected", [
    ([listed(1, 1)], CatalogGift("rose", "Rose", 1, 1)),
    ([listed(1, 1), listed(1, 1)], CatalogGift("rose", "Rose", 1, 1)),
    ([listed(1, 1), listed(9, 1)], CatalogGift("rose", "Rose", 1, 1)),          # same version
    ([listed(1, 1), repriced(2, 2), repriced(3, 2)], CatalogGift("rose", "Rose", 2, 2)),
    ([listed(1, 1), repriced(3, 3), repriced(2, 2)], CatalogGift("rose", "Rose", 3, 3)),  # late
    ([listed(1, 1), retired(3), repriced(2, 2)], CatalogGift("rose", "Rose", 1, 3, True)),
    ([listed(1, 1), retired(2), retired(2)], CatalogGift("rose", "Rose", 1, 2, True)),
    ([listed(1, 1), retired(2), listed(4, 3)], CatalogGift("rose", "Rose", 4, 3)),  # relisted
    ([listed(1, 2), listed(5, 1)], CatalogGift("rose", "Rose", 1, 2)),
    ([repriced(2, 2)], None),                                 # never listed
    ([retired(2)], None),
])
def test_catalog_versions_only_move_forward(events, expected):
    state: CatalogGift | None = None
    for event in events:
        state = evolve_gift(state, event)
    assert state == expected
    assert build_catalog(events + events).gifts.get("rose") == expected


def test_catalog_changes_touch_only_their_gift():
    catalog = build_catalog([listed(1, 1, "rose"), listed(5, 1, "heart"), repriced(2, 2, "rose")])
    assert catalog.gifts["heart"] == CatalogGift("heart", "Heart", 5, 1)
    assert catalog.gifts["rose"].coins == 2


def test_an_ignored_event_returns_the_same_catalog():
    catalog = build_catalog([listed(1, 2)])
    assert build_catalog([listed(1, 1), repriced(9, 2)], catalog) is catalog


# ---- streams ------------------------------------------------------------------------------

def _started(at: datetime) -> StreamStarted:
    return StreamStarted(event_id=_eid(f"start/{at}"), occurred_at=at, stream_id="stream-1",
                         creator_id="creator-1")


def _ended(at: datetime) -> StreamEnded:
    return StreamEnded(event_id=_eid(f"end/{at}"), occurred_at=at, stream_id="stream-1",
                       creator_id="creator-1")


@pytest.mark.parametrize("events, started_at, ended_at, live", [
    ([_started(T0)], T0, None, True),
    ([_started(T0), _started(T0 + HOUR)], T0, None, True),              # first start wins
    ([_started(T0), _ended(T0 + HOUR)], T0, T0 + HOUR, False),
    ([_started(T0), _ended(T0 + HOUR), _started(T0 + 2 * HOUR)], T0, T0 + HOUR, False),
    ([_started(T0), _ended(T0 + HOUR), _ended(T0 + 2 * HOUR)], T0, T0 + HOUR, False),
    ([_ended(T0 + HOUR)], None, T0 + HOUR, False),
    ([_ended(T0 + HOUR), _started(T0)], T0, T0 + HOUR, False),          # late start fills in
])
def test_stream_lifecycle(events, started_at, ended_at, live):
    stream = None
    for event in events:
        stream = evolve_stream(stream, event)
    assert (stream.started_at, stream.ended_at, stream.live) == (started_at, ended_at, live)
    assert stream.creator_id == "creator-1"


# ---- campaigns ----------------------------------------------------------------------------

WINDOW = dict(starts_at=T0, ends_at=T0 + HOUR)


@pytest.mark.parametrize("given_campaign, gift_id, at, applies", [
    (campaign("c", "2", **WINDOW), "rose", T0 - US, False),
    (campaign("c", "2", **WINDOW), "rose", T0, True),                   # start included
    (campaign("c", "2", **WINDOW), "rose", T0 + HOUR - US, True),
    (campaign("c", "2", **WINDOW), "rose", T0 + HOUR, False),           # end excluded
    (campaign("c", "2", **WINDOW, ended_at=T0 + HOUR / 2), "rose", T0 + HOUR / 2 - US, True),
    (campaign("c", "2", **WINDOW, ended_at=T0 + HOUR / 2), "rose", T0 + HOUR / 2, False),
    (campaign("c", "2", **WINDOW, ended_at=T0 - HOUR), "rose", T0, False),
    (campaign("c", "2", **WINDOW, gifts=("heart",)), "rose", T0, False),
    (campaign("c", "2", **WINDOW, gifts=("heart", "rose")), "rose", T0, True),
])
def test_campaign_window(given_campaign, gift_id, at, applies):
    assert given_campaign.applies(gift_id, at) is applies
    priced = decide_gift(request(3, gift=gift_id, at=at), LIVE, gift(1, gift_id=gift_id),
                         [given_campaign])
    assert priced.campaign_id == ("c" if applies else None)
    assert (priced.coins, priced.points) == (3, 6 if applies else 3)


def _campaign_started(campaign_id: str, multiplier: str) -> CampaignStarted:
    return CampaignStarted(event_id=_eid(f"cs/{campaign_id}/{multiplier}"), occurred_at=T0,
                           campaign_id=campaign_id, multiplier=Decimal(multiplier),
                           gift_ids=("rose",), starts_at=T0, ends_at=T0 + HOUR)


def _campaign_ended(campaign_id: str, at: datetime) -> CampaignEnded:
    return CampaignEnded(event_id=_eid(f"ce/{campaign_id}/{at}"), occurred_at=at,
                         campaign_id=campaign_id)


@pytest.mark.parametrize("events, multiplier, ended_at", [
    ([_campaign_started("c", "2")], Decimal(2), None),
    ([_campaign_started("c", "2"), _campaign_started("c", "5")], Decimal(2), None),
    ([_campaign_started("c", "2"), _campaign_ended("c", T0 + US)], Decimal(2), T0 + US),
    ([_campaign_started("c", "2"), _campaign_ended("c", T0 + US), _campaign_ended("c", T0 + HOUR)],
     Decimal(2), T0 + US),
])
def test_campaign_events(events, multiplier, ended_at):
    state = None
    for event in events:
        state = evolve_campaign(state, event)
    assert (state.multiplier, state.ended_at, state.ended) == (multiplier, ended_at,
                                                                ended_at is not None)
    assert state.gift_ids == frozenset({"rose"})
    assert build_catalog(events).campaigns["c"] == state


def test_a_campaign_end_without_a_start_is_ignored():
    assert evolve_campaign(None, _campaign_ended("c", T0)) is None
    assert build_catalog([_campaign_ended("c", T0)]) == Catalog()


@pytest.mark.parametrize("campaigns, winner, points", [
    ([], None, 10),
    ([campaign("a", "1.5"), campaign("b", "2")], "b", 20),
    ([campaign("b", "2"), campaign("a", "2")], "a", 20),                  # tie: smallest id
    ([campaign("a", "2"), campaign("b", "2")], "a", 20),
    ([campaign("a", "3", ended_at=T0), campaign("b", "2")], "b", 20),
    ([campaign("a", "3", gifts=("heart",)), campaign("b", "1.5")], "b", 15),
    ([campaign("a", "3", starts_at=T0 + US), campaign("b", "1.25")], "b", 12),
    ([campaign("a", "3", ends_at=T0)], None, 10),
])
def test_overlapping_campaigns_highest_multiplier_wins(campaigns, winner, points):
    priced = decide_gift(request(10), LIVE, ROSE, campaigns)
    assert (priced.campaign_id, priced.points, priced.coins) == (winner, points, 10)
    assert best_campaign(reversed(campaigns), "rose", T0) == best_campaign(campaigns, "rose", T0)


@pytest.mark.parametrize("coins, multiplier, points", [
    (3, "1.5", 4),
    (1, "1.5", 1),
    (2, "1.5", 3),
    (7, "1.1", 7),
    (10, "1.1", 11),
    (0, "2", 0),
    (1, "1000", 1000),
    (349_955_001, "1000", 349_955_001_000),
    (3, "1.666666666666666666666666666666", 4),   # 4.99...98: a 28-digit context would say 5
    (3, "1.3333333333333333333333333333333334", 4),
    (5, "2E+1", 100),
])
def test_points_round_down(coins, multiplier, points):
    assert points_for(coins, Decimal(multiplier)) == points


def test_points_through_a_campaign():
    priced = decide_gift(request(3), LIVE, ROSE, [campaign("spring", "1.5")])
    assert (priced.coins, priced.points_multiplier, priced.points) == (3, Decimal("1.5"), 4)


# ---- decide_outcome -----------------------------------------------------------------------

PRICED = decide_gift(request(3), LIVE, ROSE, [campaign("spring", "1.5")])
ANSWER_COMMON = dict(occurred_at=T0 + US, user_id="viewer-1", request_id="req-1",
                     creator_id="creator-1", stream_id="stream-1", coins=3,
                     correlation_id=_eid("req-1"))


def test_coins_spent_sends_the_gift():
    answer = CoinsSpent(event_id=_eid("spent"), gift_id="rose", balance_after=7,
                        lots=(LotUse(lot_id="pur-1", kind=LotKind.purchase, coins=3,
                                     value_minor=4, currency="USD"),), **ANSWER_COMMON)
    outcome = decide_outcome(PRICED, answer)
    assert isinstance(outcome, GiftSent)
    assert (outcome.request_id, outcome.sender_id, outcome.stream_id, outcome.creator_id) == (
        "req-1", "viewer-1", "stream-1", "creator-1")
    assert (outcome.coins, outcome.points, outcome.gift_id, outcome.quantity) == (3, 4, "rose", 3)
    assert outcome.event_id == derive_event_id(answer.event_id, "sent")
    assert outcome.causation_id == answer.event_id
    assert outcome.correlation_id == answer.correlation_id
    assert outcome.occurred_at == answer.occurred_at


@pytest.mark.parametrize("reason", list(SpendRejection))
def test_spend_rejected_fails_the_gift_with_the_wallet_reason(reason):
    answer = SpendRejected(event_id=_eid(f"rejected/{reason}"), reason=reason, **ANSWER_COMMON)
    outcome = decide_outcome(PRICED, answer)
    assert isinstance(outcome, GiftFailed)
    assert (outcome.reason, outcome.request_id, outcome.sender_id, outcome.stream_id) == (
        reason.value, "req-1", "viewer-1", "stream-1")
    assert outcome.event_id == derive_event_id(answer.event_id, "failed")


def test_an_answer_to_another_request_is_a_bug():
    answer = SpendRejected(event_id=_eid("other"), reason=SpendRejection.insufficient_funds,
                           **{**ANSWER_COMMON, "request_id": "req-other"})
    with pytest.raises(AssertionError):
        decide_outcome(PRICED, answer)


# ---- totals and leaderboards --------------------------------------------------------------

def _fold_board(board: Leaderboard, events: list[GiftSent]) -> Leaderboard:
    for event in events:
        board = apply_sent(board, event)
    return board


@pytest.mark.parametrize("events, expected", [
    ([], []),
    ([sent("a", 10), sent("b", 20)], [("b", 20, 20), ("a", 10, 10)]),
    ([sent("a", 10), sent("b", 5), sent("b", 6, n=1)], [("b", 11, 11), ("a", 10, 10)]),
    # points rank, not coins: a campaign lifts b above a
    ([sent("a", 10, 10), sent("b", 8, 16)], [("b", 16, 8), ("a", 10, 10)]),
    # equal points: more coins first
    ([sent("a", 10, 15), sent("b", 15, 15)], [("b", 15, 15), ("a", 15, 10)]),
    # equal points and coins: smaller sender_id first, whatever the arrival order
    ([sent("c", 5), sent("a", 5), sent("b", 5)], [("a", 5, 5), ("b", 5, 5), ("c", 5, 5)]),
    # other streams are not this stream's board
    ([sent("a", 1), sent("z", 99, stream="stream-2")], [("a", 1, 1)]),
])
def test_stream_leaderboard_ranking(events, expected):
    board = _fold_board(Leaderboard.for_stream("stream-1"), events)
    assert [(s.sender_id, s.points, s.coins) for s in top(board, 10)] == expected


@pytest.mark.parametrize("n, expected", [
    (0, []), (1, ["b"]), (2, ["b", "c"]), (9, ["b", "c", "a"]),
])
def test_top_n(n, expected):
    board = _fold_board(Leaderboard.for_stream("stream-1"),
                        [sent("a", 1), sent("b", 3), sent("c", 2)])
    assert [score.sender_id for score in top(board, n)] == expected


def test_creator_leaderboard_spans_their_streams():
    events = [sent("a", 5, stream="s1"), sent("b", 4, stream="s2"), sent("b", 4, stream="s3"),
              sent("c", 100, stream="s4", creator="creator-2")]
    board = _fold_board(Leaderboard.for_creator("creator-1"), events)
    assert [(s.sender_id, s.points, s.gifts) for s in top(board, 5)] == [("b", 8, 2), ("a", 5, 1)]


def test_stream_totals():
    events = [sent("a", 99, quantity=99), sent("b", 5, 10, quantity=1, n=1),
              sent("a", 1, quantity=None, n=2), sent("x", 7, stream="stream-2")]
    totals = StreamTotals("stream-1")
    for event in events:
        totals = add_to_totals(totals, event)
    assert (totals.sends, totals.gifts, totals.coins, totals.points, totals.distinct_senders) == (
        3, 101, 105, 110, 2)


# ---- seed catalog -------------------------------------------------------------------------

def test_seed_catalog_is_valid():
    events = seed_catalog()
    gifts = build_catalog(events).gifts
    assert len(gifts) == len(events) == len(SEED_GIFTS) == 20
    assert len({event.event_id for event in events}) == len(events)
    assert len({event.name for event in events}) == len(events)
    assert all(event.coins > 0 and event.catalog_version == 1 for event in events)
    assert [event.coins for event in events] == sorted(event.coins for event in events)
    assert (gifts["rose"].coins, gifts["lion"].coins, gifts["universe"].coins) == (1, 29999, 34999)
    assert not any(g.retired for g in gifts.values())
    for event in events:
        assert decode(CATALOG_CHANGES, encode(event)).event == event


def test_seeding_twice_is_harmless():
    first, again, later = seed_catalog(T0), seed_catalog(T0), seed_catalog(T0 + HOUR)
    assert [encode(e) for e in first] == [encode(e) for e in again]
    assert [e.event_id for e in first] == [e.event_id for e in later]
    assert build_catalog(first + later) == build_catalog(first)


def test_seed_prices_a_gift():
    gifts = build_catalog(seed_catalog()).gifts
    priced = decide_gift(request(2, gift="universe"), LIVE, gifts["universe"], [])
    assert (priced.unit_coins, priced.coins) == (34999, 69998)


# ---- property: campaigns never touch coins ------------------------------------------------

_multipliers = st.decimals(min_value=1, max_value=1000, places=3, allow_nan=False,
                           allow_infinity=False)
_offsets = st.integers(min_value=-3, max_value=3).map(lambda h: T0 + h * HOUR)
_campaigns = st.lists(
    st.builds(lambda i, m, gifts, start, length, end_early: Campaign(
        f"c{i}", m, frozenset(gifts), start, start + length * HOUR,
        None if end_early is None else start + end_early * US),
        st.integers(0, 20), _multipliers, st.sets(st.sampled_from(["rose", "heart", "lion"])),
        _offsets, st.integers(1, 4), st.none() | st.integers(0, 10**10)),
    max_size=6)


@given(quantity=st.integers(1, 9999), unit_coins=st.integers(1, 44_999), campaigns=_campaigns)
def test_coins_never_depend_on_campaigns(quantity, unit_coins, campaigns):
    req = request(quantity, at=T0)
    plain = decide_gift(req, LIVE, gift(unit_coins), [])
    boosted = decide_gift(req, LIVE, gift(unit_coins), campaigns)
    assert boosted.coins == plain.coins == unit_coins * quantity
    assert boosted.unit_coins == plain.unit_coins
    assert boosted.points >= boosted.coins
    assert boosted.points == points_for(boosted.coins, boosted.points_multiplier)
    winner = best_campaign(campaigns, "rose", T0)
    assert boosted.campaign_id == (winner.campaign_id if winner else None)
    assert all(c.multiplier <= boosted.points_multiplier
               for c in campaigns if c.applies("rose", T0))
