"""A wallet whose decided requests, lots without coins and funded gifts are rows apart decides as
the whole wallet.

The wallet's snapshot row keeps none of them (without_lookups); the handler puts back, before
deciding, the rows its batch looks up (with_lookups). Random histories of purchases,
promo grants, gifts (some repeating a decided request), refunds and chargebacks of lots long
spent, facts and limits, in random batches: the handler on its rows apart emits exactly, bit for
bit, what decide() emits on the whole wallet in memory, its snapshot plus its rows give back the
whole wallet, and a rebuild from the emitted events writes the same rows.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.wallet import handlers
from services.wallet.domain import (
    DEFAULT_PRICES,
    PackagePrice,
    PriceList,
    PurchaseLot,
    Wallet,
    decide,
    fold,
    replay,
    with_lookups,
    without_lookups,
)
from services.wallet.kept_apart import (
    LOT_FUNDED_GIFTS,
    PROMO_LOTS,
    PURCHASE_LOTS,
    changed_rows,
    funded_gift_rows,
    promo_lot_of,
    purchase_lot_of,
)
from services.wallet.projection import WalletProjection
from shared.contract.codec import encode
from shared.contract.envelope import Event
from shared.contract.events.gifting import GiftPriced
from shared.contract.events.payments import (
    Platform,
    PurchaseChargedBack,
    PurchaseCompleted,
    PurchaseRefunded,
)
from shared.contract.events.promotions import PromoCoinsGranted
from shared.contract.events.users import AgeVerified, LimitPeriod, LimitSetter, SpendingLimitSet
from shared.contract.events.wallet import CoinsClawedBack, FundedGift, WalletEvent
from shared.contract.topics import WALLET_LEDGER
from tests.unit.fake_stores import FakeWalletStore
from tests.unit.fake_unit import handle_batch
from tests.unit.test_audit import record

USER = "viewer-1"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
PACKS = (50, 100, 300, 1000)
"""Coins of the packs History sells, at 3 cents a coin: the stored price list's "packs-1"."""
STORED_PRICES = {("packs-1", f"pack-{coins}", "web", "US"): PackagePrice(coins, coins * 3, "USD")
                 for coins in PACKS}
PRICES = DEFAULT_PRICES.merged(PriceList.of(STORED_PRICES.items()))


