"""``hanforge ablate`` end to end on the embedded sample at CI size: two pipeline variants, one
shared tokenizer, the same tiny proxy trained twice per variant (two seeds), one table."""

from __future__ import annotations

import json
import shutil

import pytest
from token_helpers import sample_texts
from train_helpers import one_torch_thread  # noqa: F401  (autouse fixture)

from hanforge.cli import main
from hanforge.errors import ConfigError
from hanforge.eval.ablate_config import load_ablation_config


def _write_config(tmp_path, inputs, heldout, *, extra=""):
    repo_pipelines = shutil.copy(__import__("hanforge").__path__[0] + "/../pipelines.toml", tmp_path / "p.toml")
    (tmp_path / "ablate.toml").write_text(
        f"""
output = "{tmp_path / "out"}"
pipelines = "{repo_pipelines}"
inputs = ["{inputs}"]
heldout = ["{heldout}"]
tokenizer_vocab_size = 3000
seeds = [1, 2]
seq_len = 32
batch_size = 4
token_budget = 1024
learning_rate = 3e-3
warmup_steps = 1
eval_window = 64
eval_stride = 32
backend = "transformers"
{extra}
[proxy]
hidden_size = 32
num_layers = 1
num_heads = 2
num_kv_heads = 1
intermediate_size = 64

[[variants]]
name = "default"
pipeline = "korean-web"

[[variants]]
name = "no-quality"
pipeline = "korean-web"
drop_steps = ["quality", "repetition"]
""",
        encoding="utf-8",
    )
    return tmp_path / "ablate.toml"


def test_ablate_two_variants_on_the_sample(tmp_path, sample_dir, sample_html_files, capsys):
    pages = tmp_path / "pages"
    pages.mkdir()
    for path in sorted((sample_dir / "libreoffice-help-ko").rglob("*.html"))[:24]:
        shutil.copy(path, pages / path.name)
    heldout = tmp_path / "heldout"
    heldout.mkdir()
    debian = [p for p in sample_html_files if "debian" in str(p)][:3]
    for i, (_, text) in enumerate(sample_texts(debian)):
        (heldout / f"{i}.txt").write_text(text[:1500], encoding="utf-8")
    config = _write_config(tmp_path, pages, heldout)
    assert main(["ablate", str(config), "--no-progress"]) == 0
    out = tmp_path / "out"
    results = json.loads((out / "results.json").read_text())
    rows = {r["name"]: r for r in results["variants"]}
    assert set(rows) == {"default", "no-quality"}
    # fewer filters keep at least as many documents; both trained on the same number of tokens
    assert rows["no-quality"]["num_docs"] >= rows["default"]["num_docs"] > 0
    for r in rows.values():
        assert [run["seed"] for run in r["runs"]] == [1, 2]
        assert all(run["steps"] == 8 and 0 < run["bits_per_char"] < 20 for run in r["runs"])
        assert r["seed_spread"] == pytest.approx(abs(r["runs"][0]["bits_per_char"] - r["runs"][1]["bits_per_char"]))
    assert rows["default"]["delta_vs_first"] == 0.0
    table = (out / "table.md").read_text()
    assert "| no-quality |" in table and "seed spread" in table
    assert "| default |" in capsys.readouterr().out
    # the same proxy init for every variant of a seed; different inits across seeds
    assert (out / "init" / "seed-1" / "config.json").is_file() and (out / "init" / "seed-2").is_dir()


def test_ablate_refuses_bad_configs(tmp_path):
    config = _write_config(tmp_path, tmp_path, tmp_path, extra="seeds = [1, 1]\n".replace("seeds", "#"))
    text = config.read_text().replace("seeds = [1, 2]", "seeds = [1, 1]")
    config.write_text(text)
    with pytest.raises(ConfigError, match="seeds"):
        load_ablation_config(config)
    config.write_text(
        text.replace("seeds = [1, 1]", "seeds = [1]").replace('drop_steps = ["quality", "repetition"]', 'shards = "x"')
    )
    with pytest.raises(ConfigError, match="exactly one"):
        load_ablation_config(config)
    assert main(["ablate", str(config)]) == 2
