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
EXPECTED: dict[str, str] = {
    "run": "c708e74b8f652e310a20a040d1960ba0ac342d238f5f2edba6879104b9b0ad21",
    "dedup": "f64e8f4c79ab31bd0decbdb3e567abc8bb7ba5a2c166d90a734d88bff0cf616f",
    "tokenizer_vocab": "ba53d7e5d5e2e658100fcfce32efdb47ea35a34dbdcf26478ca5061000bb2d76",
    "tokens": "7b09290799c508df631272cb441fe1dee9f48e12c094493159710f4880a52601",
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
    cfg = cfg.replace(inputs=[str(REPO / "hanforge" / "sample" / "debian-faq-ko")], output=str(work / "run"), tasks=2)
    run_pipeline(cfg)
    run_dedup([work / "run"], output=work / "dedup")
    train_tokenizer(inputs=[work / "dedup"], output=work / "tok", config=TokenizerTrainConfig(vocab_size=1200))
    tokenize_shards(inputs=[work / "dedup"], tokenizer=work / "tok", seq_len=256, output=work / "tokens",
                    progress=False)
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
