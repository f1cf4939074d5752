"""Payout requests (reserve or reject) and the provider's outcome (post or release).

Checks run in a fixed order, so the same state and request always give the same answer, and
a request with several faults is rejected for the first one:

    1. duplicate_payout       the payout_id was decided before (by another request event)
    2. creator_not_verified   the latest recorded verification is not a pass
    3. no_cash_rate           no diamond cash rate for the requested currency
    4. no_payout_limits       no minimum / daily maximum for the currency (fail closed)
    5. insufficient_diamonds  diamonds > withdrawable at request time (available - debt)
    6. below_minimum          net_minor < min_minor, or net_minor is 0 (a payout of nothing)
    7. daily_limit_exceeded   net reserved or paid on the request's UTC day in this currency
                              + this net_minor > max_per_day_minor

Conversion (see money.py): gross = floor(diamonds * minor_per_diamond); fee =
ceil(gross * fee_ppm / 1e6) + fee_fixed_minor, capped at gross; net = gross - fee. The
minimum and the daily maximum apply to net, what reaches the creator.

A reservation is a two-phase hold: its diamonds leave `available` at once and its net counts
against its day's limit. PayoutSucceeded posts it (the diamonds become withdrawn);
PayoutFailed releases it (the diamonds are available again and the day's usage is returned).
"""

from __future__ import annotations

from typing import Any

from services.payout.domain.money import Conversion, convert
from services.payout.domain.policy import CashRate, PayoutLimits
from services.payout.domain.state import CreatorReads, utc_day
from shared.contract.events.creators import PayoutFailed, PayoutRequested, PayoutSucceeded
from shared.contract.events.payout import (
    PayoutPosted,
    PayoutRejected,
    PayoutRejection,
    PayoutReleased,
    PayoutReserved,
)


def decide_payout(creator: CreatorReads, request: PayoutRequested, cash_rate: CashRate | None,
                  limits: PayoutLimits | None) -> list[PayoutReserved | PayoutRejected]:
    """`cash_rate` and `limits` are those in effect for the request's currency, or None; a
    value for another currency counts as none. A request event already decided (reserved,
    rejected, or rejected as a duplicate) yields nothing: it is a redelivery. Another request
    event reusing a decided payout_id is a duplicate."""
    assert request.creator_id == creator.creator_id, (creator.creator_id, request)
    at = creator.now(request.occurred_at)
    common: dict[str, Any] = dict(occurred_at=at, creator_id=creator.creator_id,
                                  payout_id=request.payout_id, diamonds=request.diamonds)
    if request.event_id in creator.duplicate_requests:
        return []
    if request.payout_id in creator.payouts_seen:
        if creator.payouts_seen[request.payout_id] == request.event_id:
            return []
        return [request.caused(PayoutRejected, "payout_duplicate",
                               reason=PayoutRejection.duplicate_payout, **common)]
    if cash_rate is not None and cash_rate.currency != request.currency:
        cash_rate = None
    if limits is not None and limits.currency != request.currency:
        limits = None
    reason = _rejection(creator, request, cash_rate, limits)
    if reason is not None:
        return [request.caused(PayoutRejected, "payout", reason=reason, **common)]
    assert cash_rate is not None and limits is not None
    cash = _conversion(request.diamonds, cash_rate)
    return [request.caused(
        PayoutReserved, "payout", **common,
        gross_minor=cash.gross_minor, fee_minor=cash.fee_minor, net_minor=cash.net_minor,
        currency=request.currency, minor_per_diamond=cash_rate.minor_per_diamond,
        rate_version=cash_rate.rate_version, method=request.method,
        fee_ppm=cash_rate.fee_ppm, fee_fixed_minor=cash_rate.fee_fixed_minor,
        limits_rate_version=limits.rate_version,
    )]


def _rejection(creator: CreatorReads, request: PayoutRequested,  # noqa: PLR0911 - one per rejection
               cash_rate: CashRate | None, limits: PayoutLimits | None,
               ) -> PayoutRejection | None:
    at = creator.now(request.occurred_at)
    if not creator.verified:
        return PayoutRejection.creator_not_verified
    if cash_rate is None:
        return PayoutRejection.no_cash_rate
    if limits is None:
        return PayoutRejection.no_payout_limits
    if request.diamonds > creator.withdrawable(at):
        return PayoutRejection.insufficient_diamonds
    net_minor = _conversion(request.diamonds, cash_rate).net_minor
    if net_minor < max(limits.min_minor, 1):
        return PayoutRejection.below_minimum
    used_minor = creator.net_minor_on(request.currency, utc_day(at))
    if used_minor + net_minor > limits.max_per_day_minor:
        return PayoutRejection.daily_limit_exceeded
    return None


def _conversion(diamonds: int, rate: CashRate) -> Conversion:
    return convert(diamonds, rate.minor_per_diamond, rate.fee_ppm, rate.fee_fixed_minor)


def decide_payout_outcome(creator: CreatorReads, outcome: PayoutSucceeded | PayoutFailed,
                          ) -> list[PayoutPosted | PayoutReleased]:
    """Settle an open reservation. An unknown payout_id, or one already settled (posted,
    released) or never reserved (rejected), yields nothing: the provider may repeat itself."""
    assert outcome.creator_id == creator.creator_id, (creator.creator_id, outcome)
    reservation = creator.reservations.get(outcome.payout_id)
    if reservation is None:
        return []
    common: dict[str, Any] = dict(
        occurred_at=creator.now(outcome.occurred_at), creator_id=creator.creator_id,
        payout_id=reservation.payout_id, diamonds=reservation.diamonds)
    if isinstance(outcome, PayoutSucceeded):
        return [outcome.caused(PayoutPosted, "posted", net_minor=reservation.net_minor,
                               currency=reservation.currency,
                               provider_reference=outcome.provider_reference, **common)]
    return [outcome.caused(PayoutReleased, "released", reason=outcome.reason, **common)]
