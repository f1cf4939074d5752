"""Progress of a long command on stderr, for a person at a terminal: off when stderr is not
one, so logs and pipes get only the command's result."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


@dataclass
class Ticker:
    bar: Progress
    task: TaskID

    def advance(self, records: int) -> None:
        self.bar.update(self.task, advance=records)

    def expect(self, records: int) -> None:
        """More records to go than the total said so far."""
        task = self.bar.tasks[self.bar.task_ids.index(self.task)]
        self.bar.update(self.task, total=(task.total or 0) + records)

    def describe(self, description: str) -> None:
        self.bar.update(self.task, description=description)


@contextmanager
def progress(description: str, total: int | None = None,
             console: Console | None = None) -> Iterator[Ticker]:
    console = console or Console(stderr=True)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  disable=not console.is_terminal, transient=True) as bar:
        yield Ticker(bar, bar.add_task(description, total=total))
