"""Where the tests find Kafka and PostgreSQL.

In order: endpoints given in the environment; containers when a Docker engine answers; else the
project's own local stack (deploy/local/up), which needs neither Docker nor a download beyond
the package registries.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ops import stack

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap_servers: str
    database_url: str
    source: str


def _from_environment() -> Endpoints | None:
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("DATABASE_URL")
    if kafka and database:
        return Endpoints(kafka, database, "environment")
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
    # A stack with SCRAM logins (COINLOG_KAFKA_SECURITY=scram) exports the admin's: every
    # Kafka client of the session takes them from the environment (shared/kafka_client.py).
    os.environ.update({name: value for name, value in exported.items()
                       if name.startswith("COINLOG_KAFKA_")})
    return Endpoints(exported["KAFKA_BOOTSTRAP_SERVERS"], exported["DATABASE_URL"], "local")


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
