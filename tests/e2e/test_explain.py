"""`coinlog explain` and `coinlog statement` on the real stack: a small economy driven through
Kafka, explained from the services' own event_history tables."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from ops.database_roles import AUDITOR
from ops.explain import (
    CREATOR_COLUMNS,
    VIEWER_COLUMNS,
    creator_csv_rows,
    creator_statement_from_db,
    csv_text,
    explain_creator_from_db,
    explain_viewer_from_db,
    viewer_csv_rows,
    viewer_statement_from_db,
)
from ops.explain.statements import FAR_FUTURE
from tests.e2e.test_economy import a_live_stream, balance, gift_status
from tests.e2e.world import START

pytestmark = pytest.mark.integration


async def test_explanations_and_statements_agree_with_the_services(world, economy, infra):
    wallet_schema = economy.processes["wallet"].schema
    payout_schema = economy.processes["payout"].schema
    db = infra.database_url_of(AUDITOR)  # the commands read as the auditor, where there is one
    creator = world.id("creator")
    stream = await a_live_stream(world, economy, creator)

    # A viewer with promo coins and two packs sends a lion (29,999 coins): the promo coins
    # go first, then the whole first pack, then part of the second.
    viewer = world.id("viewer")
    first, second = world.purchase(viewer, 16500), world.purchase(viewer, 16500)
    await world.publish(world.adult(viewer), world.promo(viewer, 20, timedelta(days=1)),
                        first, second)
    await economy.json_when("wallet", f"/wallets/{viewer}",
                            lambda body: body["balance"] == 33020 and body["adult"] is True)
    lion = world.gift(viewer, stream, "lion")
    await world.publish(lion)
    assert (await gift_status(economy, lion))["status"] == "sent"
    await balance(economy, viewer, 33020 - 29999)
    await economy.json_when("payout", f"/creators/{creator}",
                            lambda body: body["held"] == 14999)

    # Sixteen days on: a second viewer's gift, a payout, then a chargeback of that gift's coins.
    world.advance(days=16)
    other = world.id("viewer")
    bought = world.purchase(other, 660)
    await world.publish(world.adult(other), bought)
    await economy.json_when("wallet", f"/wallets/{other}",
                            lambda body: body["balance"] == 660 and body["adult"] is True)
    gun = world.gift(other, stream, "money-gun")
    await world.publish(gun)
    assert (await gift_status(economy, gun))["status"] == "sent"
    await economy.json_when("payout", f"/creators/{creator}",
                            lambda body: body["held"] == 250 and body["available"] == 14999)
    request = world.payout_request(creator, 14000)
    await world.publish(request)
    await economy.json_when("payout", f"/payouts/{request.payout_id}",
                            lambda body: body["status"] == "reserved")
    world.advance(hours=1)
    await world.publish(world.payout_succeeded(request))
    await economy.json_when("payout", f"/payouts/{request.payout_id}",
                            lambda body: body["status"] == "paid")
    world.advance(hours=1)
    await world.publish(world.chargeback(bought))
    await balance(economy, other, 660 - 500 - 660)
    await economy.json_when("payout", f"/creators/{creator}",
                            lambda body: body["clawed_back"] == 250)

    # The viewer: the running balance ends at the wallet's balance.
    explained = await explain_viewer_from_db(viewer, wallet_schema=wallet_schema,
                                             database_url=db)
    wallet = (await economy.get("wallet", f"/wallets/{viewer}")).json()
    assert explained.problems == []
    assert explained.balance == explained.stored_balance == wallet["balance"] == 3021
    assert explained.lines[-1].balance == wallet["balance"]
    purchases = [line for line in explained.lines if line.type == "coins_purchased"]
    assert [(p.reference, p.amount_minor, p.currency, p.rate_version) for p in purchases] == [
        (first.purchase_id, 24999, "USD", "packs-2026-01"),
        (second.purchase_id, 24999, "USD", "packs-2026-01")]
    (spend,) = [line for line in explained.lines if line.type == "coins_spent"]
    assert (spend.reference, spend.creator_id, spend.gift_id, spend.delta) == (
        lion.request_id, creator, "lion", -29999)
    lots = {lot.lot_id: lot for lot in spend.lots}
    assert [lot.kind for lot in spend.lots] == ["promo", "purchase", "purchase"]
    # The first pack was spent whole: its lot's cash value is exactly what it cost.
    assert (lots[first.purchase_id].coins, lots[first.purchase_id].value_minor) == (16500,
                                                                                   24999)
    assert lots[second.purchase_id].coins == 29999 - 20 - 16500
    assert spend.value_minor == {"USD": sum(lot.value_minor for lot in spend.lots)}

    # The other viewer: the chargeback names the gift its coins had funded.
    charged = await explain_viewer_from_db(other, wallet_schema=wallet_schema, database_url=db)
    assert charged.problems == [] and charged.balance == -500
    (clawback,) = [line for line in charged.lines if line.type == "coins_clawed_back"]
    assert [(g["request_id"], g["creator_id"], g["coins"]) for g in clawback.funded_gifts] == [
        (gun.request_id, creator, 500)]
    assert clawback.debt_added == 500
    assert any(line.type == "wallet_frozen" for line in charged.lines)

    # The creator: each diamond batch with the gift behind it and its rate.
    earned = await explain_creator_from_db(creator, payout_schema=payout_schema,
                                           wallet_schema=wallet_schema, database_url=db)
    assert earned.problems == []
    batches = {line.reference: line for line in earned.lines if line.type == "diamonds_earned"}
    assert set(batches) == {lion.request_id, gun.request_id}
    lion_batch = batches[lion.request_id]
    assert (lion_batch.sender_id, lion_batch.coins, lion_batch.diamonds, lion_batch.rate) == (
        viewer, 29999, 14999, "0.5")
    assert lion_batch.rate_version and lion_batch.available_at > lion_batch.occurred_at
    assert lion_batch.funding == spend.value_minor
    assert batches[gun.request_id].sender_id == other
    (posted,) = [line for line in earned.lines if line.type == "payout_posted"]
    assert (posted.reference, posted.diamonds, posted.gross_minor, posted.fee_minor,
            posted.net_minor) == (request.payout_id, 14000, 7000, 0, 7000)
    (clawed,) = [line for line in earned.lines if line.type == "diamonds_clawed_back"]
    assert (clawed.reference, clawed.from_held) == (gun.request_id, 250)
    creator_now = (await economy.get("payout", f"/creators/{creator}")).json()
    assert (earned.final.held, earned.final.available, earned.final.debt) == (
        creator_now["held"], creator_now["available"], creator_now["debt"])

    # The creator's statement: the CSV totals are the payout API's statement.
    start = START.isoformat().replace("+00:00", "Z")
    page = (await economy.get("payout", f"/creators/{creator}/statement?from={start}")).json()
    api = page["summary"]
    st = await creator_statement_from_db(creator, START, FAR_FUTURE,
                                         payout_schema=payout_schema, database_url=db)
    assert st.problems == []
    rows = list(csv.DictReader(io.StringIO(csv_text(CREATOR_COLUMNS, creator_csv_rows(st)))))
    total = rows[-1]
    assert total["type"] == "total" and len(rows) == len(st.lines) + 1
    assert [line["event_id"] for line in page["lines"]] == [line.event_id for line in st.lines]
    assert int(total["diamonds_earned"]) == api["earned_diamonds"] == 14999 + 250
    assert int(total["diamonds_clawed_back"]) == api["clawed_back_diamonds"] == 250
    assert int(total["diamonds_paid"]) == api["paid_diamonds"] == 14000
    assert (int(total["gross_minor"]), int(total["fee_minor"]), int(total["net_minor"])) == (
        api["paid"][0]["gross_minor"], api["paid"][0]["fee_minor"], api["paid"][0]["net_minor"])
    assert int(total["balance_diamonds"]) == api["closing_balance_diamonds"] == 999
    assert sum(int(row["diamonds_earned"] or 0) for row in rows[:-1]) == 14999 + 250

    # A later period holds only the payout and the clawback (half-open: [from, to)).
    paid_at = posted.occurred_at
    later = await creator_statement_from_db(creator, paid_at, FAR_FUTURE,
                                            payout_schema=payout_schema, database_url=db)
    assert [line.type for line in later.lines] == ["payout_posted", "diamonds_clawed_back"]
    assert later.totals.earned_diamonds == 0 and later.totals.opening_balance_diamonds == 15249

    # The viewer's statement: totals reconcile with the wallet.
    vst = await viewer_statement_from_db(viewer, START, FAR_FUTURE,
                                         wallet_schema=wallet_schema, database_url=db)
    assert vst.reconciles and vst.closing_balance == wallet["balance"]
    assert (vst.purchased_coins, vst.paid_minor, vst.promo_coins, vst.spent_coins) == (
        33000, {"USD": 49998}, 20, 29999)
    vrows = list(csv.DictReader(io.StringIO(csv_text(VIEWER_COLUMNS, viewer_csv_rows(vst)))))
    vtotal = vrows[-1]
    assert vtotal["type"] == "total"
    assert int(vtotal["coins"]) == sum(int(row["coins"]) for row in vrows[:-1]) == 3021
    assert int(vtotal["spent_value_minor"]) == sum(spend.value_minor.values())
    assert int(vtotal["balance_after"]) == wallet["balance"]
