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


def gifting_cut(gifts: list[int], requests: list[int]) -> Cut:
    return Cut({("gifting.gifts", p): end for p, end in enumerate(gifts)}
               | {("streams.gift-requests", p): end for p, end in enumerate(requests)}
               | {("streams.lifecycle", p): 5 for p in range(3)}
               | {("catalog.changes", 0): 21})


def test_gifting_shares_take_the_same_partition_numbers_of_decisions_and_requests():
    cut = gifting_cut([10, 20, 30, 40], [40, 30, 20, 10])
    parts = shares("gifting", cut, 2)
    for part in parts:
        numbers = {p for (topic, p) in part.ends if topic == "gifting.gifts"}
        assert numbers == {p for (topic, p) in part.ends if topic == "streams.gift-requests"}
        assert part.ends[("catalog.changes", 0)] == 21
        assert all(part.ends[("streams.lifecycle", p)] == 5 for p in range(3))
    assert sorted(len(part.ends) for part in parts) == [8, 8]


def test_gifting_is_not_split_when_decisions_and_requests_are_not_co_partitioned(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    big = 10 * MIN_RECORDS_PER_PROCESS
    assert processes_for("gifting", gifting_cut([big] * 6, [big] * 6)) == 6
    assert processes_for("gifting", gifting_cut([big] * 6, [big] * 3)) == 1


def test_summed_tables_add_up_per_key_across_shares():
    from ops.replay.parallel import add_up
    from shared.readmodel import Rows
    columns = ("stream_id", "creator_id", "sends", "gifts", "coins", "points")
    merged = add_up([Rows(columns, [("s1", "c1", 1, 2, 30, 40), ("s2", "c2", 1, 1, 1, 1)]),
                     Rows(columns, [("s1", "c1", 2, 3, 5, 6)])], 2)
    assert merged.rows == [("s1", "c1", 3, 5, 35, 46), ("s2", "c2", 1, 1, 1, 1)]