class History:
    """Random inputs for one viewer (and now and then another), in time order; ids of gift
    requests, purchases and grants now and then come again."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.step = 0
        self.purchases: list[tuple[str, str]] = []
        self.requests: list[tuple[str, str]] = []
        self.grants: list[tuple[str, str]] = []

    def _common(self) -> dict:
        self.step += 1
        return {"event_id": uuid.uuid5(uuid.NAMESPACE_URL, f"lookups/{self.step}"),
                "occurred_at": T0 + timedelta(minutes=17 * self.step)}

    def next(self) -> Event:
        rng = self.rng
        user = USER if rng.random() < 0.9 else "viewer-2"
        roll = rng.random()
        if self.step == 0 or roll < 0.02:
            return AgeVerified(**self._common(), user_id=user, adult=rng.random() < 0.97)
        if roll < 0.2 or not self.purchases:
            purchase_id = f"pur-{self.step}"
            if self.purchases and rng.random() < 0.15:
                # Paid again, as payments may say twice: credited once.
                user, purchase_id = rng.choice(self.purchases)
            self.purchases.append((user, purchase_id))
            coins = rng.choice(PACKS)
            # Now and then off the price list: refused, and the id stays unused (a refund of
            # it later finds nothing to claw back).
            amount = 1 if self.step % 29 == 28 else coins * 3
            return PurchaseCompleted(
                **self._common(), user_id=user, purchase_id=purchase_id, coins=coins,
                amount_minor=amount, currency="USD", platform=Platform.web, region="US",
                package_id=f"pack-{coins}", rate_version="packs-1")
        if roll < 0.25:
            common = self._common()
            grant_id = f"grant-{self.step}"
            if self.grants and rng.random() < 0.3:
                user, grant_id = rng.choice(self.grants)
            self.grants.append((user, grant_id))
            return PromoCoinsGranted(
                **common, user_id=user, grant_id=grant_id, campaign_id="c",
                coins=rng.choice([5, 20]),
                expires_at=common["occurred_at"] + timedelta(hours=rng.choice([1, 30])))
        if roll < 0.29:
            owner, purchase_id = rng.choice(self.purchases)
            kind = PurchaseRefunded if rng.random() < 0.85 else PurchaseChargedBack
            return kind(**self._common(), user_id=owner, purchase_id=purchase_id,
                        amount_minor=1, currency="USD")
        if roll < 0.31:
            return SpendingLimitSet(**self._common(), user_id=user, period=LimitPeriod.daily,
                                    set_by=LimitSetter.user,
                                    coins=rng.choice([None, 500, 5000]))
        return self._gift(user)

    def _gift(self, user: str) -> GiftPriced:
        rng = self.rng
        if self.requests and rng.random() < 0.1:
            user, request_id = rng.choice(self.requests)
        else:
            request_id = f"req-{self.step}"
            self.requests.append((user, request_id))
        coins = rng.choice([1, 5, 10, 30, 120])
        return GiftPriced(
            **self._common(), request_id=request_id, sender_id=user, stream_id="s",
            creator_id=f"creator-{rng.randint(1, 4)}", gift_id="rose", quantity=1,
            unit_coins=coins, coins=coins, catalog_version=1,
            points_multiplier=Decimal(1), points=coins)

    def batches(self, inputs: int) -> list[list[Event]]:
        events = [self.next() for _ in range(inputs)]
        cuts = sorted(self.rng.sample(range(1, inputs), inputs // 5))
        return [events[a:b] for a, b in zip([0, *cuts], [*cuts, inputs], strict=True)]


def whole(store: FakeWalletStore, user_id: str) -> Wallet:
    """The stored snapshot with every row apart put back."""
    gifts: dict[str, list[tuple[int, FundedGift]]] = {}
    for (owner, purchase_id, request_id), (creator_id, coins, position) in store.funded.items():
        if owner == user_id:
            gifts.setdefault(purchase_id, []).append((position, FundedGift(
                request_id=request_id, creator_id=creator_id, coins=coins)))
    lots = [lot for (owner, _), lot in [*store.purchase_lots.items(), *store.promo_lots.items()]
            if owner == user_id and not lot.remaining]
    return with_lookups(
        store.wallets.states[user_id],
        requests={request_id for owner, request_id in store.requests if owner == user_id},
        lots=lots,
        gifts={purchase_id: [gift for _, gift in sorted(entries, key=lambda entry: entry[0])]
               for purchase_id, entries in gifts.items()})


def canonical(wallet: Wallet) -> Wallet:
    """The wallet with its lots in id order: lots put back come after the others."""
    return replace(wallet, purchases=tuple(sorted(wallet.purchases,
                                                  key=lambda lot: lot.purchase_id)),
                   promos=tuple(sorted(wallet.promos, key=lambda lot: lot.grant_id)))


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> FakeWalletStore:
    fake = FakeWalletStore()
    fake.prices.update(STORED_PRICES)
    monkeypatch.setattr(handlers, "store", fake)
    return fake


@pytest.mark.parametrize("seed", range(8))
async def test_the_handler_on_rows_apart_decides_as_the_whole_wallet(store, seed):
    wallets: dict[str, Wallet] = {}
    emitted: list[WalletEvent] = []
    clawbacks = 0
    for batch in History(seed).batches(400):
        expected: list[WalletEvent] = []
        for event in batch:
            wallet = wallets.get(event.key) or Wallet(event.key)
            decided = decide(wallet, event, prices=PRICES)
            wallets[event.key] = fold(wallet, decided)
            expected.extend(decided)
        unit = await handle_batch(handlers.handle, batch)
        assert [encode(e) for e in unit.emitted] == [encode(e) for e in expected]
        emitted.extend(expected)
        clawbacks += sum(isinstance(e, CoinsClawedBack) and len(e.funded_gifts) > 1
                         for e in expected)
        for user_id, state in store.wallets.states.items():
            assert state == without_lookups(wallets[user_id])
            assert not state.requests and not any(lot.gifts for lot in state.purchases)
            assert all(lot.remaining for lot in (*state.purchases, *state.promos))
            assert canonical(whole(store, user_id)) == canonical(wallets[user_id])
    assert clawbacks, "no clawback listed the gifts of a lot spent in earlier batches"
    assert store.arguments("load_funded_gifts") and store.arguments("load_requests")
    assert store.lots_loaded
    assert_rebuild_writes_the_same_rows(store, emitted)


def assert_rebuild_writes_the_same_rows(store: FakeWalletStore,
                                        emitted: list[WalletEvent]) -> None:
    rebuild = WalletProjection()
    offsets: dict = {}
    for event in emitted:
        rebuild.apply(record(WALLET_LEDGER.name, 0, offsets, encode(event)))
    rows = rebuild.rows()
    assert set(rows["wallet_requests"].rows) == store.requests
    assert {row[:3]: row[3:] for row in rows["lot_funded_gifts"].rows} == store.funded
    assert {tuple(row[:2]): purchase_lot_of(dict(zip(PURCHASE_LOTS.column_names, row,
                                                     strict=True)))
            for row in rows["purchase_lots"].rows} == store.purchase_lots
    assert {tuple(row[:2]): promo_lot_of(dict(zip(PROMO_LOTS.column_names, row, strict=True)))
            for row in rows["promo_lots"].rows} == store.promo_lots
    rebuilt = {user: without_lookups(replay(user, [e for e in emitted if e.user_id == user]))
               for user in store.wallets.states}
    assert rebuilt == store.wallets.states


def test_a_wallet_without_its_lookups_takes_them_back_exactly():
    history = History(3)
    wallet = Wallet(USER)
    for _ in range(300):
        event = history.next()
        if event.key == USER:
            wallet = fold(wallet, decide(wallet, event, prices=PRICES))
    spent = [lot for lot in wallet.purchases if lot.gifts]
    closed = [lot for lot in (*wallet.purchases, *wallet.promos) if not lot.remaining]
    assert wallet.requests and len(spent) > 3 and closed
    apart = without_lookups(wallet)
    assert not apart.requests and all(not lot.gifts for lot in apart.purchases)
    assert all(lot.remaining for lot in (*apart.purchases, *apart.promos))
    assert [lot.funded_apart for lot in apart.purchases] == [
        len(lot.gifts) for lot in wallet.purchases if lot.remaining]
    # A lot without coins as its row gives it back: its funded gifts apart.
    lots = [replace(lot, gifts=(), funded_apart=len(lot.gifts)) if isinstance(lot, PurchaseLot)
            else lot for lot in closed]
    back = with_lookups(apart, requests=wallet.requests, lots=lots,
                        gifts={lot.purchase_id: lot.gifts for lot in wallet.purchases})
    assert canonical(back) == canonical(wallet)
    assert with_lookups(apart) == apart
    keeping_two = replace(apart, purchases=(
        PurchaseLot("p1", 10, 10, "USD", "v", T0, used=7, funded_apart=2),))
    with pytest.raises(ValueError):
        with_lookups(keeping_two, gifts={"p1": spent[0].gifts[:1]})
    with pytest.raises(ValueError):
        with_lookups(apart, lots=[next(lot for lot in wallet.purchases if lot.remaining)])


def test_rows_of_the_funded_gifts_kept_apart_follow_on_from_the_last_position():
    first = (FundedGift(request_id="r1", creator_id="c", coins=3),
             FundedGift(request_id="r2", creator_id="c", coins=4))
    lot = PurchaseLot("p1", 10, 10, "USD", "v", T0, used=7, gifts=first)
    assert [row[2:] for row in funded_gift_rows(USER, lot)] == [
        ("r1", "c", 3, 0), ("r2", "c", 4, 1)]
    later = PurchaseLot("p1", 10, 10, "USD", "v", T0, used=9,
                        gifts=(FundedGift(request_id="r3", creator_id="d", coins=2),),
                        funded_apart=2)
    assert [row[2:] for row in funded_gift_rows(USER, later)] == [("r3", "d", 2, 2)]
    assert funded_gift_rows(USER, later, since=3) == []
    before = Wallet(USER, purchases=(PurchaseLot("p1", 10, 10, "USD", "v", T0, used=7,
                                                 funded_apart=2),))
    after = Wallet(USER, purchases=(later,), requests=frozenset({"r3"}))
    rows = changed_rows([(USER, after, before)])
    assert (rows.requests, rows.gifts) == ([(USER, "r3")], [(USER, "p1", "r3", "d", 2, 2)])
    assert rows.purchases == [(USER, "p1", 10, 10, "USD", "v", T0, 9, None, 3)]
    assert changed_rows([(USER, after, after)]).by_table() == {
        "wallet_requests": [], "purchase_lots": [], "promo_lots": [], "lot_funded_gifts": []}
    assert len(LOT_FUNDED_GIFTS.columns) == len(funded_gift_rows(USER, later)[0])
