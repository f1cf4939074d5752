"""The wallet service: the single writer of coin balances."""

from __future__ import annotations

from services.wallet import api, handlers, store
from services.wallet.projection import WALLET, WalletProjection
from shared.contract.topics import CONSUMED_BY
from shared.runtime.health import PolicyProbe
from shared.runtime.migrate import migrations_in
from shared.runtime.service import ConsumerSpec, ServiceDefinition

definition = ServiceDefinition(
    name="wallet",
    consumers=[ConsumerSpec(
        "wallet", CONSUMED_BY["wallet"],
        handlers.handle,
        "Credits purchases and promo coins, debits priced gifts with lot provenance, claws "
        "back refunds and chargebacks.",
        entities=handlers.wallets_of)],
    migrations=migrations_in("services.wallet.migrations", "wallet"),
    routes=api.routes,
    projection=WalletProjection,
    entity=WALLET,
    # Without a spending policy a spend decision names no policy version and has no platform
    # cap, which is what the default spending-2026-01 says too.
    policy=PolicyProbe(store.policy_known,
                       "no platform spending caps (as the default spending-2026-01)"),
)
