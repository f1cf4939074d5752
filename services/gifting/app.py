"""The gifting service: prices gift requests, records outcomes, keeps leaderboards."""

from __future__ import annotations

from services.gifting import api, handlers, store
from services.gifting.projection import GiftingProjection
from shared.contract.events.gifting import GiftFailed, GiftRejected, GiftSent
from shared.contract.topics import CONSUMED_BY
from shared.runtime.health import PolicyProbe
from shared.runtime.migrate import migrations_in
from shared.runtime.service import ConsumerSpec, ServiceDefinition

definition = ServiceDefinition(
    name="gifting",
    consumers=[ConsumerSpec(
        "gifting", CONSUMED_BY["gifting"],
        handlers.handle,
        "Prices gift requests against the catalog and live streams; turns the wallet's answers "
        "into sent or failed gifts.",
        entities=handlers.senders_of)],
    migrations=migrations_in("services.gifting.migrations", "gifting"),
    routes=api.routes,
    projection=GiftingProjection,
    # A gift's outcome: sent, rejected by gifting, or failed at the wallet.
    latency_stages={model.model_fields["type"].default: "outcome"
                    for model in (GiftSent, GiftRejected, GiftFailed)},
    policy=PolicyProbe(store.catalog_known,
                       "no catalog at all (every gift request is rejected as an unknown gift)",
                       missing="no gift catalog published yet: run `coinlog seed FILE` (or the "
                               "demo)"),
)
