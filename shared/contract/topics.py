"""Every topic of the economy: its name, owner, partition key and the events it carries.

Only the owner writes a topic. Each topic is partitioned by the entity whose invariant is
checked, so one entity's events are decided in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from shared.contract.envelope import Event
from shared.contract.events import (
    catalog,
    creators,
    deadletter,
    gifting,
    payments,
    payout,
    policy,
    promotions,
    seals,
    streams,
    users,
    wallet,
)


@dataclass(frozen=True)
class Topic:
    name: str
    owner: str
    key: str
    partitions: int
    events: tuple[type[Event], ...]
    description: str = ""
    retention_ms: int = -1
    """The log of record is kept forever."""
    config: dict[str, str] = field(default_factory=dict)

    @property
    def payload_type(self) -> Any:
        """The topic's one event class, or the union of its events told apart by `type`."""
        if len(self.events) == 1:
            return self.events[0]
        return Annotated[Union[self.events], Field(discriminator="type")]  # noqa: UP007 - `|` cannot join a tuple

    @cached_property
    def adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.payload_type)

    @cached_property
    def event_types(self) -> dict[str, type[Event]]:
        return {model.model_fields["type"].default: model for model in self.events}

    def __hash__(self) -> int:
        return hash(self.name)


LOG_APPEND_TIME = {"message.timestamp.type": "LogAppendTime"}
"""The broker, not the publisher, stamps every record of an input topic: the bound that
occurred_at may not pass (shared/contract/codec.MAX_CLOCK_SKEW_S), the same in every replay."""

PURCHASES = Topic(
    "payments.purchases", "payments", "user_id", 6,
    (payments.PurchaseCompleted, payments.PurchaseRefunded, payments.PurchaseChargedBack),
    "Money in and money taken back, from the payments service.",
    config=LOG_APPEND_TIME,
)
PROMO_GRANTS = Topic(
    "promotions.grants", "promotions", "user_id", 3, (promotions.PromoCoinsGranted,),
    "Promotional coins with an expiry.",
    config=LOG_APPEND_TIME,
)
USER_ACCOUNTS = Topic(
    "users.accounts", "users", "user_id", 3,
    (users.AgeVerified, users.SpendingLimitSet, users.CreatorVerified),
    "Age checks, spending limits, creator verification.",
    config=LOG_APPEND_TIME,
)
STREAM_LIFECYCLE = Topic(
    "streams.lifecycle", "live", "stream_id", 3, (streams.StreamStarted, streams.StreamEnded),
    "Live streams starting and ending.",
    config=LOG_APPEND_TIME,
)
GIFT_REQUESTS = Topic(
    "streams.gift-requests", "live", "sender_id", 6, (streams.GiftRequested,),
    "Viewers asking to send a gift during a stream.",
    config=LOG_APPEND_TIME,
)
CATALOG_CHANGES = Topic(
    "catalog.changes", "catalog", "gift_id", 1,
    (catalog.GiftListed, catalog.GiftRepriced, catalog.GiftRetired,
     catalog.CampaignStarted, catalog.CampaignEnded),
    "Gift prices and campaigns; one partition gives catalog versions one order.",
    config=LOG_APPEND_TIME,
)
POLICY_CHANGES = Topic(
    "policy.changes", "policy", "policy_key", 1,
    (policy.CreatorShareSet, policy.DiamondCashRateSet, policy.HoldPeriodSet,
     policy.PayoutLimitsSet, policy.SpendingPolicySet, policy.CoinPackagePriced),
    "Versioned rates and limits; one partition gives policy versions one order.",
    config=LOG_APPEND_TIME,
)
PAYOUT_REQUESTS = Topic(
    "creators.payout-requests", "creator-app", "creator_id", 3, (creators.PayoutRequested,),
    "Creators asking to cash out diamonds.",
    config=LOG_APPEND_TIME,
)
PROVIDER_PAYOUTS = Topic(
    "provider.payouts", "payout-provider", "creator_id", 3,
    (creators.PayoutSucceeded, creators.PayoutFailed),
    "Outcomes of payouts from the creator-payments provider.",
    config=LOG_APPEND_TIME,
)
GIFTS = Topic(
    "gifting.gifts", "gifting", "sender_id", 6,
    (gifting.GiftPriced, gifting.GiftRejected, gifting.GiftSent, gifting.GiftFailed),
    "Gift orders priced by gifting and their outcomes.",
)
WALLET_LEDGER = Topic(
    "wallet.ledger", "wallet", "user_id", 6,
    (wallet.CoinsPurchased, wallet.PromoCoinsCredited, wallet.PromoCoinsExpired,
     wallet.CoinsSpent, wallet.SpendRejected, wallet.CoinsClawedBack, wallet.WalletFrozen,
     wallet.WalletUnfrozen, wallet.AgeVerificationRecorded, wallet.SpendingLimitRecorded,
     wallet.PurchaseRefused),
    "Every change of a coin balance, decided by the wallet.",
)
PAYOUT_LEDGER = Topic(
    "payout.ledger", "payout", "creator_id", 6,
    (payout.DiamondsEarned, payout.DiamondsClawedBack, payout.PayoutReserved,
     payout.PayoutRejected, payout.PayoutPosted, payout.PayoutReleased,
     payout.CreatorVerificationRecorded),
    "Every change of a diamond balance and payout, decided by payout.",
)

AUDIT_SEALS = Topic(
    "audit.seals", "auditor", "topic", 1, (seals.PartitionSealed,),
    "Hash-chain seals of the output partitions, published by the sealer (tamper evidence).",
)


def dead_letter_topic(consumer: str) -> Topic:
    return Topic(
        f"{consumer}.dead-letter", consumer, "consumer", 1, (deadletter.EventDeadLettered,),
        f"Input the {consumer} consumer could not accept, with the reason.",
    )


DEAD_LETTERS = tuple(dead_letter_topic(service) for service in ("wallet", "gifting", "payout"))

ALL_TOPICS: tuple[Topic, ...] = (
    PURCHASES, PROMO_GRANTS, USER_ACCOUNTS, STREAM_LIFECYCLE, GIFT_REQUESTS, CATALOG_CHANGES,
    POLICY_CHANGES, PAYOUT_REQUESTS, PROVIDER_PAYOUTS, GIFTS, WALLET_LEDGER, PAYOUT_LEDGER,
    *DEAD_LETTERS, AUDIT_SEALS,
)
TOPICS_BY_NAME = {topic.name: topic for topic in ALL_TOPICS}

CONSUMED_BY: dict[str, tuple[Topic, ...]] = {
    "wallet": (PURCHASES, PROMO_GRANTS, USER_ACCOUNTS, POLICY_CHANGES, GIFTS),
    "gifting": (STREAM_LIFECYCLE, CATALOG_CHANGES, USER_ACCOUNTS, GIFT_REQUESTS, WALLET_LEDGER),
    "payout": (WALLET_LEDGER, USER_ACCOUNTS, POLICY_CHANGES, PAYOUT_REQUESTS, PROVIDER_PAYOUTS),
}
"""The topics each coinlog consumer reads, in the order it subscribes to them. The services'
consumers take their topics from here, and the AsyncAPI document names the readers of each."""


def consumers_of(topic: Topic) -> tuple[str, ...]:
    return tuple(consumer for consumer, topics in CONSUMED_BY.items() if topic in topics)


def topic_of(event: Event) -> Topic:
    for topic in ALL_TOPICS:
        if type(event) in topic.events:
            return topic
    raise LookupError(f"no topic carries {type(event).__name__}")
