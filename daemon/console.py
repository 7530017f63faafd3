"""The backfill console: two progress bars (fetched, settled) and the counts, kept at the
bottom of the terminal while log lines scroll above them.

Log lines reach the terminal through :data:`daemon.logs.STDERR`, which writes to whatever
``sys.stderr`` is at that moment, so rich's live display (which redirects ``sys.stderr``
while it runs) prints them above the bars instead of gluing them to the bar's line.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn


@dataclass(frozen=True)
class BackfillProgress:
    """Where a backfill stands (items): ``fetched`` = stored in the library (downloaded now,
    or already there); ``settled`` = done for this run (processed, a duplicate, or failed)."""

    total: int
    fetched: int
    settled: int
    new: int
    duplicates: int
    failed: int


class BackfillConsole:
    """``with BackfillConsole(verb) as console: … console.update(progress)`` on a terminal."""

    def __init__(self, verb: str = "backfill") -> None:
        self.progress = Progress(TextColumn("[bold]{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[detail]}"), TimeRemainingColumn(),
                                 transient=True, console=Console(stderr=True), redirect_stderr=True,
                                 redirect_stdout=False)
        self._fetched: TaskID = self.progress.add_task(f"{verb} fetched", total=None, detail="")
        self._settled: TaskID = self.progress.add_task("settled", total=None, detail="")

    def __enter__(self) -> BackfillConsole:
        self.progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.progress.stop()

    def update(self, p: BackfillProgress) -> None:
        """Show ``p`` (cheap: rich redraws at its own pace)."""
        self.progress.update(self._fetched, total=p.total, completed=p.fetched, detail="")
        self.progress.update(self._settled, total=p.total, completed=p.settled,
                             detail=f"new {p.new} · duplicates {p.duplicates} · failed {p.failed}")
