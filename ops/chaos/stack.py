"""A local Kafka and PostgreSQL of the fault suite's own (deploy/local with other ports and
another state folder), which a scenario may kill and start again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ops import stack as local_stack
from ops.stack import LOCAL, ROOT, StackError

CHAOS_DIR = ROOT / ".local" / "chaos"


@dataclass(frozen=True)
class FaultStack:
    directory: Path = CHAOS_DIR
    kafka_port: int = 29092
    controller_port: int = 29093
    pg_port: int = 25432
    brokers: int = 1
    """3: a KRaft cluster (deploy/local/up with COINLOG_KAFKA_BROKERS), topics on three
    replicas with min.insync.replicas 2."""

    @property
    def proxied_kafka_ports(self) -> tuple[int, int]:
        """(the broker's extra listener, the proxy in front of it that it advertises)."""
        return self.kafka_port + 4, self.kafka_port + 5

    @property
    def proxied_postgres_port(self) -> int:
        return self.pg_port + 1

    @property
    def environment(self) -> dict[str, str]:
        return {**os.environ, "COINLOG_LOCAL_DIR": str(self.directory),
                "COINLOG_KAFKA_PORT": str(self.kafka_port),
                "COINLOG_KAFKA_CONTROLLER_PORT": str(self.controller_port),
                "COINLOG_PG_PORT": str(self.pg_port),
                "COINLOG_KAFKA_BROKERS": str(self.brokers),
                "COINLOG_KAFKA_PROXIED_PORT": "{}:{}".format(*self.proxied_kafka_ports)}

    @property
    def settings(self) -> dict[str, str]:
        """What the services, the demo and the tools need to be told about this stack."""
        if self.brokers < 3:
            return {}
        return {"COINLOG_TOPIC_REPLICATION_FACTOR": "3",
                "COINLOG_TOPIC_MIN_INSYNC_REPLICAS": "2"}

    def up(self, *components: str) -> dict[str, str]:
        """Start (or check) the stack; return KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL."""
        return local_stack.up(components, self.environment)

    def down(self, purge: bool = False) -> None:
        subprocess.run([str(LOCAL / "down"), *(["--purge"] if purge else [])], check=False,
                       env=self.environment, stdout=subprocess.DEVNULL)

    # -- faults -----------------------------------------------------------------------------

    async def kill_kafka(self, node: int = 1) -> None:
        home = self.directory / "kafka"
        await _kill(_pid_in((home / f"node-{node}" if self.brokers > 1 else home) / "kafka.pid"))

    async def start_kafka(self) -> None:
        """Start what is not running (on a cluster: the nodes that were killed)."""
        await asyncio.to_thread(self.up, "kafka")

    async def kill_postgres(self) -> None:
        """SIGKILL the postmaster, as a crash would: its backends notice and exit, and the next
        start recovers from the write-ahead log."""
        await _kill(_pid_in(self.directory / "postgres" / "data" / "postmaster.pid"))

    async def start_postgres(self, attempts: int = 20) -> None:
        # Backends of the killed postmaster can hold its shared memory for a moment.
        for attempt in range(attempts):
            try:
                await asyncio.to_thread(self.up, "postgres")
                return
            except StackError:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.5)


def _pid_in(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(path.resolve().read_text().split()[0])
    return None


async def _kill(pid: int | None, timeout_s: float = 30.0) -> None:
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while _alive(pid):
        if asyncio.get_running_loop().time() > deadline:
            raise StackError(f"process {pid} outlived SIGKILL")
        await asyncio.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


CLUSTER = FaultStack(CHAOS_DIR.with_name("chaos-cluster"), kafka_port=29192,
                     controller_port=29193, pg_port=25532, brokers=3)
