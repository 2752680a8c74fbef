"""What a person sees while and after a corpus job runs: a progress bar and a summary table."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


@contextlib.contextmanager
def stderr_to_file(path: Path) -> Iterator[None]:
    """Send file descriptor 2 (datatrove's task logs, also of worker processes) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as fh:
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


@contextlib.contextmanager
def task_progress(title: str, *, quiet_logs: bool, log_path: Path) -> Iterator:
    """A rich progress bar over completed tasks; yields the ``on_progress(done, total)`` callback.

    With ``quiet_logs`` the per-task logs go to ``log_path`` instead of the console; on failure
    the last lines of that file are printed.
    """
    console = Console(file=sys.stdout)
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("tasks"), TimeElapsedColumn(), console=console, transient=False)
    task_id = None

    def on_progress(done: int, total: int) -> None:
        nonlocal task_id
        if task_id is None:
            task_id = progress.add_task(title, total=total)
        progress.update(task_id, completed=done)

    redirect = stderr_to_file(log_path) if quiet_logs else contextlib.nullcontext()
    try:
        with progress, redirect:
            yield on_progress
    except BaseException:
        if quiet_logs and log_path.exists():
            tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
            print("\n".join(["--- last task log lines (" + str(log_path) + ") ---", *tail]), file=sys.stderr)
        raise


def print_run_summary(stats: dict[str, Any], *, output: Path, console: Console | None = None) -> None:
    """Print the per-step table and drop reasons of a finished run."""
    console = console or Console()
    docs = stats["documents"]
    table = Table(title=f"hanforge run → {output}", show_lines=False)
    for col in ("step", "docs in", "kept", "dropped", "seconds"):
        table.add_column(col, justify="right" if col != "step" else "left")
    for step in stats["steps"]:
        if step["step"] == "writer":
            continue
        table.add_row(step["step"], f"{step['docs_in']:,}", f"{step['kept']:,}", f"{step['dropped']:,}",
                      f"{step['seconds']:.2f}")
    console.print(table)
    if stats["drop_reasons"]:
        reasons = Table(title="drop reasons")
        reasons.add_column("reason")
        reasons.add_column("documents", justify="right")
        for reason, n in sorted(stats["drop_reasons"].items(), key=lambda kv: (-kv[1], kv[0])):
            reasons.add_row(reason, f"{n:,}")
        console.print(reasons)
    if stats.get("pii"):
        console.print("PII replaced: " + ", ".join(f"{k} {v:,}" for k, v in stats["pii"].items()))
    console.print(
        f"[bold]{docs['input']:,}[/] documents in → [green]{docs['kept']:,} kept[/] + "
        f"[yellow]{docs['excluded']:,} excluded[/] in {stats['seconds']:.1f}s "
        f"({stats['docs_per_second'] or 0:,.0f} docs/s). Shards: {output / 'shards'}"
    )
