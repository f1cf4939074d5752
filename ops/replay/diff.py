"""Row-by-row comparison of two versions of a table: pure, on rows already fetched."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Row = Mapping[str, Any]


@dataclass
class TableDiff:
    table: str
    live_rows: int = 0
    rebuilt_rows: int = 0
    missing: list[tuple] = field(default_factory=list)
    """Keys of rows the live table has and the rebuild lacks."""
    extra: list[tuple] = field(default_factory=list)
    """Keys of rows only the rebuild has."""
    differing: list[tuple[tuple, str, Any, Any]] = field(default_factory=list)
    """(key, column, live value, rebuilt value)."""

    @property
    def equal(self) -> bool:
        return not (self.missing or self.extra or self.differing)

    def lines(self, limit: int = 20) -> list[str]:
        out = [f"{self.table}: live {self.live_rows} rows, rebuilt {self.rebuilt_rows} rows, "
               f"{len(self.missing)} missing, {len(self.extra)} extra, "
               f"{len(self.differing)} differing values"]
        for key in self.missing[:limit]:
            out.append(f"  missing in rebuild: {key}")
        for key in self.extra[:limit]:
            out.append(f"  extra in rebuild:   {key}")
        for key, column, live, rebuilt in self.differing[:limit]:
            out.append(f"  {key} {column}: live={_short(live)} rebuilt={_short(rebuilt)}")
        hidden = (max(0, len(self.missing) - limit) + max(0, len(self.extra) - limit)
                  + max(0, len(self.differing) - limit))
        if hidden:
            out.append(f"  ... and {hidden} more")
        return out


def _short(value: Any, width: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= width else text[:width] + "..."


def diff_rows(table: str, live: Iterable[Row], rebuilt: Iterable[Row], keys: Sequence[str],
              excluded: Iterable[str] = (),
              normalize: Mapping[str, Callable[[Any], Any]] | None = None) -> TableDiff:
    """Match rows by `keys`; compare every other column not excluded (the union of both sides'
    columns: a column only one side has differs)."""
    normalize = normalize or {}
    skip = set(excluded) | set(keys)
    live_by_key = _by_key(live, keys)
    rebuilt_by_key = _by_key(rebuilt, keys)
    result = TableDiff(table, len(live_by_key), len(rebuilt_by_key))
    result.missing = sorted((k for k in live_by_key if k not in rebuilt_by_key), key=repr)
    result.extra = sorted((k for k in rebuilt_by_key if k not in live_by_key), key=repr)
    for key in sorted((k for k in live_by_key if k in rebuilt_by_key), key=repr):
        a, b = live_by_key[key], rebuilt_by_key[key]
        for column in sorted((set(a) | set(b)) - skip):
            left, right = a.get(column, _ABSENT), b.get(column, _ABSENT)
            if column in normalize:
                left = normalize[column](left) if left not in (None, _ABSENT) else left
                right = normalize[column](right) if right not in (None, _ABSENT) else right
            if not _same(left, right):
                result.differing.append((key, column, left, right))
    return result


class _Absent:
    def __repr__(self) -> str:
        return "<no such column>"


_ABSENT = _Absent()


def _same(a: Any, b: Any) -> bool:
    # Bit for bit: a value equals only a value of the same type (True is not 1, 1 is not 1.0).
    return type(a) is type(b) and a == b


def _by_key(rows: Iterable[Row], keys: Sequence[str]) -> dict[tuple, Row]:
    found: dict[tuple, Row] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        if key in found:
            raise ValueError(f"duplicate key {key}")
        found[key] = row
    return found
