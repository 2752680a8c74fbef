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
from hanforge.errors import InputError, ShardError
from hanforge.fingerprint import config_fingerprint, file_fingerprint
from hanforge.output import JobOutput
from hanforge.shards.text_reader import iter_text_batches, open_text_shard, text_shard_files
from hanforge.shards.token_format import (
    DEFAULT_ROWS_PER_SHARD,
    TokenShardWriter,
    read_manifest,
)
from hanforge.shards.token_ids import flat_ids, ids_array, matching_side_file, read_ids
from hanforge.tokenizer.load import load_tokenizer
from hanforge.tokenizer.tokenize_config import TokenizeConfig

WORK_DIR = "_work"
#: What ``hanforge tokenize`` writes in its output folder (the files it may delete on --overwrite).
TOKENIZE_OWNS = ("tokens-*.arrow", "manifest.json", f"{WORK_DIR}/**")
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
    seq_len: int,
    output: str | Path,
    rows_per_shard: int = DEFAULT_ROWS_PER_SHARD,
    shuffle_seed: int | None = 0,
    num_workers: int = 1,
    batch_size: int = 1024,
    eos_token: str | None = None,
    text_column: str = "text",
    overwrite: bool = False,
    keep_work: bool = False,
    progress: bool = True,
    on_skipped=None,
    on_reused=None,
) -> dict[str, Any]:
    """Tokenize Parquet text shards and pack them into an Arrow token-shard set at ``output``.

    The settings are those of :class:`~hanforge.tokenizer.tokenize_config.TokenizeConfig`
    (``[tokenize]``; pass ``**config.job_kwargs()``), checked before any work starts.

    ``shuffle_seed`` None keeps documents in input order; an int shuffles all documents with a
    seeded global permutation. Returns the manifest (see docs/token-shards.md). Reruns resume;
    a finished set with the same inputs and config is returned as is. ``overwrite`` replaces a
    set made from other inputs or config (otherwise that is an OutputError); only files hanforge
    wrote are deleted. ``on_skipped(done, total)`` is called when a rerun reuses input shards
    tokenized before, ``on_reused(count, total)`` when ``count`` input shards are not tokenized
    because their token-id side files (from ``hanforge mix``) hold their ids.
    """
    TokenizeConfig(
        seq_len=seq_len,
        rows_per_shard=rows_per_shard,
        shuffle_seed=shuffle_seed,
        num_workers=num_workers,
        batch_size=batch_size,
        eos_token=eos_token,
        text_column=text_column,
    ).validate()
    output = Path(output)
    loaded = load_tokenizer(tokenizer, eos_token=eos_token)
    if loaded.eos_id is None:
        raise InputError(f"{tokenizer}: no EOS token found; pass eos_token (--eos-token)")
    files = text_shard_files(inputs)
    input_fps = {key: file_fingerprint(path) for key, path in files}
    config = {
        "seq_len": seq_len,
        "rows_per_shard": rows_per_shard,
        "shuffle_seed": shuffle_seed,
        "eos_id": loaded.eos_id,
        "text_column": text_column,
        "tokenizer_fingerprint": loaded.fingerprint,
    }
    state = {"config_fingerprint": config_fingerprint(config), "inputs": input_fps}
    work = output / WORK_DIR
    job = JobOutput(output, what="token-shard set", marker=state, owns=TOKENIZE_OWNS, data_dirs=(WORK_DIR,))
    with job:
        if job.claim(overwrite=overwrite) == "finished" and (output / "manifest.json").is_file():
            if work.is_dir() and not keep_work:  # a run killed while cleaning up after itself
                shutil.rmtree(work)
            return read_manifest(output)
        (output / "manifest.json").unlink(missing_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        jobs = _pending_jobs(
            files, work=work, input_fps=input_fps, loaded=loaded, batch_size=batch_size, text_column=text_column
        )
        if on_skipped and len(jobs) < len(files):
            on_skipped(len(files) - len(jobs), len(files))
        reused = sum(1 for j in jobs if j["ids"])
        if on_reused and reused:
            on_reused(reused, len(files))
        _run_jobs(jobs, loaded=loaded, num_workers=num_workers, num_files=len(files), progress=progress)
        writer = TokenShardWriter(
            output,
            seq_len=seq_len,
            vocab_size=loaded.vocab_size,
            eos_id=loaded.eos_id,
            rows_per_shard=rows_per_shard,
            split_documents=True,
            skip_existing=True,
        )
        _pack(writer, work=work, num_files=len(files), shuffle_seed=shuffle_seed, progress=progress)
        manifest = writer.close(
            config=config,
            inputs=input_fps,
            tokenizer={"fingerprint": loaded.fingerprint, "name": loaded.name},
            shuffle_seed=shuffle_seed,
        )
        if not keep_work:
            shutil.rmtree(work)
        job.finish()
    return manifest


def _pending_jobs(
    files: list[tuple[str, Path]], *, work: Path, input_fps: dict[str, str], loaded, batch_size: int, text_column: str
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
            text_column=text_column,
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
                "batch_size": batch_size,
                "text_column": text_column,
            }
        )
    return jobs


