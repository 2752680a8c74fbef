"""GPU benchmark of document-masked training (issue #17): attention kernels, Unsloth vs HF+PEFT with
masking on, the Korean CPT recipe, and two GPUs.

Data: the token shards ``bench/train_gpu.py prepare`` writes (LibreOffice Korean help, 32k BPE,
seq 4096, ~380-token documents). Models: random-init Qwen2.5-1.5B / 7B shapes (no weights can be
downloaded), saved once to ``--work`` and loaded through hanforge's own ``load_model`` (the same
LoRA / rsLoRA / embedding setup ``hanforge train`` uses). Each measured run times optimizer steps
directly: forward + backward + AdamW step (embed_tokens / lm_head in their own group at their own
learning rate), ``torch.cuda.synchronize`` around each step; tokens/s = non-padding tokens / step
time, median over the steps after the warm-up; peak = ``torch.cuda.max_memory_allocated``.

* unsloth: rows flattened to ``[1, B*S]`` with ``packed_seq_lengths`` (its packed path) and
  :func:`hanforge.train.attention.patch_unsloth` installed (torch varlen_attn);
* hf: transformers + peft, rows ``[B, S]`` with ``position_ids`` restarting per document,
  ``attn_implementation`` = ``sdpa`` (dense block-diagonal mask), ``hanforge_varlen`` or
  ``hanforge_flex``; ``best`` = the faster of the two hanforge kernels measured before it in the
  same process.

On a machine with two GPUs the unsloth runs go to GPU 0 and the hf runs to GPU 1 at the same time
(two identical H200s; each process has its own GPU), then a two-process data-parallel run
(torchrun, one process per GPU, rows split by rank, trainable gradients all-reduced in one
coalesced NCCL call per step) is compared with the same configuration on one GPU.

    export PYTHONPATH=$PWD/gpujob-attn/src:$PWD/.gpusite HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    python3 bench/train_gpu_masked.py run --data .trainbench --out $OUT

``--tiny`` runs the plumbing on CPU with a 2-layer model (hf only).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
SHAPES = {
    "1.5b": dict(
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        vocab_size=151936,
        tie_word_embeddings=True,
    ),
    "7b": dict(
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        vocab_size=152064,
        tie_word_embeddings=False,
    ),
    "tiny": dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=40000,
        tie_word_embeddings=True,
    ),
}
#: name -> (shape, LoRA rank, rsLoRA, train embed_tokens/lm_head, rows per step)
RECIPES = {
    "ref7b": ("7b", 64, False, False, 4),  # the reference setup: r=64, batch 4 x 4096
    "cpt7b": ("7b", 128, True, True, 4),  # the Korean CPT recipe: r=128 rsLoRA + embeddings, own LR
    "ref1.5b": ("1.5b", 16, False, False, 4),
    "tiny": ("tiny", 8, True, True, 2),
}


def log(*a) -> None:
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# ----------------------------------------------------------------------------------- models


def make_model(shape: str, folder: Path, tokenizer: Path, device: str) -> float:
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    t0 = time.perf_counter()
    cuda = device.startswith("cuda")
    config = Qwen2Config(**SHAPES[shape], max_position_embeddings=32768, rope_theta=1e6, bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16 if cuda else torch.float32)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tokenizer).save_pretrained(folder)
    del model
    gc.collect()
    return round(time.perf_counter() - t0, 1)


def train_config(spec: dict, recipe: str):
    from hanforge.train.config import TrainConfig

    shape, rank, rslora, embeddings, _ = RECIPES[recipe]
    tiny = spec["tiny"]
    return TrainConfig.from_table(
        {
            "stage": "cpt",
            "output": str(Path(spec["work"]) / "unused-output"),
            "seed": 1,
            "model": {
                "path": spec["models"][shape],
                "dtype": "float32" if tiny else "bfloat16",
                "gradient_checkpointing": True,
                "max_seq_length": 4096 if not tiny else 256,
                "attention": spec.get("attention", "sdpa"),
            },
            "lora": {
                "rank": rank,
                "alpha": 32.0 if rslora else float(rank),
                "use_rslora": rslora,
                "train_embeddings": embeddings,
            },
            "optim": {"learning_rate": 2e-4, "embedding_learning_rate": 2e-5},
            "data": {"token_shards": str(Path(spec["data"]) / "tokens")},
            "run": {"batch_size": RECIPES[recipe][4]},
        }
    )


# ------------------------------------------------------------------------------------ runs


def batches(data: Path, rows: int, steps: int, *, rank: int = 0, world: int = 1):
    import torch

    from hanforge.shards import TokenShardDataset

    ds = TokenShardDataset(data / "tokens")
    n = len(ds)
    out = []
    for s in range(steps):
        idx = [((s * world + rank) * rows + j) % n for j in range(rows)]
        items = [ds[i] for i in idx]
        out.append({k: torch.stack([it[k] for it in items]) for k in items[0]})
    return out


def step_inputs(batch: dict, backend: str, device) -> dict:
    import torch

    labels = batch["labels"].clone()
    labels[:, 0] = -100
    b = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    labels = labels.to(device)
    if backend == "unsloth":
        pos = b["position_ids"].reshape(1, -1)
        starts = torch.nonzero(pos[0] == 0).flatten()
        lengths = torch.diff(starts, append=torch.tensor([pos.shape[1]], device=pos.device))
        return {
            "input_ids": b["input_ids"].reshape(1, -1),
            "position_ids": pos,
            "labels": labels.reshape(1, -1),
            "packed_seq_lengths": lengths.to(torch.int32),
            "use_cache": False,
        }
    return {"input_ids": b["input_ids"], "position_ids": b["position_ids"], "labels": labels, "use_cache": False}


def one_run(spec: dict, recipe: str, attention: str, *, rank: int = 0, world: int = 1) -> dict:
    """Load, then time ``spec['steps']`` optimizer steps; returns the figures."""
    import torch

    from hanforge.train.backend import choose_backend, load_model

    backend_name = spec["backend"]
    cfg = train_config({**spec, "attention": attention if backend_name == "hf" else "sdpa"}, recipe)
    requested = "unsloth" if backend_name == "unsloth" and not spec["tiny"] else "transformers"
    backend = choose_backend(requested, dtype=cfg.model.dtype)
    t0 = time.perf_counter()
    model, _, info = load_model(cfg, backend)
    load_s = time.perf_counter() - t0
    device = next(p for p in model.parameters() if p.requires_grad).device
    counter = {"varlen_calls": 0}
    inner = None
    if backend_name == "unsloth" and not spec["tiny"]:
        from unsloth.utils import attention_dispatch as dispatch

        inner = dispatch._TORCH_VARLEN_ATTN
        if inner is not None:

            def counted(*a, **k):
                counter["varlen_calls"] += 1
                return inner(*a, **k)

            dispatch._TORCH_VARLEN_ATTN = counted
    emb = [p for n, p in model.named_parameters() if p.requires_grad and ("embed_tokens" in n or "lm_head" in n)]
    emb_ids = {id(p) for p in emb}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in emb_ids]
    groups = [{"params": rest, "lr": cfg.optim.learning_rate}]
    if emb:
        groups.append({"params": emb, "lr": cfg.optim.embedding_learning_rate})
    opt = torch.optim.AdamW(groups, betas=(0.9, 0.95), weight_decay=0.0)
    trainable = rest + emb
    data = batches(Path(spec["data"]), RECIPES[recipe][4], spec["steps"], rank=rank, world=world)
    if spec["tiny"]:  # CPU plumbing check: the first 256 tokens of each row
        data = [{k: v[:, :256] for k, v in b.items()} for b in data]
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    model.train()
    times, losses, tokens = [], [], []
    for batch in data:
        kwargs = step_inputs(batch, backend_name if not spec["tiny"] else "hf", device)
        if cuda:
            torch.cuda.synchronize()
        t = time.perf_counter()
        loss = model(**kwargs).loss
        loss.backward()
        if world > 1:  # data parallel: one coalesced all-reduce of the trainable gradients
            import torch.distributed as dist

            grads = [p.grad for p in trainable if p.grad is not None]
            flat = torch.cat([g.reshape(-1).float() for g in grads])
            dist.all_reduce(flat)
            flat /= world
            off = 0
            for g in grads:
                g.copy_(flat[off : off + g.numel()].view_as(g))
                off += g.numel()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
        losses.append(round(float(loss.detach()), 4))
        tokens.append(int(batch["attention_mask"].sum()))
    warm = spec["warmup"]
    tps = [n / s for n, s in zip(tokens[warm:], times[warm:], strict=True)]
    out = {
        "recipe": recipe,
        "backend": backend_name,
        "attention": attention if backend_name == "hf" else "unsloth packed (varlen_attn via hanforge hook)",
        "tokens_per_s": round(statistics.median(tps), 1) if tps else None,
        "tokens_per_s_steps": [round(x) for x in tps],
        "step_s": [round(x, 3) for x in times],
        "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2) if cuda else None,
        "losses": losses,
        "load_s": round(load_s, 1),
        "trainable_params": info.get("num_trainable_params"),
        "tokens_per_step": tokens[0],
    }
    if backend_name == "unsloth":
        out["varlen_calls_per_step"] = round(counter["varlen_calls"] / len(data), 1)
        if not spec["tiny"] and inner is not None:
            dispatch._TORCH_VARLEN_ATTN = inner
    del model, opt, data, trainable, rest, emb
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return out


# --------------------------------------------------------------------------------- kernels


def kernel_bench(data: Path, device: str) -> dict:
    """One attention call at the 7B shape (28 q / 4 kv heads, head dim 128), 4 x 4096 packed rows
    of the real data's document lengths: forward + backward ms, and the output's max deviation
    from per-document causal SDPA."""
    import torch
    import torch.nn.functional as F
    from torch.nn.attention.flex_attention import create_block_mask

    from hanforge.train import attention as att

    rows, seq, hq, hkv, d = 4, 4096, 28, 4, 128
    batch = batches(data, rows, 1)[0]
    pos = batch["position_ids"].to(device)
    torch.manual_seed(0)
    q = torch.randn(rows, hq, seq, d, device=device, dtype=torch.bfloat16, requires_grad=True)
    k = torch.randn(rows, hkv, seq, d, device=device, dtype=torch.bfloat16, requires_grad=True)
    v = torch.randn(rows, hkv, seq, d, device=device, dtype=torch.bfloat16, requires_grad=True)
    grad = torch.randn(rows, seq, hq, d, device=device, dtype=torch.bfloat16)
    doc = att.document_starts(pos).cumsum(-1)
    dense = (doc[:, :, None] == doc[:, None, :]) & torch.ones(seq, seq, dtype=torch.bool, device=device).tril()
    dense = dense[:, None]
    cu, max_len = att.cu_seqlens_from_position_ids(pos)

    def mask_mod(b, h, qi, ki):
        return (doc[b, qi] == doc[b, ki]) & (qi >= ki)

    def block():
        return create_block_mask(mask_mod, B=rows, H=None, Q_LEN=seq, KV_LEN=seq, device=device, _compile=True)

    bm = block()
    rep = hq // hkv

    def sdpa_dense():
        kx, vx = (x.repeat_interleave(rep, dim=1) for x in (k, v))  # as transformers' sdpa does with a mask
        return F.scaled_dot_product_attention(q, kx, vx, attn_mask=dense).transpose(1, 2)

    fns = {
        "sdpa_causal_no_doc_mask": lambda: (
            F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True).transpose(1, 2).contiguous()
        ),
        "sdpa_dense_doc_mask": sdpa_dense,
        "flex_doc_mask_compiled": lambda: att.flex_document_attention(q, k, v, block_mask=bm, scale=None),
        "varlen_doc": lambda: att.varlen_document_attention(q, k, v, cu_seqlens=cu, max_seqlen=max_len, scale=None),
    }
    # reference: each document alone, fp32 SDPA
    ref = torch.empty(rows, seq, hq, d, device=device, dtype=torch.float32)
    with torch.no_grad():
        bounds = cu.tolist()
        kr, vr = (x.repeat_interleave(rep, dim=1) for x in (k, v))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            r, s0, s1 = a // seq, a % seq, a % seq + (b - a)
            seg = [
                x[r : r + 1, :, s0:s1].float() for x in (q, k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1))
            ]
            ref[r, s0:s1] = F.scaled_dot_product_attention(*seg, is_causal=True)[0].transpose(0, 1)
    out: dict = {"docs": len(bounds) - 1, "mean_doc_len": round(rows * seq / (len(bounds) - 1), 1)}

    def timed(fn, n=20):
        for _ in range(2):
            fn().backward(grad)
        torch.cuda.synchronize()
        ev = [torch.cuda.Event(enable_timing=True) for _ in range(2)]
        ev[0].record()
        for _ in range(n):
            fn().backward(grad)
        ev[1].record()
        torch.cuda.synchronize()
        return ev[0].elapsed_time(ev[1]) / n

    for name, fn in fns.items():
        try:
            o = fn()
            dev = float((o.detach().float() - ref).abs().max()) if name != "sdpa_causal_no_doc_mask" else None
            o.backward(grad)
            out[name] = {"fwd_bwd_ms": round(timed(fn), 3), "max_abs_dev_vs_per_doc": dev}
        except Exception as exc:  # noqa: BLE001 - report and keep measuring the others
            out[name] = {"error": f"{type(exc).__name__}: {exc}"[:800]}
        log("kernel", name, out[name])
    try:
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(10):
            block()
        torch.cuda.synchronize()
        out["flex_block_mask_build_ms"] = round((time.perf_counter() - t) * 100, 3)
    except Exception as exc:  # noqa: BLE001
        out["flex_block_mask_build_ms"] = f"{type(exc).__name__}: {exc}"[:300]
    return out


# ---------------------------------------------------------------------------------- drivers


def child(spec: dict) -> None:
    """One process: the runs in spec['runs'] in order, results appended to spec['result']."""
    results: dict = {"runs": []}
    if spec["backend"] == "unsloth" and not spec["tiny"]:
        import unsloth  # noqa: F401  (before transformers)
    import torch

    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        import torch.distributed as dist

        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group("nccl")
    result = Path(spec["result"] + (f".rank{rank}" if world > 1 else ""))

    def save():
        result.write_text(json.dumps(results, indent=1))

    if spec.get("kernels") and torch.cuda.is_available():
        try:
            results["kernels"] = kernel_bench(Path(spec["data"]), "cuda")
        except Exception as exc:  # noqa: BLE001
            results["kernels"] = {"error": f"{type(exc).__name__}: {exc}"[:1500]}
        save()
    kernel_tps: dict[str, float] = {}  # hanforge kernel -> tokens/s, for "best"
    for recipe, attention in spec["runs"]:
        if time.time() > spec["deadline"]:
            results["runs"].append({"recipe": recipe, "attention": attention, "skipped": "time budget"})
            continue
        if attention == "best":
            attention = max(kernel_tps, key=kernel_tps.get) if kernel_tps else "hanforge"
        t0 = time.perf_counter()
        try:
            r = one_run(spec, recipe, attention, rank=rank, world=world)
        except Exception as exc:  # noqa: BLE001 - a failed run is reported, the others still run
            import traceback

            traceback.print_exc()
            r = {"recipe": recipe, "attention": attention, "error": f"{type(exc).__name__}: {exc}"[:1500]}
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        r["wall_s"] = round(time.perf_counter() - t0, 1)
        r["world_size"] = world
        if spec["backend"] == "hf" and attention.startswith("hanforge") and r.get("tokens_per_s"):
            kernel_tps.setdefault(attention, r["tokens_per_s"])
        results["runs"].append(r)
        log(json.dumps({k: v for k, v in r.items() if k not in ("losses", "step_s", "tokens_per_s_steps")}))
        save()
    if world > 1:
        import torch.distributed as dist

        dist.destroy_process_group()


def spawn(spec: dict, log_path: Path, *, gpu: str | None, timeout: float, torchrun: int = 0):
    env = dict(os.environ)
    for k, v in {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}.items():
        env[k] = v
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    cmd = [sys.executable, str(HERE), "child", json.dumps(spec)]
    if torchrun:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={torchrun}"] + cmd[1:]
    fh = log_path.open("w")
    proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, text=True)
    return proc, fh, time.time() + timeout


def wait(procs) -> None:
    for proc, fh, deadline in procs:
        try:
            proc.wait(timeout=max(1.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            fh.write("\n[killed at the time limit]\n")
        fh.close()


def read(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def run_all(args: argparse.Namespace) -> None:
    import torch

    start = time.time()
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    ngpu = torch.cuda.device_count()
    tiny = args.tiny or ngpu == 0
    shapes = ["tiny"] if tiny else ["7b", "1.5b"]
    models = {s: str(work / f"model-{s}") for s in shapes}
    report: dict = {"command": " ".join(sys.argv), "gpus": ngpu, "torch": torch.__version__}
    if ngpu:
        report["device"] = torch.cuda.get_device_name(0)
    # models: one process per shape, each on its own GPU when there are two
    makers = []
    for i, s in enumerate(shapes):
        code = (
            f"import sys; sys.path.insert(0, {str(HERE.parent)!r}); import train_gpu_masked as m; "
            f"print(m.make_model({s!r}, __import__('pathlib').Path({models[s]!r}), "
            f"__import__('pathlib').Path({str(Path(args.data) / 'tok')!r}), "
            f"{'cpu' if tiny else 'cuda'!r}))"
        )
        env = dict(os.environ, CUDA_VISIBLE_DEVICES=str(i % max(ngpu, 1)))
        makers.append((s, subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)))
    for s, p in makers:
        report[f"make_model_{s}_s"] = (p.communicate()[0] or "").strip()
    log("models made", {k: v for k, v in report.items() if k.startswith("make")})
    base = {
        "data": args.data,
        "work": str(work),
        "models": models,
        "tiny": tiny,
        "steps": args.steps,
        "warmup": args.warmup,
        "deadline": start + args.budget_s,
    }
    if tiny:
        plans = {"hf": [("tiny", "sdpa"), ("tiny", "hanforge"), ("tiny", "hanforge_flex"), ("tiny", "best")]}
    else:
        plans = {
            "unsloth": [("ref7b", "-"), ("ref7b", "-"), ("cpt7b", "-"), ("ref1.5b", "-"), ("cpt7b", "-")],
            "hf": [
                ("ref7b", "sdpa"),
                ("ref7b", "hanforge_flex"),
                ("ref7b", "hanforge_varlen"),
                ("cpt7b", "best"),
                ("ref1.5b", "best"),
                ("ref1.5b", "sdpa"),
                ("ref7b", "best"),
            ],
        }
    procs, results = [], {}
    for i, (backend, runs) in enumerate(plans.items()):
        spec = {**base, "backend": backend, "runs": runs, "kernels": backend == "hf" and not tiny and args.kernels}
        spec["result"] = str(work / f"result-{backend}.json")
        Path(spec["result"]).unlink(missing_ok=True)
        results[backend] = spec["result"]
        gpu = str(i % ngpu) if ngpu else None
        procs.append(
            spawn(spec, out / f"log-{backend}.txt", gpu=gpu, timeout=args.hard_limit_s - (time.time() - start))
        )
        if ngpu < 2:  # one GPU: one process at a time
            wait(procs)
            procs = []
    wait(procs)
    for backend, path in results.items():
        report[backend] = read(path)
    (out / "train_gpu_masked.json").write_text(json.dumps(report, indent=1))
    if ngpu >= 2 and not args.no_ddp and time.time() - start < args.ddp_start_by_s:
        spec = {**base, "backend": "unsloth", "runs": [("ref7b", "-")], "kernels": False}
        spec["deadline"] = time.time() + 400
        spec["result"] = str(work / "result-ddp.json")
        wait(
            [spawn(spec, out / "log-ddp.txt", gpu="0,1", timeout=args.hard_limit_s - (time.time() - start), torchrun=2)]
        )
        report["ddp"] = {f"rank{r}": read(spec["result"] + f".rank{r}") for r in range(2)}
    else:
        report["ddp"] = {"skipped": f"{ngpu} GPU(s) or no time left ({time.time() - start:.0f} s)"}
    report["summary"] = summarize(report)
    report["total_s"] = round(time.time() - start, 1)
    (out / "train_gpu_masked.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report["summary"], indent=1))


def summarize(report: dict) -> dict:
    def figs(backend: str, recipe: str) -> list[tuple[str, float, float | None]]:
        return [
            (r.get("attention"), r["tokens_per_s"], r.get("peak_memory_gb"))
            for r in (report.get(backend) or {}).get("runs", [])
            if r.get("recipe") == recipe and r.get("tokens_per_s")
        ]

    s: dict = {}
    for recipe in ("ref7b", "cpt7b", "ref1.5b", "tiny"):
        un, hf = figs("unsloth", recipe), figs("hf", recipe)
        if not (un or hf):
            continue
        entry: dict = {"unsloth": un, "hf": hf}
        hf_best = max((t for a, t, _ in hf if a != "sdpa"), default=None)
        hf_sdpa = max((t for a, t, _ in hf if a == "sdpa"), default=None)
        if un and hf_best:
            entry["unsloth_vs_hf_best_kernel"] = [round(t / hf_best, 3) for _, t, _ in un]
        if un and hf_sdpa:
            entry["unsloth_vs_hf_sdpa_dense"] = [round(t / hf_sdpa, 3) for _, t, _ in un]
        s[recipe] = entry
    ddp = report.get("ddp") or {}
    per_rank = [(ddp.get(f"rank{r}") or {}).get("runs", [{}])[0].get("tokens_per_s") for r in range(2)]
    one = [t for _, t, _ in figs("unsloth", "ref7b")]
    if all(per_rank) and one:
        s["ddp_2gpu_tokens_per_s"] = round(sum(per_rank), 1)
        s["ddp_speedup_vs_1gpu"] = [round(sum(per_rank) / t, 3) for t in one]
    return s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--data", required=True, help="output of `bench/train_gpu.py prepare`")
    r.add_argument("--out", required=True)
    r.add_argument("--work", default="/dev/shm/hanforge-masked")
    r.add_argument("--steps", type=int, default=9)
    r.add_argument("--warmup", type=int, default=3)
    r.add_argument("--budget-s", type=float, default=400.0, help="start no new run after this")
    r.add_argument("--ddp-start-by-s", type=float, default=430.0, help="skip the 2-GPU run if not started by then")
    r.add_argument("--hard-limit-s", type=float, default=570.0, help="kill what still runs after this")
    r.add_argument("--no-ddp", action="store_true")
    r.add_argument("--kernels", action="store_true", help="also time one attention call per kernel (7B shape)")
    r.add_argument("--tiny", action="store_true")
    c = sub.add_parser("child")
    c.add_argument("spec")
    args = parser.parse_args()
    if args.cmd == "child":
        child(json.loads(args.spec))
    else:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        run_all(args)


if __name__ == "__main__":
    main()
