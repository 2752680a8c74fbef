"""Each training stage end to end on a tiny random-init Qwen2 (CPU, transformers + peft):
CPT on real token shards from the embedded sample, SFT with responses-only loss, DPO; document
masking of packed rows; EEVE-style init of added tokens with their own learning rate."""

from __future__ import annotations

import json

import pytest
import torch
from train_helpers import (
    SAMPLE_INSTRUCT,
    build_tiny_model,
    build_tokenizer_and_shards,
    one_torch_thread,  # noqa: F401  (autouse fixture)
    tiny_config,
)

from hanforge.cli import main
from hanforge.errors import InputError
from hanforge.shards import TokenShardDataset
from hanforge.train.backend import choose_backend, load_model, load_tokenizer_for_training
from hanforge.train.data import ALPACA_KO_RESPONSE, build_sft_shards, read_records
from hanforge.train.rows import PackedRowsCollator
from hanforge.train.trainer import train
from hanforge.train.trainers import param_groups


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, sample_html_files):
    root = tmp_path_factory.mktemp("train")
    tok, shards = build_tokenizer_and_shards(root, sample_html_files)
    vocab = len(load_tokenizer_for_training(str(tok)))
    model = build_tiny_model(root / "model", vocab_size=vocab)
    return {"root": root, "tok": tok, "shards": shards, "model": model, "vocab": vocab}


def _losses(out):
    return [
        json.loads(line)["step_loss"]
        for line in (out / "metrics.jsonl").read_text().splitlines()
        if "step_loss" in line
    ]


def _falls(losses, *, by):
    head, tail = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    return tail < head - by, (head, tail)


def test_cpt_on_token_shards_loss_falls(tiny, tmp_path):
    out = tmp_path / "cpt"
    config = tiny_config(
        output=out,
        model_dir=tiny["model"],
        tokenizer=tiny["tok"],
        stage="cpt",
        data={"token_shards": str(tiny["shards"])},
        model={"finetuning": "full"},
        optim={"learning_rate": 1e-2, "embedding_learning_rate": 3e-3},
    )
    summary = train(config, progress=False)
    assert summary.backend == "transformers" and summary.completed and summary.steps == 30
    losses = _losses(out)
    assert len(losses) == 30
    ok, (head, tail) = _falls(losses, by=0.3)
    assert ok, f"loss did not fall: first-5 mean {head:.3f}, last-5 mean {tail:.3f}"
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    for key in ("loss", "grad_norm", "lr", "tokens_per_s", "memory_gb", "num_tokens", "embedding_lr"):
        assert key in record
    assert record["embedding_lr"] < record["lr"]
    # every row seen is a real shard row: tokens counted = non-padding tokens of 30 * 8 rows
    assert summary.num_tokens == record["num_tokens"] > 0
    assert json.loads((out / "summary.json").read_text())["steps"] == 30


