"""Mixing text-shard sources to target ratios under a token budget (``[mix]``, ``hanforge mix``).

Each source is a folder of Parquet text shards with a target ratio, e.g. Korean 0.42 /
English 0.51 / code+math 0.07, and the mix has a total budget (tokens, counted exactly with the
given tokenizer, EOS included, so they equal what ``hanforge tokenize`` will produce; or
characters). Source ``s`` must deliver ``ratio_s × total``:

* every document ``i`` gets ``copies_i = floor(f·w_i) + [u_i < frac(f·w_i)]`` copies, where
  ``u_i`` is a seeded uniform draw per document, ``w_i`` is 1 (or ``min(dup_cluster_size, cap)``
  with ``weight_by_dup_cluster``: content that was duplicated on the web comes back more often,
  as in FineWeb-2's rehydration) and ``f``, found by bisection, brings the source's total as close
  to its target as whole documents allow (off by at most about one document). ``f < 1``
  down-samples, ``f > 1`` up-samples; no document
  gets more than ``ceil(max_epochs)`` copies and no source more than ``max_epochs`` × its size.
* a source that cannot reach its target under its cap is a :class:`~hanforge.errors.BudgetError`
  naming the source, its size and what it would need.

Output: ``<output>/shards/mix-NNNNN.parquet`` (text-shard schema; copies after the first get id
``<id>#r<k>``; copies of a document are adjacent — ``hanforge tokenize`` shuffles globally) and
``<output>/manifest.json`` with planned vs achieved tokens and ratios per source and the number
of documents sampled, repeated and left out, so that every input document is accounted for.
With unit "tokens" and ``token_ids`` (the default), the ids counted are kept: each input shard's
ids are spilled to a temporary folder (``TMPDIR``, 4 bytes per token, removed at the end) and
every output shard gets a side file ``<output>/token-ids/mix-NNNNN.arrow`` holding its rows' ids
(:mod:`hanforge.shards.token_ids`), which ``hanforge tokenize`` reuses instead of tokenizing the
mix again.

The sampler is written here (not taken from a library) because it must be exact, seeded,
streaming over Parquet and explainable in a report; it is a few dozen lines of numpy.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from hanforge.atomic import atomic_path
from hanforge.config import ConfigBase, read_toml, register_section, require
from hanforge.errors import BudgetError, ConfigError
from hanforge.fingerprint import config_fingerprint, file_fingerprint, write_manifest
from hanforge.output import JobOutput
from hanforge.shards.text_reader import iter_text_batches, text_shard_files
from hanforge.shards.text_schema import TEXT_SHARD_SCHEMA
from hanforge.shards.token_format import appends_eos
from hanforge.shards.token_ids import SIDE_DIR, IdSpillWriter, read_ids, side_file_for, write_side_file

#: What ``hanforge mix`` writes in its output folder (the files it may delete on --overwrite).
MIX_OWNS = ("shards/mix-*.parquet", f"{SIDE_DIR}/mix-*.arrow", "manifest.json")
RATIO_TOLERANCE = 1e-6
ROWS_PER_OUTPUT_SHARD = 50_000


@dataclasses.dataclass(frozen=True)
class MixSourceConfig(ConfigBase):
    """One source of a mix (``[mix.sources.<name>]``).

    path: folder of Parquet text shards (a corpus output with ``shards/``, or a folder of
        ``*.parquet``), relative to the config file. ratio: share of the total budget.
    max_epochs / weight_by_dup_cluster: override the ``[mix]`` defaults for this source.
    """

    path_fields: ClassVar[tuple[str, ...]] = ("path",)

    path: str = ""
    ratio: float = 0.0
    max_epochs: float | None = None
    weight_by_dup_cluster: bool | None = None

    def validate(self) -> None:
        require(bool(self.path), "path", "is required (a folder of text shards)")
        require(0.0 < self.ratio <= 1.0, "ratio", f"must be in (0, 1], got {self.ratio}")
        require(
            self.max_epochs is None or self.max_epochs > 0, "max_epochs", f"must be positive, got {self.max_epochs}"
        )


@register_section("mix")
@dataclasses.dataclass(frozen=True)
class MixConfig(ConfigBase):
    """A data mix (``[mix]`` in pipelines.toml, run by ``hanforge mix``).

    output: folder for the mixed shards and manifest. total: budget in ``unit``s.
    unit: "tokens" (exact, with ``tokenizer``; EOS per document included) or "chars".
    tokenizer: Hugging Face tokenizer folder or tokenizer.json (needed for unit "tokens").
    seed: seed of the per-document draws. max_epochs: default cap on how often a source may be
    repeated (also the per-document cap, rounded up). weight_by_dup_cluster: default for
    weighting repeats by ``dup_cluster_size``. sources: ``{name: MixSourceConfig}``; ratios must
    add up to 1. token_ids: with unit "tokens", write the counted token ids beside the shards
    (``token-ids/``, 4 bytes per token) for ``hanforge tokenize`` to reuse.
    """

    path_fields: ClassVar[tuple[str, ...]] = ("output", "tokenizer")

    output: str = ""
    total: int = 0
    unit: Literal["tokens", "chars"] = "tokens"
    tokenizer: str | None = None
    seed: int = 0
    max_epochs: float = 4.0
    weight_by_dup_cluster: bool = False
    token_ids: bool = True
    sources: dict[str, MixSourceConfig] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        require(bool(self.output), "output", "is required")
        require(self.total > 0, "total", f"must be positive, got {self.total}")
        require(self.max_epochs > 0, "max_epochs", f"must be positive, got {self.max_epochs}")
        require(bool(self.sources), "sources", "needs at least one [mix.sources.<name>] table")
        require(
            self.unit != "tokens" or bool(self.tokenizer),
            "tokenizer",
            'is required when unit = "tokens" (or set unit = "chars")',
        )
        total_ratio = sum(s.ratio for s in self.sources.values())
        require(
            abs(total_ratio - 1.0) <= RATIO_TOLERANCE,
            "sources",
            f"ratios add up to {total_ratio:.6f}, not 1 "
            f"({', '.join(f'{k}={s.ratio}' for k, s in self.sources.items())})",
        )


def load_mix_config(path: str | Path) -> MixConfig:
    """The ``[mix]`` section of a TOML file, with paths made relative to the file's folder."""
    path = Path(path)
    data = read_toml(path)
    if "mix" not in data:
        raise ConfigError(f"{path}: no [mix] section")
    from hanforge.corpus.pipeline import config_base

    return MixConfig.from_table(data["mix"], where="mix").resolve_paths(config_base(path))


