"""The peer: spends per second of the `eventsourcing` library (its PostgreSQL recorder) on the
same database, with a small wallet aggregate and one command per spend.

Each command loads the wallet from its events (repository.get), decides the spend and saves
the new event: one transaction per spend, as the library's Application does it. Wallets are
opened with enough coins first (not timed); threads spend on wallets of their own, so no
command meets a version conflict. Installed at benchmark start when missing
(`pip install "eventsourcing[postgres]"`); the benchmark says so when it cannot be.
"""

from __future__ import annotations

import functools
import importlib.util
import subprocess
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

PACKAGE = "eventsourcing[postgres]"
WALLETS_PER_THREAD = 500
"""Many wallets, so each stays small: a few dozen events when it is loaded."""
OPENING_COINS = 10**9


def available(install: bool = True) -> str | None:
    """None when the library can be used (installing it if allowed); else why not."""
    if importlib.util.find_spec("eventsourcing") and importlib.util.find_spec("psycopg"):
        return None
    if not install:
        return "eventsourcing is not installed"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", PACKAGE],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"pip install {PACKAGE!r} failed: {done.stderr.strip()[-300:]}"
    importlib.invalidate_caches()
    return None if importlib.util.find_spec("eventsourcing") else "installed but not importable"


@dataclass(frozen=True)
class PeerRun:
    threads: int
    spends: int
    seconds: float

    @property
    def spends_per_s(self) -> float:
        return self.spends / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, object]:
        return {"threads": self.threads, "spends": self.spends,
                "seconds": round(self.seconds, 3), "spends_per_s": round(self.spends_per_s, 1)}


def environment(database_url: str, schema: str, threads: int) -> dict[str, str]:
    url = urllib.parse.urlsplit(database_url)
    return {"PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/"), "POSTGRES_HOST": url.hostname or "",
            "POSTGRES_PORT": str(url.port or 5432), "POSTGRES_USER": url.username or "",
            "POSTGRES_PASSWORD": urllib.parse.unquote(url.password or ""),
            "POSTGRES_SCHEMA": schema, "POSTGRES_POOL_SIZE": str(threads),
            "CREATE_TABLE": "y"}


def _wallets_application(env: dict[str, str]) -> Any:
    return _wallets_class()(env=env)


@functools.cache
def _wallets_class() -> Any:
    """Defined once per process: the library registers every aggregate class by its name."""
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class Wallet(Aggregate):
        def __init__(self, coins: int):
            self.balance = coins

        @event("Spent")
        def spend(self, coins: int) -> None:
            if coins > self.balance:
                raise ValueError("insufficient funds")
            self.balance -= coins

    class Wallets(Application):
        def open(self, coins: int) -> Any:
            wallet = Wallet(coins)
            self.save(wallet)
            return wallet.id

        def spend(self, wallet_id: Any, coins: int) -> None:
            wallet: Wallet = self.repository.get(wallet_id)
            wallet.spend(coins)
            self.save(wallet)

    return Wallets


def _spend_for(app: Any, wallet_ids: list[Any], until: float) -> int:
    spends = 0
    while time.perf_counter() < until:
        app.spend(wallet_ids[spends % len(wallet_ids)], 1)
        spends += 1
    return spends


def run(database_url: str, schema: str, threads: int, seconds: float) -> PeerRun:
    """Blocking. `schema` must exist; the library creates its table there."""
    app = _wallets_application(environment(database_url, schema, threads))
    try:
        wallets = [[app.open(OPENING_COINS) for _ in range(WALLETS_PER_THREAD)]
                   for _ in range(threads)]
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            counts = list(pool.map(lambda ids: _spend_for(app, ids, started + seconds),
                                   wallets))
        return PeerRun(threads, sum(counts), time.perf_counter() - started)
    finally:
        app.close()
