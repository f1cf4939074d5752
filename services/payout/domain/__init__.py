"""Pure decisions of the payout service: no database, no broker, no clock.

Time and ids come only from input events (`caused` derives each output's id from its input
and a step name); every decide function returns a list of payout.* events and raises nothing
for business outcomes (an AssertionError means a caller paired the wrong state and event).
State is rebuilt from payout's own events alone: `rebuild` / `evolve`.

    policy     SharePolicy, HoldPolicy, CashRate, PayoutLimits, PolicyInEffect
    money      exact rounding: diamonds_for, convert (gross, fee, net), clawed_diamonds
    state      Creator, Earning, Reservation: held / available / withdrawable / debt at time t
    evolve     evolve, rebuild, Replay; shared.consistency.InconsistentHistory for logs we
               could not have written
    earning    decide_verification, decide_earning (hold, debt netting)
    payouts    decide_payout (check order, conversion, daily limit), decide_payout_outcome
    clawback   decide_clawback (held, then available, then debt), creators_funded
    decide     decide: any input event -> outputs, with the PolicyInEffect
    statement  statement(events, period_start, period_end) -> Statement
"""

from services.payout.domain.clawback import creators_funded, decide_clawback
from services.payout.domain.decide import PolicyMissing, decide
from services.payout.domain.earning import decide_earning, decide_verification
from services.payout.domain.evolve import Replay, evolve, rebuild
from services.payout.domain.money import Conversion, clawed_diamonds, convert, diamonds_for
from services.payout.domain.payouts import decide_payout, decide_payout_outcome
from services.payout.domain.policy import (
    CashRate,
    HoldPolicy,
    PayoutLimits,
    PolicyInEffect,
    SharePolicy,
)
from services.payout.domain.state import Creator, CreatorReads, Earning, Reservation, utc_day
from services.payout.domain.statement import CashPaid, Statement, statement
from shared.consistency import InconsistentHistory

__all__ = [
    "CashPaid", "CashRate", "Conversion", "Creator", "CreatorReads", "Earning", "HoldPolicy",
    "InconsistentHistory", "PayoutLimits", "PolicyInEffect", "PolicyMissing", "Replay",
    "Reservation", "SharePolicy", "Statement", "clawed_diamonds", "convert", "creators_funded",
    "decide", "decide_clawback", "decide_earning", "decide_payout", "decide_payout_outcome",
    "decide_verification", "diamonds_for", "evolve", "rebuild", "statement", "utc_day",
]
