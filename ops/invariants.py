"""The economy's invariants, computed from the services' own schemas over everything they hold
(every demo run so far, not just the latest; SQL with {wallet}, {gifting}, {payout} for
the schemas): each service's event_history (every event it
emitted) against its read tables and against the other services' histories.

Run them only once the economy has settled (ops.backlog): an event still on its way between two
services is not a broken invariant.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from ops.namespace import Namespace


@dataclass(frozen=True)
class InvariantResult:
    name: str
    passed: bool
    detail: str


# Coin conservation. Every wallet event that moves the balance moves it by its `coins`:
#   coins_purchased, promo_coins_credited  +coins  (debt_repaid only says which of these coins
#                                                   paid off debt: the balance, which is
#                                                   spendable - debt, still rises by all of them)
#   coins_spent, promo_coins_expired       -coins
#   coins_clawed_back                      -coins  (the whole purchase: coins_unspent leave the
#                                                   lot, the spent part is covered by other lots
#                                                   (covered_by) or becomes debt, and either way
#                                                   the balance falls by it)
# so per wallet: credited - spent - clawed back - expired == wallet_balances.balance.
COIN_CONSERVATION = """
WITH moves AS (
    SELECT entity AS user_id,
           sum((payload->>'coins')::bigint) FILTER (
               WHERE type IN ('wallet.coins_purchased', 'wallet.promo_coins_credited'))
               AS credited,
           sum((payload->>'coins')::bigint) FILTER (WHERE type = 'wallet.coins_spent') AS spent,
           sum((payload->>'coins')::bigint) FILTER (WHERE type = 'wallet.coins_clawed_back')
               AS clawed_back,
           sum((payload->>'coins')::bigint) FILTER (WHERE type = 'wallet.promo_coins_expired')
               AS expired
    FROM {wallet}.event_history
    WHERE type IN ('wallet.coins_purchased', 'wallet.promo_coins_credited',
                   'wallet.coins_spent', 'wallet.coins_clawed_back',
                   'wallet.promo_coins_expired')
    GROUP BY entity
), per_wallet AS (
    SELECT coalesce(m.credited, 0)::bigint AS credited, coalesce(m.spent, 0)::bigint AS spent,
           coalesce(m.clawed_back, 0)::bigint AS clawed_back,
           coalesce(m.expired, 0)::bigint AS expired,
           coalesce(b.balance, 0)::bigint AS balance
    FROM moves m FULL JOIN {wallet}.wallet_balances b ON b.user_id = m.user_id
)
SELECT count(*) AS wallets,
       coalesce(sum(credited), 0)::bigint AS credited, coalesce(sum(spent), 0)::bigint AS spent,
       coalesce(sum(clawed_back), 0)::bigint AS clawed_back,
       coalesce(sum(expired), 0)::bigint AS expired,
       coalesce(sum(balance), 0)::bigint AS balances,
       count(*) FILTER (WHERE credited - spent - clawed_back - expired <> balance) AS broken
FROM per_wallet
"""

# Every gift the wallet decided has exactly one outcome downstream, and nothing downstream
# lacks its decision: a debit (coins_spent) is one gift_sent and one diamonds_earned; a refusal
# (spend_rejected) is one gift_failed and no earning.
GIFT_OUTCOMES = """
WITH wallet_side AS (
    SELECT payload->>'request_id' AS request_id,
           count(*) FILTER (WHERE type = 'wallet.coins_spent') AS spent,
           count(*) FILTER (WHERE type = 'wallet.spend_rejected') AS rejected
    FROM {wallet}.event_history
    WHERE type IN ('wallet.coins_spent', 'wallet.spend_rejected')
    GROUP BY 1
), gifting_side AS (
    SELECT payload->>'request_id' AS request_id,
           count(*) FILTER (WHERE type = 'gifting.gift_sent') AS sent,
           count(*) FILTER (WHERE type = 'gifting.gift_failed') AS failed
    FROM {gifting}.event_history
    WHERE type IN ('gifting.gift_sent', 'gifting.gift_failed')
    GROUP BY 1
), payout_side AS (
    SELECT payload->>'request_id' AS request_id, count(*) AS earned
    FROM {payout}.event_history
    WHERE type = 'payout.diamonds_earned'
    GROUP BY 1
), joined AS (
    SELECT request_id, coalesce(w.spent, 0)::bigint AS spent,
           coalesce(w.rejected, 0)::bigint AS rejected,
           coalesce(g.sent, 0)::bigint AS sent, coalesce(g.failed, 0)::bigint AS failed,
           coalesce(p.earned, 0)::bigint AS earned
    FROM wallet_side w
    FULL JOIN gifting_side g USING (request_id)
    FULL JOIN payout_side p USING (request_id)
)
SELECT count(*) FILTER (WHERE spent > 0) AS spent,
       count(*) FILTER (WHERE rejected > 0) AS rejected,
       count(*) FILTER (WHERE NOT (
           (spent, rejected, sent, failed, earned) = (1, 0, 1, 0, 1)
           OR (spent, rejected, sent, failed, earned) = (0, 1, 0, 1, 0))) AS broken,
       count(*) FILTER (WHERE spent > 0 AND sent <> 1) AS spent_not_sent_once,
       count(*) FILTER (WHERE spent > 0 AND earned <> 1) AS spent_not_earned_once,
       count(*) FILTER (WHERE rejected > 0 AND failed <> 1) AS rejected_not_failed_once,
       count(*) FILTER (WHERE spent + rejected <> 1) AS not_decided_once,
       (array_agg(request_id ORDER BY request_id) FILTER (WHERE NOT (
           (spent, rejected, sent, failed, earned) = (1, 0, 1, 0, 1)
           OR (spent, rejected, sent, failed, earned) = (0, 1, 0, 1, 0))))[1:3] AS examples
