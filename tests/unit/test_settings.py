"""Settings read from the environment: the database password from a secret file."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
from pydantic import ValidationError

from shared.settings import Settings


def test_the_password_file_replaces_the_urls_password(tmp_path, monkeypatch):
    secret = tmp_path / "wallet_db_password"
    secret.write_text("s3cr/t@:x\n")
    monkeypatch.setenv("COINLOG_DB_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("DATABASE_URL", "postgresql://wallet:old@postgres:5432/coinlog?sslmode=require")
    url = urlsplit(Settings().database_url)
    assert (url.username, unquote(url.password or "")) == ("wallet", "s3cr/t@:x")
    assert (url.hostname, url.port, url.path, url.query) == ("postgres", 5432, "/coinlog",
                                                             "sslmode=require")


def test_without_a_password_file_the_url_is_kept(monkeypatch):
    monkeypatch.delenv("COINLOG_DB_PASSWORD_FILE", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://wallet:pw@postgres/coinlog")
    assert Settings().database_url == "postgresql://wallet:pw@postgres/coinlog"


def test_an_empty_password_file_is_an_error_that_names_it(tmp_path, monkeypatch):
    secret = tmp_path / "empty"
    secret.write_text("\n")
    monkeypatch.setenv("COINLOG_DB_PASSWORD_FILE", str(secret))
    with pytest.raises(ValidationError, match="is empty"):
        Settings()
