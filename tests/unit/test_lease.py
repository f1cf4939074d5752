"""The relay's lease on its own clock: renewed when due, valid until TTL after the renewal was
sent, lost when the row answers with another epoch or nothing."""

from __future__ import annotations

from typing import Any

import pytest

from shared.runtime import lease as lease_module
from shared.runtime.lease import Lease, LeaseLost
from shared.runtime.relay import PUBLISH_TIMEOUT_S


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Row:
    """The relay_lease row as the UPDATE answers: the epoch, or None when another holds it."""

    def __init__(self, *answers: int | None):
        self.answers = list(answers)
        self.asked = 0

    async def fetchval(self, *_: Any) -> int | None:
        self.asked += 1
        return self.answers.pop(0)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(lease_module.time, "monotonic", clock)
    return clock


async def test_a_lease_is_renewed_only_when_due_and_keeps_its_epoch(clock):
    lease, row = Lease("me", ttl_s=10, renew_every_s=2), Row(7, 7)
    assert await lease.try_take(row) and lease.epoch == 7
    clock.now += 1.9
    await lease.keep(row)
    assert row.asked == 1
    assert lease.seconds_to_renewal() == pytest.approx(0.1)
    clock.now += 0.1
    await lease.keep(row)
    assert row.asked == 2 and lease.epoch == 7


async def test_past_its_own_deadline_a_relay_may_not_send(clock):
    lease = Lease("me", ttl_s=10, renew_every_s=2)
    await lease.try_take(Row(1))
    clock.now += 9.99
    lease.check()
    clock.now += 0.01
    with pytest.raises(LeaseLost):
        lease.check()
    assert lease.epoch is None


@pytest.mark.parametrize("answer", [None, 8])
async def test_a_renewal_that_finds_the_lease_taken_or_moved_on_loses_it(clock, answer):
    lease = Lease("me", ttl_s=10, renew_every_s=2)
    row = Row(7, answer)
    await lease.try_take(row)
    clock.now += 2
    with pytest.raises(LeaseLost):
        await lease.keep(row)
    assert lease.epoch is None


async def test_a_free_lease_is_not_held_and_cannot_be_kept(clock):
    lease = Lease("me")
    assert not await lease.try_take(Row(None))
    with pytest.raises(LeaseLost):
        await lease.keep(Row())


def test_a_lease_renewed_less_often_than_it_lasts():
    with pytest.raises(ValueError):
        Lease("me", ttl_s=2, renew_every_s=2)
    assert lease_module.LEASE_TTL_S >= 2 * PUBLISH_TIMEOUT_S, "comfortably above it"
