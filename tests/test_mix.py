"""Mixing: ratios under a token budget, exact accounting end to end, caps, weights, determinism."""

from __future__ import annotations

import re
import shutil

import numpy as np
import polars as pl
import pytest
from token_helpers import english_lines, sample_texts, train_tiny_tokenizer, write_text_shards

from hanforge.cli import main as cli_main
from hanforge.corpus.mix import MixConfig, load_mix_config, mix_sources, plan_copies
from hanforge.errors import BudgetError, ConfigError
from hanforge.tokenizer.load import load_tokenizer
from hanforge.tokenizer.tokenize_job import tokenize_shards


@pytest.fixture(scope="module")
def sources(tmp_path_factory, sample_html_files):
    root = tmp_path_factory.mktemp("mix")
    docs = sample_texts(sample_html_files)
    korean = [(s, t) for s, t in docs if t]
    lines = english_lines([t for _, t in docs])
    english = [("english", "\n".join(lines[i : i + 4])) for i in range(0, len(lines), 4)]
    code_like = [x for x in lines if re.search(r"[=()\[\]]", x)][:24]
    code = [("code", line) for line in code_like]
    paths = {
        "korean": write_text_shards(
            root / "korean",
            korean,
            num_shards=2,
            extra={"dup_cluster_size": [1 + (i % 3 == 0) * 2 for i in range(len(korean))]},
        ),
        "english": write_text_shards(root / "english", english, num_shards=2),
        "code": write_text_shards(root / "code", code, num_shards=1),
    }
    tok = train_tiny_tokenizer(paths["korean"], root / "tok", vocab_size=1200)
    loaded = load_tokenizer(tok)
    doc_sizes = {
        name: [len(e.ids) + 1 for e in loaded.tokenizer.encode_batch([t for _, t in d])]
        for name, d in (("korean", korean), ("english", english), ("code", code))
    }
    sizes = {name: sum(v) for name, v in doc_sizes.items()}
    largest = {name: max(v) for name, v in doc_sizes.items()}
    return {"root": root, "paths": paths, "tok": tok, "sizes": sizes, "largest": largest}


def _config(sources, tmp_path, **overrides) -> MixConfig:
    table = {
        "output": str(tmp_path / "mix"),
        "total": overrides.pop("total", None) or int(sources["sizes"]["english"] / 0.51 * 0.5),
        "tokenizer": str(sources["tok"]),
        "seed": 1,
        "max_epochs": 4.0,
        "sources": {
            "korean": {"path": str(sources["paths"]["korean"]), "ratio": 0.42},
            "english": {"path": str(sources["paths"]["english"]), "ratio": 0.51},
            "code": {"path": str(sources["paths"]["code"]), "ratio": 0.07},
        },
    }
    table.update(overrides)
    return MixConfig.from_table(table, where="mix")


def test_mix_meets_ratios_with_exact_token_accounting(sources, tmp_path):
    cfg = _config(sources, tmp_path)
    manifest = mix_sources(cfg)
    report = manifest["sources"]
    assert report["code"]["epochs"] > 1.5  # the small source is upsampled ...
    assert report["korean"]["epochs"] < 1.0  # ... and the large one down-sampled
    loaded = load_tokenizer(sources["tok"])
    out = pl.concat([pl.read_parquet(tmp_path / "mix" / f) for f in manifest["shards"]])
    for name, r in report.items():
        assert abs(r["achieved"] - r["planned"]) <= sources["largest"][name]  # off by at most one document
        assert abs(r["ratio_achieved"] - r["ratio_planned"]) <= sum(sources["largest"].values()) / cfg.total
        assert r["num_docs_sampled"] + r["num_docs_not_sampled"] == r["num_docs"]
        assert r["epochs"] <= r["max_epochs"]
    for source in ("english", "code"):  # the source column names the origin: count the written rows exactly
        texts = out.filter(pl.col("source") == source)["text"].to_list()
        assert len(texts) == report[source]["num_rows_written"]
        assert sum(len(e.ids) + 1 for e in loaded.tokenizer.encode_batch(texts)) == report[source]["achieved"]
    assert manifest["total_achieved"] == sum(r["achieved"] for r in report.values())
    assert out["id"].n_unique() == out.height  # repeats carry #rK ids
    # end to end: tokenizing the mix yields exactly the accounted tokens
    tokens = tokenize_shards(
        inputs=[tmp_path / "mix"], tokenizer=sources["tok"], seq_len=128, output=tmp_path / "tokens", progress=False
    )
    assert tokens["num_tokens"] == manifest["total_achieved"]
    assert tokens["sources"]["code"]["num_tokens"] == report["code"]["achieved"]


