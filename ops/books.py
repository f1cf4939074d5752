"""What the services' schemas say about a set of viewers, creators and streams (one demo run)
or about everything: read-only SQL over the wallet, gifting and payout schemas (written with
{wallet}, {gifting}, {payout} for the schemas of the namespace)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from ops.namespace import Namespace

WALLET_FLOWS = """
SELECT coalesce(sum((payload->>'coins')::bigint)
                FILTER (WHERE type = 'wallet.coins_purchased'), 0)::bigint AS bought,
       coalesce(sum((payload->>'amount_minor')::bigint)
                FILTER (WHERE type = 'wallet.coins_purchased'), 0)::bigint AS paid_minor,
       coalesce(sum((payload->>'coins')::bigint)
                FILTER (WHERE type = 'wallet.promo_coins_credited'), 0)::bigint AS promo,
       coalesce(sum((payload->>'coins')::bigint)
                FILTER (WHERE type = 'wallet.coins_spent'), 0)::bigint AS spent,
       coalesce(sum((payload->>'coins')::bigint)
                FILTER (WHERE type = 'wallet.coins_clawed_back'), 0)::bigint AS clawed_back,
       coalesce(sum((payload->>'coins')::bigint)
                FILTER (WHERE type = 'wallet.promo_coins_expired'), 0)::bigint AS expired
FROM {wallet}.event_history
WHERE type IN ('wallet.coins_purchased', 'wallet.promo_coins_credited', 'wallet.coins_spent',
               'wallet.coins_clawed_back', 'wallet.promo_coins_expired')
  AND ($1::text[] IS NULL OR entity = ANY($1::text[]))
"""

WALLET_BALANCES = """
SELECT count(*) AS wallets, coalesce(sum(balance), 0)::bigint AS balances,
       count(*) FILTER (WHERE frozen) AS frozen, count(*) FILTER (WHERE debt > 0) AS in_debt,
       coalesce(sum(debt), 0)::bigint AS debt
FROM {wallet}.wallet_balances
WHERE $1::text[] IS NULL OR user_id = ANY($1::text[])
"""

PAYOUTS = """
SELECT status, count(*) AS payouts, coalesce(sum(diamonds), 0)::bigint AS diamonds,
       coalesce(sum(net_minor), 0)::bigint AS net_minor
FROM {payout}.payouts
WHERE $1::text[] IS NULL OR creator_id = ANY($1::text[])
GROUP BY status
"""

GIFT_OUTCOMES = """
SELECT status, coalesce(reason, '') AS reason, count(*) AS requests,
       coalesce(sum(quantity) FILTER (WHERE status = 'sent'), 0)::bigint AS units,
       coalesce(sum(coins) FILTER (WHERE status = 'sent'), 0)::bigint AS coins
FROM {gifting}.gifts WHERE stream_id = ANY($1::text[])
GROUP BY status, reason ORDER BY status, requests DESC
"""


PURCHASES_REFUSED = """
SELECT payload->>'reason' AS reason, count(*) AS purchases,
       coalesce(sum((payload->>'coins')::bigint), 0)::bigint AS coins,
       coalesce(sum((payload->>'amount_minor')::bigint), 0)::bigint AS amount_minor
