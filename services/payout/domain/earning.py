"""Facts payout takes in about a creator: verification, and diamonds earned per gift."""

from __future__ import annotations

from datetime import timedelta

from services.payout.domain.money import diamonds_for
from services.payout.domain.policy import HoldPolicy, SharePolicy
from services.payout.domain.state import CreatorReads
from shared.contract.events.payout import CreatorVerificationRecorded, DiamondsEarned
from shared.contract.events.users import CreatorVerified
from shared.contract.events.wallet import CoinsSpent


def decide_verification(creator: CreatorReads,
                        fact: CreatorVerified) -> list[CreatorVerificationRecorded]:
    """Record the user service's verdict in payout's own log, so the verified check of a
    payout can be replayed from payout's events alone. Nothing is recorded when the verdict
    does not change (a creator starts unverified)."""
    assert fact.user_id == creator.creator_id, (creator.creator_id, fact)
    if fact.verified == creator.verified:
        return []
    return [fact.caused(CreatorVerificationRecorded, "verification",
                        occurred_at=creator.now(fact.occurred_at),
                        creator_id=creator.creator_id, verified=fact.verified)]


def decide_earning(creator: CreatorReads, spent: CoinsSpent, share: SharePolicy,
                   hold: HoldPolicy) -> list[DiamondsEarned]:
    """Diamonds for a gift the wallet debited (CoinsSpent) to this creator.

    - diamonds = floor(coins * diamonds_per_coin): the fraction stays with the platform. A gift
      too small to earn a diamond is still recorded (0 diamonds), so its clawback is explained.
    - available_at = decision time + hold_s; the share and hold versions are recorded.
    - Debt from earlier clawbacks is paid first, at once, even though the diamonds are still
      held: applied_to_debt = min(debt, diamonds); only the rest is credited.
    - Once per gift: a request_id already earned yields nothing.
    """
    assert spent.creator_id == creator.creator_id, (creator.creator_id, spent)
    if spent.request_id in creator.earnings:
        return []
    at = creator.now(spent.occurred_at)
    diamonds = diamonds_for(spent.coins, share.diamonds_per_coin)
    return [spent.caused(
        DiamondsEarned, "earned", occurred_at=at,
        creator_id=creator.creator_id, request_id=spent.request_id, sender_id=spent.user_id,
        coins=spent.coins, diamonds=diamonds, diamonds_per_coin=share.diamonds_per_coin,
        rate_version=share.rate_version, available_at=at + timedelta(seconds=hold.hold_s),
        applied_to_debt=min(diamonds, creator.debt_diamonds),
        hold_rate_version=hold.rate_version,
    )]
