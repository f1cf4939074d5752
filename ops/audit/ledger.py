"""Double entry: each event becomes transfers between accounts, in three kinds of ledger:
`coins`, `diamonds` and `cash:<CUR>` (one per currency).

A leg is (ledger, account, amount): amount > 0 debits the account (value arrives), amount < 0
credits it (value leaves). The legs of one event are built from *different fields* of the
event (e.g. a CoinsSpent debits `spent` by `coins` and credits the wallet by the sum of its
lot uses), so an event whose fields disagree does not balance. Accounts are classes
(`wallet`, `wallet:debt`, `creator`, ...), not entities: the per-entity balances are checked by
the wallet and creator replays; the trial balance shows where the value sits.

Accounts (coins):     issued:purchase, issued:promo -> wallet -> spent | expired | clawed_back;
                      wallet:debt (minus the coins owed after clawbacks)
Accounts (diamonds):  issued:gifts -> creator -> creator:reserved -> paid_out;
                      clawed_back; creator:debt (minus the diamonds owed)
Accounts (cash):      payers -> platform:cash -> refunded | charged_back | creators;
                      conversion -> payable:creators, payable:fees -> revenue:fees
"""

from __future__ import annotations

from collections import defaultdict

from ops.audit.model import Invariant, Location

Leg = tuple[str, str, int]


class Ledger:
    def __init__(self, invariant: Invariant):
        self.invariant = invariant
        self.balances: dict[tuple[str, str], int] = defaultdict(int)
        self.debits: dict[str, int] = defaultdict(int)
        self.credits: dict[str, int] = defaultdict(int)
        self.entries = 0

    def post(self, location: Location, what: str, legs: list[Leg]) -> None:
        per_ledger: dict[str, int] = {}
        for ledger, _, amount in legs:
            per_ledger[ledger] = per_ledger.get(ledger, 0) + amount
        if any(per_ledger.values()):
            unbalanced = {ledger: total for ledger, total in per_ledger.items() if total}
            self.invariant.fail(f"{what} does not balance: debits - credits = {unbalanced}",
                                location)
            return  # an unbalanced entry is reported, not booked
        self.invariant.ok()
        self.entries += 1
        balances, debits, credits = self.balances, self.debits, self.credits
        for ledger, account, amount in legs:
            if amount:
                balances[(ledger, account)] += amount
                if amount > 0:
                    debits[ledger] += amount
                else:
                    credits[ledger] -= amount

    def finish(self) -> dict:
        for ledger in sorted(set(self.debits) | set(self.credits)):
            self.invariant.check(
                self.debits[ledger] == self.credits[ledger],
                f"ledger {ledger}: debits {self.debits[ledger]} != credits "
                f"{self.credits[ledger]}")
        return {
            "entries": self.entries,
            "ledgers": {ledger: {"debits": self.debits[ledger], "credits": self.credits[ledger]}
                        for ledger in sorted(set(self.debits) | set(self.credits))},
            "trial_balance": {f"{ledger} {account}": amount
                              for (ledger, account), amount in sorted(self.balances.items())},
        }

    def balance(self, ledger: str, account: str) -> int:
        return self.balances.get((ledger, account), 0)
