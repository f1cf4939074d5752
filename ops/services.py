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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.namespace import SERVICE_NAMES, Namespace
from ops.stack import ROOT

LOG_DIR = ROOT / ".local" / "demo"
STOP_TIMEOUT_S = 45.0
"""Longer than the services' own graceful timeout (30 s) for the batch in hand."""
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
    name: str
    port: int
    log_path: Path
    process: asyncio.subprocess.Process

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def exited(self) -> bool:
        return self.process.returncode is not None

    async def get_json(self, path: str, timeout_s: float = 10.0) -> Any:
        """GET a JSON document; raise ServiceFailed on anything but 200."""
        def fetch() -> Any:
            try:
                with urllib.request.urlopen(self.base_url + path, timeout=timeout_s) as answer:
                    return json.load(answer)
            except urllib.error.HTTPError as error:
                raise ServiceFailed(f"{self.name} GET {path}: HTTP {error.code} "
                                    f"{error.read()[:300]!r}") from None

        return await asyncio.to_thread(fetch)

    async def ready(self) -> bool:
        with contextlib.suppress(OSError, ServiceFailed, ValueError):
            answer = await self.get_json("/readyz", timeout_s=2.0)
            return answer.get("status") == "ready"
        return False

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


class ServiceFleet:
    """Starts the services, hands out their HTTP endpoints, and stops them all."""

    def __init__(self, environment: dict[str, str], namespace: Namespace, instance_id: str):
        self.environment = environment
        self.namespace = namespace
        self.instance_id = instance_id
        self.services: dict[str, RunningService] = {}

    def __getitem__(self, name: str) -> RunningService:
        return self.services[name]

    async def start(self, names: tuple[str, ...] = SERVICE_NAMES) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        for name in names:
            port = free_port()
            log_path = LOG_DIR / f"{name}.log"
            env = {**self.environment, "COINLOG_HTTP_PORT": str(port),
                   "COINLOG_INSTANCE_ID": f"{self.instance_id}-{name}",
                   "COINLOG_DB_SCHEMA": self.namespace.schema(name),
                   "COINLOG_TOPIC_PREFIX": self.namespace.topic_prefix,
                   "PYTHONUNBUFFERED": "1"}
            with log_path.open("wb") as log:
                # A session of its own: Ctrl-C reaches only the demo, which stops the services
                # in order (a second SIGINT straight from the terminal would race with it).
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", f"services.{name}", cwd=ROOT, env=env,
                    stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True, preexec_fn=_stop_with_parent)
            self.services[name] = RunningService(name, port, log_path, process)

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

    def check_alive(self) -> None:
        for service in self.services.values():
            if service.exited:
                raise ServiceFailed(
                    f"{service.name} exited with code {service.process.returncode}; the end of "
                    f"{service.log_path}:\n{service.log_tail()}")

    async def stop(self) -> dict[str, int | None]:
        """SIGTERM every service, then wait for each; SIGKILL what outlives STOP_TIMEOUT_S.
        Returns the exit codes."""
        for service in self.services.values():
            if not service.exited:
                with contextlib.suppress(ProcessLookupError):
                    service.process.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for name, service in self.services.items():
            try:
                codes[name] = await asyncio.wait_for(service.process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    service.process.kill()
                codes[name] = await service.process.wait()
        return codes


def service_environment(kafka_bootstrap_servers: str, database_url: str) -> dict[str, str]:
    """The services' configuration: ours over the caller's environment (the schema and topic
    prefix are set per service by ServiceFleet)."""
    env = dict(os.environ)
    env.update(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap_servers, DATABASE_URL=database_url,
               COINLOG_LOG_LEVEL="WARNING")
    return env
