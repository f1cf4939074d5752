"""One scenario end to end: the demo's economy on the fault stack with the scenario's instances
and faults, then the oracle; the topics and schemas it made are removed afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from rich.console import Console

from ops import database_roles
from ops.chaos.faults import PROXIED_INSTANCE, PROXIED_SERVICE
from ops.chaos.oracle import judge
from ops.chaos.plan import FaultPlan, Injected, PlanResult
from ops.chaos.proxy import TcpProxy
from ops.chaos.scenarios import Scenario
from ops.chaos.stack import CHAOS_DIR, FaultStack
from ops.demo import Demo, DemoFailed
from ops.namespace import Namespace
from ops.services import ServiceFailed, service_environment
from ops.verdict import Verdict
from shared import kafka_client

LOG_ROOT = CHAOS_DIR / "logs"


@dataclass
class ScenarioResult:
    scenario: Scenario
    namespace: str
    elapsed_s: float = 0.0
    failure: str | None = None
    checks: list[Verdict] = field(default_factory=list)
    """The demo's checks: the audit's invariants, the read tables, the seals."""
    verdicts: list[Verdict] = field(default_factory=list)
    plan: PlanResult = field(default_factory=PlanResult)
    requests: int = 0
    sent: int = 0
    log_lines: dict[str, int] = field(default_factory=dict)
    """WARNING and ERROR lines written by each process."""

    @property
    def passed(self) -> bool:
        return (self.failure is None and bool(self.verdicts)
                and all(check.passed for check in self.checks)
                and all(verdict.passed for verdict in self.verdicts)
                and all(fault.recovered_s is not None for fault in self.injected))

    @property
    def injected(self) -> list[Injected]:
        return self.plan.injected

    @property
    def baseline_s(self) -> float | None:
        return self.plan.baseline_s


async def run_scenario(scenario: Scenario, *, seconds: float, rate: float, viewers: int,
                       creators: int, keep: bool = False) -> ScenarioResult:
    stack = scenario.stack
    with _environment(stack.settings):
        return await _run_on(stack, scenario, seconds=seconds, rate=rate, viewers=viewers,
                             creators=creators, keep=keep)


@contextlib.contextmanager
def _environment(extra: dict[str, str]) -> Iterator[None]:
    """The stack's settings for this process (the demo creates the topics) and, through the
    environment they inherit, for the services and the tools."""
    saved = {name: os.environ.get(name) for name in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def _run_on(stack: FaultStack, scenario: Scenario, *, seconds: float, rate: float,
                  viewers: int, creators: int, keep: bool) -> ScenarioResult:
    endpoints = await asyncio.to_thread(stack.up)
    kafka, database_url = endpoints["KAFKA_BOOTSTRAP_SERVERS"], endpoints["DATABASE_URL"]
    name = f"chaos_{scenario.name.replace('-', '_')}_{uuid.uuid4().hex[:6]}"
    namespace = Namespace.isolated(name)
    log_dir = LOG_ROOT / scenario.name
    log_dir.mkdir(parents=True, exist_ok=True)
    result = ScenarioResult(scenario, name)
    started = time.monotonic()
    role_urls = database_roles.role_urls(endpoints)
    proxies, overrides = await _proxies(scenario, stack,
                                        role_urls.get(PROXIED_SERVICE, database_url))
    with (log_dir / "demo.txt").open("w") as transcript:
        console = Console(file=transcript, width=160)
        demo = Demo(console, kafka, database_url, namespace,
                    instances=scenario.instance_counts, sealer_process=True, log_dir=log_dir,
                    overrides=overrides, role_urls=role_urls)
        plan = FaultPlan(list(scenario.faults()), stack, database_url, namespace, seconds,
                         result.plan, proxies)
        try:
            await demo.run(viewers=viewers, creators=creators, seconds=seconds, rate=rate,
                           disturbance=plan)
            result.checks = list(demo.results)
            result.requests = demo.performance.requests
            result.sent = demo.performance.sent
        except (DemoFailed, ServiceFailed) as error:
            result.failure = str(error)
        finally:
            for proxy in proxies.values():
                await proxy.stop()
    if result.failure is None:
        result.verdicts = await judge(service_environment(kafka, database_url, role_urls),
                                      namespace)
    result.elapsed_s = time.monotonic() - started
    result.log_lines = _warnings_by_process(log_dir)
    if not keep:
        await _remove(namespace, kafka, database_url)
    return result


async def _proxies(scenario: Scenario, stack: FaultStack, database_url: str
                   ) -> tuple[dict[str, TcpProxy], dict[str, dict[str, str]]]:
    """The proxies of the scenario's proxied paths, started, and the environment that sends
    PROXIED_INSTANCE through them (`database_url`: its service's own login)."""
    proxies: dict[str, TcpProxy] = {}
    environment: dict[str, str] = {}
    if "kafka" in scenario.proxied:
        listener, advertised = stack.proxied_kafka_ports
        proxies["kafka"] = TcpProxy(advertised, "127.0.0.1", listener)
        environment["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{advertised}"
    if "postgres" in scenario.proxied:
        url = urlsplit(database_url)
        proxies["postgres"] = TcpProxy(stack.proxied_postgres_port, url.hostname or "127.0.0.1",
                                       url.port or 5432)
        netloc = url.netloc.rsplit(":", 1)[0] + f":{stack.proxied_postgres_port}"
        environment["DATABASE_URL"] = urlunsplit(url._replace(netloc=netloc))
    for proxy in proxies.values():
        await proxy.start()
    return proxies, ({PROXIED_INSTANCE: environment} if environment else {})


_LEVEL = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b")


def _warnings_by_process(log_dir: Path) -> dict[str, int]:
    counts = {}
    for path in sorted(log_dir.glob("*.log")):
        with contextlib.suppress(OSError):
            counts[path.stem] = sum(1 for line in path.read_text(errors="replace").splitlines()
                                    if _LEVEL.search(line))
    return counts


async def _remove(namespace: Namespace, kafka: str, database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        schemas = await conn.fetch("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
                                   namespace.schema_prefix + "%")
        for row in schemas:
            await conn.execute(f'DROP SCHEMA "{row["nspname"]}" CASCADE')
    finally:
        await conn.close()
    admin = kafka_client.admin(bootstrap_servers=kafka)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        ours = [name for name in existing if name.startswith(namespace.topic_prefix)]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()

