"""Which topics are sealed, and the topic the seals go to."""

from __future__ import annotations

from shared.contract.events.seals import SEALS_TOPIC_NAME, PartitionSealed
from shared.contract.topics import (
    DEAD_LETTERS,
    GIFTS,
    PAYOUT_LEDGER,
    TOPICS_BY_NAME,
    WALLET_LEDGER,
    Topic,
)

OUTPUT_TOPICS: tuple[Topic, ...] = (WALLET_LEDGER, GIFTS, PAYOUT_LEDGER, *DEAD_LETTERS)
"""The topics whose records our services decide: the ones worth sealing."""


def seals_topic() -> Topic:
    """The registered seals topic; until topics.py registers it, an identical local one."""
    registered = TOPICS_BY_NAME.get(SEALS_TOPIC_NAME)
    if registered is not None:
        return registered
    return Topic(SEALS_TOPIC_NAME, "auditor", "topic", 1, (PartitionSealed,),
                 "Hash-chain seals of the output partitions (tamper evidence).")
