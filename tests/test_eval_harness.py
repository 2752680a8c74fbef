"""A generated offline harness task over a tiny local file runs and scores: the YAML includes the
harness's own template, and a uniform model's accuracy is known by hand (ties go to choice A)."""

from __future__ import annotations

import json

import pytest
import yaml
from eval_helpers import tiny_hf_tokenizer, tiny_qwen2
from train_helpers import one_torch_thread  # noqa: F401  (autouse fixture)

from hanforge.errors import ConfigError, InputError
from hanforge.eval.harness import resolve_leaves, run_harness, write_offline_tasks

pytest.importorskip("lm_eval")

# HAE-RAE general knowledge rows: query + answer among (A)..(E), the hub dataset's columns
ROWS = [
    {"query": "다음 중 대한민국의 수도는?\n(A) 부산 (B) 서울 (C) 대구 (D) 광주 (E) 인천", "answer": "(B)"},
    {"query": "한글을 만든 왕은?\n(A) 세종 (B) 태조 (C) 정조 (D) 영조 (E) 숙종", "answer": "(A)"},
    {"query": "가장 큰 섬은?\n(A) 울릉도 (B) 거제도 (C) 제주도 (D) 강화도 (E) 진도", "answer": "(C)"},
    {
        "query": "설날은 음력 몇 월 며칠인가?\n(A) 1월 1일 (B) 8월 15일 (C) 5월 5일 (D) 3월 1일 (E) 10월 3일",
        "answer": "(A)",
    },
]


def test_offline_task_yaml_includes_the_harness_template(tmp_path):
    data = tmp_path / "gk.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    names = write_offline_tasks({"haerae_general_knowledge": data}, tmp_path / "tasks")
    assert names == ["haerae_general_knowledge"]
    doc = yaml.safe_load((tmp_path / "tasks" / "haerae_general_knowledge.yaml").read_text(encoding="utf-8"))
    assert doc["include"].endswith("lm_eval/tasks/haerae/haerae_gk.yaml")
    assert doc["dataset_path"] == "json" and doc["dataset_name"] is None
    assert doc["dataset_kwargs"]["data_files"] == {"test": [str(data.resolve())]}
    with pytest.raises(ConfigError):
        resolve_leaves("no_such_korean_task")
    with pytest.raises(InputError):
        write_offline_tasks({"haerae": data}, tmp_path / "t2")  # a group needs a folder per subset


def test_offline_task_runs_and_scores_a_uniform_model(tmp_path):
    data = tmp_path / "gk.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    tok = tiny_hf_tokenizer([r["query"] for r in ROWS] * 4, vocab_size=300)
    choices = [" (A)", " (B)", " (C)", " (D)", " (E)"]
    # precondition of the hand computation: every choice costs the same number of tokens
    assert len({len(tok(c, add_special_tokens=False)["input_ids"]) for c in choices}) == 1
    model = tiny_qwen2(len(tok), zero_head=True)  # uniform: all choices tie, argmax takes (A)
    out = run_harness(
        model,
        tok,
        task_data={"haerae_general_knowledge": data},
        work_dir=tmp_path / "h",
        num_fewshot=0,
        batch_size=4,
        device="cpu",
    )
    row = out["tasks"]["haerae_general_knowledge"]
    expected = sum(r["answer"] == "(A)" for r in ROWS) / len(ROWS)
    assert row["num_samples"] == len(ROWS)
    assert row["acc"] == pytest.approx(expected) and row["acc_norm"] == pytest.approx(expected)
