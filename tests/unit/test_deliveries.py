"""The relay's sends in flight: deleted only once acknowledged, oldest first, never forgotten."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaTimeoutError

from shared.runtime.deliveries import Deliveries


def futures(count: int) -> list[asyncio.Future[None]]:
    loop = asyncio.get_running_loop()
    return [loop.create_future() for _ in range(count)]


async def settled() -> None:
    """Lets the gathering futures see their parts done."""
    for _ in range(3):
        await asyncio.sleep(0)


async def test_rows_are_taken_for_deletion_only_when_every_send_before_them_is_acknowledged():
    woken = []
    deliveries = Deliveries(on_settled=lambda: woken.append(True))
    first, second = futures(2), futures(1)
    deliveries.add([1, 2], first, deadline=10.0)
    deliveries.add([5], second, deadline=10.0)
    assert deliveries.in_flight() == [1, 2, 5]
    assert deliveries.unacknowledged == 3

    second[0].set_result(None)
    first[0].set_result(None)
    await settled()
    assert deliveries.take_acknowledged(now=1.0) == []  # row 2 is not acknowledged yet
    assert woken == [True]

    first[1].set_result(None)
    await settled()
    assert deliveries.take_acknowledged(now=1.0) == [1, 2, 5]
    assert deliveries.in_flight() == []
    assert deliveries.unacknowledged == 0
    assert deliveries.empty


async def test_a_failed_send_ends_the_session_even_behind_one_still_waiting():
    deliveries = Deliveries(on_settled=lambda: None)
    waiting, failing = futures(1), futures(1)
    deliveries.add([1], waiting, deadline=10.0)
    deliveries.add([2], failing, deadline=10.0)
    failing[0].set_exception(KafkaTimeoutError())
    await settled()

    with pytest.raises(KafkaTimeoutError):
        deliveries.take_acknowledged(now=1.0)
    waiting[0].cancel()


async def test_the_oldest_send_overdue_ends_the_session():
    deliveries = Deliveries(on_settled=lambda: None)
    waiting = futures(1)
    deliveries.add([1], waiting, deadline=5.0)

    assert deliveries.seconds_to_deadline(now=4.0) == 1.0
    assert deliveries.take_acknowledged(now=4.0) == []
    with pytest.raises(TimeoutError):
        deliveries.take_acknowledged(now=5.0)
    waiting[0].cancel()


async def test_nothing_in_flight_has_no_deadline():
    deliveries = Deliveries(on_settled=lambda: None)
    assert deliveries.seconds_to_deadline(now=1.0) is None
    assert deliveries.take_acknowledged(now=1.0) == []
    assert deliveries.empty
