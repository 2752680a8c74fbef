"""What a person sees while and after a job runs: progress bars and end-of-job summaries.

Every verb's live display and closing summary is rendered here, so ``run``, ``dedup``, ``mix``
and ``tokenize`` look alike and a change of look is one edit:

- :func:`task_progress` — bars over finished datatrove tasks (``run``, ``dedup``), with the
  task logs sent to a file;
- :func:`item_progress` — one bar over items of an in-process job (the tokenize job's input
  shards and packed documents);
- :func:`print_run_summary`, :func:`print_dedup_summary`, :func:`format_mix_report`,
  :func:`format_token_summary` — the summaries of ``run``, ``dedup``, ``mix`` and ``tokenize``.

Bars are drawn with rich (already a dependency for tables); they write to stdout for task jobs,
and to stderr for in-process jobs so that their stdout holds the summary alone.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def _progress(*, unit: str, show: bool, console: Console) -> Progress:
    """The one bar layout: title, bar, done/total, unit, elapsed time."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not show,
    )


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

    progress = _progress(unit="tasks", show=show, console=Console(file=sys.stdout))
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


@contextlib.contextmanager
def item_progress(
    title: str, *, total: int, unit: str, done: int = 0, show: bool = True
) -> Iterator[Callable[[int], None]]:
    """One bar over ``total`` items of an in-process job (on stderr); yields ``advance(n)``."""
    with _progress(unit=unit, show=show, console=Console(file=sys.stderr)) as progress:
        bar = progress.add_task(title, total=total, completed=done)
        yield lambda n=1: progress.advance(bar, n)


def print_run_summary(stats: dict[str, Any], *, output: Path, console: Console | None = None) -> None:
    """Print the per-step table and drop reasons of a finished ``run``."""
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


def print_dedup_summary(stats: dict[str, Any], *, output: Path, console: Console | None = None) -> None:
    """Print a short readable summary of a finished ``dedup`` (its stats.json)."""
    console = console or Console()
    docs = stats["documents"]
    console.print(
        f"[bold]{docs['input']:,}[/] documents in → [green]{docs['kept']:,} kept[/], "
        f"[yellow]{docs['exact_duplicate']:,} exact[/] + [yellow]{docs['near_duplicate']:,} near[/] "
        f"duplicates removed; {stats['clusters']:,} clusters (largest {stats['largest_cluster']:,})."
    )
    console.print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in stats["seconds"].items()))
    console.print(f"shards: {output / 'shards'}  excluded: {output / 'excluded'}")


def format_mix_report(manifest: dict[str, Any]) -> str:
    """A Markdown table of planned vs achieved amounts and ratios per source of a ``mix``."""
    unit = manifest["unit"]
    lines = [
        f"| source | planned {unit} | achieved {unit} | planned ratio | achieved ratio | epochs | "
        "docs sampled / repeated / not sampled |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, r in manifest["sources"].items():
        lines.append(
            f"| {name} | {r['planned']:,} | {r['achieved']:,} | {r['ratio_planned']:.4f} | "
            f"{r['ratio_achieved']:.4f} | {r['epochs']:.3f} | {r['num_docs_sampled']:,} / "
            f"{r['num_docs_repeated']:,} / {r['num_docs_not_sampled']:,} |"
        )
    lines.append(f"\ntotal: planned {manifest['total_planned']:,} {unit}, achieved {manifest['total_achieved']:,}")
    return "\n".join(lines)


def format_token_summary(manifest: dict[str, Any]) -> str:
    """A readable summary of a token-shard manifest (``tokenize``)."""
    lines = [
        f"{manifest['num_docs']:,} documents → {manifest['num_rows']:,} rows × {manifest['seq_len']} "
        f"in {len(manifest['shards'])} shard(s); {manifest['num_tokens']:,} tokens "
        f"({manifest['num_pad_tokens']:,} padding, packing efficiency {manifest['packing_efficiency']:.4%})",
        f"skipped empty documents: {manifest['num_skipped_empty_docs']:,}",
    ]
    for source, stats in manifest["sources"].items():
        lines.append(f"  {source}: {stats['num_docs']:,} docs, {stats['num_tokens']:,} tokens")
    return "\n".join(lines)


def print_crawl_summary(summary: Any, *, console: Console | None = None) -> None:
    """Print the outcome table of a ``crawl`` (a :class:`~hanforge.corpus.crawl.CrawlSummary`)."""
    console = console or Console()
    out = Table(title=f"hanforge crawl · {summary.output}")
    out.add_column("outcome")
    out.add_column("URLs", justify="right")
    for key, n in summary.status_counts.items():
        out.add_row(key, str(n))
    for key, n in summary.reason_counts.items():
        out.add_row(f"  {key}", str(n))
    for key, n in summary.events.items():
        out.add_row(f"[dim]{key}[/dim]", str(n))
    console.print(out)
    console.print(
        f"fetched this run: {summary.num_fetched_this_run}; WARC files: {len(summary.warc_files)} "
        f"in {summary.output / 'warc'}; recovered: {summary.recovered}"
    )
    if summary.status_counts.get("queued") and not summary.interrupted:
        console.print(
            f"{summary.status_counts['queued']} URLs still queued: the --max-pages budget is spent; "
            "rerun with a higher --max-pages to continue"
        )
    if summary.interrupted:
        console.print("interrupted: the pages in flight were finished and the WARC closed; rerun to resume")