FROM {wallet}.event_history
WHERE type = 'wallet.purchase_refused' AND ($1::text[] IS NULL OR entity = ANY($1::text[]))
GROUP BY 1 ORDER BY 1
"""


@dataclass(frozen=True)
class RefusedPurchases:
    """Purchases the wallet refused off the price list, for one reason (USD, as the demo
    buys)."""

    reason: str
    purchases: int
    coins: int
    amount_minor: int


@dataclass(frozen=True)
class WalletSummary:
    bought: int
    paid_minor: int
    promo: int
    spent: int
    clawed_back: int
    expired: int
    wallets: int
    balances: int
    frozen: int
    in_debt: int
    debt: int


@dataclass(frozen=True)
class PayoutLine:
    status: str
    payouts: int
    diamonds: int
    net_minor: int


@dataclass(frozen=True)
class GiftOutcome:
    status: str
    reason: str
    requests: int
    units: int
    coins: int


class Books:
    def __init__(self, pool: asyncpg.Pool, namespace: Namespace):
        self.pool = pool
        self.schemas = namespace.schemas

    def _sql(self, text: str) -> str:
        return text.format(**self.schemas)

    async def wallet_summary(self, user_ids: Sequence[str] | None) -> WalletSummary:
        """For these users, or for every wallet (None)."""
        ids = list(user_ids) if user_ids is not None else None
        flows = await self.pool.fetchrow(self._sql(WALLET_FLOWS), ids)
        balances = await self.pool.fetchrow(self._sql(WALLET_BALANCES), ids)
        return WalletSummary(**dict(flows), **dict(balances))

    async def purchases_refused(self, user_ids: Sequence[str] | None
                                ) -> list[RefusedPurchases]:
        rows = await self.pool.fetch(self._sql(PURCHASES_REFUSED),
                                     list(user_ids) if user_ids is not None else None)
        return [RefusedPurchases(**dict(row)) for row in rows]

    async def payouts(self, creator_ids: Sequence[str] | None) -> list[PayoutLine]:
        rows = await self.pool.fetch(self._sql(PAYOUTS),
                                     list(creator_ids) if creator_ids is not None else None)
        return [PayoutLine(**dict(row)) for row in rows]

    async def gift_outcomes(self, stream_ids: Sequence[str]) -> list[GiftOutcome]:
        rows = await self.pool.fetch(self._sql(GIFT_OUTCOMES), list(stream_ids))
        return [GiftOutcome(**dict(row)) for row in rows]

    async def gift_status_counts(self, stream_ids: Sequence[str]) -> dict[str, int]:
        rows = await self.pool.fetch(self._sql(
            "SELECT status, count(*) AS n FROM {gifting}.gifts"
            " WHERE stream_id = ANY($1::text[]) GROUP BY status"), list(stream_ids))
        return {row["status"]: row["n"] for row in rows}

    async def diamonds_earned(self, creator_ids: Sequence[str]) -> int:
        return await self.pool.fetchval(self._sql(
            "SELECT coalesce(sum(earned), 0)::bigint FROM {payout}.creator_balances"
            " WHERE creator_id = ANY($1::text[])"), list(creator_ids))

    async def adults_recorded(self, user_ids: Sequence[str]) -> int:
        """These users whose adult age the wallet has recorded (they may spend)."""
        return await self.pool.fetchval(self._sql(
            "SELECT count(*) FROM {wallet}.wallet_balances WHERE user_id = ANY($1::text[])"
            " AND adult"), list(user_ids))

    async def coins_credited(self, user_ids: Sequence[str]) -> int:
        """Purchases and promo grants the wallet has credited to these users."""
        return await self.pool.fetchval(self._sql(
            "SELECT count(*) FROM {wallet}.event_history WHERE entity = ANY($1::text[])"
            " AND type IN ('wallet.coins_purchased', 'wallet.promo_coins_credited')"),
            list(user_ids))

    async def live_streams(self, stream_ids: Sequence[str]) -> int:
        return await self.pool.fetchval(self._sql(
            "SELECT count(*) FROM {gifting}.streams WHERE stream_id = ANY($1::text[])"
            " AND started_at IS NOT NULL AND ended_at IS NULL"), list(stream_ids))

    async def adult_creators(self, creator_ids: Sequence[str]) -> int:
        return await self.pool.fetchval(self._sql(
            "SELECT count(*) FROM {gifting}.creator_ages WHERE user_id = ANY($1::text[])"
            " AND adult"), list(creator_ids))

    async def listed_gifts(self, gift_ids: Sequence[str]) -> int:
        return await self.pool.fetchval(self._sql(
            "SELECT count(*) FROM {gifting}.catalog_gifts WHERE gift_id = ANY($1::text[])"),
            list(gift_ids))

    async def payout_statuses(self, payout_ids: Sequence[str]) -> dict[str, str]:
        rows = await self.pool.fetch(self._sql(
            "SELECT payout_id, status FROM {payout}.payouts"
            " WHERE payout_id = ANY($1::text[])"), list(payout_ids))
        return {row["payout_id"]: row["status"] for row in rows}
