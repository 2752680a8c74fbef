"""hanforge plan: estimates reproduce a hand calculation from the shipped measured rows; every
extrapolation is stated; --calibrate measures a tiny model on this machine and plans from it."""

from __future__ import annotations

import json

import pytest
from train_helpers import (
    build_tiny_model,
    build_tokenizer_and_shards,
    one_torch_thread,  # noqa: F401  (autouse fixture)
    tiny_config,
)

from hanforge.cli import main as cli_main
from hanforge.errors import ConfigError
from hanforge.plan import estimate, load_table
from hanforge.plan.throughput import SHIPPED


def test_shipped_rows_are_the_bench_figures():
    """Each shipped row's tokens/s is the figure in the raw bench output it cites."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    r64 = json.loads((root / "bench/results/train_gpu_7b_r64.json").read_text())["sizes"]["7b"]
    rows = {r.id: r for r in load_table(SHIPPED)}
    assert rows["h200-7b-r64-b4-unsloth"].tokens_per_s == round(r64["unsloth"]["loader-nomask"]["tokens_per_s"])
    assert rows["h200-7b-r64-b4-hf"].tokens_per_s == round(r64["transformers"]["loader-nomask"]["tokens_per_s"])
    assert all(r.date and r.machine and r.command and r.source for r in rows.values())


def test_plan_reproduces_a_hand_calculation(tmp_path):
    rows = load_table(tmp_path / "none.json")
    plan = estimate(rows, stage="cpt", num_params_b=7.62, tokens=2e9, gpu="H200", price_per_gpu_hour=3.5)
    # by hand: 2e9 tokens / 11,064 tokens/s = 180,766 s = 50.213 h; x 3.5 = 175.75
    assert plan.measured.id == "h200-7b-r64-b4-unsloth"
    assert plan.hours == pytest.approx(2e9 / 11064 / 3600) and plan.hours == pytest.approx(50.2129, abs=1e-3)
    assert plan.cost == pytest.approx(175.745, abs=1e-2)
    big = estimate(rows, stage="cpt", num_params_b=72.7, tokens=1e12, gpu="h200", num_gpus=8, price_per_gpu_hour=2.0)
    per_gpu = 11064 * 7.62 / 72.7  # scaled by the parameter ratio
    assert big.tokens_per_s_per_gpu == pytest.approx(per_gpu)
    assert big.hours == pytest.approx(1e12 / (8 * per_gpu) / 3600)
    assert big.cost == pytest.approx(big.hours * 8 * 2.0)
    text = " ".join(big.assumptions)
    assert "parameter ratio" in text and "scale linearly" in text and "4-bit base" in text
    with pytest.raises(ConfigError, match="H100"):
        estimate(rows, stage="cpt", num_params_b=7.62, tokens=1e9, gpu="H100")


def test_plan_cli(capsys, tmp_path):
    assert (
        cli_main(["plan", "--params", "7.62", "--tokens", "2B", "--price", "3.5", "--table", str(tmp_path / "t.json")])
        == 0
    )
    out = capsys.readouterr().out
    assert "50.2 h" in out and "175.75" in out
    assert (
        cli_main(["plan", "--params", "7", "--tokens", "1T", "--gpu", "H100", "--table", str(tmp_path / "t.json")]) == 2
    )
    assert "calibrate" in capsys.readouterr().err


def test_calibrate_measures_this_machine_and_plans_from_it(tmp_path, sample_html_files):
    import tomllib  # noqa: F401  (the config is written as TOML below)

    tok, shards = build_tokenizer_and_shards(tmp_path, sample_html_files)
    from hanforge.train.backend import load_tokenizer_for_training

    model = build_tiny_model(tmp_path / "model", vocab_size=len(load_tokenizer_for_training(str(tok))))
    cfg = tiny_config(
        output=tmp_path / "unused",
        model_dir=model,
        tokenizer=tok,
        stage="cpt",
        data={"token_shards": str(shards), "max_length": 64},
        run={"batch_size": 2, "max_steps": 99},
    )
    toml = tmp_path / "train.toml"
    toml.write_text(_to_toml(cfg.to_dict()), encoding="utf-8")
    table = tmp_path / "table.json"
    assert cli_main(["plan", "--calibrate", "3", "--config", str(toml), "--table", str(table)]) == 0
    entry = json.loads(table.read_text())["entries"][0]
    assert entry["gpu"] == "CPU" and entry["tokens_per_s"] > 0 and entry["stage"] == "cpt"
    rows = load_table(table)
    plan = estimate(rows, stage="cpt", num_params_b=entry["num_params_b"], tokens=1e6, gpu="CPU")
    assert plan.measured.id == entry["id"]
    assert plan.hours == pytest.approx(1e6 / entry["tokens_per_s"] / 3600)
    assert not (tmp_path / "unused").exists()  # calibration trains in a scratch folder

    # hanforge train --calibrate N: the same measurement from the train verb (same row id: it replaces it)
    assert cli_main(["train", "--config", str(toml), "--calibrate", "3", "--table", str(table), "--no-progress"]) == 0
    (again,) = json.loads(table.read_text())["entries"]
    assert again["command"] == f"hanforge train --calibrate 3 --config {toml}" and again["tokens_per_s"] > 0
    mine = [r for r in load_table(table) if r.id == entry["id"]]
    assert [r.command for r in mine] == [again["command"]] and not (tmp_path / "unused").exists()


def test_train_calibrate_option_errors_are_one_line(tmp_path, capsys):
    toml = tmp_path / "train.toml"
    toml.write_text('stage = "cpt"\n', encoding="utf-8")
    args = ["train", "--config", str(toml), "--calibrate", "3"]
    assert cli_main([*args, "--output", str(tmp_path / "run"), "--max-steps", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "drop --max-steps, --output" in err
    assert cli_main(["train", "--config", str(toml), "--table", str(tmp_path / "t.json")]) == 2
    assert "--calibrate" in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and not (tmp_path / "t.json").exists()


def _to_toml(d: dict, prefix: str = "") -> str:
    scalars, tables = [], []
    for k, v in d.items():
        if v is None:
            continue
        if isinstance(v, dict):
            tables.append(f"\n[{prefix}{k}]\n" + _to_toml(v, f"{prefix}{k}."))
        else:
            scalars.append(f"{k} = {json.dumps(v)}")
    return "\n".join(scalars) + "".join(tables) + "\n"
