"""The tokenize job: Parquet text shards → packed Arrow IPC token shards (``hanforge tokenize``).

Two resumable phases, both deterministic whatever the number of workers:

1. **Tokenize** each input shard with the fast Hugging Face tokenizer through
   :class:`~hanforge.tokenizer.batch_encode.BatchEncoder` (each distinct word of a batch encoded
   once for SentencePiece-layout BPEs, ``encode_batch_fast`` otherwise; multi-threaded in Rust;
   ``num_workers`` > 1 also spreads input shards over processes) into
   ``<output>/_work/in-NNNNN.arrow`` (token ids per document) plus a ``.json`` marker holding the
   input and tokenizer fingerprints. A rerun skips inputs whose marker matches. An input shard
   whose token-id side file (written by ``hanforge mix``, :mod:`hanforge.shards.token_ids`)
   matches its fingerprint, the tokenizer and the text column is not tokenized again: its ids
   are read from the side file (same ids, same output bytes).
2. **Pack**: all documents, in input order (inputs sorted by path) or in a seeded global
   permutation, go through :class:`~hanforge.shards.token_format.TokenShardWriter` (EOS between
   documents, rows of ``seq_len``). A rerun after a crash re-packs from the cached ids (cheap)
   and does not rewrite shard files that already exist; ``manifest.json`` is written last and
   ``_work/`` is removed.

Example::

    hanforge tokenize out/web --tokenizer out/tok --seq-len 4096 --output out/tokens
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hanforge.atomic import atomic_path, atomic_write_json
from hanforge.console import item_progress
from hanforge.errors import InputError, ShardError
from hanforge.fingerprint import config_fingerprint, file_fingerprint
from hanforge.output import SUBMITTED, JobOutput
from hanforge.shards.text_reader import iter_text_batches, open_text_shard, text_shard_files
from hanforge.shards.token_format import (
    TokenShardWriter,
    read_manifest,
)
from hanforge.shards.token_ids import flat_ids, ids_array, matching_side_file, read_ids
from hanforge.tokenizer.load import load_tokenizer
from hanforge.tokenizer.tokenize_config import TokenizeConfig

WORK_DIR = "_work"
#: What ``hanforge tokenize`` writes in its output folder (the files it may delete on --overwrite).
#: ``logs/``: datatrove's task logs when phase 1 runs on Ray or Slurm (hanforge.corpus.tokenize_tasks).
TOKENIZE_OWNS = ("tokens-*.arrow", "manifest.json", f"{WORK_DIR}/**", "logs/**")
_PACK_BLOCK = 8192  # documents gathered per TokenShardWriter.add_documents call
_WORK_SCHEMA = pa.schema([pa.field("ids", pa.large_list(pa.uint32())), pa.field("source", pa.string())])


_LOADED: dict[tuple[str, str | None], Any] = {}


def _cached_tokenizer(path: str, eos_token: str | None):
    """Load each tokenizer once per process (parsing a large tokenizer.json takes ~0.2 s)."""
    key = (path, eos_token)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = load_tokenizer(path, eos_token=eos_token)
    return _LOADED[key]


def _side_file_batches(job: dict[str, Any]):
    """(record batch of ``source`` (or no column), ids of its rows) of a shard with a side file."""
    parquet = open_text_shard(job["input"], required=(job["text_column"],))
    columns = ["source"] if "source" in parquet.schema_arrow.names else []
    ids, start = read_ids(job["ids"]), 0
    for batch in parquet.iter_batches(batch_size=job["batch_size"], columns=columns, use_threads=False):
        yield batch, flat_ids(ids.slice(start, batch.num_rows))
        start += batch.num_rows
    if start != len(ids):
        raise ShardError(f"{job['ids']}: {len(ids)} rows of ids for {start} documents of {job['input']}")


def _tokenize_one(job: dict[str, Any], loaded=None) -> dict[str, Any]:
    """Phase 1 for one input shard (in a thread of this process, or in a worker process); returns its marker.

    With ``job["ids"]`` (a matching side file), the ids are read from it instead of encoded.
    """
    if job.get("ids"):
        batches = _side_file_batches(job)
    else:
        loaded = loaded or _cached_tokenizer(job["tokenizer"], job["eos_token"])
        if loaded.fingerprint != job["tokenizer_fingerprint"]:
            raise ShardError(f"{job['tokenizer']}: tokenizer changed while the job was running")
        # use_threads=False: input shards already run in parallel (threads or processes)
        batches = (
            (batch, loaded.encoder.encode(batch.column(job["text_column"])))
            for batch in iter_text_batches(
                job["input"],
                text_column=job["text_column"],
                optional=["source"],
                batch_size=job["batch_size"],
                use_threads=False,
            )
        )
    default_source = job["key"].split("/", 1)[0]
    num_docs = 0
    with (
        atomic_path(job["work"]) as tmp,
        pa.OSFile(str(tmp), "wb") as sink,
        pa.ipc.new_file(sink, _WORK_SCHEMA) as writer,
    ):
        for batch, (values, lengths) in batches:
            ids = ids_array(values, lengths)
            has_source = "source" in batch.schema.names
            sources = batch.column("source") if has_source else pa.array([default_source] * batch.num_rows)
            writer.write_batch(pa.record_batch([ids, sources.cast(pa.string())], schema=_WORK_SCHEMA))
            num_docs += batch.num_rows
    marker = {
        "input": job["key"],
        "fingerprint": job["fingerprint"],
        "tokenizer": job["tokenizer_fingerprint"],
        "num_docs": num_docs,
        "ids_reused": bool(job.get("ids")),
    }
    atomic_write_json(job["marker"], marker)
    return marker


@contextlib.contextmanager
def _cancel_on_interrupt(pool):
    """On Ctrl-C, drop the queued inputs instead of tokenizing them all before exiting."""
    try:
        yield
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def tokenize_shards(
    *,
    inputs: list[str | Path],
    tokenizer: str | Path,
    output: str | Path,
    config: TokenizeConfig | None = None,
    overwrite: bool = False,
    keep_work: bool = False,
    progress: bool = True,
    on_skipped=None,
    on_reused=None,
    run_tokenize_tasks=None,
    **settings: Any,
) -> dict[str, Any]:
    """Tokenize Parquet text shards and pack them into an Arrow token-shard set at ``output``.

    The settings are a :class:`~hanforge.tokenizer.tokenize_config.TokenizeConfig` (``[tokenize]``;
    default: its defaults) with ``settings`` (its keys, e.g. ``seq_len=2048``) merged over it, all
    checked before any work starts.

    ``shuffle_seed`` None keeps documents in input order; an int shuffles all documents with a
    seeded global permutation. Returns the manifest (see docs/token-shards.md). Reruns resume;
    a finished set with the same inputs and config is returned as is. ``overwrite`` replaces a
    set made from other inputs or config (otherwise that is an OutputError); only files hanforge
    wrote are deleted. ``on_skipped(done, total)`` is called when a rerun reuses input shards
    tokenized before, ``on_reused(count, total)`` when ``count`` input shards are not tokenized
    because their token-id side files (from ``hanforge mix``) hold their ids. ``run_tokenize_tasks(jobs, num_files)`` replaces phase 1's local pool
    (:mod:`hanforge.corpus.tokenize_tasks` runs it on Ray or Slurm); when it returns False the
    work was handed to Slurm and ``{"state": "submitted"}`` is returned instead of a manifest.
    """
    config = (config or TokenizeConfig()).merge(settings)
    output = Path(output)
    loaded = load_tokenizer(tokenizer, eos_token=config.eos_token)
    if loaded.eos_id is None:
        raise InputError(f"{tokenizer}: no EOS token found; pass eos_token (--eos-token)")
    files = text_shard_files(inputs)
    input_fps = {key: file_fingerprint(path) for key, path in files}
    fingerprinted = {
        "seq_len": config.seq_len,
        "rows_per_shard": config.rows_per_shard,
        "shuffle_seed": config.shuffle_seed,
        "eos_id": loaded.eos_id,
        "text_column": config.text_column,
        "tokenizer_fingerprint": loaded.fingerprint,
    }
    state = {"config_fingerprint": config_fingerprint(fingerprinted), "inputs": input_fps}
    work = output / WORK_DIR
    job = JobOutput(output, what="token-shard set", marker=state, owns=TOKENIZE_OWNS, data_dirs=(WORK_DIR,))
    with job:
        if job.claim(overwrite=overwrite) == "finished" and (output / "manifest.json").is_file():
            if work.is_dir() and not keep_work:  # a run killed while cleaning up after itself
                shutil.rmtree(work)
            return read_manifest(output)
        (output / "manifest.json").unlink(missing_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        jobs = _pending_jobs(files, work=work, input_fps=input_fps, loaded=loaded, config=config)
        if on_skipped and len(jobs) < len(files):
            on_skipped(len(files) - len(jobs), len(files))
        reused = sum(1 for j in jobs if j["ids"])
        if on_reused and reused:
            on_reused(reused, len(files))
        if run_tokenize_tasks is None:
            _run_jobs(jobs, loaded=loaded, num_workers=config.num_workers, num_files=len(files), progress=progress)
        elif jobs and not run_tokenize_tasks(jobs, len(files)):
            return {"state": SUBMITTED, "output": str(output)}
        manifest = _pack(
            output, work=work, num_files=len(files), loaded=loaded, config=config, progress=progress
        ).close(
            config=fingerprinted,
            inputs=input_fps,
            tokenizer={"fingerprint": loaded.fingerprint, "name": loaded.name},
            shuffle_seed=config.shuffle_seed,
        )
        if not keep_work:
            shutil.rmtree(work)
        job.finish()
    return manifest


def _pending_jobs(
    files: list[tuple[str, Path]], *, work: Path, input_fps: dict[str, str], loaded, config: TokenizeConfig
) -> list[dict[str, Any]]:
    """Phase 1 jobs of the input shards whose cached token ids are missing or stale."""
    jobs = []
    for index, (key, path) in enumerate(files):
        marker_path = work / f"in-{index:05d}.json"
        work_path = work / f"in-{index:05d}.arrow"
        marker = _read_marker(marker_path)
        if (
            marker
            and marker.get("fingerprint") == input_fps[key]
            and marker.get("tokenizer") == loaded.fingerprint
            and work_path.is_file()
        ):
            continue
        side = matching_side_file(
            path,
            shard_fingerprint=input_fps[key],
            tokenizer_fingerprint=loaded.fingerprint,
            text_column=config.text_column,
        )
        jobs.append(
            {
                "ids": str(side) if side else None,
                "input": str(path),
                "key": key,
                "fingerprint": input_fps[key],
                "work": str(work_path),
                "marker": str(marker_path),
                "tokenizer": str(loaded.path),
                "eos_token": loaded.eos_token,
                "tokenizer_fingerprint": loaded.fingerprint,
                "batch_size": config.batch_size,
                "text_column": config.text_column,
            }
        )
    return jobs


def _run_jobs(jobs: list[dict[str, Any]], *, loaded, num_workers: int, num_files: int, progress: bool) -> None:
    """Phase 1: tokenize each pending input shard (threads of this process, or worker processes)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    if any(not job["ids"] for job in jobs):
        loaded.encoder  # noqa: B018 - built once here, not by the first thread to need it
    if num_workers == 1 or len(jobs) <= 1:
        # threads: the Rust encoder and pyarrow release the GIL, and the threads share one
        # tokenizer and its word cache; each input still gets its own work file
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        pool = ThreadPoolExecutor(max_workers=max(1, min(len(jobs), cores)))
        tokenize_one = lambda job: _tokenize_one(job, loaded)  # noqa: E731 - looked up at call time
    else:
        pool = ProcessPoolExecutor(max_workers=num_workers, mp_context=get_context("spawn"))
        tokenize_one = _tokenize_one
    done = num_files - len(jobs)
    with (
        pool,
        _cancel_on_interrupt(pool),
        item_progress("tokenize", total=num_files, done=done, unit="shards", show=progress) as advance,
    ):
        for _ in pool.map(tokenize_one, jobs):
            advance(1)


