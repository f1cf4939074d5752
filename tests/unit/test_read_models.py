"""Each service's read model is described once: the rows its projection gives have the
columns its tables declare, and the row functions the live store writes with follow the rules
their docstrings state."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.payout.projection import payout_row
from services.registry import SERVICES, projection
from shared.contract.events.payout import (
    PayoutPosted,
    PayoutRejected,
    PayoutRejection,
    PayoutReleased,
    PayoutReserved,
)
from shared.readmodel import ReadTable

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 12, tzinfo=UTC)


@pytest.mark.parametrize("service", [definition.name for definition in SERVICES])
def test_a_projection_gives_rows_of_exactly_the_tables_and_columns_it_declares(service):
    folding = projection(service)
    declared = {table.name: table.column_names for table in folding.tables}
    given = {name: rows.columns for name, rows in folding.rows().items()}
    assert given == declared


def test_an_upsert_replaces_every_column_but_the_key_and_carries_json_as_text():
    table = ReadTable("things", (("thing_id", "text"), ("count", "bigint"), ("body", "json")),
                      keys=("thing_id",))
    assert table.upsert_sql() == (
        "INSERT INTO things (thing_id, count, body) SELECT thing_id, count, body::json"
        " FROM unnest($1::text[], $2::bigint[], $3::text[]) AS x(thing_id, count, body)"
        " ON CONFLICT (thing_id) DO UPDATE SET count = EXCLUDED.count, body = EXCLUDED.body")
    assert table.insert_sql == table.upsert_sql().split(" ON CONFLICT ")[0]
    assert table.upsert_sql(replaced=("count",)).endswith(
        "ON CONFLICT (thing_id) DO UPDATE SET count = EXCLUDED.count")


def test_rows_added_to_stored_ones_are_summed_per_key_and_written_in_key_order():
    table = ReadTable("tally", (("tally_id", "text"), ("owner", "text"), ("hits", "bigint")),
                      keys=("tally_id",))
    sql = table.add_sql(("hits",))
    assert sql.startswith("INSERT INTO tally AS stored (tally_id, owner, hits)"
                          " SELECT tally_id, owner, sum(hits) FROM (SELECT")
    assert sql.endswith("GROUP BY tally_id, owner ORDER BY tally_id ON CONFLICT (tally_id)"
                        " DO UPDATE SET hits = stored.hits + EXCLUDED.hits")


def test_a_table_matched_by_ordinal_is_never_upserted():
    table = ReadTable("log", (("entity", "text"), ("body", "json")), keys=("entity", "ordinal"),
                      ordinal=(("entity",), "seq"))
    with pytest.raises(ValueError):
        table.upsert_sql()


def test_a_table_with_an_array_column_is_written_row_by_row():
    table = ReadTable("tagged", (("tag_id", "text"), ("tags", "text[]")), keys=("tag_id",))
    assert table.upsert_sql().startswith(
        "INSERT INTO tagged (tag_id, tags) VALUES ($1::text, $2::text[]) ON CONFLICT")


def test_a_name_that_is_not_a_plain_identifier_is_refused():
    with pytest.raises(ValueError):
        ReadTable("things; drop", (("thing_id", "text"),), keys=("thing_id",))


def _reserved() -> PayoutReserved:
    # Only the fields a payouts row reads: the row functions never validate.
    return PayoutReserved.model_construct(
        occurred_at=AT, payout_id="p1", creator_id="c1", diamonds=1_000, gross_minor=500,
        fee_minor=25, net_minor=475, currency="USD", rate_version="r1")


def test_a_reserved_payout_is_paid_or_failed_once_settled():
    reserved = payout_row(None, _reserved())
    assert reserved[2:4] == ("reserved", 1_000) and reserved[-1] is None
    posted = PayoutPosted.model_construct(occurred_at=LATER, payout_id="p1", creator_id="c1")
    paid = payout_row(reserved, posted)
    assert (paid[2], paid[9], paid[10], paid[11]) == ("paid", None, AT, LATER)
    assert paid[3:9] == reserved[3:9]
    released = PayoutReleased.model_construct(occurred_at=LATER, payout_id="p1", creator_id="c1",
                                              reason="bank_closed")
    failed = payout_row(reserved, released)
    assert (failed[2], failed[9], failed[11]) == ("failed", "bank_closed", LATER)


def test_a_rejection_writes_a_row_only_for_a_payout_without_one():
    rejected = PayoutRejected.model_construct(occurred_at=AT, payout_id="p1", creator_id="c1",
                                              diamonds=10, reason=list(PayoutRejection)[0])
    row = payout_row(None, rejected)
    assert row[2] == "rejected" and row[10] == row[11] == AT
    reserved = payout_row(None, _reserved())
    assert payout_row(reserved, rejected) == reserved


def test_settling_a_payout_without_a_row_writes_none():
    posted = PayoutPosted.model_construct(occurred_at=LATER, payout_id="p9", creator_id="c1")
    assert payout_row(None, posted) is None


def test_an_earning_row_holds_every_field_of_an_earning_in_the_order_of_its_columns():
    from dataclasses import fields

    from services.payout.domain import Earning
    from services.payout.projection import EARNING_FIELDS, earning_of, earning_rows
    assert sorted(EARNING_FIELDS) == sorted(f.name for f in fields(Earning))
    earning = Earning("r1", 100, 40, 3, AT, 10, 4, 1)
    [row] = earning_rows([("c1", earning)])
    assert row == ("c1", *(getattr(earning, name) for name in EARNING_FIELDS))
    assert earning_of(dict(zip(("creator_id", *EARNING_FIELDS), row, strict=True))) == earning
