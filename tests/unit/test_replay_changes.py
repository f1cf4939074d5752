"""A swap writes only the rows of entities that changed since its rebuild: the rows written
first, with the fold's changes() applied, must be exactly the rows of a fold of the whole log."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bench.fold_micro import build_log, log_records
from ops.replay.rebuild import read_tables
from services.registry import projection
from shared.contract.events.policy import SpendingPolicySet
from shared.logread import LogRecord
from shared.readmodel import Rows, TableChange

SERVICES = ("wallet", "gifting", "payout")


@pytest.fixture(scope="module")
def encoded_log():
    # Decided by the services' own pure decisions: purchases, gifts, refunds, chargebacks,
    # promo expiry, payouts and provider answers (bench/log_generator.py).
    return asyncio.run(build_log(6000, 300, 8, seed=11))


def records_of(encoded_log, service: str) -> list[LogRecord]:
    return log_records(encoded_log, {topic.name for topic in projection(service).topics})


def applied(before: dict[str, Rows], changes: dict[str, TableChange]) -> dict[str, list[tuple]]:
    """What write_tracked_changes leaves in the tables, computed in memory."""
    after = {table: list(rows.rows) for table, rows in before.items()}
    for table, change in changes.items():
        rows = after[table]
        if change.replace_all:
            rows = []
        elif change.keys:
            positions = [before[table].columns.index(c) for c in change.key_columns]
            gone = set(change.keys)
            rows = [row for row in rows if tuple(row[i] for i in positions) not in gone]
        after[table] = rows + list(change.rows.rows)
    return after


def canonical(rows: Sequence[tuple]) -> list[str]:
    return sorted(repr(row) for row in rows)


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("split", [0.2, 0.5, 0.9, 0.999])
def test_rows_written_then_changes_equal_the_rows_of_the_whole_fold(encoded_log, service,
                                                                     split):
    records = records_of(encoded_log, service)
    cut = int(len(records) * split)
    whole = projection(service)
    whole.apply_batch(records)
    expected = whole.rows()

    folding = projection(service)
    folding.apply_batch(records[:cut])
    written = folding.rows()
    folding.track_changes()
    folding.apply_batch(records[cut:])
    changes = folding.changes()

    assert changes is not None
    assert set(changes) <= {table.name for table in read_tables(service)}
    after = applied(written, changes)
    for table, rows in expected.items():
        assert canonical(after[table]) == canonical(rows.rows), table
    # Only rows an event changed are written again, not the whole projection: at most a few
    # per record folded since (an entity's snapshot and balance, a gift and its totals).
    rewritten = sum(len(change.rows.rows) for table, change in changes.items()
                    if table != "event_history")
    assert rewritten <= 4 * (len(records) - cut)


def test_a_spending_policy_change_makes_the_wallet_compare_every_row(encoded_log):
    records = records_of(encoded_log, "wallet")
    policy = [r for r in records if r.decoded is not None
              and isinstance(r.decoded.event, SpendingPolicySet)]
    ledger = [r for r in records if r.topic != "policy.changes"]
    assert policy, "the generated log sets a spending policy"
    folding = projection("wallet")
    folding.apply_batch(ledger[:100])
    folding.track_changes()
    folding.apply_batch(ledger[100:200])
    assert folding.changes() is not None
    folding.apply_batch(policy[-1:])
    assert folding.changes() is None


def test_changes_need_tracking_first():
    with pytest.raises(RuntimeError):
        projection("payout").changes()
