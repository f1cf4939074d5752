"""Gifting's batch handler on a fake unit of work: what it emits, and the rows it writes.

Each test runs handlers.handle on batches as the runtime hands them over, with the store
module swapped for an in-memory one (tests/unit/fake_stores.py); no database, no broker.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.gifting import handlers
from services.gifting.domain import CatalogGift, Stream
from shared.contract.envelope import derive_event_id
from shared.contract.events.catalog import CampaignStarted, GiftListed, GiftRepriced
from shared.contract.events.gifting import (
    GiftFailed,
    GiftPriced,
    GiftRejected,
    GiftRejection,
    GiftSent,
)
from shared.contract.events.streams import GiftRequested, StreamStarted
from shared.contract.events.users import AgeVerified
from shared.contract.events.wallet import (
    CoinsSpent,
    LotKind,
    LotUse,
    SpendRejected,
    SpendRejection,
)
from tests.unit.fake_stores import FakeGiftingStore
from tests.unit.fake_unit import handle_batch

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _eid(label: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"test/gifting-handler/{label}")


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> FakeGiftingStore:
    """A live stream of an adult creator, and a rose listed at 5 coins."""
    fake = FakeGiftingStore()
    fake.streams["stream-1"] = Stream("stream-1", "creator-1", started_at=T0 - 60 * SECOND)
    fake.ages["creator-1"] = True
    fake.gifts["rose"] = CatalogGift("rose", "Rose", 5, 1)
    monkeypatch.setattr(handlers, "store", fake)
    return fake


def request(req: str = "req-1", *, quantity: int = 2, stream: str = "stream-1",
            label: str | None = None) -> GiftRequested:
    return GiftRequested(event_id=_eid(label or req), occurred_at=T0, request_id=req,
                         stream_id=stream, sender_id="viewer-1", gift_id="rose",
                         quantity=quantity)


def spent(req: str = "req-1", coins: int = 10) -> CoinsSpent:
    return CoinsSpent(event_id=_eid(f"spent/{req}"), occurred_at=T0 + SECOND, user_id="viewer-1",
                      request_id=req, creator_id="creator-1", stream_id="stream-1",
                      gift_id="rose", coins=coins, balance_after=0,
                      lots=(LotUse(lot_id="pur-1", kind=LotKind.purchase, coins=coins,
                                   value_minor=coins, currency="USD"),))


def refused(req: str = "req-1", coins: int = 10) -> SpendRejected:
    return SpendRejected(event_id=_eid(f"refused/{req}"), occurred_at=T0 + SECOND,
                         user_id="viewer-1", request_id=req, creator_id="creator-1",
                         stream_id="stream-1", coins=coins,
                         reason=SpendRejection.insufficient_funds)


async def test_a_request_is_priced_and_recorded(store):
    unit = await handle_batch(handlers.handle, [request()])
    [priced] = unit.emitted
    assert isinstance(priced, GiftPriced)
    assert (priced.request_id, priced.creator_id, priced.unit_coins, priced.coins) == (
        "req-1", "creator-1", 5, 10)
    assert priced.event_id == derive_event_id(request().event_id, "priced")
    assert unit.causes[0].event == request()
    assert store.arguments("insert_requests") == [([(request(), priced)],)]
    assert store.requests["req-1"]["status"] == "priced"


async def test_a_request_for_a_creator_never_verified_is_rejected(store):
    del store.ages["creator-1"]
    unit = await handle_batch(handlers.handle, [request()])
    [rejected] = unit.emitted
    assert isinstance(rejected, GiftRejected)
    assert rejected.reason is GiftRejection.creator_not_adult
    assert store.requests["req-1"] == {"status": "rejected", "reason": "creator_not_adult",
                                       "priced_event": None}


async def test_a_request_decided_before_is_not_decided_again(store):
    await handle_batch(handlers.handle, [request()])
    # Republished under a new event id, after a reprice that would change its price.
    reprice = GiftRepriced(event_id=_eid("reprice"), occurred_at=T0, gift_id="rose",
                           catalog_version=2, coins=7)
    unit = await handle_batch(handlers.handle, [reprice, request(label="again")])
    assert unit.emitted == []
    assert store.arguments("load_requests")[-1] == (["req-1"], [])
    assert store.arguments("insert_requests")[-1] == ([],)


async def test_a_request_repeated_in_one_batch_is_decided_once(store):
    unit = await handle_batch(handlers.handle, [request(), request(label="again")])
    assert [type(event) for event in unit.emitted] == [GiftPriced]
    assert unit.causes[0].event == request()


async def test_the_wallet_debit_sends_a_priced_gift(store):
    await handle_batch(handlers.handle, [request()])
    unit = await handle_batch(handlers.handle, [spent()])
    [sent] = unit.emitted
    assert isinstance(sent, GiftSent)
    assert (sent.request_id, sent.creator_id, sent.coins, sent.points, sent.quantity) == (
        "req-1", "creator-1", 10, 10, 2)
    assert sent.event_id == derive_event_id(spent().event_id, "sent")
    assert store.arguments("settle_requests")[-1] == ([sent],)
    assert store.arguments("add_sent")[-1] == ([sent],)
    assert store.totals["stream-1"] == (1, 2, 10, 10)
    assert store.requests["req-1"]["status"] == "sent"


async def test_a_refused_debit_fails_the_gift_with_the_wallet_reason(store):
    await handle_batch(handlers.handle, [request()])
    unit = await handle_batch(handlers.handle, [refused()])
    [failed] = unit.emitted
    assert isinstance(failed, GiftFailed) and failed.reason == "insufficient_funds"
    assert store.arguments("settle_requests")[-1] == ([failed],)
    assert (store.requests["req-1"]["status"], store.requests["req-1"]["reason"]) == (
        "failed", "insufficient_funds")
    assert store.arguments("add_sent")[-1] == ([],)


async def test_request_and_answer_in_one_batch(store):
    unit = await handle_batch(handlers.handle, [request(), spent()])
    assert [type(event) for event in unit.emitted] == [GiftPriced, GiftSent]
    assert [cause.event for cause in unit.causes] == [request(), spent()]
    # The answer's gift was priced in this batch: nothing to load for it.
    assert store.arguments("load_requests") == [(["req-1"], ["req-1"])]


@pytest.mark.parametrize("answer", [spent("req-unknown"), refused("req-unknown")],
                         ids=["spent", "refused"])
async def test_an_answer_for_a_gift_not_priced_here_is_ignored(store, answer):
    unit = await handle_batch(handlers.handle, [answer])
    assert unit.emitted == []
    assert store.arguments("settle_requests") == [([],)]


async def test_an_answer_already_settled_is_ignored(store):
    await handle_batch(handlers.handle, [request()])
    await handle_batch(handlers.handle, [spent()])
    unit = await handle_batch(handlers.handle, [spent()])
    assert unit.emitted == []
    assert store.totals["stream-1"] == (1, 2, 10, 10)


async def test_facts_are_saved_and_price_later_requests_of_the_batch(store):
    store.streams.clear()
    store.ages.clear()
    facts = [
        StreamStarted(event_id=_eid("start"), occurred_at=T0 - SECOND, stream_id="stream-2",
                      creator_id="creator-2"),
        AgeVerified(event_id=_eid("age"), occurred_at=T0 - SECOND, user_id="creator-2",
                    adult=True),
        GiftListed(event_id=_eid("heart"), occurred_at=T0 - SECOND, gift_id="heart",
                   catalog_version=1, name="Heart", coins=3),
        CampaignStarted(event_id=_eid("spring"), occurred_at=T0 - SECOND,
                        campaign_id="spring", multiplier=Decimal(2), gift_ids=(),
                        starts_at=T0 - SECOND, ends_at=T0 + 60 * SECOND),
    ]
    unit = await handle_batch(handlers.handle, [*facts, request(stream="stream-2")])
    [priced] = unit.emitted
    assert (priced.creator_id, priced.campaign_id, priced.points) == ("creator-2", "spring", 20)
    assert store.streams["stream-2"] == Stream("stream-2", "creator-2", started_at=T0 - SECOND)
    assert store.gifts["heart"] == CatalogGift("heart", "Heart", 3, 1)
    assert store.campaigns["spring"].multiplier == 2
    assert store.arguments("save_ages") == [([("creator-2", True)],)]


async def test_a_batch_of_facts_looks_up_no_request(store):
    listed = GiftListed(event_id=_eid("heart"), occurred_at=T0, gift_id="heart",
                        catalog_version=1, name="Heart", coins=3)
    unit = await handle_batch(handlers.handle, [listed])
    assert unit.emitted == []
    assert [name for name, _ in store.calls] == [
        "load_streams", "load_gifts", "load_campaigns", "save_streams", "save_gifts",
        "save_campaigns", "save_ages", "insert_requests", "settle_requests", "add_sent"]
