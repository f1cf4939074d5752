"""Clawing back the diamonds of gifts whose funding purchase was refunded or charged back.

The wallet's CoinsClawedBack lists the gifts the purchase funded (lot provenance). For each
gift of this creator, once per (purchase_id, request_id):

    diamonds     cumulative pro rata floor (money.clawed_diamonds): in the creator's favour
                 for a partial clawback, exact when every funding coin is clawed
    from_held    first from this gift's own diamonds if they are still held (the hold exists
                 for exactly this)
    from_available  then from the creator's available diamonds (never from reserved ones:
                 those are with the provider; if the payout fails they return as available)
    to_debt      the rest becomes debt, paid first by new earnings and subtracted from what
                 can be withdrawn meanwhile

Several gifts of one clawback are taken in the order the wallet listed them, each from what
the previous ones left. A gift listed twice counts its coins once summed. A gift this creator
never earned cannot be clawed and is skipped: payout reads CoinsSpent and CoinsClawedBack from
one wallet partition per viewer, so the earning always comes first.
"""

from __future__ import annotations

from services.payout.domain.money import clawed_diamonds
from services.payout.domain.state import CreatorReads
from shared.contract.events.payout import DiamondsClawedBack
from shared.contract.events.wallet import CoinsClawedBack


def creators_funded(clawback: CoinsClawedBack) -> list[str]:
    """The creators to run decide_clawback for, in the order their gifts are listed."""
    return list(dict.fromkeys(gift.creator_id for gift in clawback.funded_gifts))


def decide_clawback(creator: CreatorReads, clawback: CoinsClawedBack) -> list[DiamondsClawedBack]:
    at = creator.now(clawback.occurred_at)
    available = max(0, creator.available(at))
    decided: list[DiamondsClawedBack] = []
    for request_id, funded_coins in _funded_coins(creator, clawback).items():
        earning = creator.earnings.get(request_id)
        if earning is None or (clawback.purchase_id, request_id) in creator.clawbacks_seen:
            continue
        coins, diamonds = clawed_diamonds(earning.diamonds, earning.coins, earning.clawed_coins,
                                          earning.clawed_diamonds, funded_coins)
        from_held = min(diamonds, earning.held_at(at))
        from_available = min(diamonds - from_held, available)
        available -= from_available
        decided.append(clawback.caused(
            DiamondsClawedBack, f"clawback:{creator.creator_id}:{request_id}", occurred_at=at,
            creator_id=creator.creator_id, request_id=request_id,
            purchase_id=clawback.purchase_id, coins=coins, diamonds=diamonds,
            from_held=from_held, from_available=from_available,
            to_debt=diamonds - from_held - from_available,
        ))
    return decided


def _funded_coins(creator: CreatorReads, clawback: CoinsClawedBack) -> dict[str, int]:
    coins: dict[str, int] = {}
    for gift in clawback.funded_gifts:
        if gift.creator_id == creator.creator_id:
            coins[gift.request_id] = coins.get(gift.request_id, 0) + gift.coins
    return coins