def _pack(
    output: Path, *, work: Path, num_files: int, loaded, config: TokenizeConfig, progress: bool
) -> TokenShardWriter:
    """Phase 2: all documents (shuffled globally unless ``config.shuffle_seed`` is None) into a
    token-shard writer at ``output``, returned unclosed (the caller writes the manifest).

    Work files stay memory-mapped: record batches are zero-copy numpy views, so only the
    per-document index (a few bytes per document) lives in RAM, whatever the corpus size.
    """
    writer = TokenShardWriter(
        output,
        seq_len=config.seq_len,
        vocab_size=loaded.vocab_size,
        eos_id=loaded.eos_id,
        rows_per_shard=config.rows_per_shard,
        split_documents=True,
        skip_existing=True,
    )
    offsets, values, all_codes, names = _document_index(work, num_files=num_files)
    counts = np.asarray([len(o) - 1 for o in offsets], np.int64)
    chunk_of = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    row_of = (np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)).astype(np.int64)
    num_docs = len(chunk_of)
    seed = config.shuffle_seed
    order = np.arange(num_docs) if seed is None else np.random.default_rng(seed).permutation(num_docs)
    with item_progress("pack", total=num_docs, unit="docs", show=progress) as advance:
        for block in range(0, num_docs, _PACK_BLOCK):
            docs = order[block : block + _PACK_BLOCK]
            pieces = [
                values[c][offsets[c][r] : offsets[c][r + 1]]
                for c, r in zip(chunk_of[docs].tolist(), row_of[docs].tolist())
            ]
            lengths = np.fromiter(map(len, pieces), np.int64, len(pieces))
            writer.add_documents(
                np.concatenate(pieces) if pieces else np.zeros(0, np.uint32),
                lengths,
                sources=all_codes[docs],
                source_names=names,
            )
            advance(len(docs))
    return writer


def _document_index(work: Path, *, num_files: int) -> tuple[list, list, np.ndarray, list[str]]:
    """Per work-file batch: id offsets and values (zero-copy views), every document's source
    code (one array) and the source names."""
    offsets, values, source_codes, source_names = [], [], [], {}
    for i in range(num_files):
        reader = pa.ipc.open_file(pa.memory_map(str(work / f"in-{i:05d}.arrow")))
        for b in range(reader.num_record_batches):
            batch = reader.get_batch(b)
            if not batch.num_rows:
                continue
            ids = batch.column("ids")
            offsets.append(ids.offsets.to_numpy())
            values.append(ids.values.to_numpy(zero_copy_only=True))
            codes = pc.dictionary_encode(batch.column("source"))
            remap = np.asarray(
                [source_names.setdefault(str(v), len(source_names)) for v in codes.dictionary.to_pylist()], np.int32
            )
            source_codes.append(remap[codes.indices.to_numpy()])
    all_codes = np.concatenate(source_codes) if source_codes else np.zeros(0, np.int32)
    return offsets, values, all_codes, list(source_names)
