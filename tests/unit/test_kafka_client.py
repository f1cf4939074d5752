"""The one Kafka client factory: the environment's security turned into what aiokafka and
FastStream take."""

from __future__ import annotations

from pathlib import Path

import pytest
from faststream.kafka.security import parse_security
from faststream.security import SASLScram512
from pydantic import ValidationError

from shared import kafka_client
from shared.kafka_client import KafkaSecurity
from shared.settings import Settings


def test_plaintext_by_default_adds_nothing_but_the_protocol(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COINLOG_KAFKA_SECURITY_PROTOCOL", "COINLOG_KAFKA_USERNAME",
                 "COINLOG_KAFKA_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    security = KafkaSecurity.from_settings(Settings())
    assert security.client_options() == {"security_protocol": "PLAINTEXT"}
    assert security.faststream() is None
    assert security.principal == "User:ANONYMOUS"


def test_scram_from_the_environment_reaches_every_client_kind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "wallet.password"
    secret.write_text("s3cret\n")
    security = KafkaSecurity.from_settings(Settings(
        COINLOG_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", COINLOG_KAFKA_USERNAME="wallet",
        COINLOG_KAFKA_PASSWORD_FILE=str(secret)))
    options = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
               "sasl_plain_username": "wallet", "sasl_plain_password": "s3cret"}
    assert security.client_options() == options
    assert security.principal == "User:wallet"
    assert "s3cret" not in repr(security)
    built: dict[str, tuple] = {}
    for kind in ("AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"):
        monkeypatch.setattr(kafka_client, kind,
                            lambda *args, _kind=kind, **kwargs: built.setdefault(
                                _kind, (args, kwargs)))
    kafka_client.producer(bootstrap_servers="b:1", security=security, acks="all")
    kafka_client.consumer("t", bootstrap_servers="b:1", security=security, group_id=None)
    kafka_client.admin(bootstrap_servers="b:1", security=security)
    assert built["AIOKafkaProducer"] == ((), {"bootstrap_servers": "b:1", **options,
                                              "acks": "all"})
    assert built["AIOKafkaConsumer"] == (("t",), {"bootstrap_servers": "b:1", **options,
                                                  "group_id": None})
    assert built["AIOKafkaAdminClient"] == ((), {"bootstrap_servers": "b:1", **options})
    faststream = security.faststream()
    assert isinstance(faststream, SASLScram512)
    assert parse_security(faststream)["sasl_plain_username"] == "wallet"


def test_a_password_given_wins_over_the_file() -> None:
    security = KafkaSecurity.from_settings(Settings(
        COINLOG_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", COINLOG_KAFKA_USERNAME="u",
        COINLOG_KAFKA_PASSWORD="given", COINLOG_KAFKA_PASSWORD_FILE="/nonexistent"))
    assert security.password == "given"


def test_sasl_without_credentials_is_refused_with_the_variables_to_set() -> None:
    with pytest.raises(ValueError, match="COINLOG_KAFKA_USERNAME"):
        KafkaSecurity("SASL_PLAINTEXT", username="wallet")


def test_tls_files_without_tls_are_refused() -> None:
    with pytest.raises(ValueError, match="needs SSL or SASL_SSL"):
        KafkaSecurity("PLAINTEXT", ca_file="/ca.pem")


def test_an_unknown_protocol_or_mechanism_is_a_settings_error() -> None:
    with pytest.raises(ValidationError):
        Settings(COINLOG_KAFKA_SECURITY_PROTOCOL="SASL")
    with pytest.raises(ValidationError):
        Settings(COINLOG_KAFKA_SASL_MECHANISM="PLAIN")
