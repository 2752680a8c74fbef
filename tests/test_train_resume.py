"""Exact resume: a run interrupted and resumed from its checkpoint gives the same loss curve as
an uninterrupted run (weights, optimizer, scheduler, data position and RNG are restored by the
Trainer's checkpoint; the row order follows from the step)."""

from __future__ import annotations

import json

import pytest
from train_helpers import (
    build_tiny_model,
    build_tokenizer_and_shards,
    one_torch_thread,  # noqa: F401  (autouse fixture)
    tiny_config,
)

from hanforge.errors import TrainingError
from hanforge.train.backend import load_tokenizer_for_training
from hanforge.train.trainer import train


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, sample_html_files):
    root = tmp_path_factory.mktemp("resume")
    tok, shards = build_tokenizer_and_shards(root, sample_html_files)
    model = build_tiny_model(root / "model", vocab_size=len(load_tokenizer_for_training(str(tok))))
    return {"tok": tok, "shards": shards, "model": model}


def _curve(out):
    """Loss of each step; a resumed run's records replace those of the steps it redid."""
    curve = {}
    for line in (out / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "step" in record:
            curve[record["step"]] = (record["step_loss"], record["lr"], record["grad_norm"])
    return [curve[k] for k in sorted(curve)]


def _config(tiny, out, **run):
    # a small epoch (shuffled, 40 rows / 12 per step) so the run crosses epoch boundaries mid-step
    return tiny_config(
        output=out,
        model_dir=tiny["model"],
        tokenizer=tiny["tok"],
        stage="cpt",
        data={"token_shards": str(tiny["shards"])},
        run={"batch_size": 6, "grad_accum": 2, "max_steps": 12, **run},
        lora={"dropout": 0.1, "train_embeddings": True},
    )


def test_resume_reproduces_uninterrupted_run(tiny, tmp_path):
    whole = train(_config(tiny, tmp_path / "whole"), progress=False)
    assert whole.completed

    out = tmp_path / "parts"
    first = train(_config(tiny, out, save_every=4), max_steps_this_run=7, progress=False)
    assert not first.completed and first.steps == 7
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint-4", "checkpoint-7"]
    # simulate a kill while step 7's checkpoint was being written: its completion marker is missing
    (out / "checkpoints" / "checkpoint-7" / "hanforge.json").unlink()
    second = train(_config(tiny, out, save_every=4), progress=False)
    assert second.resumed_from == 4 and second.completed and second.steps == 12
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint-12", "checkpoint-8"]
    assert second.num_tokens == whole.num_tokens * 8 // 12  # every row is full: 8 of 12 steps' tokens

    assert len(_curve(out)) == len(_curve(tmp_path / "whole")) == 12
    for step, (a, b) in enumerate(zip(_curve(tmp_path / "whole"), _curve(out), strict=True), 1):
        assert a == b, f"step {step}: {a} vs {b}"  # bit-identical on CPU
    resumed = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if "event" in x]
    assert resumed == [{"event": "resume", "from_step": 4}]

    # a rerun of the finished run does no work and changes nothing
    log_before = (out / "metrics.jsonl").read_bytes()
    again = train(_config(tiny, out, save_every=4), progress=False)
    assert again.completed and again.steps == 12 and (out / "metrics.jsonl").read_bytes() == log_before


def test_resume_refuses_a_changed_config(tiny, tmp_path):
    out = tmp_path / "run"
    train(_config(tiny, out, save_every=2), max_steps_this_run=2, progress=False)
    changed = _config(tiny, out, save_every=2, batch_size=4)
    with pytest.raises(TrainingError, match="different config"):
        train(changed, progress=False)


@pytest.mark.parametrize("stage", ["sft", "dpo"])
def test_sft_and_dpo_resume_exactly(tiny, tmp_path, stage):
    """The same for the packed SFT rows (LMTrainer) and the preference pairs (trl.DPOTrainer)."""

    def config(out):
        return tiny_config(
            output=out,
            model_dir=tiny["model"],
            tokenizer=tiny["tok"],
            stage=stage,
            run={"batch_size": 4, "max_steps": 4, "save_every": 2},
            lora={"dropout": 0.1},
        )

    whole = train(config(tmp_path / "whole"), progress=False)
    first = train(config(tmp_path / "parts"), max_steps_this_run=2, progress=False)
    second = train(config(tmp_path / "parts"), progress=False)
    assert whole.completed and first.steps == 2 and second.resumed_from == 2 and second.completed
    assert _curve(tmp_path / "whole") == _curve(tmp_path / "parts")
