"""Tamper evidence: the hash chain, seals, and a verifier that names what changed and where."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from shared.contract.codec import decode, encode
from shared.contract.events.seals import SEALS_TOPIC_NAME, PartitionSealed
from shared.contract.topics import Topic
from shared.sealing.chain import NULL_DIGEST, Record, chain, extend, genesis, link
from shared.sealing.seal import PartitionChain, seal_event_id, seal_records
from shared.sealing.verify import Finding, FindingKind, verify

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOPIC = "wallet.ledger"
SEALS = Topic(SEALS_TOPIC_NAME, "auditor", "topic", 1, (PartitionSealed,))


def log(n: int, *, start: int = 0, tag: str = "") -> list[Record]:
    return [Record(start + i, f"user-{i % 7}".encode(), f'{{"n":{i}{tag}}}'.encode())
            for i in range(n)]


def renumbered(records: list[Record]) -> list[Record]:
    """A copy produced in order into a fresh partition: offsets 0.. again."""
    return [Record(i, record.key, record.value) for i, record in enumerate(records)]


def tampering(findings: list[Finding]) -> list[tuple[str, int, int, FindingKind]]:
    return [(f.topic, f.partition, f.offset, f.kind) for f in findings if f.is_tampering]


# -- the chain ---------------------------------------------------------------------------------


def test_genesis_is_the_documented_hash_and_differs_per_partition():
    assert genesis(TOPIC, 3) == hashlib.sha256(b"coinlog-chain" + b"wallet.ledger"
                                               + (3).to_bytes(4, "big")).digest()
    assert len({genesis(TOPIC, 0), genesis(TOPIC, 1), genesis("payout.ledger", 0)}) == 3


def test_a_link_is_the_documented_hash():
    h0 = genesis(TOPIC, 0)
    expected = hashlib.sha256(h0 + (5).to_bytes(8, "big") + hashlib.sha256(b"k").digest()
                              + hashlib.sha256(b"v").digest()).digest()
    assert chain(TOPIC, 0, [Record(5, b"k", b"v")]) == expected
    assert link(h0, 5, hashlib.sha256(b"k").digest(), hashlib.sha256(b"v").digest()) == expected


def test_the_chain_is_deterministic_and_covers_offset_key_value():
    records = log(50)
    assert chain(TOPIC, 0, records) == chain(TOPIC, 0, list(records))
    assert chain(TOPIC, 0, records) == extend(chain(TOPIC, 0, records[:20]), records[20:])
    variants = [
        [Record(records[0].offset + 1, records[0].key, records[0].value), *records[1:]],
        [Record(0, b"other", records[0].value), *records[1:]],
        [Record(0, records[0].key, b"other"), *records[1:]],
        [Record(0, None, records[0].value), *records[1:]],
        [Record(0, b"", records[0].value), *records[1:]],
        [records[1], records[0], *records[2:]],
    ]
    hashes = {chain(TOPIC, 0, records), *(chain(TOPIC, 0, v) for v in variants)}
    assert len(hashes) == len(variants) + 1
    assert hashlib.sha256(b"").digest() != NULL_DIGEST  # a null key is not an empty one


def test_seals_chain_to_each_other_and_have_deterministic_ids():
    seals = seal_records(TOPIC, 2, log(250), every=100, occurred_at=T)
    assert [(s.first_offset, s.through_offset, s.record_count) for s in seals] == [
        (0, 99, 100), (100, 199, 200), (200, 249, 250)]
    assert seals[0].previous_chain_hash == genesis(TOPIC, 2).hex()
    assert [s.previous_chain_hash for s in seals[1:]] == [s.chain_hash for s in seals[:-1]]
    assert seals[-1].chain_hash == chain(TOPIC, 2, log(250)).hex()
    assert len(base64.b64decode(seals[0].record_digests)) == 8 * 100
    again = seal_records(TOPIC, 2, log(250), every=100,
                         occurred_at=datetime(2027, 1, 1, tzinfo=UTC))
    assert [s.event_id for s in again] == [s.event_id for s in seals]
    assert seals[1].event_id == seal_event_id(TOPIC, 2, 199)
    assert seals[0].key == TOPIC and seals[0].producer == "sealer"


def test_a_seal_round_trips_through_the_contract():
    seal = seal_records(TOPIC, 0, log(3), every=10, occurred_at=T)[0]
    assert decode(SEALS, encode(seal)).event == seal


def test_a_resumed_chain_continues_where_the_last_seal_ended():
    records = log(300)
    first = seal_records(TOPIC, 0, records[:120], every=60, occurred_at=T)
    resumed = PartitionChain.resume(first[-1])
    assert not resumed.add(119, b"k", b"v")  # already sealed
    for record in records[120:]:
        resumed.add(record.offset, record.key, record.value)
    tail = resumed.seal(T)
    assert tail.previous_chain_hash == first[-1].chain_hash
    assert tail.chain_hash == chain(TOPIC, 0, records).hex()
    assert verify({(TOPIC, 0): records}, [*first, tail]) == []


# -- verification ------------------------------------------------------------------------------

SEALED = log(400)
SEALS_OF_SEALED = seal_records(TOPIC, 1, SEALED, every=64, occurred_at=T)


def check(records: list[Record]) -> list[Finding]:
    return verify({(TOPIC, 1): records}, SEALS_OF_SEALED)


def test_an_untouched_log_is_accepted():
    assert check(SEALED) == []


def test_records_after_the_last_seal_are_information_not_failure():
    seals = seal_records(TOPIC, 1, SEALED[:300], every=64, occurred_at=T, seal_tail=False)
    findings = verify({(TOPIC, 1): SEALED}, seals)
    assert tampering(findings) == []
    assert [(f.offset, f.kind, f.count) for f in findings] == [
        (256, FindingKind.unsealed_tail, 144)]


@pytest.mark.parametrize("at", [0, 37, 63, 64, 200, 399])
def test_an_altered_record_is_found_at_its_offset(at):
    records = list(SEALED)
    records[at] = Record(at, records[at].key, records[at].value + b" ")
    assert tampering(check(records)) == [(TOPIC, 1, at, FindingKind.altered)]


def test_an_altered_key_is_found():
    records = list(SEALED)
    records[150] = Record(150, b"someone-else", records[150].value)
    assert tampering(check(records)) == [(TOPIC, 1, 150, FindingKind.altered)]


@pytest.mark.parametrize("at", [0, 37, 64, 200, 398])
def test_a_removed_record_is_found_where_it_was(at):
    records = renumbered(SEALED[:at] + SEALED[at + 1:])
    assert tampering(check(records)) == [(TOPIC, 1, at, FindingKind.removed)]


def test_a_removed_record_leaving_a_gap_in_place_is_found():
    records = SEALED[:90] + SEALED[91:]
    assert tampering(check(records)) == [(TOPIC, 1, 90, FindingKind.removed)]


def test_a_log_cut_short_is_count_short():
    findings = tampering(check(SEALED[:350]))
    assert findings == [(TOPIC, 1, 350, FindingKind.removed)]
    assert check(SEALED[:350])[0].count == 50
    assert tampering(verify({}, SEALS_OF_SEALED)) == [(TOPIC, 1, 0, FindingKind.removed)]


@pytest.mark.parametrize("at", [0, 37, 63, 200, 398])
def test_two_swapped_records_are_found_as_reordered(at):
    records = list(SEALED)
    records[at], records[at + 1] = records[at + 1], records[at]
    assert tampering(check(renumbered(records))) == [(TOPIC, 1, at, FindingKind.reordered)]


def test_a_record_moved_further_is_reordered():
    records = SEALED[:100] + SEALED[101:110] + [SEALED[100]] + SEALED[110:]
    findings = [f for f in check(renumbered(records)) if f.is_tampering]
    assert [(f.offset, f.kind, f.count) for f in findings] == [(100, FindingKind.reordered, 10)]


@pytest.mark.parametrize("at", [0, 37, 64, 200, 399])
def test_an_inserted_record_is_found_at_its_offset(at):
    forged = Record(-1, b"user-1", b'{"n":"forged"}')
    records = renumbered(SEALED[:at] + [forged] + SEALED[at:])
    findings = check(records)
    assert tampering(findings) == [(TOPIC, 1, at, FindingKind.inserted)]


def test_inserted_copy_of_an_existing_record_is_found():
    records = renumbered(SEALED[:120] + [SEALED[200]] + SEALED[120:])
    assert tampering(check(records)) == [(TOPIC, 1, 120, FindingKind.inserted)]


def test_several_edits_are_each_reported():
    records = list(SEALED)
    records[10] = Record(10, records[10].key, b"changed")
    records = records[:150] + records[151:]  # removes sealed offset 150
    records = renumbered(records)
    records = records[:300] + [Record(0, b"x", b"y")] + records[300:]
    assert tampering(check(renumbered(records))) == [
        (TOPIC, 1, 10, FindingKind.altered),
        (TOPIC, 1, 150, FindingKind.removed),
        (TOPIC, 1, 300, FindingKind.inserted),
    ]


def test_only_the_tampered_partition_is_reported():
    other = log(100, tag="p0")
    seals = [*seal_records(TOPIC, 0, other, every=30, occurred_at=T), *SEALS_OF_SEALED]
    records = list(SEALED)
    records[77] = Record(77, b"k", b"v")
    findings = verify({(TOPIC, 0): other, (TOPIC, 1): records}, seals)
    assert tampering(findings) == [(TOPIC, 1, 77, FindingKind.altered)]


def test_a_missing_seal_is_reported_and_later_seals_still_vouch():
    seals = [s for i, s in enumerate(SEALS_OF_SEALED) if i != 2]
    findings = verify({(TOPIC, 1): SEALED}, seals)
    assert [(f.offset, f.kind) for f in findings] == [(192, FindingKind.seals_inconsistent)]


def test_a_republished_seal_is_harmless():
    findings = verify({(TOPIC, 1): SEALED}, [*SEALS_OF_SEALED, SEALS_OF_SEALED[3]])
    assert findings == []
