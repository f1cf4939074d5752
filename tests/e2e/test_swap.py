"""`coinlog replay --swap` on the running services: the rebuilt tables take over without a gift
lost or decided twice, including what the services did between the rebuild and the switch, and
the services go on working in them; a swap that must find both equal refuses when they are not."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest

from ops.replay.rebuild import rebuild, take_cut, verify
from ops.replay.swap import SwapRefused, swap
from tests.e2e.test_economy import a_live_stream, an_adult_with_coins, balance, gift_status
from tests.e2e.test_replay import SERVICES, all_caught_up

pytestmark = pytest.mark.integration

DOUGHNUT_COINS = 30


async def schemas_like(conn: asyncpg.Connection, pattern: str) -> list[str]:
    return [row["nspname"] for row in await conn.fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 ORDER BY nspname", pattern)]


async def test_swap_hands_the_running_services_over_to_rebuilt_tables(world, economy, infra):
    prefix = economy.topic_prefix
    creator = world.id("creator")
    stream = await a_live_stream(world, economy, creator)
    sender, _ = await an_adult_with_coins(world, economy, 100 * DOUGHNUT_COINS)
    before = [world.gift(sender, stream, "doughnut") for _ in range(40)]
    await world.publish(*before)
    for gift in before:
        assert (await gift_status(economy, gift))["status"] == "sent"

    conn = await asyncpg.connect(infra.database_url)
    replaced: list[str] = []
    try:
        for number, service in enumerate(SERVICES):
            live = economy.processes[service].schema
            during = [world.gift(sender, stream, "doughnut") for _ in range(10)]

            async def gifts_decided_between_rebuild_and_switch(gifts=during, number=number):
                await world.publish(*gifts)
                for gift in gifts:
                    assert (await gift_status(economy, gift))["status"] == "sent"
                sent = 40 + 10 * (number + 1)
                await balance(economy, sender, (100 - sent) * DOUGHNUT_COINS)
                await economy.json_when(
                    "payout", f"/creators/{creator}",
                    lambda body, sent=sent: body["held"] == sent * DOUGHNUT_COINS // 2)

            result = await swap(service, live, prefix, require_equal=True,
                                on_rebuilt=gifts_decided_between_rebuild_and_switch)
            print(result.summary())
            replaced.append(result.replaced_schema)
            assert result.verification is not None and result.verification.equal
            # What the service decided after the rebuild was folded in under the lock.
            assert result.caught_up_records + result.pending_outbox >= len(during)
            assert result.replaced_schema in await schemas_like(conn, f"{live}_replaced_%")
            moved = await conn.fetchval(
                "SELECT count(*) FROM information_schema.tables"
                " WHERE table_schema = $1 AND table_name IN ('tracking', 'inbox', 'outbox')",
                live)
            assert moved == 3

        # The services carry on in the swapped-in tables: every gift decided exactly once.
        after = [world.gift(sender, stream, "doughnut") for _ in range(20)]
        await world.publish(*after)
        for gift in after:
            assert (await gift_status(economy, gift))["status"] == "sent"
        sent = 40 + 30 + 20
        body = await balance(economy, sender, (100 - sent) * DOUGHNUT_COINS)
        assert body["balance"] == 10 * DOUGHNUT_COINS
        await economy.json_when("payout", f"/creators/{creator}",
                                lambda body: body["held"] == sent * DOUGHNUT_COINS // 2)
        one_too_many = [world.gift(sender, stream, "lion")]
        await world.publish(*one_too_many)
        assert (await gift_status(economy, one_too_many[0]))["status"] == "failed"

        # And a fresh rebuild still equals them.
        await all_caught_up(economy)
        for service in SERVICES:
            live = economy.processes[service].schema
            target = f"{live}_rebuild_check"
            await conn.execute(f'DROP SCHEMA IF EXISTS "{target}" CASCADE')
            await rebuild(service, target, prefix, await take_cut(service, prefix))
            try:
                outcome = await verify(service, live, target)
                assert outcome.equal, "\n".join(outcome.lines())
            finally:
                await conn.execute(f'DROP SCHEMA "{target}" CASCADE')
    finally:
        for schema in replaced:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


async def test_swap_requiring_equal_tables_refuses_and_changes_nothing(world, economy, infra):
    prefix = economy.topic_prefix
    viewer, _ = await an_adult_with_coins(world, economy, 500)
    await all_caught_up(economy)
    live = economy.processes["wallet"].schema
    conn = await asyncpg.connect(infra.database_url)
    kept: list[str] = []
    try:
        before = set(await schemas_like(conn, f"{live}_%"))
        await conn.execute(f'UPDATE "{live}".wallet_balances SET balance = balance + 7'
                           " WHERE user_id = $1", viewer)
        try:
            with pytest.raises(SwapRefused) as refused:
                await swap("wallet", live, prefix, require_equal=True)
        finally:
            await conn.execute(f'UPDATE "{live}".wallet_balances SET balance = balance - 7'
                               " WHERE user_id = $1", viewer)
        verification = refused.value.verification
        assert verification is not None and not verification.equal
        differing = [d for table in verification.tables for d in table.differing]
        assert [(key, column) for key, column, _, _ in differing] == [((viewer,), "balance")]
        kept = sorted(set(await schemas_like(conn, f"{live}_%")) - before)
        # Only the rebuild, kept for inspection; the live schema keeps its runtime tables.
        assert [name.rsplit("_", 1)[0] for name in kept] == [f"{live}_rebuild"]
        assert await conn.fetchval(f'SELECT count(*) FROM "{live}".tracking') > 0
        await balance(economy, viewer, 500)
    finally:
        for schema in kept:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


async def test_swap_folds_decisions_still_waiting_in_the_outbox(world, economy, infra):
    """The wallet's relay is held back, so its decisions sit in the outbox when the swap
    locks; they are folded into the rebuild and published from the swapped-in outbox."""
    prefix = economy.topic_prefix
    creator = world.id("creator")
    stream = await a_live_stream(world, economy, creator)
    sender, _ = await an_adult_with_coins(world, economy, 10 * DOUGHNUT_COINS)
    wallet = economy.processes["wallet"]
    relay_task = next(task for task in wallet._tasks  # noqa: SLF001 - the relay stopped and restarted
                      if task.get_name() == "outbox-relay")
    gifts = [world.gift(sender, stream, "doughnut") for _ in range(6)]
    conn = await asyncpg.connect(infra.database_url)
    replaced = None
    try:
        async def decided_but_not_published():
            relay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay_task
            await world.publish(*gifts)
            await balance(economy, sender, 4 * DOUGHNUT_COINS)
            waiting = await conn.fetchval(f'SELECT count(*) FROM "{wallet.schema}".outbox')
            assert waiting >= len(gifts)

        result = await swap("wallet", wallet.schema, prefix, require_equal=True,
                            on_rebuilt=decided_but_not_published)
        replaced = result.replaced_schema
        assert result.pending_outbox >= len(gifts)
        assert result.verification is not None and result.verification.equal
        wallet._tasks.append(asyncio.create_task(wallet.relay.run(),  # noqa: SLF001 - the relay stopped and restarted
                                                 name="outbox-relay"))
        for gift in gifts:
            assert (await gift_status(economy, gift))["status"] == "sent"
        await economy.json_when("payout", f"/creators/{creator}",
                                lambda body: body["held"] == 6 * DOUGHNUT_COINS // 2)
        await all_caught_up(economy)
        target = f"{wallet.schema}_rebuild_check"
        await conn.execute(f'DROP SCHEMA IF EXISTS "{target}" CASCADE')
        await rebuild("wallet", target, prefix, await take_cut("wallet", prefix))
        try:
            outcome = await verify("wallet", wallet.schema, target)
            assert outcome.equal, "\n".join(outcome.lines())
        finally:
            await conn.execute(f'DROP SCHEMA "{target}" CASCADE')
    finally:
        if relay_task.done() and not any(task.get_name() == "outbox-relay" and not task.done()
                                         for task in wallet._tasks):  # noqa: SLF001 - the relay stopped and restarted
            wallet._tasks.append(asyncio.create_task(wallet.relay.run(),  # noqa: SLF001 - the relay stopped and restarted
                                                     name="outbox-relay"))
        if replaced:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{replaced}" CASCADE')
        await conn.close()
