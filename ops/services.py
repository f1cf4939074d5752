"""The three services as real OS processes (`python -m services.<name>`), as they run in
production: started with their configuration in the environment, their output in log files,
ready when /readyz says so, stopped with SIGTERM (a graceful shutdown) and waited for."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops import database_roles
from ops.namespace import SERVICE_NAMES, Namespace
from ops.stack import ROOT, local_dir
from ops.tokens import local_signing_key, ops_token, public_key_path
from shared.kafka_client import principal_environment

LOG_DIR = ROOT / ".local" / "demo"
STOP_TIMEOUT_S = 45.0
"""Longer than a service's own stop: the batch in hand's grace (20 s) and 10 s to close."""
_PR_SET_PDEATHSIG = 1


class ServiceFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop_with_parent() -> None:
    """In the child before exec: SIGTERM when the demo process dies, however it dies, so no
    service is left consuming in the background."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class RunningService:
    """One OS process of a service (or of the sealer), restartable with the same settings."""

    name: str
    """The service: wallet, gifting, payout or sealer."""
    instance: str
    """Unique within the fleet: the service's name, numbered when it runs several times."""
    port: int | None
    log_path: Path
    command: tuple[str, ...]
    env: dict[str, str]
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    token: str | None = None
    """The bearer token its query routes are read with."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def exited(self) -> bool:
        return self.process is None or self.process.returncode is not None

    async def launch(self) -> None:
        mode = "ab" if self.restarts else "wb"
        with self.log_path.open(mode) as log:
            # A session of its own: Ctrl-C reaches only the demo, which stops the services
            # in order (a second SIGINT straight from the terminal would race with it).
            self.process = await asyncio.create_subprocess_exec(
                *self.command, cwd=ROOT, env=self.env, stdin=asyncio.subprocess.DEVNULL,
                stdout=log, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
                preexec_fn=_stop_with_parent)

    async def kill(self) -> None:
        """SIGKILL, as a crash would end it: no shutdown code runs."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()

    async def restart(self) -> None:
        await self.kill()
        self.restarts += 1
        await self.launch()

    async def get_json(self, path: str, timeout_s: float = 10.0) -> Any:
        """GET a JSON document; raise ServiceFailed on anything but 200."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        request = urllib.request.Request(self.base_url + path, headers=headers)

        def fetch() -> Any:
            try:
                with urllib.request.urlopen(request, timeout=timeout_s) as answer:
                    return json.load(answer)
            except urllib.error.HTTPError as error:
                raise ServiceFailed(f"{self.name} GET {path}: HTTP {error.code} "
                                    f"{error.read()[:300]!r}") from None

        return await asyncio.to_thread(fetch)

    async def ready(self) -> bool:
        if self.port is None:
            return not self.exited
        with contextlib.suppress(OSError, ServiceFailed, ValueError):
            answer = await self.get_json("/readyz", timeout_s=2.0)
            return answer.get("status") == "ready"
        return False

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


SEALER = "sealer"


class ServiceFleet:
    """Starts the services (each as many times as asked, and the sealer if asked), hands out
    their HTTP endpoints, kills and restarts instances, and stops them all."""

    def __init__(self, environment: dict[str, str], namespace: Namespace, instance_id: str,
                 log_dir: Path = LOG_DIR, token: str | None = None):
        """`token`: what the fleet reads the services' query routes with (default: an ops
        token of the local signing key, which service_environment gives the services)."""
        self.environment = environment
        self.token = token or ops_token()
        self.namespace = namespace
        self.instance_id = instance_id
        self.log_dir = log_dir
        self.services: dict[str, RunningService] = {}
        """By instance name."""
        self.down: set[str] = set()
        """Instances killed on purpose and not restarted yet."""

    def __getitem__(self, name: str) -> RunningService:
        """An instance of the service `name` that is running (the first one if all are down)."""
        instances = self.instances(name)
        if not instances:
            raise KeyError(name)
        return next((i for i in instances if not i.exited), instances[0])

    async def get_json(self, name: str, path: str) -> Any:
        """GET from any instance of the service that answers: one just restarted after a
        fault may not listen yet."""
        failure: Exception = ServiceFailed(f"no instance of {name} is running")
        for service in self.instances(name):
            if service.exited:
                continue
            try:
                return await service.get_json(path)
            except OSError as error:
                failure = error
        raise failure

    def instances(self, name: str) -> list[RunningService]:
        return [service for service in self.services.values() if service.name == name]

    async def start(self, names: tuple[str, ...] = SERVICE_NAMES, *,
                    instances: Mapping[str, int] | None = None, sealer: bool = False,
                    overrides: Mapping[str, Mapping[str, str]] | None = None) -> None:
        """`overrides`: environment variables of particular instances (by instance name)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            count = (instances or {}).get(name, 1)
            for number in range(1, count + 1):
                instance = name if count == 1 else f"{name}-{number}"
                port = free_port()
                env = {**database_roles.for_service(self.environment, name),
                       "COINLOG_HTTP_PORT": str(port),
                       "COINLOG_INSTANCE_ID": f"{self.instance_id}-{instance}",
                       "COINLOG_DB_SCHEMA": self.namespace.schema(name),
                       "COINLOG_TOPIC_PREFIX": self.namespace.topic_prefix,
                       "PYTHONUNBUFFERED": "1",
                       **principal_environment(name, self.environment),
                       **(overrides or {}).get(instance, {})}
                await self._launch(RunningService(
                    name, instance, port, self.log_dir / f"{instance}.log",
                    (sys.executable, "-m", f"services.{name}"), env, token=self.token))
        if sealer:
            env = {**database_roles.for_service(self.environment, None),
                   "COINLOG_TOPIC_PREFIX": self.namespace.topic_prefix,
                   "PYTHONUNBUFFERED": "1", **principal_environment(SEALER, self.environment)}
            await self._launch(RunningService(
                SEALER, SEALER, None, self.log_dir / "sealer.log",
                (sys.executable, "-m", "shared.sealing", "--every-seconds", "1"), env))

    async def kill(self, instance: str) -> None:
        self.down.add(instance)
        await self.services[instance].kill()

    async def restart(self, instance: str) -> None:
        await self.services[instance].restart()
        self.down.discard(instance)

    async def _launch(self, service: RunningService) -> None:
        self.services[service.instance] = service
        await service.launch()

    async def wait_ready(self, timeout_s: float = 90.0,
                         checkpoint: Callable[[], None] = lambda: None) -> None:
        """Poll every /readyz until all answer ready; `checkpoint` may raise to give up."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        waiting = dict(self.services)
        while waiting:
            checkpoint()
            for name, service in list(waiting.items()):
                self.check_alive()
                if await service.ready():
                    del waiting[name]
            if waiting and asyncio.get_running_loop().time() > deadline:
                names = ", ".join(waiting)
                raise ServiceFailed(f"not ready after {timeout_s:.0f} s: {names} (see "
                                    f"{', '.join(str(s.log_path) for s in waiting.values())})")
            await asyncio.sleep(0.2)

    def check_alive(self, *, except_for: Iterable[str] = ()) -> None:
        """Raise ServiceFailed when an instance has exited (except the ones named, which a
        fault has killed on purpose)."""
        skipped = set(except_for)
        for service in self.services.values():
            if service.exited and service.instance not in skipped:
                code = service.process.returncode if service.process else None
                raise ServiceFailed(
                    f"{service.instance} exited with code {code}; the end of "
                    f"{service.log_path}:\n{service.log_tail()}")

    async def stop(self) -> dict[str, int | None]:
        """SIGTERM every service, then wait for each; SIGKILL what outlives STOP_TIMEOUT_S.
        Returns the exit codes by instance."""
        for service in self.services.values():
            if not service.exited and service.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    service.process.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for name, service in self.services.items():
            if service.process is None:
                continue
            try:
                codes[name] = await asyncio.wait_for(service.process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    service.process.kill()
                codes[name] = await service.process.wait()
        return codes


def service_environment(kafka_bootstrap_servers: str, database_url: str,
                        role_urls: Mapping[str, str] | None = None) -> dict[str, str]:
    """The services' configuration: ours over the caller's environment (the schema, topic
    prefix and each service's own database login are set per service by ServiceFleet, from
    `role_urls` or the logins the environment names: see ops.database_roles)."""
    env = dict(os.environ)
    env.update(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap_servers, DATABASE_URL=database_url,
               COINLOG_LOG_LEVEL="WARNING", **database_roles.as_variables(role_urls or {}))
    # Each process announces its /metrics there, for the local Prometheus to find.
    env["COINLOG_LOCAL_DIR"] = str(local_dir())
    if not env.get("COINLOG_JWT_PUBLIC_KEY") and not env.get("COINLOG_JWT_PUBLIC_KEY_FILE"):
        local_signing_key()
        env["COINLOG_JWT_PUBLIC_KEY_FILE"] = str(public_key_path())
    return env