FROM joined
"""

# Diamonds, per creator: the flows in payout's own events (earned, paid out, in flight with the
# provider, clawed back) against where its read model says the diamonds are now:
#   earned - withdrawn - reserved - clawed back == held + available - debt
# with reserved = reservations not yet posted or released.
DIAMOND_CONSERVATION = """
WITH flows AS (
    SELECT entity AS creator_id,
           coalesce(sum((payload->>'diamonds')::bigint)
               FILTER (WHERE type = 'payout.diamonds_earned'), 0)::bigint AS earned,
           coalesce(sum((payload->>'diamonds')::bigint)
               FILTER (WHERE type = 'payout.payout_posted'), 0)::bigint AS withdrawn,
           coalesce(sum((payload->>'diamonds')::bigint)
               FILTER (WHERE type = 'payout.payout_reserved'), 0)
             - coalesce(sum((payload->>'diamonds')::bigint)
               FILTER (WHERE type IN ('payout.payout_posted', 'payout.payout_released')), 0)
               AS reserved,
           coalesce(sum((payload->>'diamonds')::bigint)
               FILTER (WHERE type = 'payout.diamonds_clawed_back'), 0)::bigint AS clawed_back
    FROM {payout}.event_history
    GROUP BY entity
), per_creator AS (
    SELECT coalesce(f.earned, 0) - coalesce(f.withdrawn, 0) - coalesce(f.reserved, 0)
               - coalesce(f.clawed_back, 0)::bigint AS owned_by_flows,
           coalesce(b.held, 0) + coalesce(b.available, 0) - coalesce(b.debt, 0)
               AS owned_by_balances,
           coalesce(f.earned, 0)::bigint AS earned
    FROM flows f FULL JOIN {payout}.creator_balances b ON b.creator_id = f.creator_id
)
SELECT count(*) AS creators, coalesce(sum(earned), 0)::bigint AS earned,
       coalesce(sum(owned_by_flows), 0)::bigint AS owned,
       count(*) FILTER (WHERE owned_by_flows <> owned_by_balances) AS broken
FROM per_creator
"""


async def check_invariants(conn: asyncpg.Connection | asyncpg.Pool,
                           namespace: Namespace) -> list[InvariantResult]:
    schemas = namespace.schemas
    coins = await conn.fetchrow(COIN_CONSERVATION.format(**schemas))
    gifts = await conn.fetchrow(GIFT_OUTCOMES.format(**schemas))
    diamonds = await conn.fetchrow(DIAMOND_CONSERVATION.format(**schemas))
    return [
        InvariantResult(
            "coins conserved", coins["broken"] == 0
            and coins["credited"] - coins["spent"] - coins["clawed_back"] - coins["expired"]
            == coins["balances"],
            f"credited {coins['credited']:,} - spent {coins['spent']:,} - clawed back "
            f"{coins['clawed_back']:,} - expired {coins['expired']:,} = Σ balances "
            f"{coins['balances']:,} over {coins['wallets']:,} wallets "
            f"({coins['broken']} do not add up)"),
        InvariantResult(
            "every gift decided once, end to end", gifts["broken"] == 0,
            f"{gifts['spent']:,} debits each with one gift_sent and one diamonds_earned, "
            f"{gifts['rejected']:,} refusals each with one gift_failed"
            + _mismatches(gifts)),
        InvariantResult(
            "diamonds conserved", diamonds["broken"] == 0,
            f"earned - withdrawn - reserved - clawed back = held + available - debt for "
            f"{diamonds['creators']:,} creators ({diamonds['broken']} do not add up)"),
    ]


MISMATCHES = {
    "spent_not_sent_once": "debits without exactly one gift_sent",
    "spent_not_earned_once": "debits without exactly one diamonds_earned",
    "rejected_not_failed_once": "refusals without exactly one gift_failed",
    "not_decided_once": "outcomes without exactly one wallet decision",
}


def _mismatches(row: asyncpg.Record) -> str:
    if not row["broken"]:
        return " (all match)"
    found = [f"{row[key]:,} {label}" for key, label in MISMATCHES.items() if row[key]]
    return (f"; {row['broken']:,} requests do not match: {', '.join(found)} "
            f"(e.g. {', '.join(row['examples'])})")
