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


# The versions compose runs and the local stack installs (tests/unit/test_compose.py checks).
KAFKA_IMAGE = "apache/kafka:4.3.1"
POSTGRES_IMAGE = "postgres:15.18-bookworm"


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _kafka_container():
    from testcontainers.core.container import DockerContainer

    # The client listener must advertise the host's address and port, which the container
    # cannot know, so the host port is chosen here and bound explicitly.
    host_port = _free_port()
    settings = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093,HOST://:19092",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://localhost:9092,HOST://127.0.0.1:{host_port}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":
            "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,HOST:PLAINTEXT",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS": "1000",
    }
    container = DockerContainer(KAFKA_IMAGE).with_bind_ports(19092, host_port)
    for name, value in settings.items():
        container = container.with_env(name, value)
    return container, f"127.0.0.1:{host_port}"


@contextlib.contextmanager
def _containers() -> Iterator[Endpoints]:
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.postgres import PostgresContainer

    kafka_container, bootstrap = _kafka_container()
    with kafka_container as kafka, \
            PostgresContainer(POSTGRES_IMAGE, driver=None) as postgres:
        wait_for_logs(kafka, r"Kafka Server started", timeout=120)
        yield Endpoints(bootstrap, postgres.get_connection_url(), "containers")


def _local_stack() -> Endpoints:
    exported = stack.up()
    # A stack with SCRAM logins (COINLOG_KAFKA_SECURITY=scram) exports the admin's: every
    # Kafka client of the session takes them from the environment (shared/kafka_client.py).
    os.environ.update({name: value for name, value in exported.items()
                       if name.startswith("COINLOG_KAFKA_")})
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