def test_cli_says_which_backend_and_trains(tiny, tmp_path, capsys):
    toml = tmp_path / "train.toml"
    toml.write_text(
        f"""
stage = "cpt"
output = "{tmp_path / "cli-run"}"
[model]
path = "{tiny["model"]}"
tokenizer = "{tiny["tok"]}"
dtype = "float32"
gradient_checkpointing = true
[data]
token_shards = "{tiny["shards"]}"
[run]
batch_size = 2
max_steps = 3
log_every = 1
tensorboard = true
[export]
merged = false
""",
        encoding="utf-8",
    )
    assert main(["train", "--config", str(toml), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "backend: transformers + peft on CPU" in text and "pip install" in text and "unsloth" in text
    assert "completed on transformers" in text
    assert any((tmp_path / "cli-run" / "tensorboard").iterdir())
    assert (tmp_path / "cli-run" / "adapter" / "adapter_config.json").is_file()
    # asking for the other stage than the config names is an error naming the key
    assert main(["train", "--stage", "sft", "--config", str(toml), "--no-progress"]) == 2
    assert "stage" in capsys.readouterr().err


def test_backend_choice_on_cpu():
    be = choose_backend("auto")
    assert be.name == "transformers" and be.device.type == "cpu" and "unsloth" in be.reason
    from hanforge.errors import TrainingError

    with pytest.raises(TrainingError, match="CUDA"):
        choose_backend("unsloth")


def test_sft_shards_train_on_responses_only(tiny, tmp_path):
    tok = load_tokenizer_for_training(str(tiny["tok"]))
    folder, manifest = build_sft_shards(
        instructions=SAMPLE_INSTRUCT / "sft-ko.jsonl",
        template="alpaca-ko",
        tokenizer=tok,
        max_length=128,
        output=tmp_path / "sft",
    )
    records = read_records(SAMPLE_INSTRUCT / "sft-ko.jsonl")
    assert manifest["num_docs"] == len(records) and manifest["has_loss_mask"]
    ds = TokenShardDataset(folder)
    trained_text = []
    for i in range(len(ds)):
        item = ds[i]
        row = ds.row(i)
        start = 0
        for n in row["doc_lens"]:
            labels = item["labels"][start : start + n]
            ids = labels[labels != -100].tolist()
            if ids and ids[-1] == tok.eos_token_id:
                ids = ids[:-1]
            trained_text.append(tok.decode(ids).strip())
            start += n
    assert sorted(trained_text) == sorted(r["output"].strip() for r in records)
    # the prompt (with the ### 응답: header) is never trained on
    assert not any(ALPACA_KO_RESPONSE.strip() in t for t in trained_text)


def test_sft_stage_loss_falls(tiny, tmp_path):
    out = tmp_path / "sft"
    config = tiny_config(
        output=out,
        model_dir=tiny["model"],
        tokenizer=tiny["tok"],
        stage="sft",
        run={"batch_size": 4},
        lora={"train_embeddings": True},
    )
    summary = train(config, progress=False)
    ok, (head, tail) = _falls(_losses(out), by=0.3)
    assert summary.completed and ok, (head, tail)
    assert (out / "data" / "sft-tokens" / "manifest.json").is_file()


def test_sft_chat_template(tiny, tmp_path):
    tok = load_tokenizer_for_training(str(tiny["tok"]))
    tok.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}</s>\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
    )
    folder, manifest = build_sft_shards(
        instructions=SAMPLE_INSTRUCT / "sft-ko.jsonl",
        template="chat",
        tokenizer=tok,
        max_length=128,
        output=tmp_path / "chat",
    )
    ds = TokenShardDataset(folder)
    item = ds[0]
    trained = tok.decode(item["labels"][item["labels"] != -100].tolist())
    assert "assistant" not in trained and "user" not in trained and trained.strip()


def test_dpo_stage_loss_falls_and_rewards_separate(tiny, tmp_path):
    out = tmp_path / "dpo"
    config = tiny_config(
        output=out,
        model_dir=tiny["model"],
        tokenizer=tiny["tok"],
        stage="dpo",
        run={"batch_size": 4, "max_steps": 30},
        optim={"learning_rate": 1e-2},
    )
    summary = train(config, progress=False)
    losses = _losses(out)
    assert abs(losses[0] - 0.6931) < 1e-3  # policy == reference at step 1: -log sigmoid(0)
    ok, (head, tail) = _falls(losses, by=0.05)
    assert summary.completed and ok, (head, tail)
    last = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][-5:]
    assert sum(r["rewards/accuracies"] for r in last) / 5 > 0.5


def test_dpo_bad_record_names_the_field(tiny, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "안녕", "chosen": "네"}\n', encoding="utf-8")
    config = tiny_config(
        output=tmp_path / "o",
        model_dir=tiny["model"],
        tokenizer=tiny["tok"],
        stage="dpo",
        data={"preferences": str(bad)},
    )
    with pytest.raises(InputError, match="rejected"):
        train(config, progress=False)


