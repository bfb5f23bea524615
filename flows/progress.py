"""What a person sees while a run works: one line per feed problem, a progress bar for pages on a terminal.

Flows report through a `Reporter`; the CLI decides whether it prints. Nothing here changes what a run does.
"""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class Reporter:
    """Silent by default; `Reporter.for_terminal()` prints to stderr."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console
        self._progress: Progress | None = None
        self._task: int | None = None

    @classmethod
    def for_terminal(cls) -> Reporter:
        return cls(Console(file=sys.stderr, highlight=False, soft_wrap=True))

    def line(self, message: str) -> None:
        if self.console is not None:
            if self._progress is not None:
                self._progress.console.print(message, markup=False)
            else:
                self.console.print(message, markup=False)

    def feed_failed(self, url: str, reason: str) -> None:
        self.line(f"feed failed: {url}: {reason}")

    def start(self, description: str, total: int, *, more_coming: bool = False) -> None:
        """A progress bar of `total` steps; with `more_coming`, `add_total` raises the total as work arrives."""
        if self.console is None or not self.console.is_terminal or (total == 0 and not more_coming):
            return
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task(description, total=total)

    def add_total(self, count: int) -> None:
        if self._progress is not None and self._task is not None and count:
            total = next(task.total for task in self._progress.tasks if task.id == self._task)
            self._progress.update(self._task, total=(total or 0) + count)  # type: ignore[arg-type]

    def advance(self, count: int = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, count)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._progress = None
        self._task = None

    def __enter__(self) -> Reporter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
