"""The layout `coinlog topics ensure` wants, and the drift it reports, without a broker."""

from __future__ import annotations

from shared.contract.topics import GIFTS, PURCHASES
from shared.runtime.topic_layout import (
    PARTITIONS,
    REPLICATION_FACTOR,
    Drift,
    Observed,
    TopicsReport,
    drift_of,
    layouts,
)


def test_the_layout_takes_the_registry_and_the_settings() -> None:
    wanted = layouts([PURCHASES, GIFTS], prefix="p.", replication_factor=3,
                     min_insync_replicas=2)
    purchases = wanted["p.payments.purchases"]
    assert (purchases.partitions, purchases.replication_factor) == (6, 3)
    assert purchases.configs == {"retention.ms": "-1", "min.insync.replicas": "2",
                                 "message.timestamp.type": "LogAppendTime"}
    assert "message.timestamp.type" not in wanted["p.gifting.gifts"].configs
    assert "min.insync.replicas" not in layouts(
        [GIFTS], prefix="", replication_factor=1, min_insync_replicas=None)[
        "gifting.gifts"].configs


def test_drift_names_each_setting_that_differs() -> None:
    layout = layouts([PURCHASES], prefix="", replication_factor=3,
                     min_insync_replicas=None)["payments.purchases"]
    same = Observed(6, 3, {"retention.ms": "-1", "message.timestamp.type": "LogAppendTime"})
    assert drift_of(layout, same) == []
    found = drift_of(layout, Observed(4, 1, {"retention.ms": "604800000"}))
    assert found == [
        Drift("payments.purchases", PARTITIONS, "6", "4"),
        Drift("payments.purchases", REPLICATION_FACTOR, "3", "1"),
        Drift("payments.purchases", "message.timestamp.type", "LogAppendTime", None),
        Drift("payments.purchases", "retention.ms", "-1", "604800000"),
    ]
    assert [d.alterable for d in found] == [False, False, True, True]


def test_a_report_is_in_order_only_without_missing_topics_or_drift_left() -> None:
    partitions = Drift("t", PARTITIONS, "6", "3")
    retention = Drift("t", "retention.ms", "-1", "1")
    assert not TopicsReport(check=True, missing=["t"]).in_order
    altered = TopicsReport(check=False, drift=[retention], altered=["t"])
    assert altered.in_order and altered.remaining == []
    left = TopicsReport(check=False, drift=[partitions, retention], altered=["t"])
    assert left.remaining == [partitions] and not left.in_order
    assert [d["fixed"] for d in left.as_json()["drift"]] == [False, True]
