"""Configuration from the environment, one class for every service.

The names below are the deployment contract: docker-compose.yml, deploy/local and the tests set
exactly these variables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = Field(
        default="PLAINTEXT", validation_alias="COINLOG_KAFKA_SECURITY_PROTOCOL")
    """How every Kafka client connects (shared/kafka_client.py): SASL_* with a username and
    password, *SSL with the CA below (and a client certificate for SSL alone)."""
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = Field(
        default="SCRAM-SHA-512", validation_alias="COINLOG_KAFKA_SASL_MECHANISM")
    kafka_username: str | None = Field(default=None, validation_alias="COINLOG_KAFKA_USERNAME")
    """The principal (User:<name>) the ACLs grant to: one per service, the sealer, the auditor
    and each upstream publisher (`coinlog topics ensure` creates the ACLs)."""
    kafka_password: str | None = Field(default=None, validation_alias="COINLOG_KAFKA_PASSWORD",
                                       repr=False)
    kafka_password_file: str | None = Field(default=None,
                                            validation_alias="COINLOG_KAFKA_PASSWORD_FILE")
    """A file holding the password (a mounted secret), read when the password is not set."""
    kafka_credentials_dir: str | None = Field(
        default=None, validation_alias="COINLOG_KAFKA_CREDENTIALS_DIR")
    """A folder of `<principal>.password` files (the local stack's): a process that starts
    others (the demo's fleet, the tests) logs each in as its own principal."""
    kafka_ca_file: str | None = Field(default=None, validation_alias="COINLOG_KAFKA_CA_FILE")
    kafka_cert_file: str | None = Field(default=None, validation_alias="COINLOG_KAFKA_CERT_FILE")
    kafka_key_file: str | None = Field(default=None, validation_alias="COINLOG_KAFKA_KEY_FILE")
    db_password_file: str | None = Field(default=None, validation_alias="COINLOG_DB_PASSWORD_FILE")
    """A file holding the database password (a container secret), so that no password need
    stand in DATABASE_URL or the environment; it replaces the URL's password, if any."""
    database_url: str = Field(
        default="postgresql://coinlog:coinlog@127.0.0.1:15432/coinlog",
        validation_alias="DATABASE_URL",
    )

    @field_validator("database_url")
    @classmethod
    def _password_from_file(cls, url: str, info: ValidationInfo) -> str:
        password_file = info.data.get("db_password_file")
        if not password_file:
            return url
        password = Path(password_file).read_text().strip()
        if not password:
            raise ValueError(f"COINLOG_DB_PASSWORD_FILE {password_file} is empty")
        parts = urlsplit(url)
        user = parts.username or ""
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        netloc = f"{quote(unquote(user), safe='')}:{quote(password, safe='')}@{host}{port}"
        return urlunsplit(parts._replace(netloc=netloc))
    # Each service owns one schema; a rebuild projects into another one and swaps.
    db_schema: str | None = Field(default=None, validation_alias="COINLOG_DB_SCHEMA")
    topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_.-]{0,64}$",
                              validation_alias="COINLOG_TOPIC_PREFIX")
    """Prepended to every topic name, so several environments can share one Kafka cluster."""
    instance_id: str = Field(default="local-1", validation_alias="COINLOG_INSTANCE_ID")
    http_host: str = Field(default="127.0.0.1", validation_alias="COINLOG_HTTP_HOST")
    http_port: int = Field(default=0, validation_alias="COINLOG_HTTP_PORT")
    batch_max_records: int = Field(default=500, ge=1, validation_alias="COINLOG_BATCH_MAX_RECORDS")
    batch_timeout_ms: int = Field(default=50, ge=1, validation_alias="COINLOG_BATCH_TIMEOUT_MS")
    db_pool_size: int = Field(default=4, ge=1, validation_alias="COINLOG_DB_POOL_SIZE")
    topic_replication_factor: int = Field(default=1, ge=1,
                                          validation_alias="COINLOG_TOPIC_REPLICATION_FACTOR")
    """Replicas of every topic `coinlog topics ensure` creates (and checks); 3 on a cluster,
    with min.insync.replicas 2 and producers acknowledging all."""
    topic_min_insync_replicas: int | None = Field(
        default=None, ge=1, validation_alias="COINLOG_TOPIC_MIN_INSYNC_REPLICAS")
    kafka_session_timeout_ms: int = Field(default=1500, ge=500,
                                          validation_alias="COINLOG_KAFKA_SESSION_TIMEOUT_MS")
    """How long the group waits for a silent instance before its partitions move to the
    others: the failover time after a crash. Raised to the broker's
    group.min.session.timeout.ms (6 s by default) when that is higher; the local stack and
    compose allow 1 s."""
    shutdown_grace_s: float = Field(default=20.0, gt=0, validation_alias="COINLOG_SHUTDOWN_GRACE_S")
    """On SIGTERM, how long the batch in flight may take to commit (FastStream's graceful
    timeout); closing the pool and the clients takes at most CLOSE_S more. Below compose's
    stop_grace_period (30 s), so a stop is never a SIGKILL."""
    consumer_stall_s: float = Field(default=90.0, gt=0, validation_alias="COINLOG_CONSUMER_STALL_S")
    """/livez fails once a consumer has neither polled Kafka nor ended a batch attempt for this
    long while it has work waiting: longer than a statement may take (60 s)."""
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    """Where spans go (OTLP over gRPC); the exporter reads this and the other OTEL_* variables
    (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_INSECURE, _CERTIFICATE, _HEADERS) itself."""
    traces_file: str | None = Field(default=None, validation_alias="COINLOG_TRACES_FILE")
    """Also append every span to this file, one JSON object per line."""
    metrics_refresh_s: float = Field(default=5.0, gt=0,
                                     validation_alias="COINLOG_METRICS_REFRESH_S")
    """How often the lag and outbox gauges are measured (shared/runtime/backlog_gauges.py)."""
    local_dir: str | None = Field(default=None, validation_alias="COINLOG_LOCAL_DIR")
    """The local stack's folder (deploy/local): when set, a process serving HTTP announces its
    /metrics there to the local Prometheus (shared/runtime/scrape_target.py)."""
    log_level: str = Field(default="INFO", validation_alias="COINLOG_LOG_LEVEL")
    log_format: Literal["json", "plain"] = Field(default="json",
                                                 validation_alias="COINLOG_LOG_FORMAT")
    """json: one object per line, for a log pipeline; plain: lines for a person reading."""
    jwt_public_key: str | None = Field(default=None, validation_alias="COINLOG_JWT_PUBLIC_KEY")
    """PEM of the key that verifies bearer tokens (RSA: RS256, Ed25519: EdDSA). Without it (or
    the file below) every query route answers 401: the API fails closed."""
    jwt_public_key_file: str | None = Field(default=None,
                                            validation_alias="COINLOG_JWT_PUBLIC_KEY_FILE")
    jwt_issuer: str = Field(default="coinlog", validation_alias="COINLOG_JWT_ISSUER")
    jwt_audience: str = Field(default="coinlog", validation_alias="COINLOG_JWT_AUDIENCE")

    def schema_for(self, service: str) -> str:
        return self.db_schema or service

    def jwt_public_key_pem(self) -> str | None:
        if self.jwt_public_key:
            return self.jwt_public_key
        if self.jwt_public_key_file:
            return Path(self.jwt_public_key_file).read_text()
        return None


ENVIRONMENT_VARIABLES = tuple(
    field.validation_alias for field in Settings.model_fields.values()
)
