"""`coinlog demo`: the three services on a real Kafka and PostgreSQL, driven by a simulated
economy, and the books at the end.

A run, in order:
 1. finds Kafka and PostgreSQL (the environment's, else the local stack) and creates the topics;
 2. starts wallet, gifting and payout as processes (logs in .local/demo/), publishes the
    default policy and the gift catalog from deploy/seed/default.toml (fixed ids: repeating
    them is harmless), and waits until every service is ready (a service is ready only once
    it knows its policy);
 3. sets up viewers (age checks, coin purchases, promo coins), creators and their live streams,
    and waits until the wallet has credited every purchase;
 4. sends gifts at the target rate, refunding and charging back a few purchases half-way;
 5. ends the streams, jumps 16 simulated days (past the 15-day hold; some viewers come back and
    buy again, which lets their unspent promo coins expire), has every creator with enough
    withdrawable diamonds cash out, and the payout provider answer;
 6. waits until everything has settled, then prints leaderboards, books, throughput, latency
    and the checks: the audit's invariants over the whole log (ops.audit), the read tables
    against the log (ops.audit.read_models) and the seals (ops.sealing_check).

Every id is unique to the run and every event time comes from a simulated clock, so runs add up
in the same log and schemas. The exit code is 0 only when every invariant holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from rich.console import Console

from ops import database_roles, demo_report, stack
from ops.audit.command import run_audit
from ops.audit.read_models import check_read_models
from ops.backlog import Backlog
from ops.books import Books
from ops.demo_progress import Progress, live_progress
from ops.interruption import Interrupted, Interruption
from ops.latency import LatencyProbe
from ops.namespace import Namespace
from ops.sealing_check import SealingCheck
from ops.seed import default_seed_file_events
from ops.services import LOG_DIR, ServiceFailed, ServiceFleet, service_environment
from ops.simulation.clock import SimulatedClock
from ops.simulation.outside import MISPRICED, Outside, retired_gift_events
from ops.simulation.payouts import minimum_diamonds, payout_size, provider_answers
from ops.simulation.people import PACKAGES, Population, populate
from ops.simulation.publisher import Publisher
from ops.simulation.traffic import GiftTraffic, drive
from ops.verdict import Verdict
from services.gifting.seed_catalog import SEED_GIFTS
from shared.contract.events.creators import PayoutRequested
from shared.contract.topics import ALL_TOPICS
from shared.runtime.acl_admin import ensure_acls
from shared.runtime.kafka_admin import ensure_topics
from shared.runtime.processor import CONNECTION_ERRORS

DEFAULT_VIEWERS = 2000
DEFAULT_CREATORS = 20
DEFAULT_SECONDS = 30.0
DEFAULT_RATE = 300.0
"""Gift requests per second."""

REFUND_SHARE = 0.005
CHARGEBACK_SHARE = 0.002
RETURNING_SHARE = 0.05
"""Viewers who come back after the jump and buy a small pack."""
CASH_OUT_AFTER = timedelta(days=16)
"""Past the default 15-day hold, so every gift's diamonds have become withdrawable."""
PROVIDER_DELAY = timedelta(days=2)
DEMO_SPAN = CASH_OUT_AFTER + PROVIDER_DELAY + timedelta(days=1)
"""How far the simulated clock starts in the past: its jumps end before the wall clock, since
the services refuse events stamped ahead of the log's own time (codec.MAX_CLOCK_SKEW_S)."""

SETUP_TIMEOUT_S = 180.0
SETTLE_TIMEOUT_S = 300.0
POLL_S = 0.2


class DemoFailed(RuntimeError):
    pass


INTERRUPTED_EXIT_CODE = 130


