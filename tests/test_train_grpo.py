"""Stage grpo on trl.GRPOTrainer with a Korean reward given as module:function, on a tiny random-init
Qwen2 (CPU): the mean reward rises, a run stopped and resumed repeats the uninterrupted curve, and
the example rewards score Korean text as documented."""

from __future__ import annotations

import json

import pytest
from train_helpers import (
    SAMPLE_INSTRUCT,
    build_tiny_model,
    build_tokenizer_and_shards,
    one_torch_thread,  # noqa: F401  (autouse fixture)
    tiny_config,
)

from hanforge.errors import ConfigError
from hanforge.train.backend import load_tokenizer_for_training
from hanforge.train.rewards import alpaca_format, hangul_ratio, length_target, load_rewards
from hanforge.train.trainer import train


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, sample_html_files):
    root = tmp_path_factory.mktemp("grpo")
    tok, _ = build_tokenizer_and_shards(root, sample_html_files)
    model = build_tiny_model(root / "model", vocab_size=len(load_tokenizer_for_training(str(tok))))
    return {"tok": tok, "model": model}


def _config(tiny, out, **run):
    return tiny_config(
        output=out,
        model_dir=tiny["model"],
        tokenizer=tiny["tok"],
        stage="grpo",
        data={"prompts": str(SAMPLE_INSTRUCT / "dpo-ko.jsonl")},
        grpo={"rewards": ["hanforge.train.rewards:hangul_ratio"], "num_generations": 4, "max_completion_length": 12},
        # the tied embedding/lm_head at the full learning rate: it moves the output distribution fastest
        # (at 5e-2 the reward rose only from step 9 once the tokenizer gained common_chars; 1e-1: step 4)
        optim={"learning_rate": 1e-1, "embedding_learning_rate": 1e-1, "warmup_steps": 0, "schedule": "constant"},
        model={"finetuning": "full"},
        run={"batch_size": 8, **run},
    )


def _records(out):
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if '"step"' in x]


def test_grpo_raises_the_korean_reward_and_resumes_exactly(tiny, tmp_path):
    whole = train(_config(tiny, tmp_path / "whole", max_steps=8), progress=False)
    assert whole.completed and whole.steps == 8
    rewards = [r["rewards/hangul_ratio/mean"] for r in _records(tmp_path / "whole")]
    assert len(rewards) == 8
    head, tail = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3
    assert tail > head + 0.2, f"mean reward did not rise: first-3 {head:.3f}, last-3 {tail:.3f}"

    # the same run stopped after 4 steps (checkpoint) and resumed: the same curve, step for step
    parts = tmp_path / "parts"
    first = train(_config(tiny, parts, max_steps=8, save_every=4), max_steps_this_run=4, progress=False)
    assert not first.completed and first.steps == 4
    second = train(_config(tiny, parts, max_steps=8, save_every=4), progress=False)
    assert second.resumed_from == 4 and second.completed

    def curve(out):
        return {r["step"]: (r["loss"], r["rewards/hangul_ratio/mean"], r["grad_norm"]) for r in _records(out)}

    assert curve(tmp_path / "whole") == curve(parts)


def test_example_rewards_score_korean_text():
    completions = ["서울입니다.", "Seoul is the capital", "네 OK", ""]
    assert hangul_ratio([], completions) == [1.0, 0.0, pytest.approx(1 / 3), 0.0]
    assert alpaca_format([], completions) == [1.0, 0.0, 0.0, 0.0]
    assert alpaca_format([], ["네.\n\n### 지시사항:\n다음."]) == [0.0]  # started a new turn
    assert length_target([], ["가" * 10, "가" * 15], target_chars=[10, 10]) == [1.0, 0.5]
    assert [f.__name__ for f in load_rewards(["hanforge.train.rewards:hangul_ratio"])] == ["hangul_ratio"]
    with pytest.raises(ConfigError, match="no function 'nope'"):
        load_rewards(["hanforge.train.rewards:nope"])
    with pytest.raises(ConfigError, match="module:function"):
        tiny_config(output="o", model_dir="m", tokenizer="t", stage="grpo", grpo={"rewards": ["no_colon"]})
