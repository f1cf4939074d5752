"""The gift path benchmark's correlation: outputs matched to requests by request_id, and the
hops between their append times."""

from __future__ import annotations

import pytest

from bench.gift_trace import HOPS, GiftProbe, hop_spreads, spread

REQUESTED_AT = 100.0
"""time.monotonic() of the requests; the probe's wall offset is set to 0 below."""


def probe_of(*request_ids: str) -> GiftProbe:
    probe = GiftProbe("127.0.0.1:1", dict.fromkeys(request_ids, REQUESTED_AT), "")
    probe.wall_offset = 0.0
    return probe


def output(kind: str, request_id: str) -> dict:
    return {"type": kind, "request_id": request_id}


def test_a_sent_gift_is_settled_once_its_diamonds_are_earned():
    probe = probe_of("r1")
    probe.note(output("gifting.gift_priced", "r1"), 100_010, 100.02)
    probe.note(output("wallet.coins_spent", "r1"), 100_030, 100.04)
    probe.note(output("gifting.gift_sent", "r1"), 100_050, 100.06)
    assert not probe.settled(["r1"])
    probe.note(output("payout.diamonds_earned", "r1"), 100_045, 100.07)
    assert probe.settled(["r1"])
    hops = hop_spreads(probe.traces.values(), probe.wall_offset)
    assert [hops[name].p50_ms for name, _ in HOPS] == pytest.approx(
        [60.0, 70.0, 10.0, 20.0, 20.0, 15.0, 10.0])
    assert probe.decided_between(100.0, 100.06) == 1


def test_a_rejected_request_has_no_wallet_hops():
    probe = probe_of("r1")
    probe.note(output("gifting.gift_rejected", "r1"), 100_005, 100.01)
    assert probe.settled(["r1"])
    hops = hop_spreads(probe.traces.values(), probe.wall_offset)
    assert hops["request -> gifting decided"].p50_ms == pytest.approx(5.0)
    assert hops["gifting -> wallet"].count == hops["wallet -> gift outcome"].count == 0


def test_outputs_of_other_runs_and_repeats_are_ignored():
    probe = probe_of("r1")
    probe.note(output("gifting.gift_sent", "someone-else"), 1, 1.0)
    probe.note(output("gifting.gift_failed", "r1"), 100_020, 100.03)
    probe.note(output("gifting.gift_failed", "r1"), 100_090, 100.09)
    assert list(probe.traces) == ["r1"]
    assert probe.traces["r1"].outcome_ms == 100_020
    assert probe.outcomes_seen == [100.03]


def test_spread_is_median_nearest_rank_p99_and_max():
    assert spread([]).count == 0
    figures = spread([float(n) for n in range(1, 201)])
    assert (figures.p50_ms, figures.p99_ms, figures.max_ms) == (100.5, 198.0, 200.0)
