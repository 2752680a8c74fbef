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
def task_progress(title: str, *, quiet_logs: bool, log_path: Path, show: bool = True) -> Iterator:
    """Rich progress bars over completed tasks; yields the ``on_progress`` callback.

    With ``quiet_logs`` the per-task logs go to ``log_path`` instead of the console, from the
    first progress report on (the job calls it once its output folder is claimed, so a job
    refused before any work writes no log file). On an unexpected failure the last lines of
    that file are printed; a hanforge error or Ctrl-C is reported as one line by the CLI.
    """
    from hanforge.errors import HanforgeError

    console = Console(file=sys.stdout)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tasks"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not show,
    )
    bars: dict[str, Any] = {}
    stack_started = False
    with contextlib.ExitStack() as stack:

        def on_progress(*report) -> None:
            """``on_progress(done, total)``, or ``(stage, done, total)`` for one bar per stage."""
            nonlocal stack_started
            if not stack_started:  # the job has claimed its output: show progress, keep logs
                stack_started = True
                if quiet_logs:
                    stack.enter_context(stderr_to_file(log_path))
                stack.enter_context(progress)
            *stage, done, total = report
            label = f"{title} · {stage[0]}" if stage else title
            if label not in bars:
                bars[label] = progress.add_task(label, total=total)
            progress.update(bars[label], completed=done)

        try:
            yield on_progress
        except (HanforgeError, KeyboardInterrupt):
            raise
        except BaseException:
            if stack_started and quiet_logs and log_path.exists():
                stack.close()
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
        table.add_row(
            step["step"], f"{step['docs_in']:,}", f"{step['kept']:,}", f"{step['dropped']:,}", f"{step['seconds']:.2f}"
        )
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
