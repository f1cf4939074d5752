"""How a rebuild's log is shared out among processes."""

from __future__ import annotations

import pytest

from ops.replay.parallel import MIN_RECORDS_PER_PROCESS, processes_for, shares
from shared.logread import Cut

WALLET_CUT = Cut({("wallet.ledger", p): end for p, end in enumerate([50, 400, 10, 300, 0, 240])}
                 | {("policy.changes", 0): 7})


def test_every_ledger_partition_goes_to_exactly_one_share_and_policy_to_all():
    parts = shares("wallet", WALLET_CUT, 3)
    ledger = [position for part in parts for position in part.ends if position[0] ==
              "wallet.ledger"]
    assert sorted(ledger) == sorted(p for p in WALLET_CUT.ends if p[0] == "wallet.ledger")
    assert all(part.ends[("policy.changes", 0)] == 7 for part in parts)
    assert all(part.ends[p] == WALLET_CUT.ends[p] for part in parts for p in part.ends)


def test_shares_are_balanced_by_records_largest_first():
    loads = sorted(sum(end for (topic, _), end in part.ends.items() if topic == "wallet.ledger")
                   for part in shares("wallet", WALLET_CUT, 2))
    assert loads == [460, 540]


@pytest.mark.parametrize(("service", "records", "requested", "expected"), [
    ("gifting", 10 * MIN_RECORDS_PER_PROCESS, None, 1),
    ("gifting", 10 * MIN_RECORDS_PER_PROCESS, 4, 1),
    ("wallet", MIN_RECORDS_PER_PROCESS - 1, None, 1),
    ("wallet", 10 * MIN_RECORDS_PER_PROCESS, 1, 1),
    ("wallet", 10 * MIN_RECORDS_PER_PROCESS, 99, 6),
    ("payout", 2 * MIN_RECORDS_PER_PROCESS + 6, None, 2),
])
def test_processes_follow_the_log_size_the_partitions_and_the_request(
        service, records, requested, expected, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    ledger = f"{service}.ledger" if service != "gifting" else "gifting.gifts"
    cut = Cut({(ledger, p): records // 6 for p in range(6)})
    assert processes_for(service, cut, requested) == expected
