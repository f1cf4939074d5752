"""What a swap writes while the service stands still: only the rows that changed."""

from __future__ import annotations

from ops.replay.swap import _difference
from shared.readmodel import Rows

COLUMNS = ("scope", "scope_id", "sender_id", "points")


def test_changed_rows_are_replaced_new_ones_added_vanished_ones_removed():
    old = Rows(COLUMNS, [("stream", "s1", "u1", 10), ("stream", "s1", "u2", 5),
                         ("creator", "c1", "u1", 10)])
    new = Rows(COLUMNS, [("stream", "s1", "u1", 12), ("stream", "s1", "u2", 5),
                         ("stream", "s2", "u3", 1)])
    removed, added = _difference(old, new, ("scope", "scope_id", "sender_id"))
    assert sorted(removed) == [("creator", "c1", "u1", 10), ("stream", "s1", "u1", 10)]
    assert sorted(added) == [("stream", "s1", "u1", 12), ("stream", "s2", "u3", 1)]


def test_rows_with_lists_compare_by_value():
    columns = ("campaign_id", "gift_ids")
    old = Rows(columns, [("k1", ["rose", "lion"])])
    assert _difference(old, Rows(columns, [("k1", ["rose", "lion"])]), ("campaign_id",)) == (
        [], [])
    assert _difference(old, Rows(columns, [("k1", ["rose"])]), ("campaign_id",)) == (
        [("k1", ["rose", "lion"])], [("k1", ["rose"])])
