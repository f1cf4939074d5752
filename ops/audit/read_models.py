"""The services' read tables against the log: every `wallet_balances`, `creator_balances` and
`stream_totals` row holds what the audit's replay of the log gives for that wallet, creator or
stream.

The audit itself reads the log alone; the read tables are what the services' APIs answer
from, so this is the check that the answers people see follow from the log. Run it only once
the economy has settled (ops.backlog): an event still in an outbox is not a disagreement. A
wallet or creator missing on one side counts as all zeros, so one that nothing touched needs
no row.

Per wallet: balance and debt. Per creator: earned, reserved, withdrawn, clawed back, debt, and
held + available (their split depends on the time a row was written, their sum does not). Per
stream: sends, gifts, coins and points of its delivered gifts.
"""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from ops.audit.fold import Auditor
from ops.audit.model import Invariant

READ_MODELS = "read_models"
DESCRIPTION = ("wallet_balances, creator_balances and stream_totals hold, per wallet, creator "
               "and stream, what the log adds up to")

WALLET_FIGURES = ("balance", "debt")
CREATOR_FIGURES = ("earned", "reserved", "withdrawn", "clawed_back", "debt",
                   "held + available")
STREAM_FIGURES = ("sends", "gifts", "coins", "points")

Figures = dict[str, dict[str, int]]
"""By wallet or creator id: figure name -> value."""


def replayed_wallets(auditor: Auditor) -> Figures:
    return {user_id: {"balance": wallet.balance, "debt": wallet.debt}
            for user_id, wallet in auditor.wallets.wallets.items()}


def replayed_creators(auditor: Auditor) -> Figures:
    figures = {}
    for creator_id, creator in auditor.creators.creators.items():
        owned = creator.earned - creator.withdrawn - creator.reserved - creator.clawed
        figures[creator_id] = {
            "earned": creator.earned, "reserved": creator.reserved,
            "withdrawn": creator.withdrawn, "clawed_back": creator.clawed,
            "debt": creator.debt, "held + available": owned + creator.debt}
    return figures


def replayed_streams(auditor: Auditor) -> Figures:
    return {stream_id: dict(zip(STREAM_FIGURES, totals, strict=True))
            for stream_id, totals in auditor.stream_totals.items()}


def compare(invariant: Invariant, table: str, names: tuple[str, ...], stored: Figures,
            replayed: Figures) -> None:
    """One check per entity of either side: every figure of its row equals the replay's."""
    zeros = dict.fromkeys(names, 0)
    for entity in sorted(stored.keys() | replayed.keys()):
        row, log = stored.get(entity, zeros), replayed.get(entity, zeros)
        differing = [f"{name} {row[name]} (log: {log[name]})" for name in names
                     if row[name] != log[name]]
        if differing:
            invariant.fail(f"{table} row of {entity}"
                           + ("" if entity in stored else " (missing)") + ": "
                           + ", ".join(differing))
        else:
            invariant.ok()


async def check_read_models(conn: asyncpg.Connection | asyncpg.Pool,
                            schemas: Mapping[str, str], auditor: Auditor) -> Invariant:
    """`schemas` are the services' schemas, quoted (Namespace.schemas); `auditor` has been fed
    the log those services wrote."""
    invariant = Invariant(READ_MODELS, DESCRIPTION)
    wallet, payout, gifting = schemas["wallet"], schemas["payout"], schemas["gifting"]
    wallets = await conn.fetch(
        f"SELECT user_id, balance, debt FROM {wallet}.wallet_balances")
    compare(invariant, "wallet_balances", WALLET_FIGURES,
            {row["user_id"]: {"balance": row["balance"], "debt": row["debt"]}
             for row in wallets}, replayed_wallets(auditor))
    creators = await conn.fetch(
        f"SELECT creator_id, earned, reserved, withdrawn, clawed_back, debt,"
        f" held + available AS owned FROM {payout}.creator_balances")
    compare(invariant, "creator_balances", CREATOR_FIGURES,
            {row["creator_id"]: {"earned": row["earned"], "reserved": row["reserved"],
                                 "withdrawn": row["withdrawn"],
                                 "clawed_back": row["clawed_back"], "debt": row["debt"],
                                 "held + available": row["owned"]} for row in creators},
            replayed_creators(auditor))
    streams = await conn.fetch(
        f"SELECT stream_id, {', '.join(STREAM_FIGURES)} FROM {gifting}.stream_totals")
    compare(invariant, "stream_totals", STREAM_FIGURES,
            {row["stream_id"]: {name: row[name] for name in STREAM_FIGURES} for row in streams},
            replayed_streams(auditor))
    return invariant