def _run_jobs(jobs: list[dict[str, Any]], *, loaded, num_workers: int, num_files: int, progress: bool) -> None:
    """Phase 1: tokenize each pending input shard (threads of this process, or worker processes)."""
    from tqdm import tqdm

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    if any(not job["ids"] for job in jobs):
        loaded.encoder  # noqa: B018 - built once here, not by the first thread to need it
    bar = tqdm(total=num_files, initial=num_files - len(jobs), desc="tokenize", unit="shard", disable=not progress)
    if num_workers == 1 or len(jobs) <= 1:
        # threads: the Rust encoder and pyarrow release the GIL, and the threads share one
        # tokenizer and its word cache; each input still gets its own work file
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=max(1, min(len(jobs), cores))) as pool, _cancel_on_interrupt(pool):
            for _ in pool.map(lambda job: _tokenize_one(job, loaded), jobs):
                bar.update()
    else:
        with (
            ProcessPoolExecutor(max_workers=num_workers, mp_context=get_context("spawn")) as pool,
            _cancel_on_interrupt(pool),
        ):
            for _ in pool.map(_tokenize_one, jobs):
                bar.update()
    bar.close()


def _pack(writer: TokenShardWriter, *, work: Path, num_files: int, shuffle_seed: int | None, progress: bool) -> None:
    """Phase 2: all documents (shuffled globally unless ``shuffle_seed`` is None) into ``writer``.

    Work files stay memory-mapped: record batches are zero-copy numpy views, so only the
    per-document index (a few bytes per document) lives in RAM, whatever the corpus size.
    """
    from tqdm import tqdm

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
    names = list(source_names)
    counts = np.asarray([len(o) - 1 for o in offsets], np.int64)
    chunk_of = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    row_of = (np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)).astype(np.int64)
    num_docs = len(chunk_of)
    order = np.arange(num_docs) if shuffle_seed is None else np.random.default_rng(shuffle_seed).permutation(num_docs)
    all_codes = np.concatenate(source_codes) if source_codes else np.zeros(0, np.int32)
    with tqdm(total=num_docs, desc="pack", unit="doc", disable=not progress, mininterval=1.0) as bar:
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
            bar.update(len(docs))


def summarize(manifest: dict[str, Any]) -> str:
    """A readable summary of a token-shard manifest."""
    lines = [
        f"{manifest['num_docs']:,} documents → {manifest['num_rows']:,} rows × {manifest['seq_len']} "
        f"in {len(manifest['shards'])} shard(s); {manifest['num_tokens']:,} tokens "
        f"({manifest['num_pad_tokens']:,} padding, packing efficiency {manifest['packing_efficiency']:.4%})",
        f"skipped empty documents: {manifest['num_skipped_empty_docs']:,}",
    ]
    for source, stats in manifest["sources"].items():
        lines.append(f"  {source}: {stats['num_docs']:,} docs, {stats['num_tokens']:,} tokens")
    return "\n".join(lines)
