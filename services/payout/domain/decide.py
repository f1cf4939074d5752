"""One entry point for handlers: any input event payout consumes -> its output events."""

from __future__ import annotations

from services.payout.domain.clawback import decide_clawback
from services.payout.domain.earning import decide_earning, decide_verification
from services.payout.domain.payouts import decide_payout, decide_payout_outcome
from services.payout.domain.policy import PolicyInEffect
from services.payout.domain.state import CreatorReads
from shared.contract.envelope import Event
from shared.contract.events.creators import PayoutFailed, PayoutRequested, PayoutSucceeded
from shared.contract.events.payout import PayoutEvent
from shared.contract.events.users import CreatorVerified
from shared.contract.events.wallet import CoinsClawedBack, CoinsSpent


class PolicyMissing(LookupError):
    """No creator share or hold period is in effect yet. Not a business outcome: a gift's
    diamonds must never be lost or guessed, so the handler retries once policy has arrived."""


def decide(creator: CreatorReads, event: Event, policy: PolicyInEffect) -> list[PayoutEvent]:
    """The outputs of one input event for this creator; inputs payout ignores (other wallet
    events, other users' facts) yield nothing. For a CoinsClawedBack, call once per creator in
    clawback.creators_funded(event)."""
    match event:
        case CoinsSpent():
            if policy.share is None or policy.hold is None:
                raise PolicyMissing("creator share or hold period not set")
            return list(decide_earning(creator, event, policy.share, policy.hold))
        case CoinsClawedBack():
            return list(decide_clawback(creator, event))
        case CreatorVerified():
            return list(decide_verification(creator, event))
        case PayoutRequested():
            return list(decide_payout(creator, event, policy.cash_rates.get(event.currency),
                                      policy.limits.get(event.currency)))
        case PayoutSucceeded() | PayoutFailed():
            return list(decide_payout_outcome(creator, event))
        case _:
            return []
