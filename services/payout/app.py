"""The payout service: the single writer of diamond balances and payouts."""

from __future__ import annotations

from services.payout import api, handlers, store
from services.payout.projection import CREATOR, PayoutProjection
from shared.contract.events.payout import DiamondsEarned
from shared.contract.topics import CONSUMED_BY
from shared.runtime.health import PolicyProbe
from shared.runtime.migrate import migrations_in
from shared.runtime.service import ConsumerSpec, ServiceDefinition

definition = ServiceDefinition(
    name="payout",
    consumers=[ConsumerSpec(
        "payout", CONSUMED_BY["payout"],
        handlers.handle,
        "Earns diamonds for spent gifts, holds them, converts and pays them out, claws them "
        "back after chargebacks.",
        entities=handlers.creators_of)],
    migrations=migrations_in("services.payout.migrations", "payout"),
    routes=api.routes,
    projection=PayoutProjection,
    entity=CREATOR,
    latency_stages={DiamondsEarned.model_fields["type"].default: "diamonds_earned"},
    policy=PolicyProbe(store.policy_known,
                       "the built-in defaults " + ", ".join(store.default_rate_versions())),
)
