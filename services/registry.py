"""Every coinlog service, named once. The tools (replay, rebuild, verify, point-in-time
answers, the backlog, the API documents, the demo's fleet) iterate this registry; adding a
service is adding its definition here."""

from __future__ import annotations

from services.gifting.app import definition as gifting
from services.payout.app import definition as payout
from services.wallet.app import definition as wallet
from shared.projection import EntityKind, Projection
from shared.runtime.service import ServiceDefinition

SERVICES: tuple[ServiceDefinition, ...] = (wallet, gifting, payout)
"""In the order an economy's money flows through them."""

NAMES: tuple[str, ...] = tuple(definition.name for definition in SERVICES)


def service(name: str) -> ServiceDefinition:
    for definition in SERVICES:
        if definition.name == name:
            return definition
    raise ValueError(f"unknown service {name!r}; one of {', '.join(NAMES)}")


def projection(name: str) -> Projection:
    """A new, empty projection of the service's read model."""
    folding = service(name).projection
    if folding is None:
        raise ValueError(f"service {name!r} has no projection")
    return folding()


ENTITY_KINDS: dict[str, EntityKind] = {
    definition.entity.name: definition.entity for definition in SERVICES
    if definition.entity is not None}
"""The entities that point-in-time answers know, by name (wallet, creator)."""
