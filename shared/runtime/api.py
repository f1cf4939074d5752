"""What every service's HTTP reads share: ids, cursors, time parameters, error bodies, and the
entries of an entity's history.

Every parameter is bounded by what the database can take, so a request PostgreSQL would refuse
is a 422 before it reaches the database, never a 500 from it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Union

from fastapi import HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, create_model

from shared.contract.codec import current_version
from shared.contract.topics import Topic
from shared.contract.upcasting import upcast

BIGINT_MAX = 2**63 - 1
"""The largest PostgreSQL bigint: every sequence number and cursor fits in one."""

IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:@-]{1,128}$")]

Seq = Annotated[int, Field(ge=1, description="Position in the entity's history (increasing)")]

Cursor = Annotated[int, Query(
    ge=0, le=BIGINT_MAX,
    description="Cursor: `next` of the previous page; 0 (the default) starts at the beginning")]

NextCursor = Annotated[int | None, Field(
    ge=1, description="`after` for the next page; null when this page is the last")]

_ISO_8601 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)?")


def _iso_8601_text(value: object) -> object:
    # pydantic also takes numbers and numeric text as Unix times: a moment of the log is asked
    # for as a date-time, so a stray `to=0.5` is refused rather than read as 1970.
    if not isinstance(value, str) or not _ISO_8601.fullmatch(value):
        raise ValueError("expected an ISO 8601 date-time, such as 2026-03-01T12:00:00Z")
    return value


EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def _in_utc(moment: datetime) -> datetime:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    try:
        return aware.astimezone(UTC)
    except OverflowError:
        # A valid date-time whose offset takes it past year 1 or 9999 in UTC: before or after
        # anything the log can hold, so the earliest or latest moment answers the same.
        return EARLIEST if aware.year == 1 else LATEST


Moment = Annotated[datetime, BeforeValidator(_iso_8601_text), AfterValidator(_in_utc)]
"""A moment of log time: an ISO 8601 date-time (UTC when it names no offset), in UTC."""


class Problem(BaseModel):
    """Why a request got no answer."""

    detail: str


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "Nothing is known of this id; `detail` names it"}}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": Problem, "description": "The database does not answer; try again shortly"}}


def not_found(detail: str) -> HTTPException:
    return HTTPException(404, detail)


def invalid_query(name: str, value: object, message: str) -> RequestValidationError:
    """A 422 with the body FastAPI gives any invalid parameter, for checks across parameters."""
    return RequestValidationError([{"type": "value_error", "loc": ("query", name),
                                    "msg": message, "input": value}])


def entry_model(topic: Topic) -> Any:
    """An entry of an entity's history: one event of `topic` as published, with its `seq`."""
    entries = tuple(create_model(f"{event.__name__}Entry", __base__=event,
                                 __doc__=event.__doc__, seq=(Seq, ...))
                    for event in topic.events)
    if len(entries) == 1:
        return entries[0]
    return Annotated[Union[entries], Field(discriminator="type")]  # noqa: UP007 - `|` cannot join a tuple


def entries(topic: Topic, rows: Iterable[Any]) -> list[dict[str, Any]]:
    """History rows (seq, payload) as entries: payloads of older schema versions are upcast,
    so every entry has the shape the document shows."""
    found = []
    for row in rows:
        payload = row["payload"]
        model = topic.event_types.get(payload.get("type"))
        version = current_version(model) if model is not None else None
        if version is not None and payload.get("schema_version") != version:
            payload = upcast(payload, version)
        found.append({**payload, "seq": row["seq"]})
    return found


def next_cursor(rows: Sequence[Any], limit: int) -> int | None:
    return rows[-1]["seq"] if len(rows) == limit else None