# -- counting ---------------------------------------------------------------------------------
def _count_units(
    files: list[tuple[str, Path]], *, unit: str, tokenizer, spill: list[Path] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-document size (tokens incl. EOS, or chars) and dup_cluster_size (1 when null).

    With ``spill`` (one path per file), each file's token ids are written there as they are counted.
    """
    sizes, clusters = [], []
    eos_id = tokenizer.eos_id if unit == "tokens" else None
    for index, (_, path) in enumerate(files):
        spilled = IdSpillWriter(spill[index]) if spill else None
        for batch in iter_text_batches(path, optional=["dup_cluster_size"]):
            if unit == "tokens":
                values, lengths = tokenizer.encoder.encode(batch.column("text"))
                if spilled:
                    spilled.write(values, lengths)
                lengths = lengths + appends_eos(values, lengths, eos_id)  # as TokenShardWriter packs
                sizes.append(lengths)
            else:
                sizes.append(pc.utf8_length(pc.fill_null(batch.column("text"), "")).to_numpy().astype(np.int64))
            if "dup_cluster_size" in batch.schema.names:
                c = batch.column("dup_cluster_size").to_numpy(zero_copy_only=False)
                clusters.append(np.where(np.isnan(c.astype(float)), 1, c).astype(np.int64))
            else:
                clusters.append(np.ones(batch.num_rows, np.int64))
        if spilled:
            spilled.close()
    if not sizes:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(sizes), np.concatenate(clusters)


def plan_copies(sizes: np.ndarray, weights: np.ndarray, *, target: int, max_copies: int, seed: int) -> np.ndarray:
    """Copies per document so that ``sum(copies * sizes)`` is as close to ``target`` as the steps allow.

    ``copies_i = floor(f·w_i) + [u_i < frac(f·w_i)]`` capped at ``max_copies``; ``f`` is found
    by bisection. Raises BudgetError when even the cap cannot reach ``target``.
    """
    u = np.random.default_rng(seed).random(len(sizes))
    weights = weights.astype(np.float64)

    def copies(f: float) -> np.ndarray:
        x = f * weights
        base = np.floor(x)
        return np.minimum(base + (u < x - base), max_copies).astype(np.int64)

    def total(f: float) -> int:
        return int((copies(f) * sizes).sum())

    most = int(sizes.sum()) * max_copies
    if most < target:
        raise BudgetError(f"needs {target:,} but at most {most:,} fit under the cap of {max_copies} copies")
    lo, hi = 0.0, max_copies / max(weights.min(), 1e-9) + 1.0
    for _ in range(200):  # total() is a monotone step function of f
        mid = (lo + hi) / 2
        if total(mid) >= target:
            hi = mid
        else:
            lo = mid
        if hi - lo < 1e-12:
            break
    # the closest of the two totals around the target (never above the cap: hi reaches it)
    return copies(hi) if total(hi) - target <= target - total(lo) else copies(lo)


# -- the job ----------------------------------------------------------------------------------
def mix_sources(config: MixConfig, *, overwrite: bool = False) -> dict[str, Any]:
    """Sample the configured sources into ``config.output``; return the manifest (the report)."""
    config.validate()
    output = Path(config.output)
    tokenizer = None
    if config.unit == "tokens":
        from hanforge.tokenizer.load import load_tokenizer

        tokenizer = load_tokenizer(config.tokenizer)
    keep_ids = tokenizer is not None and config.token_ids
    # the ids counted wait in a temporary folder (not in memory) until the shards are written
    with tempfile.TemporaryDirectory(prefix="hanforge-mix-ids-") if keep_ids else _no_folder() as spill:
        return _mix(
            config, output=output, tokenizer=tokenizer, spill=Path(spill) if spill else None, overwrite=overwrite
        )


class _no_folder:
    """Stands in for the spill folder when no ids are kept."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _mix(config: MixConfig, *, output: Path, tokenizer, spill: Path | None, overwrite: bool) -> dict[str, Any]:
    plan, inputs = _count_sources(config, tokenizer=tokenizer, spill=spill)
    fingerprint_config = {
        **config.to_dict(),
        "output": None,
        "tokenizer": tokenizer.fingerprint if tokenizer else None,
        "sources": {k: {**s.to_dict(), "path": None} for k, s in config.sources.items()},
    }
    job = JobOutput(
        output,
        what="mix",
        owns=MIX_OWNS,
        data_dirs=("shards",),
        marker={"config_fingerprint": config_fingerprint(fingerprint_config), "inputs": inputs},
    )
    # planned before the folder is claimed: a budget that cannot be met writes nothing
    report = _plan_sources(config, plan) if job.check(overwrite=overwrite) != "finished" else None
    with job:
        if job.claim(overwrite=overwrite) == "finished" and (output / "manifest.json").is_file():
            return json.loads((output / "manifest.json").read_text(encoding="utf-8"))
        (output / "manifest.json").unlink(missing_ok=True)
        report = report if report is not None else _plan_sources(config, plan)
        achieved_total = sum(r["achieved"] for r in report.values())
        shard_files = _write_mix_shards(output, config=config, plan=plan, tokenizer=tokenizer if spill else None)
        manifest = write_manifest(
            output,
            kind="mix",
            config=fingerprint_config,
            inputs=inputs,
            unit=config.unit,
            total_planned=config.total,
            total_achieved=achieved_total,
            tokenizer={"fingerprint": tokenizer.fingerprint, "name": tokenizer.name} if tokenizer else None,
            sources=report,
            shards=shard_files,
        )
        job.finish()
    return manifest


def _count_sources(
    config: MixConfig, *, tokenizer, spill: Path | None = None
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Per source: its shard files and per-document sizes/cluster sizes (and, with ``spill``, the
    paths of its files' spilled token ids); and the input fingerprints."""
    plan: dict[str, dict[str, Any]] = {}
    inputs: dict[str, str] = {}
    for number, (name, source) in enumerate(config.sources.items()):
        files = text_shard_files([source.path])
        for key, path in files:
            inputs[f"{name}/{key}"] = file_fingerprint(path)
        ids = [spill / f"{number:04d}-{i:06d}.arrow" for i in range(len(files))] if spill else None
        sizes, clusters = _count_units(files, unit=config.unit, tokenizer=tokenizer, spill=ids)
        plan[name] = {"files": files, "sizes": sizes, "clusters": clusters, "ids": ids}
    return plan, inputs


def _plan_sources(config: MixConfig, plan: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Copies per document of every source (into ``plan``) and the per-source report.

    Every source that cannot reach its target under its caps is named in one BudgetError.
    """
    report: dict[str, dict[str, Any]] = {}
    errors = []
    for index, (name, source) in enumerate(sorted(config.sources.items())):
        sizes, clusters = plan[name]["sizes"], plan[name]["clusters"]
        max_epochs = source.max_epochs if source.max_epochs is not None else config.max_epochs
        weighted = (
            source.weight_by_dup_cluster if source.weight_by_dup_cluster is not None else config.weight_by_dup_cluster
        )
        max_copies = max(1, math.ceil(max_epochs))
        target = round(source.ratio * config.total)
        available = int(sizes.sum())
        if target > max_epochs * available:
            errors.append(
                f"source {name!r} needs {target:,} {config.unit} ({source.ratio:.2%} of {config.total:,}) "
                f"but has {available:,} ({len(sizes):,} docs); max_epochs={max_epochs} allows "
                f"{int(max_epochs * available):,}"
            )
            continue
        weights = np.minimum(clusters, max_copies) if weighted else np.ones(len(sizes))
        try:
            copies = plan_copies(
                sizes, weights, target=target, max_copies=max_copies, seed=config.seed * 1_000_003 + index
            )
        except BudgetError as exc:
            errors.append(f"source {name!r}: {exc}")
            continue
        plan[name]["copies"] = copies
        achieved = int((copies * sizes).sum())
        report[name] = {
            "ratio_planned": source.ratio,
            "planned": target,
            "achieved": achieved,
            "available": available,
            "epochs": achieved / available if available else 0.0,
            "max_epochs": max_epochs,
            "weight_by_dup_cluster": weighted,
            "num_docs": int(len(sizes)),
            "num_docs_sampled": int((copies > 0).sum()),
            "num_docs_repeated": int((copies > 1).sum()),
            "num_docs_not_sampled": int((copies == 0).sum()),
            "num_rows_written": int(copies.sum()),
        }
    if errors:
        raise BudgetError("the mix budget cannot be met under the caps: " + "; ".join(errors))
    achieved_total = sum(r["achieved"] for r in report.values())
    for r in report.values():
        r["ratio_achieved"] = r["achieved"] / achieved_total
    return report


def _write_mix_shards(output: Path, *, config: MixConfig, plan: dict[str, dict[str, Any]], tokenizer=None) -> list[str]:
    """Write the sampled rows; with ``tokenizer`` (ids were spilled), each shard's side file too."""
    shards_dir = output / "shards"
    shards_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*shards_dir.glob("mix-*.parquet"), *(output / SIDE_DIR).glob("mix-*.arrow")]:
        stale.unlink()
    written: list[str] = []
    buffer: list[pa.Table] = []
    buffer_ids: list[pa.ChunkedArray] = []
    buffered = 0

    def flush() -> None:
        nonlocal buffer, buffer_ids, buffered
        if not buffer:
            return
        path = shards_dir / f"mix-{len(written):05d}.parquet"
        with atomic_path(path) as tmp:
            pq.write_table(pa.concat_tables(buffer), tmp, compression="zstd")
        if tokenizer is not None:  # written after its shard, naming the shard's fingerprint
            write_side_file(
                side_file_for(path),
                buffer_ids,
                shard_fingerprint=file_fingerprint(path),
                tokenizer_fingerprint=tokenizer.fingerprint,
                text_column="text",
                num_docs=buffered,
            )
        written.append(f"shards/{path.name}")
        buffer, buffer_ids, buffered = [], [], 0

    for name in sorted(config.sources):
        copies = plan[name]["copies"]
        pos = 0
        for index, (_, path) in enumerate(plan[name]["files"]):
            table = pq.read_table(path)
            n = table.num_rows
            c = copies[pos : pos + n]
            pos += n
            rows = np.repeat(np.arange(n), c)
            if not len(rows):
                continue
            taken = table.take(pa.array(rows))
            # copy number of each row (0 for the first copy of a document)
            starts = np.repeat(np.cumsum(c) - c, c)
            repeat = np.arange(len(rows)) - starts
            ids = [i if k == 0 else f"{i}#r{k}" for i, k in zip(taken.column("id").to_pylist(), repeat, strict=True)]
            taken = taken.set_column(taken.schema.get_field_index("id"), "id", pa.array(ids, pa.string()))
            taken = taken.select([f.name for f in TEXT_SHARD_SCHEMA]).cast(TEXT_SHARD_SCHEMA)
            if tokenizer is not None:
                buffer_ids.append(read_ids(plan[name]["ids"][index]).take(pa.array(rows)))
            buffer.append(taken)
            buffered += taken.num_rows
            if buffered >= ROWS_PER_OUTPUT_SHARD:
                flush()
    flush()
    return written
