"""Every Kafka client of the project is made here, so each one connects the same way: the
bootstrap servers, and the security the deployment asks for (shared/settings.py:
COINLOG_KAFKA_SECURITY_PROTOCOL, COINLOG_KAFKA_SASL_MECHANISM, COINLOG_KAFKA_USERNAME,
COINLOG_KAFKA_PASSWORD or COINLOG_KAFKA_PASSWORD_FILE, COINLOG_KAFKA_CA_FILE,
COINLOG_KAFKA_CERT_FILE, COINLOG_KAFKA_KEY_FILE).

A client built without an explicit `security` takes it from the environment; a process
running as several principals (a test, a service given its own Settings) passes one.
tests/test_style.py fails on a client constructed anywhere else.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import AIOKafkaClient
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.helpers import create_ssl_context
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLScram256, SASLScram512

from shared.settings import Settings

Protocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"]
Mechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256"]

log = logging.getLogger(__name__)


class KafkaAuthenticationFailed(KafkaError):
    """The broker refused this client's credentials (or its certificate)."""


@dataclass(frozen=True)
class KafkaSecurity:
    """How a client proves who it is; PLAINTEXT means anonymous, as on a dev broker."""

    protocol: Protocol = "PLAINTEXT"
    mechanism: Mechanism = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def __post_init__(self) -> None:
        if self.sasl and not (self.username and self.password):
            raise ValueError(f"Kafka security {self.protocol} needs a username and a password "
                             "(COINLOG_KAFKA_USERNAME, COINLOG_KAFKA_PASSWORD or "
                             "COINLOG_KAFKA_PASSWORD_FILE)")
        if not self.tls and (self.ca_file or self.cert_file or self.key_file):
            raise ValueError(f"Kafka security {self.protocol} uses no TLS: a CA, certificate "
                             "or key file needs SSL or SASL_SSL")

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaSecurity:
        password = settings.kafka_password or None
        if password is None and settings.kafka_password_file:
            password = Path(settings.kafka_password_file).read_text().strip()
        return cls(settings.kafka_security_protocol, settings.kafka_sasl_mechanism,
                   settings.kafka_username, password, settings.kafka_ca_file,
                   settings.kafka_cert_file, settings.kafka_key_file)

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.protocol.endswith("SSL")

    @property
    def principal(self) -> str:
        """Who the broker sees: the SASL user, else the certificate, else nobody."""
        if self.sasl:
            return f"User:{self.username}"
        return f"certificate {self.cert_file}" if self.cert_file else "User:ANONYMOUS"

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        return create_ssl_context(cafile=self.ca_file, certfile=self.cert_file,
                                  keyfile=self.key_file)

    def client_options(self) -> dict[str, Any]:
        """The keyword arguments aiokafka's producer, consumer and admin client take."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        if self.sasl:
            options.update(sasl_mechanism=self.mechanism, sasl_plain_username=self.username,
                           sasl_plain_password=self.password)
        return options

    def faststream(self) -> BaseSecurity | None:
        """The same, as FastStream's KafkaBroker takes it."""
        context = self.ssl_context()
        if self.sasl:
            scram = SASLScram512 if self.mechanism == "SCRAM-SHA-512" else SASLScram256
            assert self.username is not None and self.password is not None
            return scram(self.username, self.password, ssl_context=context,
                         use_ssl=self.tls)
        return BaseSecurity(ssl_context=context, use_ssl=self.tls) if self.tls else None


def principal_environment(principal: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables that make a child process log in as `principal`, when `environ` names a
    credentials folder and a SASL protocol; else none (it keeps the caller's login)."""
    folder = environ.get("COINLOG_KAFKA_CREDENTIALS_DIR")
    if not folder or not environ.get("COINLOG_KAFKA_SECURITY_PROTOCOL", "").startswith("SASL_"):
        return {}
    return {"COINLOG_KAFKA_USERNAME": principal, "COINLOG_KAFKA_PASSWORD": "",
            "COINLOG_KAFKA_PASSWORD_FILE": str(Path(folder) / f"{principal}.password")}


def security_of(principal: str, settings: Settings | None = None) -> KafkaSecurity:
    """The login of `principal` from the credentials folder, with the environment's protocol
    (for a process acting as several principals, such as a test)."""
    settings = settings or Settings()
    if not settings.kafka_credentials_dir:
        raise ValueError("COINLOG_KAFKA_CREDENTIALS_DIR is not set: no other principal's "
                         "password is known")
    password = (Path(settings.kafka_credentials_dir) / f"{principal}.password").read_text()
    return KafkaSecurity(settings.kafka_security_protocol, settings.kafka_sasl_mechanism,
                         principal, password.strip(), settings.kafka_ca_file)


@cache
def _from_environment() -> KafkaSecurity:
    return KafkaSecurity.from_settings(Settings())


def environment_security() -> KafkaSecurity:
    """The security of this process's environment (read once)."""
    return _from_environment()


def _options(security: KafkaSecurity | None, options: dict[str, Any]) -> dict[str, Any]:
    return {**(security or environment_security()).client_options(), **options}


def producer(*, bootstrap_servers: str, security: KafkaSecurity | None = None,
             **options: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap_servers, **_options(security, options))


def consumer(*topics: str, bootstrap_servers: str, security: KafkaSecurity | None = None,
             **options: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap_servers,
                            **_options(security, options))


def admin(*, bootstrap_servers: str, security: KafkaSecurity | None = None,
          **options: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers,
                               **_options(security, options))


def client(*, bootstrap_servers: str, security: KafkaSecurity | None = None,
           **options: Any) -> AIOKafkaClient:
    """The low-level client (metadata only: readiness asks the broker with it)."""
    return AIOKafkaClient(bootstrap_servers=bootstrap_servers, **_options(security, options))


def broker(*, bootstrap_servers: str, security: KafkaSecurity | None = None,
           **options: Any) -> KafkaBroker:
    return KafkaBroker(
        # A list: FastStream reads one string as one host, commas and all.
        bootstrap_servers.split(","),
        security=(security or environment_security()).faststream(), **options)


T = TypeVar("T")


async def started(start: Callable[[], Awaitable[T]], bootstrap_servers: str,
                  security: KafkaSecurity | None = None) -> T:
    """Run a client's start. A broker that refuses the client's credentials makes aiokafka
    say only "Unable to bootstrap", which reads like an outage and is retried as one: here
    that refusal is KafkaAuthenticationFailed, naming the principal and the broker's reason."""
    security = security or environment_security()
    try:
        return await start()
    except KafkaConnectionError as error:
        if (security.sasl or security.tls) and \
                (refusal := await _refusal(bootstrap_servers, security)) is not None:
            raise KafkaAuthenticationFailed(
                f"Kafka at {bootstrap_servers} refused {security.principal} "
                f"({security.protocol}{' ' + security.mechanism if security.sasl else ''}): "
                f"{refusal}; check the credentials (COINLOG_KAFKA_USERNAME, "
                "COINLOG_KAFKA_PASSWORD[_FILE]) and that the broker knows this user"
            ) from error
        raise


async def _refusal(bootstrap_servers: str, security: KafkaSecurity) -> str | None:
    """Why the first broker refuses these credentials; None when it cannot be reached (an
    outage, not a refusal) or accepts them."""
    host, _, port = bootstrap_servers.split(",")[0].strip().rpartition(":")
    try:
        connection = await asyncio.wait_for(
            create_conn(host, int(port), **security.client_options()), 10)
    except (TimeoutError, OSError, KafkaConnectionError):
        return None
    except KafkaError as error:
        return f"{type(error).__name__}: {error}"
    connection.close()
    return None