async def run_demo(viewers: int = DEFAULT_VIEWERS, seconds: float = DEFAULT_SECONDS,
                   console: Console | None = None, *, rate: float = DEFAULT_RATE,
                   creators: int = DEFAULT_CREATORS, namespace: str | None = None,
                   prometheus: bool = False) -> int:
    """Run the demo; return the exit code (0: every invariant holds; 1: one does not; 2: the
    run could not be completed; 130: interrupted). `namespace` runs it on topics and schemas of
    its own (see ops.namespace); by default it runs on the deployment's. `prometheus`: start
    the local Prometheus too (left running), which scrapes the services and the sealer (then a
    process of its own) while the demo runs."""
    if viewers < 1 or creators < 2 or seconds <= 0 or rate <= 0:
        raise ValueError("the demo needs a viewer, two creators, and a positive time and rate")
    console = console or Console()
    endpoints = await asyncio.to_thread(stack.endpoints_from_environment_or_local)
    if prometheus:
        url = await asyncio.to_thread(stack.prometheus_up)
        console.print(f"Prometheus {url} (alerts: {url}/alerts; stop it with "
                      "`deploy/local/prometheus down` or `./coinlog stack down`)")
    demo = Demo(console, endpoints["KAFKA_BOOTSTRAP_SERVERS"], endpoints["DATABASE_URL"],
                Namespace.isolated(namespace) if namespace else Namespace.deployment(),
                sealer_process=prometheus, role_urls=database_roles.role_urls(endpoints))
    try:
        with demo.interruption.handling_ctrl_c():
            return await demo.run(viewers=viewers, creators=creators, seconds=seconds,
                                  rate=rate)
    except (DemoFailed, ServiceFailed) as error:
        console.print(f"[bold red]demo failed:[/] {error}")
        return 2
    except Interrupted:
        console.print("[bold yellow]demo interrupted[/]")
        return INTERRUPTED_EXIT_CODE


Disturbance = Callable[["Demo"], Awaitable[None]]
"""Runs beside the gift traffic (faults, for example) and ends before it does."""


