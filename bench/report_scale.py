"""How long ``hanforge report`` takes on a 1 GB-class output folder (and on 10 M rows).

Run (from the repo root, after ``hanforge run`` on the embedded sample)::

    PYTHONPATH=. python bench/report_scale.py output/korean-web --work /tmp/report-scale --copies 6000
    PYTHONPATH=. python bench/report_scale.py output/korean-web --work /tmp/report-rows --copies 70000 --text-chars 40

The kept and excluded shards of a real run are replicated ``--copies`` times with changed ids
(``<id>-<copy>``) into ``--work``, in row groups of about 4 MB of text as hanforge writes them,
with 64 KiB data pages and no dictionary for the text so that copies are not compressed against
each other (``--text-chars`` cuts the text to make a many-row, little-text set).
The run's manifest is copied so the configured limits are drawn. Then the report is built
twice (the first build warms the page cache) and the second is timed; a plain Polars scan of
the same shards (rows and the sum of ``num_chars``) is timed in the same command as the
baseline, so the ratio tells what the report costs on top of reading the columns once.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hanforge.report import build_report


def replicate(
    source: Path, work: Path, *, copies: int, copies_per_file: int, text_chars: int | None
) -> tuple[int, int]:
    """Write the replicated shard set; return (rows, bytes on disk)."""
    if work.exists():
        shutil.rmtree(work)
    num_rows = num_bytes = 0
    for sub in ("shards", "excluded"):
        files = sorted((source / sub).glob("*.parquet"))
        if not files:
            continue
        table = pa.concat_tables([pq.read_table(f) for f in files])
        if text_chars is not None:
            table = table.set_column(
                table.schema.get_field_index("text"),
                table.schema.field("text"),
                pc.utf8_slice_codeunits(table["text"], 0, text_chars).cast(table.schema.field("text").type),
            )
        (work / sub).mkdir(parents=True)
        id_idx = table.schema.get_field_index("id")
        field = table.schema.field(id_idx)

        def copies_of(first: int, stop: int) -> pa.Table:
            reps = pa.concat_tables([table] * (stop - first))  # noqa: B023 - called inside the same iteration
            suffix = pc.utf8_lpad(
                pc.cast(pa.array(np.repeat(np.arange(first, stop), table.num_rows)), pa.string()),  # noqa: B023 - called inside the same iteration
                6,
                "0",
            )
            ids = pc.binary_join_element_wise(reps["id"], suffix, "-")
            return reps.set_column(id_idx, field, ids.cast(field.type)).combine_chunks()  # noqa: B023 - called inside the same iteration

        # row groups of about 4 MB of text, as TextShardWriter writes them; small data pages and
        # no dictionary for the text so repeated copies are not compressed against each other
        per_group = max(1, (4 << 20) // max(1, pc.sum(pc.utf8_length(table["text"])).as_py() or 1))
        dictionary = [f.name for f in table.schema if f.name not in ("id", "text")]
        for start in range(0, copies, copies_per_file):
            stop = min(start + copies_per_file, copies)
            path = work / sub / f"{start // copies_per_file:05d}-00000.parquet"
            with pq.ParquetWriter(
                path, table.schema, compression="zstd", use_dictionary=dictionary, data_page_size=64 << 10
            ) as writer:
                for g in range(start, stop, per_group):
                    writer.write_table(copies_of(g, min(g + per_group, stop)))
            num_rows += table.num_rows * (stop - start)
            num_bytes += path.stat().st_size
    shutil.copy2(source / "manifest.json", work / "manifest.json")
    return num_rows, num_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="a hanforge run output folder")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--copies", type=int, default=6000)
    parser.add_argument("--copies-per-file", type=int, default=200)
    parser.add_argument("--text-chars", type=int)
    parser.add_argument("--reuse", action="store_true", help="time the report on --work as it is (no new copies)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    if not args.reuse:
        rows, size = replicate(
            args.source, args.work, copies=args.copies, copies_per_file=args.copies_per_file, text_chars=args.text_chars
        )
        print(f"wrote {rows:,} rows, {size / 2**30:.2f} GiB of Parquet in {time.perf_counter() - t0:.1f} s")
    files = sorted(args.work.glob("*/*.parquet"))
    rows = pl.scan_parquet(files).select(pl.len()).collect().item()
    print(f"{len(files)} files, {rows:,} rows, {sum(f.stat().st_size for f in files) / 2**30:.2f} GiB of Parquet")
    timings = {}
    for name, fn in (
        (
            "polars scan (rows + sum num_chars)",
            lambda: pl.scan_parquet(files).select(pl.len(), pl.col("num_chars").sum()).collect(),
        ),
        ("hanforge report", lambda: build_report(args.work, out=args.work / "report.html")),
    ):
        fn()
        t = time.perf_counter()
        fn()
        timings[name] = time.perf_counter() - t
        print(f"{name}: {timings[name]:.2f} s")
    page = args.work / "report.html"
    print(
        f"report: {page.stat().st_size / 1024:.0f} KiB; report / scan = "
        f"{timings['hanforge report'] / timings['polars scan (rows + sum num_chars)']:.1f}x"
    )


if __name__ == "__main__":
    main()
