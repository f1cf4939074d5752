"""The services' store modules in memory: the functions their handlers call, with the SQL's
meaning, each call logged (FakeStore.calls) so a test sees the rows a handler writes.

    FakeWalletStore   wallets (snapshots without lookups), the rows kept apart (decided
                      requests, lots, funded gifts), the spending policy, balances
    FakePayoutStore   creators (rows without earnings, held ones put back on load), the
                      earnings table, policy events, balances, payouts
    FakeGiftingStore  streams, catalog gifts, campaigns, creators' ages, the gifts table
                      (a request's status, its GiftPriced until settled), totals and boards
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from services.gifting.domain import Campaign, CatalogGift, Stream
from services.gifting.domain.leaderboard import units
from services.gifting.projection import settlement
from services.payout.domain import Creator, Earning, PolicyInEffect
from services.wallet.domain import (
    DEFAULT_PRICES,
    PackagePrice,
    PriceList,
    PromoLot,
    PurchaseLot,
    SpendingPolicy,
    Wallet,
    balance,
    without_lookups,
)
from services.wallet.kept_apart import (
    PROMO_LOTS,
    PURCHASE_LOTS,
    ApartRows,
    promo_lot_of,
    purchase_lot_of,
)
from shared.contract.defaults import default_policy
from shared.contract.events.gifting import GiftFailed, GiftPriced, GiftRejected, GiftSent
from shared.contract.events.payout import (
    PayoutEvent,
    PayoutPosted,
    PayoutRejected,
    PayoutReleased,
    PayoutReserved,
)
from shared.contract.events.policy import PolicyEvent
from shared.contract.events.streams import GiftRequested
from shared.contract.events.wallet import FundedGift
from tests.unit.fake_unit import FakeSnapshots, FakeStore


class FakeWalletStore(FakeStore):
    def __init__(self) -> None:
        super().__init__()
        self.wallets = FakeSnapshots[Wallet](self, "wallets", row=without_lookups)
        self.policy: SpendingPolicy | None = None
        self.balances: dict[str, int] = {}
        self.requests: set[tuple[str, str]] = set()
        """The `wallet_requests` table: (user_id, request_id)."""
        self.funded: dict[tuple[str, str, str], tuple[str, int, int]] = {}
        """`lot_funded_gifts`: (user_id, purchase_id, request_id) -> (creator_id, coins,
        position_in_lot)."""
        self.purchase_lots: dict[tuple[str, str], PurchaseLot] = {}
        """`purchase_lots`: (user_id, purchase_id) -> the lot as its row gives it back."""
        self.promo_lots: dict[tuple[str, str], PromoLot] = {}
        self.lots_loaded = 0
        """Lots load_lots found."""
        self.prices: dict[tuple[str, str, str, str], PackagePrice] = {}
        """`coin_package_prices`: (rate_version, package_id, platform, region) -> price."""

    async def load_prices(self, conn: object, rate_versions: Iterable[str]) -> PriceList:
        versions = sorted(set(rate_versions))
        self.called("load_prices", versions)
        if not versions:
            return DEFAULT_PRICES
        return DEFAULT_PRICES.merged(PriceList.of(
            (key, price) for key, price in self.prices.items() if key[0] in versions))

    async def save_prices(self, conn: object, rows: list[tuple]) -> None:
        self.called("save_prices", list(rows))
        for *key, coins, amount_minor, currency in rows:
            self.prices.setdefault(tuple(key), PackagePrice(coins, amount_minor, currency))

    async def load_requests(self, conn: object,
                            keys: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
        wanted = sorted(set(keys))
        self.called("load_requests", wanted)
        found: dict[str, set[str]] = {}
        for user_id, request_id in wanted:
            if (user_id, request_id) in self.requests:
                found.setdefault(user_id, set()).add(request_id)
        return found

    async def load_funded_gifts(self, conn: object, keys: Iterable[tuple[str, str]]
                                ) -> dict[str, dict[str, list[FundedGift]]]:
        wanted = set(keys)
        self.called("load_funded_gifts", sorted(wanted))
        found: dict[str, dict[str, list[FundedGift]]] = {}
        for (user_id, purchase_id, request_id), (creator_id, coins, _) in sorted(
                self.funded.items(), key=lambda item: (item[0][:2], item[1][2])):
            if (user_id, purchase_id) in wanted:
                found.setdefault(user_id, {}).setdefault(purchase_id, []).append(
                    FundedGift(request_id=request_id, creator_id=creator_id, coins=coins))
        return found

    async def load_lots(self, conn: object, purchases: Iterable[tuple[str, str]],
                        promos: Iterable[tuple[str, str]]
                        ) -> dict[str, list[PurchaseLot | PromoLot]]:
        wanted = (sorted(set(purchases)), sorted(set(promos)))
        self.called("load_lots", *wanted)
        found: dict[str, list[PurchaseLot | PromoLot]] = {}
        for table, keys in ((self.purchase_lots, wanted[0]), (self.promo_lots, wanted[1])):
            for key in keys:
                if key in table:
                    found.setdefault(key[0], []).append(table[key])
                    self.lots_loaded += 1
        return found

    async def save_apart(self, conn: object, rows: ApartRows) -> None:
        self.called("save_apart", rows)
        for user_id, request_id in rows.requests:
            assert (user_id, request_id) not in self.requests, "duplicate key: request"
            self.requests.add((user_id, request_id))
        for row in rows.purchases:
            self.purchase_lots[row[0], row[1]] = purchase_lot_of(
                dict(zip(PURCHASE_LOTS.column_names, row, strict=True)))
        for row in rows.promos:
            self.promo_lots[row[0], row[1]] = promo_lot_of(
                dict(zip(PROMO_LOTS.column_names, row, strict=True)))
        for user_id, purchase_id, request_id, creator_id, coins, position in rows.gifts:
            key = (user_id, purchase_id, request_id)
            assert key not in self.funded, "duplicate key: funded gift"
            self.funded[key] = (creator_id, coins, position)

    async def load_policy(self, conn: object) -> SpendingPolicy | None:
        self.called("load_policy")
        return self.policy

    async def save_policy(self, conn: object, policy: SpendingPolicy) -> None:
        self.called("save_policy", policy)
        self.policy = policy

    async def save_balances(self, conn: object, changed: Mapping[str, Wallet],
                            at: Mapping[str, datetime], policy: SpendingPolicy | None) -> None:
        self.called("save_balances", list(changed.items()), dict(at), policy)
        self.balances.update((user_id, balance(wallet)) for user_id, wallet in changed.items())


class FakePayoutStore(FakeStore):
    def __init__(self) -> None:
        super().__init__()
        self.creators = FakeSnapshots[Creator](self, "creators", row=Creator.without_earnings)
        self.earnings: dict[tuple[str, str], Earning] = {}
        """(creator_id, request_id) -> the earning."""
        self.policy_events: dict[object, PolicyEvent] = {}
        self.balances: dict[str, int] = {}
        self.payouts: dict[str, str] = {}
        """The `payouts` table: payout_id -> status."""

    async def load_policy(self, conn: object) -> PolicyInEffect:
        self.called("load_policy")
        policy = PolicyInEffect()
        for event in [*default_policy(), *self.policy_events.values()]:
            policy = policy.apply(event)
        return policy

    async def save_policy_events(self, conn: object, events: Sequence[PolicyEvent]) -> None:
        self.called("save_policy_events", list(events))
        for event in events:
            self.policy_events.setdefault(event.event_id, event)

    async def load_creators(self, conn: object,
                            until: Mapping[str, datetime]) -> dict[str, Creator]:
        wanted = sorted(until)
        self.called("load_creators", wanted)
        found = {key: self.creators.states[key] for key in wanted if key in self.creators.states}
        return {key: creator if creator.clock is None else creator.brought_back(
                    (earning for (owner, _), earning in self.earnings.items()
                     if owner == key and creator.clock < earning.available_at <= until[key]),
                    until[key])
                for key, creator in found.items()}

    async def load_earnings(self, conn: object,
                            keys: Iterable[tuple[str, str]]) -> dict[str, list[Earning]]:
        wanted = sorted(set(keys))
        self.called("load_earnings", wanted)
        found: dict[str, list[Earning]] = {}
        for creator_id, request_id in wanted:
            if (creator_id, request_id) in self.earnings:
                found.setdefault(creator_id, []).append(self.earnings[creator_id, request_id])
        return found

    async def save_earnings(self, conn: object, earnings: Iterable[tuple[str, Earning]]) -> None:
        rows = list(earnings)
        self.called("save_earnings", rows)
        self.earnings.update(((creator_id, e.request_id), e) for creator_id, e in rows)

    async def save_balances(self, conn: object, changed: Mapping[str, Creator]) -> None:
        self.called("save_balances", list(changed.items()))
        self.balances.update((creator_id, creator.balance_diamonds)
                             for creator_id, creator in changed.items()
                             if creator.clock is not None)

    async def record_payouts(self, conn: object, events: Sequence[PayoutEvent]) -> None:
        self.called("record_payouts", list(events))
        for event in events:
            match event:
                case PayoutReserved():
                    assert event.payout_id not in self.payouts, "duplicate key: payout_id"
                    self.payouts[event.payout_id] = "reserved"
                case PayoutRejected():
                    self.payouts.setdefault(event.payout_id, "rejected")
                case PayoutPosted() | PayoutReleased() if event.payout_id in self.payouts:
                    self.payouts[event.payout_id] = (
                        "paid" if isinstance(event, PayoutPosted) else "failed")


class FakeGiftingStore(FakeStore):
    def __init__(self) -> None:
        super().__init__()
        self.streams: dict[str, Stream] = {}
        self.ages: dict[str, bool] = {}
        self.gifts: dict[str, CatalogGift] = {}
        self.campaigns: dict[str, Campaign] = {}
        self.requests: dict[str, dict] = {}
        """The `gifts` table: request_id -> status, reason, priced_event (JSON)."""
        self.totals: dict[str, tuple[int, int, int, int]] = {}
        """stream_totals: stream_id -> (sends, gifts, coins, points)."""
        self.scores: dict[tuple[str, str, str], tuple[int, int, int]] = {}
        """gifter_scores: (scope, scope_id, sender_id) -> (points, coins, gifts)."""

    async def load_streams(self, conn: object, ids: Iterable[str]) -> dict[str, Stream]:
        wanted = sorted(set(ids))
        self.called("load_streams", wanted)
        return {key: self.streams[key] for key in wanted if key in self.streams}

    async def save_streams(self, conn: object, streams: Sequence[Stream]) -> None:
        self.called("save_streams", list(streams))
        self.streams.update((stream.stream_id, stream) for stream in streams)

    async def load_ages(self, conn: object, user_ids: Iterable[str]) -> dict[str, bool]:
        wanted = sorted(set(user_ids))
        self.called("load_ages", wanted)
        return {key: self.ages[key] for key in wanted if key in self.ages}

    async def save_ages(self, conn: object, ages: dict[str, bool]) -> None:
        self.called("save_ages", list(ages.items()))
        self.ages.update(ages)

    async def load_gifts(self, conn: object, ids: Iterable[str]) -> dict[str, CatalogGift]:
        wanted = sorted(set(ids))
        self.called("load_gifts", wanted)
        return {key: self.gifts[key] for key in wanted if key in self.gifts}

    async def save_gifts(self, conn: object, gifts: Sequence[CatalogGift]) -> None:
        self.called("save_gifts", list(gifts))
        self.gifts.update((gift.gift_id, gift) for gift in gifts)

    async def load_campaigns(self, conn: object) -> dict[str, Campaign]:
        self.called("load_campaigns")
        return dict(self.campaigns)

    async def save_campaigns(self, conn: object, campaigns: Sequence[Campaign]) -> None:
        self.called("save_campaigns", list(campaigns))
        for campaign in campaigns:
            stored = self.campaigns.get(campaign.campaign_id)
            # ON CONFLICT ... SET ended_at: a stored campaign changes only by its end.
            self.campaigns[campaign.campaign_id] = (
                campaign if stored is None else replace(stored, ended_at=campaign.ended_at))

    async def load_requests(self, conn: object, requested: Iterable[str],
                            answered: Iterable[str]) -> tuple[set[str], dict[str, GiftPriced]]:
        requested, answered = set(requested), set(answered)
        if not requested and not answered:
            return set(), {}
        self.called("load_requests", sorted(requested), sorted(answered))
        return ({key for key in requested if key in self.requests},
                {key: GiftPriced.model_validate_json(self.requests[key]["priced_event"])
                 for key in sorted(answered)
                 if key in self.requests and self.requests[key]["status"] == "priced"})

    async def insert_requests(self, conn: object,
                              decided: Sequence[tuple[GiftRequested,
                                                      GiftPriced | GiftRejected]]) -> None:
        self.called("insert_requests", list(decided))
        for request, outcome in decided:
            assert request.request_id not in self.requests, "duplicate key: request_id"
            if isinstance(outcome, GiftPriced):
                row = {"status": "priced", "reason": None,
                       "priced_event": outcome.model_dump_json()}
            else:
                row = {"status": "rejected", "reason": outcome.reason.value,
                       "priced_event": None}
            self.requests[request.request_id] = row

    async def settle_requests(self, conn: object,
                              outcomes: Sequence[GiftSent | GiftFailed]) -> None:
        self.called("settle_requests", list(outcomes))
        for outcome in outcomes:
            request_id, (status, reason) = outcome.request_id, settlement(outcome)
            if request_id in self.requests:
                self.requests[request_id] = {"status": status, "reason": reason,
                                             "priced_event": None}

    async def add_sent(self, conn: object, sent: Sequence[GiftSent]) -> None:
        self.called("add_sent", list(sent))
        for gift in sent:
            sends, count, coins, points = self.totals.get(gift.stream_id, (0, 0, 0, 0))
            self.totals[gift.stream_id] = (sends + 1, count + units(gift), coins + gift.coins,
                                           points + gift.points)
            for scope, scope_id in (("stream", gift.stream_id), ("creator", gift.creator_id)):
                key = (scope, scope_id, gift.sender_id)
                points_, coins_, gifts_ = self.scores.get(key, (0, 0, 0))
                self.scores[key] = (points_ + gift.points, coins_ + gift.coins,
                                    gifts_ + units(gift))
