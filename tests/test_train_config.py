"""TrainConfig: the example configs parse; bad keys/values/stages are errors naming the key;
learning-rate schedule and preference losses behave as documented."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from hanforge.errors import ConfigError
from hanforge.train.config import PREFERENCE_LOSSES, TrainConfig, load_train_config
from hanforge.train.trainer import lr_lambda, preference_loss

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("stage", ["cpt", "sft", "dpo"])
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


def test_lr_schedule_warmup_then_cosine_to_floor():
    config = TrainConfig.from_table(_table(optim={"warmup_steps": 4, "min_lr_ratio": 0.1, "schedule": "cosine"}))
    f = lr_lambda(config, 20)
    assert [f(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(4) == 1.0 and math.isclose(f(20), 0.1) and f(12) == pytest.approx(0.55)
    linear = lr_lambda(TrainConfig.from_table(_table(optim={"schedule": "linear", "min_lr_ratio": 0.0})), 10)
    assert linear(5) == pytest.approx(0.5)


@pytest.mark.parametrize("loss_type", PREFERENCE_LOSSES)
def test_preference_losses_prefer_the_chosen_side(loss_type):
    """Each loss is lower when the policy moved toward chosen than when it moved toward rejected."""
    good = preference_loss(
        loss_type,
        chosen_logratios=torch.tensor([2.0]),
        rejected_logratios=torch.tensor([-2.0]),
        beta=0.5,
        label_smoothing=0.1,
        chosen_len=torch.tensor([4.0]),
        rejected_len=torch.tensor([4.0]),
    )
    bad = preference_loss(
        loss_type,
        chosen_logratios=torch.tensor([-2.0]),
        rejected_logratios=torch.tensor([2.0]),
        beta=0.5,
        label_smoothing=0.1,
        chosen_len=torch.tensor([4.0]),
        rejected_len=torch.tensor([4.0]),
    )
    assert float(good) < float(bad)


def test_dpo_sigmoid_matches_the_formula():
    loss = preference_loss(
        "sigmoid", chosen_logratios=torch.tensor([0.3]), rejected_logratios=torch.tensor([-0.1]), beta=0.1
    )
    assert float(loss) == pytest.approx(-math.log(1 / (1 + math.exp(-0.1 * 0.4))))
