"""The one way tests wait: the first ready answer is returned, a streak of ready answers can be
required, errors meaning "not there yet" are waited out, and a timeout names what was awaited
and the last answer seen."""

from __future__ import annotations

import re

import pytest

from tests.waiting import wait_until, wait_until_blocking


def answers(*values):
    """A probe giving `values` in turn, then the last one for ever."""
    given = iter(values)
    last = None

    def probe():
        nonlocal last
        last = next(given, last)
        if isinstance(last, Exception):
            raise last
        return last
    return probe


def later(probe):
    """The same answers from a coroutine function."""
    async def awaited():
        return probe()
    return awaited


async def test_returns_the_first_ready_answer_of_a_plain_or_a_coroutine_probe():
    assert await wait_until(answers(0, None, 3, 4), interval_s=0) == 3
    assert await wait_until(later(answers(0, [], "x")), interval_s=0) == "x"
    assert wait_until_blocking(answers(0, 2), interval_s=0) == 2


async def test_ready_in_a_row_needs_that_many_ready_answers_without_a_gap():
    found = await wait_until(answers(1, 0, 2, 0, 3, 4, 5), ready=lambda n: n > 0, in_a_row=2,
                             interval_s=0)
    assert found == 4
    assert wait_until_blocking(answers(1, 0, 2, 3), ready=lambda n: n > 0, in_a_row=2,
                               interval_s=0) == 3


async def test_errors_meaning_not_yet_are_waited_out_and_others_are_raised():
    missing = LookupError("no table yet")
    assert await wait_until(answers(missing, missing, 7), not_yet=(LookupError,),
                            interval_s=0) == 7
    assert wait_until_blocking(answers(missing, 7), not_yet=(LookupError,), interval_s=0) == 7
    with pytest.raises(ValueError):
        await wait_until(answers(ValueError("broken")), not_yet=(LookupError,), interval_s=0)


async def test_a_timeout_names_what_was_awaited_and_the_last_answer():
    expected = re.escape("timed out after 0.05s waiting for three rows; last seen: [1, 2]")
    with pytest.raises(AssertionError, match=expected):
        await wait_until(answers([1], [1, 2]), ready=lambda rows: len(rows) >= 3,
                         timeout_s=0.05, interval_s=0.001, describe="three rows")
    with pytest.raises(AssertionError, match=expected):
        wait_until_blocking(answers([1], [1, 2]), ready=lambda rows: len(rows) >= 3,
                            timeout_s=0.05, interval_s=0.001, describe="three rows")


async def test_a_timeout_after_an_error_meaning_not_yet_shows_that_error():
    with pytest.raises(AssertionError, match=r"last seen: LookupError\('no table yet'\)"):
        await wait_until(answers(LookupError("no table yet")), not_yet=(LookupError,),
                         timeout_s=0.02, interval_s=0.001)
