"""`coinlog audit`: one pass over every topic, checking every invariant of the product brief.

The audit is a second pair of eyes, so it replays wallets and creators with folds of its own
(wallets, creators), written from the product's definitions, and deliberately does not import
the services' domain folds: a rule the domain gets wrong is then a disagreement the audit
reports, not a mistake it repeats. The price is that the two must be kept in step;
tests/unit/test_folds_agree.py runs both over random economies and requires the same figures
per wallet and per creator. (It shares only the exact money arithmetic, money.convert and
floor_mul, which defines the amounts rather than restating a rule.) The demo and the fault
suite report its verdicts, with read_models checking the services' read tables against it.

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
    read_models  the services' wallet_balances and creator_balances against the replay
"""

from ops.audit.fold import Auditor
from ops.audit.model import AuditReport, Invariant, Location, Violation

__all__ = ["AuditReport", "Auditor", "Invariant", "Location", "Violation"]
