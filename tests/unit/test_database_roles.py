"""Which login a process gets: a service its own role's, and nobody another role's."""

from __future__ import annotations

from ops import database_roles

ENVIRONMENT = {
    "DATABASE_URL": "postgresql://admin:a@db/coinlog",
    "COINLOG_DATABASE_URL_WALLET": "postgresql://wallet:w@db/coinlog",
    "COINLOG_DATABASE_URL_PAYOUT": "postgresql://payout:p@db/coinlog",
    "COINLOG_DATABASE_URL_AUDITOR": "postgresql://auditor:r@db/coinlog",
    "COINLOG_DATABASE_URL_GIFTING": "",
    "OTHER": "kept",
}


def test_the_roles_named_by_the_environment():
    assert database_roles.role_urls(ENVIRONMENT) == {
        "wallet": "postgresql://wallet:w@db/coinlog",
        "payout": "postgresql://payout:p@db/coinlog",
        "auditor": "postgresql://auditor:r@db/coinlog"}
    assert database_roles.as_variables({"wallet": "u"}) == {"COINLOG_DATABASE_URL_WALLET": "u"}


def test_a_service_gets_its_own_roles_login_and_no_other_roles():
    env = database_roles.for_service(ENVIRONMENT, "wallet")
    assert env == {"DATABASE_URL": "postgresql://wallet:w@db/coinlog", "OTHER": "kept"}


def test_a_service_without_a_login_of_its_own_keeps_database_url():
    env = database_roles.for_service(ENVIRONMENT, "gifting")
    assert env == {"DATABASE_URL": "postgresql://admin:a@db/coinlog", "OTHER": "kept"}
    assert database_roles.for_service(ENVIRONMENT, None)["DATABASE_URL"] == (
        "postgresql://admin:a@db/coinlog")


def test_the_read_commands_read_as_the_auditor_where_one_is_named(monkeypatch):
    monkeypatch.setenv("COINLOG_DATABASE_URL_AUDITOR", "postgresql://auditor:r@db/coinlog")
    assert database_roles.reader_url("admin") == "postgresql://auditor:r@db/coinlog"
    monkeypatch.delenv("COINLOG_DATABASE_URL_AUDITOR")
    assert database_roles.reader_url("admin") == "admin"
