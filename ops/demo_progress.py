"""The live panel of a demo run: what has been published, where the gifts stand, how far the
services are behind. Refreshed from the services' schemas twice a second."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ops.backlog import Backlog, BacklogSnapshot
from ops.books import Books
from ops.simulation.publisher import Publisher

REFRESH_S = 0.5


@dataclass
class Progress:
    publisher: Publisher
    stream_ids: Sequence[str] = ()
    creator_ids: Sequence[str] = ()
    phase: str = "starting"
    started: float = field(default_factory=time.monotonic)
    gifting_started: float | None = None
    gifting_ended: float | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    diamonds: int = 0
    backlog: BacklogSnapshot | None = None
    sent_per_s: float = 0.0
    """Gifts sent per second between the last two refreshes."""
    _last_sent: tuple[float, int] | None = None

    async def refresh(self, books: Books, backlog: Backlog) -> None:
        if self.stream_ids:
            self.statuses = await books.gift_status_counts(self.stream_ids)
            self.diamonds = await books.diamonds_earned(self.creator_ids)
            now, sent = time.monotonic(), self.statuses.get("sent", 0)
            if self._last_sent is not None and now > self._last_sent[0]:
                self.sent_per_s = (sent - self._last_sent[1]) / (now - self._last_sent[0])
            self._last_sent = (now, sent)
        self.backlog = await backlog.snapshot()

    def render(self) -> Table:
        now = time.monotonic()
        table = Table(title=f"coinlog demo: {self.phase}", title_justify="left",
                      show_header=False, box=None, padding=(0, 2))
        table.add_column(style="bold")
        table.add_column(justify="right")
        table.add_row("elapsed", f"{now - self.started:,.1f} s")
        requests = len(self.publisher.gift_requested_at)
        table.add_row("gift requests published", f"{requests:,}")
        if self.gifting_started is not None:
            gifting_s = (self.gifting_ended or now) - self.gifting_started
            table.add_row("request rate", f"{requests / max(gifting_s, 1e-9):,.0f} /s")
            table.add_row("gifts sent / failed / rejected / waiting",
                          " / ".join(f"{self.statuses.get(status, 0):,}" for status in
                                     ("sent", "failed", "rejected", "priced")))
            table.add_row("gifts sent per second, now", f"{self.sent_per_s:,.0f} /s")
            table.add_row("diamonds earned", f"{self.diamonds:,}")
        if self.backlog is not None:
            table.add_row("consumer lag (wallet / gifting / payout)",
                          " / ".join(f"{lag:,}" for lag in self.backlog.lag.values()))
            table.add_row("outbox (wallet / gifting / payout)",
                          " / ".join(f"{rows:,}" for rows in self.backlog.outbox.values()))
        events = sum(self.publisher.published.values())
        table.add_row("events published (all kinds)", f"{events:,}")
        return table


@contextlib.asynccontextmanager
async def live_progress(progress: Progress, console: Console, books: Books,
                        backlog: Backlog) -> AsyncIterator[Live]:
    """Show `progress` until the block ends, refreshing it in the background."""
    try:
        with Live(progress.render(), console=console, refresh_per_second=4) as live:
            async def refresh_forever() -> None:
                while True:
                    # The panel is best effort: a failed refresh shows the last figures.
                    with contextlib.suppress(Exception):
                        await progress.refresh(books, backlog)
                    live.update(progress.render())
                    await asyncio.sleep(REFRESH_S)

            task = asyncio.create_task(refresh_forever(), name="demo-progress")
            try:
                yield live
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                with contextlib.suppress(Exception):
                    await progress.refresh(books, backlog)  # the panel ends on the final figures
                live.update(progress.render())
    finally:
        if not console.is_terminal:
            console.line()  # a file gets the last panel without a line end
