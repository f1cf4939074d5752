"""The local stack (deploy/local) as seen from Python: start it and read its endpoints."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ops import database_roles

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / "deploy" / "local"


class StackError(RuntimeError):
    pass


def up(components: tuple[str, ...] = (), environment: dict[str, str] | None = None
       ) -> dict[str, str]:
    """Start (or just check) the local Kafka and PostgreSQL; return their exported variables.
    `environment` (deploy/local's variables) selects another stack than the default one."""
    completed = subprocess.run([str(LOCAL / "up"), *components], stdout=subprocess.PIPE,
                               text=True, check=False, env=environment)
    if completed.returncode != 0:
        raise StackError(f"deploy/local/up {' '.join(components)} failed with exit code "
                         f"{completed.returncode}")
    exported = {}
    for line in completed.stdout.splitlines():
        if line.startswith("export ") and "=" in line:
            name, value = line.removeprefix("export ").split("=", 1)
            exported[name] = value.strip("'\"")
    return exported


def down(purge: bool = False) -> None:
    prometheus_down()
    subprocess.run([str(LOCAL / "down"), *(["--purge"] if purge else [])], check=True)


def local_dir() -> Path:
    """Where deploy/local keeps its state (COINLOG_LOCAL_DIR, else .local in the checkout)."""
    return Path(os.environ.get("COINLOG_LOCAL_DIR") or ROOT / ".local").resolve()


def prometheus_up() -> str:
    """Start (or just check) the local Prometheus (deploy/local/prometheus); return its URL."""
    completed = subprocess.run([str(LOCAL / "prometheus"), "up"], stdout=subprocess.PIPE,
                               text=True, check=False)
    if completed.returncode != 0:
        raise StackError(f"deploy/local/prometheus up failed with exit code "
                         f"{completed.returncode}")
    for line in completed.stdout.splitlines():
        if line.startswith("export COINLOG_PROMETHEUS_URL="):
            return line.split("=", 1)[1].strip("'\"")
    raise StackError("deploy/local/prometheus up printed no COINLOG_PROMETHEUS_URL")


def prometheus_down() -> None:
    subprocess.run([str(LOCAL / "prometheus"), "down"], check=True)


def endpoints_from_environment_or_local() -> dict[str, str]:
    """Use the endpoints the environment names (with the logins of the database's roles it
    names, see ops.database_roles); otherwise start the local stack."""
    given = {name: os.environ[name] for name in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")
             if os.environ.get(name)}
    if len(given) == 2:
        return {**given, **database_roles.as_variables(database_roles.role_urls(os.environ))}
    return up()
