"""The ACLs follow the registry: owners write, consumers read their inputs, the auditor
reads everything and writes nothing."""

from __future__ import annotations

import re

from shared.contract.topics import (
    ALL_TOPICS,
    AUDIT_SEALS,
    CONSUMED_BY,
    GIFTS,
    PAYOUT_LEDGER,
    PURCHASES,
    WALLET_LEDGER,
)
from shared.kafka_acls import Acl, Operation, Pattern, Resource, acls, principals
from shared.sealing.registry import OUTPUT_TOPICS
from tests.infrastructure import ROOT


def _writers(prefix: str, topic_name: str) -> set[str]:
    return {acl.principal for acl in acls(prefix) if acl.operation is Operation.WRITE
            and acl.resource is Resource.TOPIC and acl.name == prefix + topic_name}


def test_only_the_owner_writes_each_topic_and_the_sealer_the_seals() -> None:
    for topic in ALL_TOPICS:
        expected = {"sealer"} if topic is AUDIT_SEALS else {topic.owner}
        assert _writers("p.", topic.name) == expected, topic.name
    assert "wallet" not in _writers("", GIFTS.name) | _writers("", PAYOUT_LEDGER.name)
    assert _writers("", WALLET_LEDGER.name) == {"wallet"}


def test_each_consumer_reads_only_its_inputs_and_its_group() -> None:
    for service, inputs in CONSUMED_BY.items():
        read = {acl.name for acl in acls("ns.") if acl.principal == service
                and acl.operation is Operation.READ and acl.resource is Resource.TOPIC}
        assert read == {"ns." + topic.name for topic in inputs}
        assert Acl(service, Resource.GROUP, f"ns.{service}", Pattern.PREFIXED,
                   Operation.READ) in acls("ns.")


def test_the_auditor_reads_every_topic_of_its_prefix_and_writes_none() -> None:
    mine = [acl for acl in acls("ns.") if acl.principal == "auditor"]
    assert mine == [Acl("auditor", Resource.TOPIC, "ns.", Pattern.PREFIXED, Operation.READ)]
    assert [acl.name for acl in acls("") if acl.principal == "auditor"] == ["*"]


def test_the_sealer_reads_the_outputs_and_its_seals_and_writes_only_seals() -> None:
    mine = [acl for acl in acls() if acl.principal == "sealer"]
    read = {acl.name for acl in mine if acl.operation is Operation.READ}
    assert read == {topic.name for topic in (*OUTPUT_TOPICS, AUDIT_SEALS)}
    assert {acl.name for acl in mine if acl.operation is Operation.WRITE} == {AUDIT_SEALS.name}


def test_publishers_write_their_topics_only() -> None:
    payments = [acl for acl in acls() if acl.principal == "payments"]
    assert payments == [Acl("payments", Resource.TOPIC, PURCHASES.name, Pattern.LITERAL,
                            Operation.WRITE)]


def test_the_local_stack_makes_a_login_for_every_principal() -> None:
    lib = (ROOT / "deploy/local/lib.sh").read_text()
    listed = re.search(r"^KAFKA_PRINCIPALS=\((.*)\)$", lib, re.MULTILINE)
    assert listed is not None
    assert tuple(listed.group(1).split()) == principals()
