"""The machine a benchmark ran on: how busy it is (Kafka, PostgreSQL and everybody else, not
only this process), and what it runs."""

from __future__ import annotations

import os

import asyncpg


async def postgres_version(database_url: str) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()


class MachineCpu:
    """Share of all CPUs busy (every process on the machine) since creation, from /proc/stat."""

    def __init__(self):
        self.start = self._read()

    @staticmethod
    def _read() -> tuple[int, int] | None:
        try:
            with open("/proc/stat") as stat:
                fields = [int(value) for value in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    def busy(self) -> float | None:
        end = self._read()
        if self.start is None or end is None or end[0] == self.start[0]:
            return None
        total, idle = end[0] - self.start[0], end[1] - self.start[1]
        return 1 - idle / total


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_command(commands: tuple[str, ...] = ("postgres", "java")) -> dict[str, float]:
    """CPU seconds used so far by every process of each command name (all PostgreSQL backends,
    the Kafka JVM): of everybody's on the machine, so only meaningful on a quiet one."""
    totals = dict.fromkeys(commands, 0.0)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/comm") as comm:
                name = comm.read().strip()
        except OSError:
            continue
        if name in totals:
            totals[name] += process_cpu_s(int(entry.name)) or 0.0
    return totals
