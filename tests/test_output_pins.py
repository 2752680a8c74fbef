"""Outputs pinned to their values before the architecture refactor (issue 19): same rows, byte for byte.

A fixed config runs the embedded Debian FAQ sample through run → dedup → tokenizer train →
tokenize, and the decoded rows of every shard (not the file bytes: zstd/Parquet/Arrow writers
may change bytes between library versions without changing a value) are hashed per stage, as is
the trained vocabulary (which depends on SentencePiece's trainer, like every tokenizer test). The
expected digests were computed from the code before the refactor. When an output changes on
purpose, print the new digests with ``PYTHONPATH=. python tests/test_output_pins.py`` and
update :data:`EXPECTED` in the same commit, saying why.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]

#: Computed before the refactor with the command in the module docstring: at 6870c7f, then
#: "run" again at 9b89ede (the PII branch, pre-refactor code: its scrubbing changed excluded rows).
#: All four again on the `extract` branch (issue 12), on purpose: the content extractor, repeated
#: titles, English-only lines removed before the Hangul ratio, and the new `path`/`input_id`
#: columns change the run's rows, hence everything downstream. Tokenizer and tokens again on the
#: `clean2` branch (issue 12), on purpose: printable ASCII and common punctuation became required
#: characters (`common_chars`), which changes the trained vocabulary; run and dedup rows stay.
EXPECTED: dict[str, str] = {
    "run": "9403886cec1e427fd4fc29ee03c2b092659dfd28e2ed06eb3598ed17d7a184ff",
    "dedup": "f57102806c4c88769ddd002d8bf473b096d255b03169f46c01ab23a3262cf0c4",
    "tokenizer_vocab": "017bac0deff16ee4fe5132a3a067c09d0806be1fdafac85635485fe8319e8363",
    "tokens": "9e979a3df19b02fa68252d2871eff7d70aeb818bdac90da6a411dae44f433d1d",
}


def rows_digest(folder: Path) -> str:
    """sha256 over every shard below ``folder`` (sorted by path): column names, types and rows."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.suffix in (".parquet", ".arrow")):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
        else:
            with pa.memory_map(str(path)) as source:
                table = pa.ipc.open_file(source).read_all()
        h.update(str(path.relative_to(folder)).encode())
        h.update(json.dumps([(f.name, str(f.type)) for f in table.schema]).encode())
        for row in table.to_pylist():
            h.update(json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode())
    return h.hexdigest()


def pinned_chain(work: Path) -> dict[str, str]:
    """Run the fixed chain in ``work``; return ``{stage: rows digest}``."""
    from hanforge.corpus.dedup.run import run_dedup
    from hanforge.corpus.pipeline import load_pipelines
    from hanforge.corpus.runner import run_pipeline
    from hanforge.tokenizer.tokenize_job import tokenize_shards
    from hanforge.tokenizer.train import TokenizerTrainConfig, train_tokenizer

    cfg = load_pipelines(REPO / "pipelines.toml").pipeline(None)
    cfg = cfg.merge(
        dict(inputs=[str(REPO / "hanforge" / "sample" / "debian-faq-ko")], output=str(work / "run"), tasks=2)
    )
    run_pipeline(cfg)
    run_dedup([work / "run"], output=work / "dedup")
    train_tokenizer(
        inputs=[work / "dedup"],
        output=work / "tok",
        config=TokenizerTrainConfig(vocab_size=1200, ksx1001_syllables=False),
    )
    tokenize_shards(
        inputs=[work / "dedup"], tokenizer=work / "tok", seq_len=256, output=work / "tokens", progress=False
    )
    vocab = json.loads((work / "tok" / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    return {
        "run": rows_digest(work / "run"),
        "dedup": rows_digest(work / "dedup"),
        "tokenizer_vocab": hashlib.sha256(json.dumps(sorted(vocab.items()), ensure_ascii=False).encode()).hexdigest(),
        "tokens": rows_digest(work / "tokens"),
    }


def test_outputs_match_the_pinned_rows(tmp_path):
    assert pinned_chain(tmp_path) == EXPECTED


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(pinned_chain(Path(tmp)), indent=4))
