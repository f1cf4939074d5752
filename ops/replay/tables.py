"""Which tables of each service schema are its read model, how rows are keyed, and what a
verification leaves out.

Compared: every column of every read table, except the ones listed in `excluded`:

- the runtime tables `tracking`, `inbox`, `outbox`, `entity_locks`, `schema_migrations`:
  progress of the consumer and the relay, and the rows instances lock, not state (a swap moves
  the live ones into the rebuilt schema);
- `updated_at` of the snapshot tables (`wallets`, `creators`): wall-clock time of the save;
- `version` of the snapshot tables: how many batches saved the row, which depends on batching;
- `seq` of `event_history` and `policy_events`: a bigserial in decision order across entities.
  Rows are matched instead by (entity, ordinal within the entity in seq order), and
  `policy_events` by its ordinal, so the order of each entity's events is still compared.

`wallet_balances.updated_at` and `creator_balances.as_of` are log time (the occurred_at of the
deciding input / the creator's clock), so they are compared. Snapshot `state` columns are
compared as domain objects (loaded with the service's own loader), because JSON arrays dumped
from frozensets have no stable order across processes. Other JSON columns (event payloads) are
compared as JSON values, not as text: rows written before they were stored as text hold
PostgreSQL's re-encoding of the same JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

RUNTIME_TABLES = ("tracking", "inbox", "outbox", "entity_locks", "schema_migrations")


@dataclass(frozen=True)
class TableSpec:
    name: str
    keys: tuple[str, ...]
    excluded: tuple[str, ...] = ()
    ordinal: tuple[tuple[str, ...], str] | None = None
    """(partition columns, order column): rows get a synthetic `ordinal` key column."""
    normalize: dict[str, Callable[[Any], Any]] = field(default_factory=dict)

    def select_sql(self, schema: str) -> str:
        if self.ordinal is None:
            return f'SELECT * FROM "{schema}".{self.name}'
        partition, order = self.ordinal
        over = (f"PARTITION BY {', '.join(partition)} " if partition else "") + f"ORDER BY {order}"
        return f'SELECT *, row_number() OVER ({over}) AS ordinal FROM "{schema}".{self.name}'


def _wallet_state(raw: Any) -> Any:
    from services.wallet.store import wallets
    return wallets.load_json(raw)


def _creator_state(raw: Any) -> Any:
    from services.payout.snapshot import load
    # Earnings are compared as rows of `earnings`; a row saved with every earning in it (before
    # that table existed) compares as the row it would be saved as now.
    return load(raw).without_earnings()


HISTORY = TableSpec("event_history", keys=("entity", "ordinal"), excluded=("seq",),
                    ordinal=(("entity",), "seq"), normalize={"payload": orjson.loads})

TABLES: dict[str, tuple[TableSpec, ...]] = {
    "wallet": (
        TableSpec("wallets", ("key",), ("version", "updated_at"),
                  normalize={"state": _wallet_state}),
        TableSpec("wallet_balances", ("user_id",)),
        TableSpec("spending_policy", ("singleton",)),
        HISTORY,
    ),
    "payout": (
        TableSpec("creators", ("key",), ("version", "updated_at"),
                  normalize={"state": _creator_state}),
        TableSpec("earnings", ("creator_id", "request_id")),
        TableSpec("creator_balances", ("creator_id",)),
        TableSpec("payouts", ("payout_id",)),
        TableSpec("policy_events", ("ordinal",), ("seq",), ordinal=((), "seq"),
                  normalize={"payload": orjson.loads}),
        HISTORY,
    ),
    "gifting": (
        TableSpec("catalog_gifts", ("gift_id",)),
        TableSpec("campaigns", ("campaign_id",)),
        TableSpec("streams", ("stream_id",)),
        TableSpec("creator_ages", ("user_id",)),
        TableSpec("gifts", ("request_id",), normalize={"priced_event": orjson.loads}),
        TableSpec("stream_totals", ("stream_id",)),
        TableSpec("gifter_scores", ("scope", "scope_id", "sender_id")),
        HISTORY,
    ),
}

SERVICES = tuple(TABLES)
