"""Where the tests find Kafka and PostgreSQL.

In order: endpoints given in the environment; containers when a Docker engine answers; else the
project's own local stack (deploy/local/up), which needs neither Docker nor a download beyond
the package registries.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ops import database_roles, stack

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap_servers: str
    database_url: str
    """The admin login (schemas, rebuilds, swaps, clean-up)."""
    source: str
    role_urls: Mapping[str, str] = field(default_factory=dict)
    """The login of each service's role and of the auditor, where the stack has them (the
    local stack does; see ops.database_roles)."""

    def database_url_of(self, role: str) -> str:
        """The login a process of `role` (a service, or the auditor) runs with."""
        return self.role_urls.get(role, self.database_url)


def _from_environment() -> Endpoints | None:
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("DATABASE_URL")
    if kafka and database:
        return Endpoints(kafka, database, "environment", database_roles.role_urls(os.environ))
    return None


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:  # noqa: BLE001 - whatever fails, there is no Docker to use
        return False


@contextlib.contextmanager
def _containers() -> Iterator[Endpoints]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    kafka_container = KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() \
        .with_env("KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS", "1000")
    with kafka_container as kafka, \
            PostgresContainer("postgres:16", driver=None) as postgres:
        yield Endpoints(kafka.get_bootstrap_server(), postgres.get_connection_url(), "containers")


def _local_stack() -> Endpoints:
    exported = stack.up()
    return Endpoints(exported["KAFKA_BOOTSTRAP_SERVERS"], exported["DATABASE_URL"], "local",
                     database_roles.role_urls(exported))


@contextlib.contextmanager
def endpoints() -> Iterator[Endpoints]:
    given = _from_environment()
    if given:
        yield given
    elif _docker_answers():
        with _containers() as started:
            yield started
    else:
        yield _local_stack()