def test_mix_is_deterministic_and_seeded(sources, tmp_path):
    a = mix_sources(_config(sources, tmp_path / "a"))
    b = mix_sources(_config(sources, tmp_path / "b"))
    files = lambda root: {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}  # noqa: E731
    assert files(tmp_path / "a" / "mix") == files(tmp_path / "b" / "mix")
    assert a["sources"] == b["sources"]
    c = mix_sources(_config(sources, tmp_path / "c", seed=2))
    assert c["sources"]["korean"]["achieved"] != a["sources"]["korean"]["achieved"] or files(
        tmp_path / "c" / "mix"
    ) != files(tmp_path / "a" / "mix")
    assert mix_sources(_config(sources, tmp_path / "a")) == a  # rerun: returned as is


def test_budget_beyond_the_epoch_cap_is_a_clear_error(sources, tmp_path):
    code = sources["sizes"]["code"]
    total = int(code * 4 / 0.07) + 500  # code would need more than 4 epochs
    with pytest.raises(BudgetError, match=r"source 'code' needs [\d,]+ tokens .* max_epochs=4.0 allows"):
        mix_sources(_config(sources, tmp_path, total=total))
    assert not (tmp_path / "mix" / "manifest.json").exists()


def test_weighting_by_dup_cluster_size_repeats_popular_documents_more(sources, tmp_path):
    cfg = _config(sources, tmp_path, weight_by_dup_cluster=True)
    cfg = cfg.merge(
        {
            "sources": {
                "korean": cfg.sources["korean"].merge({"ratio": 0.9}),
                "english": cfg.sources["english"].merge({"ratio": 0.1}),
            },
            "total": int(sources["sizes"]["korean"] * 1.5 / 0.9),
        }
    )
    manifest = mix_sources(cfg)
    assert manifest["sources"]["korean"]["weight_by_dup_cluster"]
    out = pl.concat([pl.read_parquet(tmp_path / "mix" / f) for f in manifest["shards"]])
    korean = out.filter(pl.col("source").is_in(["libreoffice", "debian-faq"]))
    base_ids = korean["id"].str.replace(r"#r\d+$", "")
    copies = korean.with_columns(base=base_ids).group_by("base", "dup_cluster_size").len()
    mean = copies.group_by("dup_cluster_size").agg(pl.col("len").mean()).sort("dup_cluster_size")
    assert mean["dup_cluster_size"].to_list() == [1, 3]
    assert mean["len"][1] > 2 * mean["len"][0]


def test_plan_copies_reaches_target_with_bisection():
    sizes = np.array([10, 20, 30, 40])
    copies = plan_copies(sizes, np.ones(4), target=250, max_copies=3, seed=0)
    assert (copies <= 3).all() and abs((copies * sizes).sum() - 250) <= 40
    with pytest.raises(BudgetError, match="at most 300"):
        plan_copies(sizes, np.ones(4), target=301, max_copies=3, seed=0)


