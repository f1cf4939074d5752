"""Which PostgreSQL login each process uses.

DATABASE_URL is the admin login: it sets up schemas, rebuilds and swaps projections, drops what
tests made. Beside it a deployment may name one login per role as COINLOG_DATABASE_URL_<ROLE>
(deploy/local/up exports them, made by deploy/compose/postgres-init.sh): each service's role
owns only its schema, and the auditor reads every schema and writes none. A service process is
given its own role's login as its DATABASE_URL, and no other role's; the read-only commands
read as the auditor. Where a role's login is not named, DATABASE_URL stands in for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

AUDITOR = "auditor"
_PREFIX = "COINLOG_DATABASE_URL_"


def variable(role: str) -> str:
    return _PREFIX + role.upper()


def role_urls(environment: Mapping[str, str]) -> dict[str, str]:
    """The logins the environment names, by role."""
    return {name.removeprefix(_PREFIX).lower(): value for name, value in environment.items()
            if name.startswith(_PREFIX) and value}


def as_variables(urls: Mapping[str, str]) -> dict[str, str]:
    return {variable(role): url for role, url in urls.items()}


def for_service(environment: Mapping[str, str], service: str | None) -> dict[str, str]:
    """A process's environment: DATABASE_URL is the login of `service`'s role when one is
    named, and no role's login is passed on (a service learns no other role's password)."""
    urls = role_urls(environment)
    own = {name: value for name, value in environment.items() if not name.startswith(_PREFIX)}
    if service is not None and service in urls:
        own["DATABASE_URL"] = urls[service]
    return own


def reader_url(default: str) -> str:
    """What the read-only commands (explain, statements) connect with: the auditor's login if
    the environment names one, else `default`."""
    return os.environ.get(variable(AUDITOR)) or default
