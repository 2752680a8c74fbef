"""``hanforge report OUTPUT [--compare OTHER] [--out report.html]``: an HTML report of an output folder."""

from __future__ import annotations

import argparse

from hanforge.cli._options import add_verb

#: The line ``hanforge --help`` shows for this verb.
HELP = "write a self-contained HTML report of an output folder"


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "report", report_command, help=HELP)
    p.add_argument("output", help="output folder of hanforge run, dedup, mix or tokenize (or a folder of text shards)")
    p.add_argument("--compare", metavar="OTHER_OUTPUT", help="a second output folder shown side by side")
    p.add_argument("--out", metavar="FILE", help="where to write the page (default: OUTPUT/report.html)")


def report_command(args: argparse.Namespace) -> int:
    """Write one self-contained HTML page (no network needed to view it) about an output folder.

    It shows the funnel (documents and characters per step, drop reasons), the signal
    distributions of kept vs excluded documents with the configured limits, PII replacements,
    dedup clusters, mix plan vs achieved, token-shard totals and packing, and sample documents
    per drop reason and near each limit. With --compare, two runs side by side, differences
    highlighted.

    Example:  hanforge report output/korean-web --compare output/korean-web-strict --out report.html
    """
    from hanforge.report import build_report

    path = build_report(args.output, compare=args.compare, out=args.out)
    print(f"report written to {path} ({path.stat().st_size / 1024:,.0f} KiB)")
    return 0
