"""Memory of ``hanforge mix``'s planning per document: the one part of the scale-out stages whose
memory grows with the corpus (per-document sizes, cluster sizes and the seeded draws of a source
are held in numpy arrays while the copies are planned).

Run (from the repo root)::

    PYTHONPATH=. python bench/mix_memory.py --docs 10000000

Builds the arrays ``_count_units`` returns for ``--docs`` documents (random sizes), runs
:func:`hanforge.corpus.mix.plan_copies` on them in this process, and prints the peak RSS
(``ru_maxrss``) over the interpreter's base, per document.
"""

from __future__ import annotations

import argparse
import resource

import numpy as np

from hanforge.corpus.mix import plan_copies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=10_000_000)
    args = ap.parse_args()
    n = args.docs
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    sizes = np.random.default_rng(0).integers(50, 5000, n).astype(np.int64)
    clusters = np.ones(n, np.int64)
    arrays = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    copies = plan_copies(sizes, np.minimum(clusters, 2), target=int(sizes.sum() * 0.9), max_copies=2, seed=0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        f"{n:,} documents: base {base / 2**20:.0f} MiB; sizes + cluster sizes {(arrays - base) / n:.0f} B/doc; "
        f"peak while planning {(peak - base) / n:.0f} B/doc over the base (peak RSS {peak / 2**20:.0f} MiB); "
        f"{int(copies.sum()):,} copies planned"
    )


if __name__ == "__main__":
    main()
