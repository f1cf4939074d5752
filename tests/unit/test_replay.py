"""Pure pieces of ops.replay: row diffing, partition choice, snapshot selection, --as-of."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka.partitioner import DefaultPartitioner

from ops.replay.diff import diff_rows
from ops.replay.pit import Point, choose_mark, marks_between, parse_as_of, partition_for


def test_equal_tables_have_no_differences():
    rows = [{"id": "a", "n": 1, "at": "x"}, {"id": "b", "n": 2, "at": "y"}]
    diff = diff_rows("t", rows, list(reversed(rows)), ["id"])
    assert diff.equal and (diff.live_rows, diff.rebuilt_rows) == (2, 2)


def test_missing_extra_and_differing_rows_are_reported():
    live = [{"id": "a", "n": 1}, {"id": "b", "n": 2}, {"id": "c", "n": 3}]
    rebuilt = [{"id": "b", "n": 2}, {"id": "c", "n": 4}, {"id": "d", "n": 5}]
    diff = diff_rows("t", live, rebuilt, ["id"])
    assert diff.missing == [("a",)]
    assert diff.extra == [("d",)]
    assert diff.differing == [(("c",), "n", 3, 4)]
    assert not diff.equal
    assert any("missing in rebuild" in line for line in diff.lines())


def test_excluded_columns_are_not_compared_and_types_must_match():
    live = [{"id": 1, "n": 1, "updated_at": 1, "flag": True}]
    rebuilt = [{"id": 1, "n": 1, "updated_at": 2, "flag": 1}]
    diff = diff_rows("t", live, rebuilt, ["id"], excluded=["updated_at"])
    assert diff.differing == [((1,), "flag", True, 1)]


def test_normalized_columns_compare_as_values():
    live = [{"id": 1, "state": '{"s": [1, 2]}'}]
    rebuilt = [{"id": 1, "state": '{"s": [2, 1]}'}]
    assert not diff_rows("t", live, rebuilt, ["id"]).equal
    import json
    as_set = {"state": lambda raw: frozenset(json.loads(raw)["s"])}
    assert diff_rows("t", live, rebuilt, ["id"], normalize=as_set).equal


def test_a_column_only_one_side_has_differs():
    diff = diff_rows("t", [{"id": 1, "x": 1}], [{"id": 1}], ["id"])
    assert [(column, live) for _, column, live, _ in diff.differing] == [("x", 1)]


def test_duplicate_keys_are_refused():
    with pytest.raises(ValueError):
        diff_rows("t", [{"id": 1}, {"id": 1}], [], ["id"])


@pytest.mark.parametrize("key", ["viewer-1", "creator-abc-7", "u", "ünïcode", "x" * 200])
@pytest.mark.parametrize("partitions", [1, 3, 6, 7])
def test_partition_choice_is_kafkas_default_partitioner(key, partitions):
    expected = DefaultPartitioner()(key.encode(), list(range(partitions)), list(range(partitions)))
    assert partition_for(key, partitions) == expected == partition_for(key.encode(), partitions)


def test_the_latest_snapshot_at_or_before_the_offset_is_chosen():
    marks = [10, 20, 30]
    assert choose_mark(marks, 5) is None
    assert choose_mark(marks, 10) == 10
    assert choose_mark(marks, 29) == 20
    assert choose_mark(marks, 1000) == 30
    assert choose_mark([], 3) is None


def test_marks_are_the_multiples_of_every_past_the_start():
    assert marks_between(0, 25, 10) == [10, 20]
    assert marks_between(10, 30, 10) == [20, 30]
    assert marks_between(10, 10, 10) == []
    assert marks_between(0, 9, 10) == []


def test_as_of_forms():
    assert parse_as_of("2:17", 2) == Point(2, 17, None)
    assert parse_as_of("17", 4) == Point(4, 17, None)
    assert parse_as_of("2026-05-01T12:00:00", 1).at == datetime(2026, 5, 1, 12, tzinfo=UTC)
    with pytest.raises(ValueError, match="partition 2"):
        parse_as_of("3:17", 2)
    with pytest.raises(ValueError):
        parse_as_of("yesterday", 0)
