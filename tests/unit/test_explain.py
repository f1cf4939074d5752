"""ops.explain without a database: running balances, statements, CSV."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ops.explain import (
    CREATOR_COLUMNS,
    VIEWER_COLUMNS,
    creator_csv_rows,
    creator_statement,
    csv_text,
    explain_creator,
    explain_viewer,
    viewer_csv_rows,
    viewer_statement,
)
from ops.explain.render import as_json, money
from ops.explain.statements import parse_moment
from shared.contract.events.payout import (
    DiamondsClawedBack,
    DiamondsEarned,
    PayoutPosted,
    PayoutReserved,
)
from shared.contract.events.wallet import (
    CoinsClawedBack,
    CoinsPurchased,
    CoinsSpent,
    FundedGift,
    LotKind,
    LotUse,
    PromoCoinsCredited,
    PromoCoinsExpired,
    WalletFrozen,
)

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
USER, CREATOR = "viewer-1", "creator-1"


def envelope(at: datetime) -> dict:
    return {"event_id": uuid.uuid4(), "occurred_at": at}


def wallet_events() -> list:
    """Promo 20, buy 330 for 4.99, spend 300 (20 promo + 280 bought), promo 10 expires,
    buy 65, refund the first purchase: 50 unspent, 280 spent; 65 cover, 215 debt."""
    return [
        PromoCoinsCredited(**envelope(T0), user_id=USER, grant_id="g1", coins=20,
                           expires_at=T0 + timedelta(days=1), balance_after=20),
        CoinsPurchased(**envelope(T0), user_id=USER, purchase_id="p1", coins=330,
                       amount_minor=499, currency="USD", rate_version="packs-1",
                       balance_after=350),
        CoinsSpent(**envelope(T0 + timedelta(hours=1)), user_id=USER, request_id="r1",
                   creator_id=CREATOR, stream_id="s1", gift_id="doughnut", coins=300,
                   lots=(LotUse(lot_id="g1", kind=LotKind.promo, coins=20, value_minor=0),
                         LotUse(lot_id="p1", kind=LotKind.purchase, coins=280,
                                value_minor=423, currency="USD")),
                   balance_after=50),
        CoinsPurchased(**envelope(T0 + timedelta(days=2)), user_id=USER, purchase_id="p2",
                       coins=65, amount_minor=99, currency="USD", rate_version="packs-1",
                       balance_after=115),
        CoinsClawedBack(**envelope(T0 + timedelta(days=3)), user_id=USER, purchase_id="p1",
                        kind="refund", coins=330, coins_unspent=50, amount_minor=499,
                        currency="USD",
                        funded_gifts=(FundedGift(request_id="r1", creator_id=CREATOR,
                                                 coins=280),),
                        balance_after=-215, frozen=True,
                        covered_by=(LotUse(lot_id="p2", kind=LotKind.purchase, coins=65,
                                           value_minor=99, currency="USD"),)),
        WalletFrozen(**envelope(T0 + timedelta(days=3)), user_id=USER, reason="debt"),
    ]


def test_running_balance_follows_every_event_and_matches_the_stored_one():
    explanation = explain_viewer(USER, list(enumerate(wallet_events(), start=1)), -215)
    assert [line.balance for line in explanation.lines] == [20, 350, 50, 115, -215, -215]
    assert explanation.balance == -215 and explanation.problems == []
    spend = explanation.lines[2]
    assert [(lot.lot_id, lot.value_minor) for lot in spend.lots] == [("g1", 0), ("p1", 423)]
    assert spend.value_minor == {"USD": 423}
    clawback = explanation.lines[4]
    assert clawback.debt_added == 215 and clawback.funded_gifts[0]["request_id"] == "r1"


def test_a_mismatch_with_the_stored_balance_or_an_event_is_reported():
    explanation = explain_viewer(USER, list(enumerate(wallet_events()[:3], start=1)), 49)
    assert any("MISMATCH" in problem and "49" in problem for problem in explanation.problems)
    broken = explain_viewer(USER, list(enumerate(wallet_events()[1:3], start=1)), 30)
    assert any("records balance 350" in problem for problem in broken.problems)


def test_viewer_statement_totals_reconcile_and_the_period_is_half_open():
    events = wallet_events()
    expired = PromoCoinsExpired(**envelope(T0 + timedelta(days=1)), user_id=USER,
                                grant_id="g1", coins=20, balance_after=330)
    explanation = explain_viewer(USER, list(enumerate(events, start=1)), -215)
    st = viewer_statement(explanation, T0 + timedelta(hours=1), T0 + timedelta(days=3))
    assert [line.type for line in st.lines] == ["coins_spent", "coins_purchased"]
    assert (st.opening_balance, st.closing_balance) == (350, 115)
    assert (st.spent_coins, st.spent_value_minor, st.purchased_coins) == (300, {"USD": 423}, 65)
    assert st.reconciles
    assert [(g.creator_id, g.gift_id, g.coins) for g in st.by_gift] == [
        (CREATOR, "doughnut", 300)]
    whole = viewer_statement(explanation, T0, T0 + timedelta(days=10))
    assert whole.clawed_back_minor == {"USD": 499} and whole.reconciles
    with_expiry = explain_viewer(USER, [(1, events[0]), (2, events[1]), (3, expired)])
    assert with_expiry.lines[-1].delta == -20 and with_expiry.replay_error is None


def test_viewer_csv_has_a_header_one_row_per_event_and_a_totals_row():
    explanation = explain_viewer(USER, list(enumerate(wallet_events(), start=1)), -215)
    st = viewer_statement(explanation, T0, T0 + timedelta(days=10))
    rows = list(csv.DictReader(io.StringIO(csv_text(VIEWER_COLUMNS, viewer_csv_rows(st)))))
    assert tuple(rows[0].keys()) == VIEWER_COLUMNS
    assert [row["type"] for row in rows] == [
        "promo_coins_credited", "coins_purchased", "coins_spent", "coins_purchased",
        "coins_clawed_back", "wallet_frozen", "total"]
    assert rows[0]["occurred_at"] == "2026-05-01T12:00:00+00:00"
    body, total = rows[:-1], rows[-1]
    assert int(total["coins"]) == sum(int(row["coins"]) for row in body) == -215
    assert int(total["paid_minor"]) == 499 + 99
    assert int(total["spent_value_minor"]) == 423
    assert int(total["clawed_back_minor"]) == 499
    assert int(total["balance_after"]) == -215


def test_a_spend_from_lots_in_two_currencies_splits_into_a_row_per_currency():
    events = [
        CoinsPurchased(**envelope(T0), user_id=USER, purchase_id="a", coins=100,
                       amount_minor=150, currency="USD", rate_version="v", balance_after=100),
        CoinsPurchased(**envelope(T0), user_id=USER, purchase_id="b", coins=100,
                       amount_minor=140, currency="EUR", rate_version="v", balance_after=200),
        CoinsSpent(**envelope(T0), user_id=USER, request_id="r", creator_id=CREATOR,
                   stream_id="s", gift_id="g", coins=150,
                   lots=(LotUse(lot_id="a", kind=LotKind.purchase, coins=100,
                                value_minor=150, currency="USD"),
                         LotUse(lot_id="b", kind=LotKind.purchase, coins=50, value_minor=70,
                                currency="EUR")),
                   balance_after=50),
    ]
    st = viewer_statement(explain_viewer(USER, list(enumerate(events, start=1)), 50),
                          T0, T0 + timedelta(days=1))
    rows = viewer_csv_rows(st)
    spends = [row for row in rows if row["type"] == "coins_spent"]
    assert [(r["currency"], r["coins"], r["spent_value_minor"]) for r in spends] == [
        ("EUR", -50, 70), ("USD", -100, 150)]
    totals = [row for row in rows if row["type"] == "total"]
    assert [(t["currency"], t["coins"], t["spent_value_minor"]) for t in totals] == [
        ("EUR", 50, 70), ("USD", "", 150)]


def payout_events() -> list:
    hold = T0 + timedelta(days=15)
    return [
        DiamondsEarned(**envelope(T0), creator_id=CREATOR, request_id="r1", sender_id=USER,
                       coins=1000, diamonds=500, diamonds_per_coin=Decimal("0.5"),
                       rate_version="share-1", available_at=hold),
        DiamondsEarned(**envelope(T0 + timedelta(days=1)), creator_id=CREATOR,
                       request_id="r2", sender_id=USER, coins=300, diamonds=150,
                       diamonds_per_coin=Decimal("0.5"), rate_version="share-1",
                       available_at=hold + timedelta(days=1)),
        PayoutReserved(**envelope(hold + timedelta(hours=1)), creator_id=CREATOR,
                       payout_id="po1", diamonds=400, gross_minor=200, fee_minor=10,
                       net_minor=190, currency="USD", minor_per_diamond=Decimal("0.5"),
                       rate_version="cash-1", method="bank", fee_ppm=50_000),
        PayoutPosted(**envelope(hold + timedelta(hours=2)), creator_id=CREATOR,
                     payout_id="po1", diamonds=400, net_minor=190, currency="USD",
                     provider_reference="prov-1"),
        DiamondsClawedBack(**envelope(hold + timedelta(hours=3)), creator_id=CREATOR,
                           request_id="r2", purchase_id="p1", diamonds=150, from_held=150,
                           from_available=0, to_debt=0, coins=300),
        DiamondsClawedBack(**envelope(hold + timedelta(hours=4)), creator_id=CREATOR,
                           request_id="r1", purchase_id="p0", diamonds=200, from_held=0,
                           from_available=100, to_debt=100, coins=400),
    ]


def test_creator_running_figures_follow_the_hold_and_agree_with_the_domain_replay():
    explanation = explain_creator(CREATOR, list(enumerate(payout_events(), start=1)),
                                  funding={"r1": {"USD": 1500}})
    figures = [(line.running.held, line.running.available, line.running.reserved,
                line.running.debt, line.running.balance) for line in explanation.lines]
    assert figures == [(500, 0, 0, 0, 500), (650, 0, 0, 0, 650), (150, 100, 400, 0, 650),
                       (150, 100, 0, 0, 250), (0, 100, 0, 0, 100), (0, 0, 0, 100, -100)]
    earned = explanation.lines[0]
    assert (earned.sender_id, earned.rate, earned.rate_version) == (USER, "0.5", "share-1")
    assert earned.funding == {"USD": 1500}
    posted = explanation.lines[3]
    assert (posted.gross_minor, posted.fee_minor, posted.net_minor) == (200, 10, 190)
    assert explanation.replayed == explanation.final
    assert explanation.problems == ["creator_balances has no row for creator-1"]


def test_creator_csv_totals_are_the_domain_statement():
    events = payout_events()
    explanation = explain_creator(CREATOR, list(enumerate(events, start=1)))
    st = creator_statement(explanation, events, T0 + timedelta(hours=1),
                           T0 + timedelta(days=30))
    assert st.problems == []
    rows = list(csv.DictReader(io.StringIO(csv_text(CREATOR_COLUMNS, creator_csv_rows(st)))))
    assert rows[0]["type"] == "diamonds_earned" and rows[0]["reference"] == "r2"
    total = rows[-1]
    assert total["type"] == "total"
    assert int(total["diamonds_earned"]) == st.totals.earned_diamonds == 150
    assert int(total["diamonds_clawed_back"]) == st.totals.clawed_back_diamonds == 350
    assert int(total["diamonds_paid"]) == st.totals.paid_diamonds == 400
    assert (int(total["gross_minor"]), int(total["fee_minor"]), int(total["net_minor"]),
            total["currency"]) == (200, 10, 190, "USD")
    assert int(total["balance_diamonds"]) == st.totals.closing_balance_diamonds == -100
    body = rows[:-1]
    assert sum(int(row["diamonds_clawed_back"] or 0) for row in body) == 350


def test_helpers():
    assert money(24999, "USD") == "USD 249.99"
    assert money(5, "JPY") == "JPY 5" and money(-1005, "KWD") == "KWD -1.005"
    assert parse_moment("2026-05-01") == datetime(2026, 5, 1, tzinfo=UTC)
    assert parse_moment("2026-05-01T12:00:00Z") == T0
    explanation = explain_viewer(USER, list(enumerate(wallet_events(), start=1)), -215)
    assert '"problems": []' in as_json(explanation)


def test_events_the_domains_refuse_change_nothing_and_are_reported():
    unknown_lot = explain_viewer(USER, list(enumerate(wallet_events()[1:3], start=1)), 330)
    assert [line.balance for line in unknown_lot.lines] == [330, 330]
    assert unknown_lot.problems[0].startswith(
        "the wallet domain refuses this history: seq 2 (wallet.coins_spent)")
    events = payout_events()
    posted_twice = explain_creator(CREATOR, list(enumerate([*events[:4], events[3]], start=1)))
    assert posted_twice.lines[-1].delta == 0 and posted_twice.replayed is None
    assert posted_twice.problems[0].startswith("the payout domain refuses this history: seq 5")


def test_a_refused_spend_leaves_none_of_its_lots_taken():
    promo, bought, spent = wallet_events()[:3]
    overdrawn = spent.model_copy(update={"coins": 420, "lots": (
        LotUse(lot_id="g1", kind=LotKind.promo, coins=20, value_minor=0),
        LotUse(lot_id="p1", kind=LotKind.purchase, coins=400, value_minor=605,
               currency="USD"))})
    explanation = explain_viewer(USER, list(enumerate([promo, bought, overdrawn], start=1)))
    assert [line.balance for line in explanation.lines] == [20, 350, 350]
    assert explanation.balance == 350
    assert explanation.problems[0].startswith(
        "the wallet domain refuses this history: seq 3 (wallet.coins_spent)")
