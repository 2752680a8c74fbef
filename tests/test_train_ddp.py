"""Data-parallel training in two processes (torchrun, gloo on CPU): the row stream shards rows across
ranks without overlap, and a two-process run stopped and resumed repeats the uninterrupted one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from train_helpers import (
    build_tiny_model,
    build_tokenizer_and_shards,
    one_torch_thread,  # noqa: F401  (autouse fixture)
    tiny_config,
)

from hanforge.train.backend import load_tokenizer_for_training
from hanforge.train.rows import RowStream

ROOT = Path(__file__).resolve().parents[1]


def test_row_stream_shards_ranks_and_starts_where_the_step_says():
    consumed = {"n": 0}
    ranks = [RowStream(10, seed=3, shuffle=True, rank=r, world_size=2, start=lambda: consumed["n"]) for r in range(2)]
    firsts = [[i for _, i in zip(range(10), iter(s), strict=False)] for s in ranks]  # two epochs of 5 each
    perm0 = np.random.default_rng([3, 0]).permutation(10).tolist()
    perm1 = np.random.default_rng([3, 1]).permutation(10).tolist()
    assert firsts[0] == perm0[0::2] + perm1[0::2] and firsts[1] == perm0[1::2] + perm1[1::2]
    consumed["n"] = 7  # e.g. step 7 of one row per step: epoch 1, offset 2
    assert [i for _, i in zip(range(3), iter(ranks[1]), strict=False)] == perm1[1::2][2:5]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, sample_html_files):
    root = tmp_path_factory.mktemp("ddp")
    tok, shards = build_tokenizer_and_shards(root, sample_html_files)
    model = build_tiny_model(root / "model", vocab_size=len(load_tokenizer_for_training(str(tok))))
    return {"tok": tok, "shards": shards, "model": model}


@pytest.mark.slow
def test_two_processes_shard_rows_and_resume_exactly(tiny, tmp_path):
    def table(out):
        config = tiny_config(
            output=out,
            model_dir=tiny["model"],
            tokenizer=tiny["tok"],
            stage="cpt",
            data={"token_shards": str(tiny["shards"])},
            run={"batch_size": 2, "max_steps": 3, "save_every": 1},
            lora={"dropout": 0.1},
        )
        return config.to_dict()

    spec = {
        "whole": table(tmp_path / "whole"),
        "parts": table(tmp_path / "parts"),
        "stop": 1,
        "probe": str(tmp_path / "probe"),
        "num_rows": 6,
        "out": str(tmp_path),
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    env_cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    proc = subprocess.run(
        [*env_cmd, str(ROOT / "tests" / "train_ddp_worker.py"), str(tmp_path / "spec.json")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert all(r["world_size"] == 2 for r in ranks)
    # rank r reads rows r, r+2, ... of the seeded permutation: disjoint, together the whole order
    perm = np.random.default_rng([7, 0]).permutation(len_rows(tiny["shards"])).tolist()
    assert ranks[0]["rows"] == perm[0:12:2] and ranks[1]["rows"] == perm[1:12:2]
    assert ranks[0]["second"]["resumed_from"] == 1 and ranks[0]["second"]["completed"]

    def curve(out):
        lines = (out / "metrics.jsonl").read_text().splitlines()
        return {r["step"]: (r["loss"], r["grad_norm"], r["lr"]) for r in map(json.loads, lines) if "step" in r}

    assert len(curve(tmp_path / "whole")) == 3
    assert curve(tmp_path / "whole") == curve(tmp_path / "parts")


def len_rows(shards: Path) -> int:
    from hanforge.shards import TokenShardDataset

    return len(TokenShardDataset(shards))
