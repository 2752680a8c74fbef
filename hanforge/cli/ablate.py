"""``hanforge ablate``: train the same proxy model on each corpus variant and compare bits/char."""

from __future__ import annotations

import argparse

from hanforge.cli._options import add_verb, given_options

#: The line ``hanforge --help`` shows for this verb.
HELP = "data ablation: same proxy model on each corpus variant → bits/char table"


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "ablate", ablate_command, help=HELP)
    p.add_argument("config", help="ablate.toml (see docs/eval.md)")
    p.add_argument("--output", help="output folder (overrides output in the config)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def ablate_command(args: argparse.Namespace) -> int:
    """Build each variant's corpus, tokenize all with one tokenizer, train the same proxy on each
    for the same token budget (two seeds), score bits/char on one held-out Korean set.

    Writes OUTPUT/table.md, OUTPUT/results.json and OUTPUT/bits_per_char.png (with matplotlib).
    Reruns resume. The table's 'seed spread' is the run-to-run noise: read differences between
    variants against it.

    Example:  hanforge ablate examples/ablate.toml
    """
    from hanforge.eval.ablate import format_ablation_table, run_ablation
    from hanforge.eval.ablate_config import load_ablation_config

    cfg = load_ablation_config(args.config).merge(given_options(args, "output"))
    results = run_ablation(cfg, progress=not args.no_progress)
    print(format_ablation_table(results))
    print(
        f"\nwrote {cfg.output}/table.md, {cfg.output}/results.json"
        + (f", {results['plot']}" if results.get("plot") else " (no plot: pip install matplotlib)")
    )
    return 0
