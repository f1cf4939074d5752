"""`coinlog audit`: one pass over every topic, checking every invariant of the product brief.

    model      Location, Violation, Invariant (a named check with counts and examples),
               AuditReport
    wallets    per-wallet replay: coin conservation, no overspend, lot cash values
    creators   per-creator replay: diamond conservation, payouts
    ledger     double entry: every wallet, payout and payment event as balanced transfers
    causality  every output explained by an input, every input decided exactly once
    rates      every earning and conversion at the rate of the version it names
    fold       Auditor: feed(LogRecord) ... report() -> AuditReport (pure, no I/O)
    report     terminal (rich), JSON and self-contained HTML renderings of a report
    command    the `audit` command: LogReader -> Auditor -> report, exit code
"""

from ops.audit.fold import Auditor
from ops.audit.model import AuditReport, Invariant, Location, Violation

__all__ = ["AuditReport", "Auditor", "Invariant", "Location", "Violation"]