def test_document_masking_blocks_cross_document_attention(tiny):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny["model"]).eval()
    model.config.use_cache = False  # as load_model sets it: with a KV cache transformers skips the detection
    ds = TokenShardDataset(tiny["shards"])
    i = next(k for k in range(len(ds)) if len(ds.doc_lens(k)) >= 2 and ds.doc_lens(k)[0] >= 2)
    first = ds.doc_lens(i)[0]
    second = ds.doc_lens(i)[1]

    def forward(document_masking):
        batch = PackedRowsCollator(document_masking=document_masking, flatten=False)([ds[i]])
        assert int(batch.pop("num_tokens")) == sum(ds.doc_lens(i))
        return model(**{k: v for k, v in batch.items() if k != "labels"}).logits

    with torch.no_grad():
        masked, plain = forward(True), forward(False)
        alone = model(input_ids=ds[i]["input_ids"][None, first : first + second]).logits
    seg = slice(first, first + second)
    torch.testing.assert_close(masked[:, seg], alone, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(plain[:, seg], alone, atol=1e-3)


def test_eeve_init_of_added_tokens(tiny, tmp_path):
    from transformers import AutoTokenizer

    old = AutoTokenizer.from_pretrained(tiny["tok"])
    new = AutoTokenizer.from_pretrained(tiny["tok"])
    added = ["도움말을", "스프레드시트", "맞춤법검사기"]
    assert new.add_tokens(added) == 3
    new.save_pretrained(tmp_path / "newtok")
    (tmp_path / "added.json").write_text(json.dumps(added, ensure_ascii=False), encoding="utf-8")
    config = tiny_config(
        output=tmp_path / "o",
        model_dir=tiny["model"],
        tokenizer=tmp_path / "newtok",
        stage="cpt",
        data={"token_shards": str(tiny["shards"])},
        vocab={"added_tokens": str(tmp_path / "added.json"), "old_tokenizer": str(tiny["tok"])},
        optim={"learning_rate": 1e-3, "embedding_learning_rate": 1e-4},
    )
    torch.manual_seed(0)
    model, tok, info = load_model(config, choose_backend("transformers", dtype="float32"))
    assert info["vocab_extension"]["num_initialised"] == 3
    from transformers import AutoModelForCausalLM

    base_emb = AutoModelForCausalLM.from_pretrained(tiny["model"]).get_input_embeddings().weight
    emb = model.get_input_embeddings().weight
    assert emb.shape[0] == len(new)
    for token in added:
        old_ids = old(token, add_special_tokens=False)["input_ids"]
        assert len(old_ids) >= 2
        torch.testing.assert_close(emb[new.convert_tokens_to_ids(token)], base_emb[old_ids].mean(0))
    groups = {g["name"]: g for g in param_groups(model, config)}
    emb_groups = [g for name, g in groups.items() if name.startswith("embeddings")]
    assert emb_groups and all(g["lr"] == 1e-4 for g in emb_groups)
    assert all(g["lr"] == 1e-3 for name, g in groups.items() if not name.startswith("embeddings"))
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any("embed_tokens" in n for n in names) and any("lora_A" in n for n in names)


def test_eeve_init_from_hanforge_tokenizer_extend(tiny, tmp_path):
    """The real hand-off: ``hanforge tokenizer extend`` output → EEVE init of the new rows."""
    from hanforge.tokenizer.extend import extend_tokenizer

    extend_tokenizer(base=tiny["tok"], inputs=[tiny["root"] / "text"], output=tmp_path / "ext", num_new_tokens=24)
    new_tokens = json.loads((tmp_path / "ext" / "new_tokens.json").read_text(encoding="utf-8"))
    assert new_tokens and all(isinstance(t["token"], str) for t in new_tokens)
    config = tiny_config(
        output=tmp_path / "o",
        model_dir=tiny["model"],
        tokenizer=tmp_path / "ext",
        stage="cpt",
        data={"token_shards": str(tiny["shards"])},
        vocab={"added_tokens": str(tmp_path / "ext" / "new_tokens.json"), "old_tokenizer": str(tiny["tok"])},
    )
    torch.manual_seed(0)
    model, tok, info = load_model(config, choose_backend("transformers", dtype="float32"))
    assert info["vocab_extension"]["num_added"] == len(new_tokens)
    assert info["vocab_extension"]["num_initialised"] >= 1
    assert model.get_input_embeddings().weight.shape[0] == len(tok)
