"""Seed files: the default one is today's seed, event for event; every kind of mistake is named
with its place; ids follow identity; a seed is judged against what the log holds."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from ops.cli import app
from ops.seed import DEFAULT_SEED_FILE, default_seed_file_events, seed_events
from ops.seeding.compare import Status, judge
from ops.seeding.file import SeedFileInvalid, ahead_of, read_seed
from services.gifting.seed_catalog import seed_event_id
from shared.contract.events import catalog, policy
from shared.contract.topics import topic_of

runner = CliRunner()

HEADER = 'format = 1\noccurred_at = 2026-03-01T00:00:00Z\n'


def problems_of(text: str) -> list[str]:
    with pytest.raises(SeedFileInvalid) as raised:
        read_seed(text, "test.toml")
    assert raised.value.source == "test.toml"
    return raised.value.problems


def test_the_default_file_is_todays_seed_event_for_event():
    # Same ids and same content: a log seeded by the demo before holds only duplicates.
    assert default_seed_file_events() == seed_events()
    assert [event.event_id for event in default_seed_file_events()] == \
        [event.event_id for event in seed_events()]


def test_the_default_file_covers_every_policy_event_type():
    types = {type(event) for event in default_seed_file_events()}
    assert set(topic_of(policy.CreatorShareSet(
        event_id=uuid.uuid4(), occurred_at=datetime.now(UTC), rate_version="x",
        diamonds_per_coin="0.5")).events) <= types


def test_a_small_file_reads_into_validated_events():
    events = read_seed(HEADER + '''
creator_share = { rate_version = "share-eu-1", diamonds_per_coin = "0.45" }
cash_rates = [
  { rate_version = "cash-eur-1", currency = "EUR", minor_per_diamond = "0.46", fee_ppm = 25000 },
]
gifts = [
  { gift_id = "comet", name = "Comet", coins = 42 },
  { gift_id = "comet", name = "Comet", coins = 40, catalog_version = 2 },
]
''' + 'campaigns = [{ campaign_id = "spring", multiplier = "2", gift_ids = ["comet"], '
                       'starts_at = 2026-03-01T00:00:00Z, ends_at = 2026-03-08T00:00:00+01:00 }]\n')
    share, cash, comet_1, comet_2, spring = (seeded.event for seeded in events)
    assert isinstance(share, policy.CreatorShareSet) and str(share.diamonds_per_coin) == "0.45"
    assert isinstance(cash, policy.DiamondCashRateSet) and cash.fee_ppm == 25000
    assert cash.fee_fixed_minor == 0
    assert isinstance(comet_1, catalog.GiftListed) and comet_1.catalog_version == 1
    assert comet_1.event_id == seed_event_id("comet")
    assert comet_2.catalog_version == 2 and comet_2.event_id not in {comet_1.event_id}
    assert isinstance(spring, catalog.CampaignStarted)
    assert spring.ends_at == datetime(2026, 3, 7, 23, tzinfo=UTC)
    assert {seeded.event.occurred_at for seeded in events} == {datetime(2026, 3, 1, tzinfo=UTC)}
    assert [seeded.identity for seeded in events] == [
        "policy/share-eu-1", "policy/cash-eur-1", "gift/comet@1", "gift/comet@2",
        "campaign/spring"]


def test_ids_follow_identity_not_figures():
    def share_id(share: str, at: str = "2026-03-01T00:00:00Z") -> uuid.UUID:
        text = f'format = 1\noccurred_at = {at}\n' \
               f'creator_share = {{ rate_version = "s-1", diamonds_per_coin = "{share}" }}\n'
        return read_seed(text)[0].event.event_id

    assert share_id("0.5") == share_id("0.4") == share_id("0.5", "2026-04-01T00:00:00Z")


def test_a_float_rate_is_refused_with_its_line_and_field():
    problems = problems_of(HEADER + '\ncash_rates = [\n'
                           '  { rate_version = "c-1", currency = "USD", minor_per_diamond = 0.5,'
                           ' fee_ppm = 0 },\n]\n')
    assert len(problems) == 1
    assert problems[0].startswith("line 5, cash_rates[0]: minor_per_diamond: ")
    assert "never floats" in problems[0]


def test_every_problem_of_the_file_is_listed_at_once():
    problems = problems_of(HEADER + '''gifts = [
  { gift_id = "a", name = "A", coins = 1 },
  { gift_id = "b", name = "B", coins = 0 },
  { gift_id = "c", name = "C", coins = 3, colour = "red" },
  { gift_id = "d e", name = "D", coins = 3 },
]
hold_period = { rate_version = "h-1", hold_s = -1 }
''')
    assert problems == [
        "line 9, hold_period: hold_s: Input should be greater than or equal to 0",
        "line 5, gifts[1]: coins: Input should be greater than 0",
        "line 6, gifts[2]: colour: Extra inputs are not permitted",
        "line 7, gifts[3]: gift_id: String should match pattern '^[A-Za-z0-9_.:@-]{1,128}$'",
    ]


def test_the_file_level_mistakes():
    assert problems_of("format = [") [0].startswith("not TOML: ")
    problems = problems_of('giftz = []\n')
    assert problems[0].startswith("format: must be 1")
    assert problems[1].startswith("occurred_at: missing")
    assert problems[2].startswith("giftz: not a section of a seed file")
    naive = problems_of('format = 1\noccurred_at = 2026-01-01T00:00:00\n'
                        'hold_period = { rate_version = "h-1", hold_s = 1 }\n')
    assert naive == ["line 3, hold_period: occurred_at: Input should have timezone info"]
    assert problems_of(HEADER + 'gifts = { gift_id = "a" }\n') == [
        "gifts: must be an array of tables ([[gifts]] or gifts = [{...}, ...])"]


def test_envelope_fields_are_the_seeds_to_set():
    problems = problems_of(HEADER + 'hold_period = { rate_version = "h-1", hold_s = 1, '
                           'event_id = "00000000-0000-0000-0000-000000000001" }\n')
    assert problems == ["line 3, hold_period: event_id: set by coinlog seed, not by the file"]


def test_a_key_swallowed_by_a_table_header_is_explained():
    problems = problems_of(HEADER + '[hold_period]\nrate_version = "h-1"\nhold_s = 1\n'
                           'gifts = [{ gift_id = "a", name = "A", coins = 1 }]\n')
    assert len(problems) == 1
    assert problems[0].startswith("line 3, hold_period: gifts: a key after a [table] header")


def test_array_of_tables_entries_are_located_by_their_headers():
    problems = problems_of(HEADER + '[[gifts]]\ngift_id = "a"\nname = "A"\ncoins = 1\n'
                           '\n[[gifts]]\ngift_id = "b"\nname = "B"\ncoins = -1\n')
    assert problems == ["line 8, gifts[1]: coins: Input should be greater than 0"]


def test_one_identity_is_one_entry():
    price = '{ rate_version = "p-1", package_id = "c-10", platform = "web", coins = 10, '
    problems = problems_of(HEADER + "coin_packages = [\n"
                           f'  {price}region = "US", amount_minor = 10, currency = "USD" }},\n'
                           f'  {price}region = "DE", amount_minor = 11, currency = "EUR" }},\n'
                           "]\n")
    assert problems == ["line 5, coin_packages[1]: policy/p-1/c-10/web again (first at line 4, "
                        "coin_packages[0]): each rate_version, package price, gift version and "
                        "campaign is one entry"]


def test_events_dated_in_the_future_are_refused_before_publishing():
    events = read_seed('format = 1\noccurred_at = 2026-06-01T00:00:00Z\n'
                       'hold_period = { rate_version = "h-1", hold_s = 1 }\n')
    at = datetime(2026, 6, 1, tzinfo=UTC)
    assert ahead_of(events, at - timedelta(seconds=300)) == []
    assert "occurred_in_future" in ahead_of(events, at - timedelta(seconds=301))[0]


def share_file(share: str, version: str = "s-1") -> str:
    return HEADER + (f'creator_share = {{ rate_version = "{version}", '
                     f'diamonds_per_coin = "{share}" }}\n')


def test_judged_new_present_or_in_conflict_by_id():
    seeded = read_seed(share_file("0.5"))
    on_log = read_seed(share_file("0.5"))[0].event
    assert [j.status for j in judge(seeded, [])] == [Status.new]
    assert [j.status for j in judge(seeded, [on_log])] == [Status.present]
    conflict, = judge(read_seed(share_file("0.4")), [on_log])
    assert conflict.status is Status.conflict
    assert "duplicate_conflict" in conflict.detail
    assert "diamonds_per_coin: '0.5' on the topic, '0.4' in the file" in conflict.detail


def test_the_same_rate_version_under_another_id_is_judged_by_its_figures():
    seeded = read_seed(share_file("0.5"))
    elsewhere = seeded[0].event.model_copy(update={"event_id": uuid.uuid4()})
    assert judge(seeded, [elsewhere])[0].status is Status.present
    other = seeded[0].event.model_copy(update={"event_id": uuid.uuid4(),
                                               "diamonds_per_coin": Decimal("0.4")})
    judged, = judge(seeded, [other])
    assert judged.status is Status.conflict and "new rate_version" in judged.detail
    assert judge(read_seed(share_file("0.4", "s-2")), [other])[0].status is Status.new


def test_a_gift_version_on_the_log_as_a_reprice_conflicts():
    listed = read_seed(HEADER + 'gifts = [{ gift_id = "a", name = "A", coins = 2, '
                       'catalog_version = 2 }]\n')
    repriced = catalog.GiftRepriced(event_id=uuid.uuid4(), occurred_at=datetime.now(UTC),
                                    gift_id="a", catalog_version=2, coins=2)
    assert judge(listed, [repriced])[0].status is Status.conflict


def test_offline_validation_on_the_command_line(tmp_path):
    result = runner.invoke(app, ["seed", str(DEFAULT_SEED_FILE), "--offline", "--json",
                                 "--output", str(tmp_path / "seed.json")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == json.loads((tmp_path / "seed.json").read_text())
    assert (report["published"], report["compared_with_log"], len(report["events"])) == \
        (0, False, len(seed_events()))
    assert report["events"][0]["event"]["rate_version"] == "share-2026-01"
    assert report["counts"] == {"valid": len(seed_events())}
    assert {item["status"] for item in report["events"]} == {"valid"}
    # Offline is a dry run: the events that would be published are printed, one per line.
    assert '"gift_id":"universe"' in result.stderr


def test_an_invalid_file_exits_2_and_names_the_problem(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(HEADER + 'hold_period = { rate_version = "h-1", hold_s = "15 days" }\n')
    result = runner.invoke(app, ["seed", str(path), "--offline"])
    assert result.exit_code == 2
    assert "line 3, hold_period: hold_s: Input should be a valid integer" in result.output
    missing = runner.invoke(app, ["seed", str(tmp_path / "nowhere.toml"), "--offline"])
    assert missing.exit_code == 2 and "cannot be read" in missing.output