def test_mix_config_validation_and_cli(sources, tmp_path, capsys):
    with pytest.raises(ConfigError, match="ratios add up to 0.900000"):
        MixConfig.from_table(
            {
                "output": "o",
                "total": 5,
                "unit": "chars",
                "sources": {"a": {"path": "x", "ratio": 0.5}, "b": {"path": "y", "ratio": 0.4}},
            }
        )
    with pytest.raises(ConfigError, match="tokenizer: is required"):
        MixConfig.from_table({"output": "o", "total": 5, "sources": {"a": {"path": "x", "ratio": 1.0}}})
    with pytest.raises(ConfigError, match=r"mix.sources.a: ratio: must be in \(0, 1\]"):
        MixConfig.from_table(
            {"output": "o", "total": 5, "unit": "chars", "sources": {"a": {"path": "x", "ratio": 1.5}}}, where="mix"
        )
    toml = tmp_path / "pipelines.toml"
    toml.write_text(
        '[mix]\noutput = "out"\ntotal = 20000\nunit = "chars"\n'
        f'[mix.sources.ko]\npath = "{sources["paths"]["korean"]}"\nratio = 0.5\n'
        f'[mix.sources.en]\npath = "{sources["paths"]["english"]}"\nratio = 0.5\n',
        encoding="utf-8",
    )
    assert load_mix_config(toml).output == str(tmp_path / "out")
    assert cli_main(["mix", "--config", str(toml)]) == 0
    printed = capsys.readouterr().out
    assert "achieved chars" in printed and "| ko |" in printed
    assert (tmp_path / "out" / "manifest.json").is_file()


def _files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def mixed(sources, tmp_path_factory):
    """A mix with its token-id side files, and a copy of its shards alone (no side files)."""
    root = tmp_path_factory.mktemp("mixed")
    manifest = mix_sources(_config(sources, root / "a"))
    shutil.copytree(root / "a" / "mix" / "shards", root / "b" / "mix" / "shards")
    return {"with_ids": root / "a" / "mix", "plain": root / "b" / "mix", "manifest": manifest}


def test_tokenize_reuses_the_mix_token_ids_and_writes_the_same_bytes(sources, mixed, tmp_path, monkeypatch):
    from hanforge.shards.token_ids import side_file_for
    from hanforge.tokenizer.batch_encode import BatchEncoder

    shards = [mixed["with_ids"] / s for s in mixed["manifest"]["shards"]]
    assert shards and all(side_file_for(s).is_file() for s in shards)
    kwargs = {"tokenizer": sources["tok"], "seq_len": 64, "rows_per_shard": 16, "progress": False}
    expected = tokenize_shards(inputs=[mixed["plain"]], output=tmp_path / "plain", **kwargs)

    def no_encoding(*args, **kw):
        raise AssertionError("tokenized again")

    reused = []
    with monkeypatch.context() as m:
        m.setattr(BatchEncoder, "encode", no_encoding)
        got = tokenize_shards(
            inputs=[mixed["with_ids"]], output=tmp_path / "reused", on_reused=lambda *a: reused.append(a), **kwargs
        )
    assert reused == [(len(shards), len(shards))]
    assert got == expected
    assert _files(tmp_path / "reused") == _files(tmp_path / "plain")  # token shards and manifest, byte for byte


def test_side_file_matches_only_its_shard_tokenizer_and_column(sources, mixed, tmp_path):
    import pyarrow.parquet as pq

    from hanforge.fingerprint import file_fingerprint
    from hanforge.shards.token_ids import matching_side_file, side_file_for

    shutil.copytree(mixed["with_ids"], tmp_path / "mix")
    shard = tmp_path / "mix" / mixed["manifest"]["shards"][0]
    tok = load_tokenizer(sources["tok"]).fingerprint
    ok = {"shard_fingerprint": file_fingerprint(shard), "tokenizer_fingerprint": tok, "text_column": "text"}
    assert matching_side_file(shard, **ok) == side_file_for(shard)
    assert matching_side_file(shard, **{**ok, "tokenizer_fingerprint": "other"}) is None
    assert matching_side_file(shard, **{**ok, "text_column": "body"}) is None
    pq.write_table(pq.read_table(shard).slice(1), shard)  # the shard changed after the mix
    assert matching_side_file(shard, **{**ok, "shard_fingerprint": file_fingerprint(shard)}) is None
    side_file_for(shard).write_bytes(b"not arrow")  # garbled
    assert matching_side_file(shard, **ok) is None
    assert not (mixed["plain"] / "token-ids").exists()
