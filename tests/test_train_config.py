"""TrainConfig: the example configs parse; bad keys/values/stages are errors naming the key; the
configs are frozen (changes go through merge); the learning-rate schedule handed to transformers
behaves as documented."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from hanforge.errors import ConfigError
from hanforge.train.config import TrainConfig, load_train_config
from hanforge.train.trainer import scheduler_settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("stage", ["cpt", "sft", "dpo", "grpo"])
def test_examples_parse_and_name_their_stage(stage):
    config = load_train_config(EXAMPLES / f"train-{stage}.toml")
    assert config.stage == stage and config.with_stage(stage).stage == stage
    assert config.model.path and config.output


def _table(**over):
    table = {"output": "o", "model": {"path": "m"}, "data": {"token_shards": "t"}}
    table.update(over)
    return table


@pytest.mark.parametrize(
    "table, key",
    [
        (_table(model={"path": "m", "finetunig": "lora"}), "model.finetunig"),
        (_table(lora={"rank": 0}), "rank"),
        (_table(model={"path": "m", "finetuning": "full", "load_in_4bit": True}), "load_in_4bit"),
        (_table(optim={"learning_rate": -1.0}), "learning_rate"),
        (_table(run={"batch_size": "8"}), "run.batch_size"),
        (_table(preference={"loss_type": "ppo"}), "preference.loss_type"),
        (_table(stage="rlhf"), "stage"),
        (_table(grpo={"rewards": ["hanforge.train.rewards"]}), "rewards"),
        (_table(grpo={"num_generations": 1}), "num_generations"),
        (_table(model={"path": "m", "attention": "flash"}), "model.attention"),
        ({"model": {"path": "m"}}, "output"),
    ],
)
def test_bad_values_name_the_key(table, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        TrainConfig.from_table(table, where="train.toml")


def test_stage_resolution():
    config = TrainConfig.from_table(_table())
    with pytest.raises(ConfigError, match="--stage"):
        config.with_stage(None)
    with pytest.raises(ConfigError, match="data.instructions"):
        config.with_stage("sft")
    assert config.with_stage("cpt").stage == "cpt"
    fixed = TrainConfig.from_table(_table(stage="cpt"))
    with pytest.raises(ConfigError, match="config says 'cpt'"):
        fixed.with_stage("dpo")


def test_cli_overrides(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text('output = "a"\nstage = "cpt"\n[model]\npath = "m"\n[data]\ntoken_shards = "t"\n', encoding="utf-8")
    config = load_train_config(path, overrides={"output": "b", "run": {"max_steps": 7}})
    assert config.output == "b" and config.run.max_steps == 7 and config.run.batch_size == 8


def test_configs_are_frozen_and_change_through_merge():
    config = TrainConfig.from_table(_table())
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 1  # type: ignore[misc]
    changed = config.merge({"seed": 1, "run": {"batch_size": 2}})
    assert (changed.seed, changed.run.batch_size, config.seed) == (1, 2, 1234)
    with pytest.raises(ConfigError, match="run: batch_size"):
        config.merge({"run": {"batch_size": 0}})


def _lrs(config, total):
    """The multiplier of the peak LR at each step, from transformers' own scheduler."""
    from transformers import get_scheduler

    settings = scheduler_settings(config.optim, total)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = get_scheduler(
        settings["lr_scheduler_type"],
        optimizer,
        num_warmup_steps=settings["warmup_steps"],
        num_training_steps=total,
        scheduler_specific_kwargs=settings.get("lr_scheduler_kwargs"),
    )
    out = []
    for _ in range(total + 1):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def test_lr_schedule_warmup_then_decay_to_floor():
    cosine = _lrs(TrainConfig.from_table(_table(optim={"warmup_steps": 4, "min_lr_ratio": 0.1})), 20)
    assert cosine[:5] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert math.isclose(cosine[20], 0.1) and cosine[12] == pytest.approx(0.55)
    linear = _lrs(TrainConfig.from_table(_table(optim={"schedule": "linear", "min_lr_ratio": 0.0})), 10)
    assert linear[0] == 1.0 and linear[5] == pytest.approx(0.5) and linear[10] == pytest.approx(0.0)
    floor = _lrs(TrainConfig.from_table(_table(optim={"schedule": "linear", "min_lr_ratio": 0.2})), 10)
    assert floor[5] == pytest.approx(0.6) and floor[10] == pytest.approx(0.2)
    constant = _lrs(TrainConfig.from_table(_table(optim={"schedule": "constant", "warmup_steps": 2})), 6)
    assert constant == [0.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0]
