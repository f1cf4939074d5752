"""The coin economy end to end on the real stack: facts in through Kafka, answers out through
the services' HTTP APIs."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.integration

LION, ROSE, PERFUME = "lion", "rose", "perfume"


async def gift_status(economy, request, statuses=("sent", "failed", "rejected")) -> dict:
    return await economy.json_when("gifting", f"/gifts/{request.request_id}",
                                   lambda body: body["status"] in statuses)


async def balance(economy, user_id: str, expected: int) -> dict:
    return await economy.json_when("wallet", f"/wallets/{user_id}",
                                   lambda body: body["balance"] == expected)


async def a_live_stream(world, economy, creator: str):
    stream = world.stream_started(creator)
    await world.publish(world.adult(creator), world.verified_creator(creator), stream)
    await economy.json_when("gifting", f"/streams/{stream.stream_id}",
                            lambda b: b["live"] and b["creator_adult"])
    return stream


async def an_adult_with_coins(world, economy, coins: int, user: str | None = None):
    user = user or world.id("viewer")
    purchase = world.purchase(user, coins)
    await world.publish(world.adult(user), purchase)
    # Age checks and purchases travel on different topics: wait for both.
    await economy.json_when("wallet", f"/wallets/{user}",
                            lambda body: body["balance"] == coins and body["adult"] is True)
    return user, purchase


async def test_purchase_gift_diamonds_payout_statement(world, economy):
    creator = world.id("creator")
    stream = await a_live_stream(world, economy, creator)
    viewer, _ = await an_adult_with_coins(world, economy, 16500)
    await world.publish(world.purchase(viewer, 16500))
    await balance(economy, viewer, 33000)

    world.advance(minutes=1)
    gift = world.gift(viewer, stream, LION)
    await world.publish(gift)
    sent = await gift_status(economy, gift)
    assert (sent["status"], sent["coins"]) == ("sent", 29999)
    await balance(economy, viewer, 33000 - 29999)
    # 29,999 coins at 0.5 diamonds per coin, rounded down.
    held = await economy.json_when("payout", f"/creators/{creator}",
                                   lambda body: body["held"] == 14999)
    assert held["available"] == 0

    world.advance(days=16)
    await economy.json_when("payout", f"/creators/{creator}", lambda body: body["verified"])
    request = world.payout_request(creator, 14000)
    await world.publish(request)
    payout = await economy.json_when("payout", f"/payouts/{request.payout_id}",
                                     lambda body: body["status"] == "reserved")
    # 14,000 diamonds at 0.5 cents each, no fee.
    assert (payout["gross_minor"], payout["fee_minor"], payout["net_minor"]) == (7000, 0, 7000)

    await world.publish(world.payout_succeeded(request))
    await economy.json_when("payout", f"/payouts/{request.payout_id}",
                            lambda body: body["status"] == "paid")
    before_payout = (await economy.get(
        "payout", f"/creators/{creator}/as-of?at={_moment(request.occurred_at)}")).json()
    assert (before_payout["available"], before_payout["reserved"]) == (14999, 0)
    viewer_then = (await economy.get(
        "wallet", f"/wallets/{viewer}/as-of?at={_moment(gift.occurred_at)}")).json()
    assert viewer_then["balance"] == 33000
    statement = (await economy.json_when(
        "payout", f"/creators/{creator}/statement",
        lambda body: [cash["net_minor"] for cash in body["summary"]["paid"]] == [7000]))
    assert statement["creator_id"] == creator
    assert statement["summary"]["earned_diamonds"] == 14999
    assert statement["summary"]["paid_diamonds"] == 14000
    assert [line["type"] for line in statement["lines"]] == [
        "payout.diamonds_earned", "payout.payout_reserved", "payout.payout_posted"]
    wallet_history = (await economy.get("wallet", f"/wallets/{viewer}/history")).json()
    spent = [item for item in wallet_history["items"] if item["type"] == "wallet.coins_spent"]
    assert [lot["coins"] for lot in spent[0]["lots"]] == [16500, 13499]
    assert sum(lot["value_minor"] for lot in spent[0]["lots"]) > 0


def _moment(at) -> str:
    """Just before `at`, as a query value."""
    return quote((at - timedelta(seconds=1)).isoformat())


async def test_refund_after_spending_drives_the_wallet_negative_and_freezes_it(world, economy):
    creator = world.id("creator")
    stream = await a_live_stream(world, economy, creator)
    viewer, purchase = await an_adult_with_coins(world, economy, 330)
    gift = world.gift(viewer, stream, "doughnut", quantity=10)
    await world.publish(gift)
    assert (await gift_status(economy, gift))["status"] == "sent"
    await world.publish(world.refund(purchase))
    wallet = await balance(economy, viewer, 330 - 300 - 330)
    assert wallet["frozen"] is True and wallet["debt"] == 300

    blocked = world.gift(viewer, stream, ROSE)
    await world.publish(blocked)
    failed = await gift_status(economy, blocked)
    assert (failed["status"], failed["reason"]) == ("failed", "wallet_frozen")


async def test_chargeback_claws_back_the_creators_held_diamonds(world, economy):
    creator = world.id("creator")
    stream = await a_live_stream(world, economy, creator)
    viewer, purchase = await an_adult_with_coins(world, economy, 660)
    gift = world.gift(viewer, stream, "money-gun")
    await world.publish(gift)
    assert (await gift_status(economy, gift))["status"] == "sent"
    await economy.json_when("payout", f"/creators/{creator}", lambda b: b["held"] == 250)

    await world.publish(world.chargeback(purchase))
    creator_after = await economy.json_when("payout", f"/creators/{creator}",
                                            lambda body: body["held"] == 0)
    assert creator_after["clawed_back"] == 250
    wallet = await balance(economy, viewer, 660 - 500 - 660)
    assert wallet["frozen"] is True


async def test_promo_coins_spend_first_and_expire_by_event_time(world, economy):
    creator = world.id("creator")
    stream = await a_live_stream(world, economy, creator)
    viewer = world.id("viewer")
    await world.publish(world.adult(viewer), world.promo(viewer, 20, timedelta(days=1)),
                        world.purchase(viewer, 65))
    await economy.json_when("wallet", f"/wallets/{viewer}",
                            lambda body: body["balance"] == 85 and body["adult"] is True)
    first = world.gift(viewer, stream, ROSE, quantity=5)
    await world.publish(first)
    assert (await gift_status(economy, first))["status"] == "sent"
    wallet = await balance(economy, viewer, 80)
    assert (wallet["promo_coins"], wallet["purchased_coins"]) == (15, 65)

    world.advance(days=2)
    later = world.gift(viewer, stream, ROSE)
    await world.publish(later)
    assert (await gift_status(economy, later))["status"] == "sent"
    wallet = await balance(economy, viewer, 64)
    assert (wallet["promo_coins"], wallet["purchased_coins"]) == (0, 64)


async def test_spending_limit_rejects_past_the_daily_cap_and_resets_next_day(world, economy):
    creator = world.id("creator")
    stream = await a_live_stream(world, economy, creator)
    viewer, _ = await an_adult_with_coins(world, economy, 660)
    await world.publish(world.limit(viewer, 100))
    await economy.json_when("wallet", f"/wallets/{viewer}",
                            lambda body: body["daily_limit_coins"] == 100)
    within = world.gift(viewer, stream, "hand-hearts")
    await world.publish(within)
    assert (await gift_status(economy, within))["status"] == "sent"
    over = world.gift(viewer, stream, ROSE)
    await world.publish(over)
    assert (await gift_status(economy, over))["reason"] == "spending_limit_reached"
    world.advance(days=1)
    next_day = world.gift(viewer, stream, ROSE)
    await world.publish(next_day)
    assert (await gift_status(economy, next_day))["status"] == "sent"


async def test_gifts_are_rejected_with_reasons(world, economy):
    creator = world.id("creator")
    stream = await a_live_stream(world, economy, creator)
    viewer, _ = await an_adult_with_coins(world, economy, 65)
    minor = world.id("minor")
    await world.publish(world.adult(minor, adult=False), world.purchase(minor, 65))
    await economy.json_when("wallet", f"/wallets/{minor}",
                            lambda body: body["balance"] == 65 and body["adult"] is False)
    cases = {
        "bad_quantity": world.gift(viewer, stream, ROSE, quantity=0),
        "unknown_gift": world.gift(viewer, stream, "no_such_gift"),
        "self_gift": world.gift(creator, stream, ROSE),
    }
    ended = world.stream_ended(stream)
    await world.publish(*cases.values())
    for reason, request in cases.items():
        assert (await gift_status(economy, request))["reason"] == reason
    minor_creator = world.id("creator")
    minors_stream = world.stream_started(minor_creator)
    await world.publish(world.adult(minor_creator, adult=False), minors_stream)
    to_minor = world.gift(viewer, minors_stream, ROSE)
    await economy.json_when("gifting", f"/streams/{minors_stream.stream_id}",
                            lambda b: b["live"])
    await world.publish(to_minor)
    assert (await gift_status(economy, to_minor))["reason"] == "creator_not_adult"
    too_dear = world.gift(viewer, stream, LION)
    underage = world.gift(minor, stream, ROSE)
    await world.publish(too_dear, underage)
    assert (await gift_status(economy, too_dear))["reason"] == "insufficient_funds"
    assert (await gift_status(economy, underage))["reason"] == "not_age_verified"
    world.advance(minutes=1)
    await world.publish(ended)
    await economy.json_when("gifting", f"/streams/{stream.stream_id}", lambda b: not b["live"])
    world.advance(minutes=1)
    after_end = world.gift(viewer, stream, ROSE)
    await world.publish(after_end)
    assert (await gift_status(economy, after_end))["reason"] == "stream_not_live"


@pytest.mark.parametrize("service, path, status, says", [
    ("wallet", "/wallets/nobody-here", 404, "no wallet for nobody-here"),
    ("wallet", "/wallets/nobody-here/history", 404, "no wallet for nobody-here"),
    ("wallet", "/wallets/bad%20id", 422, "string_pattern_mismatch"),
    ("wallet", "/wallets/x/history?limit=0", 422, "greater_than_equal"),
    # One past the largest bigint: refused before PostgreSQL would have to.
    ("wallet", "/wallets/x/history?after=9223372036854775808", 422, "less_than_equal"),
    ("wallet", "/wallets/x/as-of?at=1700000000", 422, "ISO 8601"),
    ("gifting", "/gifts/unknown-request", 404, "unknown gift request"),
    ("gifting", "/streams/s/leaderboard?limit=1000", 422, "less_than_equal"),
    ("gifting", "/streams/unknown-stream/leaderboard", 404, "unknown stream unknown-stream"),
    ("gifting", "/creators/unknown-creator/leaderboard", 404, "unknown-creator"),
    ("payout", "/payouts/unknown", 404, "unknown payout"),
    ("payout", "/creators/unknown-creator/history", 404, "unknown-creator"),
    ("payout", "/creators/unknown-creator/payouts", 404, "unknown-creator"),
    ("payout", "/creators/unknown-creator/statement", 404, "unknown-creator"),
    ("payout", "/creators/c/history?after=9223372036854775808", 422, "less_than_equal"),
    ("payout", "/creators/c/statement?to=0.5", 422, "ISO 8601"),
    ("payout", "/creators/c/statement?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", 422,
     "must not be after"),
])
async def test_bad_queries_get_a_clear_4xx(economy, service, path, status, says):
    response = await economy.get(service, path)
    assert response.status_code == status
    assert says in response.text
    if status == 422:
        # Every 422 has the body FastAPI gives an invalid parameter, the period's check too.
        [error] = response.json()["detail"]
        assert set(error) >= {"loc", "msg", "type"}


async def test_a_statement_comes_in_pages_with_its_summary_first(world, economy):
    creator = world.id("creator")
    stream = await a_live_stream(world, economy, creator)
    viewer, _ = await an_adult_with_coins(world, economy, 330)
    gifts = [world.gift(viewer, stream, "doughnut") for _ in range(3)]
    world.advance(minutes=1)
    await world.publish(*gifts)
    for gift in gifts:
        await gift_status(economy, gift)
    path = f"/creators/{creator}/statement?limit=2"
    first = await economy.json_when("payout", path,
                                    lambda body: body["summary"]["earned_diamonds"] > 0)
    assert (len(first["lines"]), first["next"] is not None) == (2, True)
    second = (await economy.get("payout", f"{path}&after={first['next']}")).json()
    assert second["summary"] is None
    assert (len(second["lines"]), second["next"]) == (1, None)
    lines = first["lines"] + second["lines"]
    assert [line["request_id"] for line in lines] == [gift.request_id for gift in gifts]
    assert first["summary"]["earned_diamonds"] == sum(line["diamonds"] for line in lines)
    # A period that ends before the gifts: the creator is known, the period is empty.
    early = (await economy.get("payout", f"/creators/{creator}/statement"
                                         "?to=2000-01-01T00:00:00Z")).json()
    assert (early["lines"], early["summary"]["closing_balance_diamonds"]) == ([], 0)