class Demo:
    def __init__(self, console: Console, kafka: str, database_url: str, namespace: Namespace,
                 *, instances: Mapping[str, int] | None = None, sealer_process: bool = False,
                 log_dir: Path = LOG_DIR,
                 overrides: Mapping[str, Mapping[str, str]] | None = None,
                 role_urls: Mapping[str, str] | None = None):
        """`instances`: how many processes of each service share its partitions (one by
        default); `sealer_process`: seal from a process of its own, as compose runs it;
        `role_urls`: the database login of each service's role (ops.database_roles)."""
        self.instances = dict(instances or {})
        self.setup_timeout_s = SETUP_TIMEOUT_S
        self.overrides = overrides
        self.sealer_process = sealer_process
        self.console = console
        self.kafka = kafka
        self.database_url = database_url
        self.namespace = namespace
        self.topic_prefix = namespace.topic_prefix
        self.run_id = uuid.uuid4().hex[:8]
        self.rng = random.Random(self.run_id)
        self.clock = SimulatedClock(datetime.now(UTC) - DEMO_SPAN)
        self.outside = Outside(self.run_id, self.clock)
        self.fleet = ServiceFleet(service_environment(kafka, database_url, role_urls), namespace,
                                  instance_id=f"demo-{self.run_id}", log_dir=log_dir)
        self.publisher = Publisher(kafka, self.topic_prefix)
        self.pool: asyncpg.Pool
        self.books: Books
        self.backlog: Backlog
        self.interruption = Interruption(on_first=lambda: console.print(
            "[yellow]stopping (Ctrl-C again to stop at once)[/]"))

    async def run(self, *, viewers: int, creators: int, seconds: float, rate: float,
                  disturbance: Disturbance | None = None) -> int:
        async with contextlib.AsyncExitStack() as resources:
            await self._start(resources)
            progress = Progress(self.publisher)
            async with live_progress(progress, self.console, self.books, self.backlog):
                progress.phase = f"setting up {viewers:,} viewers and {creators} creators"
                population = await self._set_up(progress, viewers, creators)
                probe = LatencyProbe(self.kafka, self.publisher.gift_requested_at,
                                     self.topic_prefix)
                resources.push_async_callback(probe.stop)
                await probe.start()
                progress.phase = f"gifting for {seconds:g} s at {rate:g} requests/s"
                self.population, self.probe = population, probe
                gifting_s, settled_s, sent = await self._gift(progress, population, seconds,
                                                              rate, disturbance)
                progress.phase = "waiting for every gift's diamonds"
                await self._wait_for_earnings(probe, sent)
                progress.phase = "16 days later: cashing out"
                await self._cash_out(population)
                progress.phase = "settling"
                settled = await self._settle()
                progress.phase = "done" if settled else "not settled"
            performance = demo_report.Performance(
                gifting_s=gifting_s, requests=len(self.publisher.gift_requested_at),
                sent=sent, settled_s=settled_s, latency=probe.summary())
            results = [Verdict(
                "everything settled", settled,
                "every request has its outcome, every outbox is empty, every consumer caught "
                "up" if settled else f"still behind after {SETTLE_TIMEOUT_S:.0f} s")]
            results += await self._audit()
            results.append(await self.sealing.check())
            self.results, self.performance = results, performance
            await demo_report.print_report(
                self.console, self.fleet, self.books, population, performance, results,
                as_of=self.clock.now())
            return 0 if all(result.passed for result in results) else 1

    async def _start(self, resources: contextlib.AsyncExitStack) -> None:
        self.console.print(
            f"[bold]coinlog demo[/] run [cyan]{self.run_id}[/]: Kafka {self.kafka}, "
            f"PostgreSQL {_without_password(self.database_url)}"
            + (f", topics {self.topic_prefix}*" if self.topic_prefix else "")
            + (f", schemas {', '.join(self.namespace.schemas.values())}"
               if self.namespace.schema_prefix else ""))
        # The one step with the rights to create: topics, and on a secured broker the ACLs
        # of the principals the fleet logs its services and sealer in as.
        await ensure_topics(self.kafka, ALL_TOPICS, prefix=self.topic_prefix)
        await ensure_acls(self.kafka, self.topic_prefix)
        self.sealing = SealingCheck(self.kafka, self.topic_prefix,
                                    external=self.sealer_process)
        self.sealing.start()
        resources.push_async_callback(self.sealing.stop)
        resources.push_async_callback(self._stop_services)
        await self.fleet.start(instances=self.instances, sealer=self.sealer_process,
                               overrides=self.overrides)
        self.console.print(f"service logs: {self.fleet.log_dir}/"
                           f"{{{','.join(self.fleet.services)}}}.log")
        await self.publisher.start()
        resources.push_async_callback(self.publisher.stop)
        # A service is ready only once it knows its policy (and gifting its catalog).
        await self.publisher.publish_all([*default_seed_file_events(), *retired_gift_events()])
        await self.fleet.wait_ready(checkpoint=self.interruption.checkpoint)
        self.console.print("services ready: " + ", ".join(
            f"{name} {service.base_url}" for name, service in self.fleet.services.items()))
        self.pool = await asyncpg.create_pool(self.database_url, min_size=1, max_size=4)
        resources.push_async_callback(self.pool.close)
        self.books = Books(self.pool, self.namespace)
        self.backlog = Backlog(self.pool, self.kafka, self.namespace)
        await self.backlog.start()
        resources.push_async_callback(self.backlog.stop)

    async def _audit(self) -> list[Verdict]:
        """The audit over the whole log of the namespace (every run so far, not just this
        one), and the read tables against it."""
        run = await run_audit(self.kafka, prefix=self.topic_prefix)
        read_models = await check_read_models(self.pool, self.namespace.schemas, run.auditor)
        return [Verdict.of(invariant)
                for invariant in (*run.report.invariants, read_models)]

    async def _stop_services(self) -> None:
        codes = await self.fleet.stop()
        self.console.print("services stopped (exit codes: " + ", ".join(
            f"{name} {code}" for name, code in codes.items()) + ")")

    async def _wait_for(self, ready: Callable[[], Awaitable[bool]], what: str,
                        timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not await _unless_unreachable(ready):
            self.interruption.checkpoint()
            self.fleet.check_alive(except_for=self.fleet.down)
            if time.monotonic() > deadline:
                raise DemoFailed(f"waited {timeout_s:.0f} s for {what}; see the service logs "
                                 f"in {self.fleet.log_dir}")
            await asyncio.sleep(POLL_S)

    async def _settle(self) -> bool:
        """Wait until every consumer has caught up and every outbox is empty; False if that
        takes longer than SETTLE_TIMEOUT_S."""
        return await self.backlog.wait_until_settled(SETTLE_TIMEOUT_S,
                                                     on_poll=self.interruption.checkpoint)

    def _populate(self, viewers: int, creators: int) -> Population:
        return populate(self.outside, self.rng, viewers=viewers, creators=creators)

    async def _set_up(self, progress: Progress, viewers: int, creators: int) -> Population:
        population = self._populate(viewers, creators)
        progress.stream_ids = [stream.stream_id for stream in population.streams]
        progress.creator_ids = [creator.creator_id for creator in population.creators]
        await self.publisher.publish_all(population.setup_events)
        viewer_ids = [viewer.user_id for viewer in population.viewers]
        credits = len(population.purchases) + sum(1 for v in population.viewers if v.promo_coins)
        catalog = [gift_id for gift_id, _, _ in SEED_GIFTS]

        async def ready_to_gift() -> bool:
            # Gifting decides on the catalog and the streams it has seen, the wallet on the
            # coins it has credited: gifts before those would be refused for no real reason.
            return (await self.books.coins_credited(viewer_ids) == credits
                    and await self.books.live_streams(progress.stream_ids)
                    == len(progress.stream_ids)
                    and await self.books.listed_gifts(catalog) == len(catalog)
                    and await self.books.adult_creators(progress.creator_ids)
                    == len(progress.creator_ids))

        await self._wait_for(ready_to_gift, "the purchases to be credited",
                             self.setup_timeout_s)
        coins = sum(viewer.coins for viewer in population.viewers)
        self.console.print(
            f"{len(population.viewers):,} viewers bought {len(population.purchases):,} coin "
            f"packs ({coins:,} coins with promo coins); {len(population.streams)} of "
            f"{len(population.creators)} creators are live")
        return population

    async def _gift(self, progress: Progress, population: Population, seconds: float,
                    rate: float, disturbance: Disturbance | None = None
                    ) -> tuple[float, float, int]:
        """Gift for `seconds`; return how long gifting took and how long until every request
        had its final outcome (both from the first request), and how many gifts were sent."""
        traffic = GiftTraffic(population, self.outside, self.rng)
        started = progress.gifting_started = time.monotonic()
        clawbacks = asyncio.create_task(self._claw_back_later(population, seconds / 2))
        disturbing = asyncio.create_task(disturbance(self)) if disturbance else None
        try:
            await drive(traffic, self.publisher, rate=rate, seconds=seconds,
                        stop=self.interruption.requested)
            await self.publisher.flush()
            progress.gifting_ended = time.monotonic()
            if disturbing is not None:
                await disturbing
        finally:
            if disturbing is not None and not disturbing.done():
                disturbing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await disturbing
            progress.gifting_ended = progress.gifting_ended or time.monotonic()
            if not clawbacks.done() and progress.gifting_ended - started < seconds / 2:
                clawbacks.cancel()  # gifting stopped early (an error, or nobody has coins)
            with contextlib.suppress(asyncio.CancelledError):
                await clawbacks
        self.interruption.checkpoint()
        gifting_s = progress.gifting_ended - started
        requests = len(self.publisher.gift_requested_at)
        kinds = ", ".join(f"{n:,} {kind}" for kind, n in traffic.kinds.most_common())
        self.console.print(f"published {requests:,} gift requests in {gifting_s:.1f} s ({kinds})")

        async def all_decided() -> bool:
            statuses = await self.books.gift_status_counts(progress.stream_ids)
            return sum(n for status, n in statuses.items() if status != "priced") >= requests

        await self._wait_for(all_decided, "every gift request's outcome", SETTLE_TIMEOUT_S)
        settled_s = time.monotonic() - started
        statuses = await self.books.gift_status_counts(progress.stream_ids)
        return gifting_s, settled_s, statuses.get("sent", 0)

    async def _claw_back_later(self, population: Population, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        purchases = population.purchases
        refunds = max(1, round(len(purchases) * REFUND_SHARE))
        chargebacks = max(1, round(len(purchases) * CHARGEBACK_SHARE))
        chosen = self.rng.sample(purchases, min(len(purchases), refunds + chargebacks))
        await self.publisher.publish_all(
            [self.outside.refund(purchase) for purchase in chosen[:refunds]]
            + [self.outside.chargeback(purchase) for purchase in chosen[refunds:]])
        self.console.print(f"half-way: {min(refunds, len(chosen))} purchases refunded, "
                           f"{len(chosen[refunds:])} charged back")

    async def _wait_for_earnings(self, probe: LatencyProbe, sent: int) -> None:
        """Every sent gift's DiamondsEarned reaches payout.ledger; wait for the last ones, so
        the latency covers every gift."""
        async def all_earned() -> bool:
            return len(probe.latency_s) >= sent

        await self._wait_for(all_earned, "every sent gift's diamonds on payout.ledger",
                             SETTLE_TIMEOUT_S)

    async def _cash_out(self, population: Population) -> None:
        await self.publisher.publish_all(
            [self.outside.stream_ended(stream.started) for stream in population.streams])
        self.clock.advance(CASH_OUT_AFTER)
        returning = self.rng.sample(population.viewers,
                                    round(len(population.viewers) * RETURNING_SHARE))
        small = [PACKAGES["coins-65"], PACKAGES["coins-70"]]
        await self.publisher.publish_all([
            self.outside.purchase(viewer.user_id, package.package_id, package.platform,
                                  package.coins, package.amount_minor)
            for viewer, package in ((viewer, self.rng.choice(small)) for viewer in returning)])
        # Bad input from payments, as the wrong gift requests are from the live service: the
        # wallet must refuse each purchase off the price list and credit nothing.
        buyers = self.rng.sample(population.viewers, min(len(MISPRICED), len(population.viewers)))
        await self.publisher.publish_all([
            self.outside.purchase_off_the_list(viewer.user_id, how)
            for viewer, how in zip(buyers, MISPRICED, strict=False)])
        if not await self._settle():
            raise DemoFailed("the services did not catch up before the cash-out")
        requests = await self._payout_requests(population)
        await self.publisher.publish_all(requests)
        payout_ids = [request.payout_id for request in requests]
        statuses: dict[str, str] = {}

        async def all_decided() -> bool:
            statuses.update(await self.books.payout_statuses(payout_ids))
            return len(statuses) == len(payout_ids)

        await self._wait_for(all_decided, "the payout requests to be decided", SETTLE_TIMEOUT_S)
        reserved = [request for request in requests if statuses[request.payout_id] == "reserved"]
        self.clock.advance(PROVIDER_DELAY)
        await self.publisher.publish_all(provider_answers(self.outside, reserved, self.rng))
        self.console.print(
            f"{len(requests)} of {len(population.creators)} creators had at least "
            f"{minimum_diamonds():,} withdrawable diamonds and asked for a payout; "
            f"{len(reserved)} reserved")

    async def _payout_requests(self, population: Population) -> list[PayoutRequested]:
        at = urllib.parse.quote(self.clock.now().isoformat())
        requests = []
        for creator in population.creators:
            diamonds = await self.fleet.get_json(
                "payout", f"/creators/{creator.creator_id}?as_of={at}")
            size = payout_size(diamonds["withdrawable"])
            if size is not None:
                requests.append(self.outside.payout_request(creator.creator_id, size))
        return requests


async def _unless_unreachable(ready: Callable[[], Awaitable[bool]]) -> bool:
    """False while PostgreSQL does not answer: the services wait out an outage, so does the
    demo."""
    try:
        return await ready()
    except CONNECTION_ERRORS:
        return False


def _without_password(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


if __name__ == "__main__":
    import typer

    def main(viewers: int = typer.Option(DEFAULT_VIEWERS, help="Simulated viewers."),
             seconds: float = typer.Option(DEFAULT_SECONDS, help="How long gifts keep coming."),
             rate: float = typer.Option(DEFAULT_RATE, help="Gift requests per second."),
             creators: int = typer.Option(DEFAULT_CREATORS, help="Simulated creators."),
             namespace: str = typer.Option(
                 "", help="Run on topics and schemas of its own (<namespace>.<topic>, "
                          "<namespace>_<service>) instead of the deployment's.")) -> None:
        """The demo with every option (see `coinlog demo`)."""
        raise typer.Exit(asyncio.run(run_demo(viewers=viewers, seconds=seconds, rate=rate,
                                              creators=creators, namespace=namespace or None)))

    typer.run(main)
