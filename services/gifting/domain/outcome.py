"""Confirming a priced gift once the wallet has answered its debit order."""

from __future__ import annotations

from shared.contract.events.gifting import GiftFailed, GiftPriced, GiftSent
from shared.contract.events.wallet import CoinsSpent, SpendRejected


def decide_outcome(priced: GiftPriced, answer: CoinsSpent | SpendRejected) -> GiftSent | GiftFailed:
    """The wallet's answer decides: CoinsSpent delivers the gift, SpendRejected fails it with
    the wallet's reason. Points come from the GiftPriced (the wallet knows nothing of them)."""
    # A mismatch means the handler paired the wrong events: a bug, not a business outcome.
    assert answer.request_id == priced.request_id, (priced, answer)
    assert answer.user_id == priced.sender_id, (priced, answer)
    assert answer.coins == priced.coins, (priced, answer)
    common = dict(request_id=priced.request_id, sender_id=priced.sender_id,
                  stream_id=priced.stream_id)
    if isinstance(answer, SpendRejected):
        return answer.caused(GiftFailed, "failed", reason=answer.reason.value, **common)
    return answer.caused(GiftSent, "sent", creator_id=priced.creator_id, coins=priced.coins,
                         points=priced.points, gift_id=priced.gift_id,
                         quantity=priced.quantity, **common)
