"""Facts from the user service that gate spending, recorded as the wallet's own events.

The wallet decides only from its own log, so an auditor replaying wallet.* events alone sees
why a spend was refused. A fact is recorded when it changes the wallet's view and not
otherwise: a repeated AgeVerified or SpendingLimitSet decides nothing.
"""

from __future__ import annotations

from services.wallet.domain.state import Wallet
from shared.contract.events.users import AgeVerified, SpendingLimitSet
from shared.contract.events.wallet import AgeVerificationRecorded, SpendingLimitRecorded


def decide_age(wallet: Wallet, verified: AgeVerified) -> list[AgeVerificationRecorded]:
    """`adult` False is a hold: the wallet still receives credits but cannot spend."""
    assert verified.user_id == wallet.user_id, (wallet.user_id, verified.user_id)
    if wallet.adult is verified.adult:
        return []
    return [verified.caused(AgeVerificationRecorded, "record", user_id=wallet.user_id,
                            adult=verified.adult)]


def decide_limit(wallet: Wallet, limit: SpendingLimitSet) -> list[SpendingLimitRecorded]:
    """One limit per (period, set_by); `coins` None removes it. A limit set_by policy on the
    user service is a per-user policy cap; it and the user's own limit both apply, with the
    platform-wide SpendingPolicy, the strictest winning (see spending.py)."""
    assert limit.user_id == wallet.user_id, (wallet.user_id, limit.user_id)
    if wallet.limit(limit.period, limit.set_by) == limit.coins:
        return []
    return [limit.caused(SpendingLimitRecorded, "record", user_id=wallet.user_id,
                         period=limit.period, set_by=limit.set_by, coins=limit.coins)]
