"""GPU throughput of the TRL/transformers training layer (issue #17): ``build_trainer(...).trainer.train()``
against the direct forward/backward/AdamW loop of ``bench/train_gpu_masked.py`` it replaces.

Same models and data as ``bench/train_gpu_masked.py`` (random-init Qwen2.5-7B shape saved once to
``--work``; the token shards of ``bench/train_gpu.py prepare``: LibreOffice Korean help, 32k BPE,
rows of 4096, ~380-470-token documents), same configs (its ``train_config``: the 7B reference
setup r=64 batch 4 x 4096, and the Korean CPT recipe r=128 rsLoRA + embed_tokens/lm_head at their
own learning rate), masking on. Per backend (unsloth; transformers + peft with hanforge's varlen
kernel), in one process each, in this order:

* ``trainer``: :func:`hanforge.train.trainer.build_trainer` on the token-shard folder (hanforge's
  ``TokenShardDataset`` + ``RowStream`` loader, ``PackedRowsCollator``, ``LMTrainer`` = transformers'
  ``Trainer``, patched by unsloth on its backend), then ``trainer.train()`` for ``--steps`` steps
  with a metrics record every step. A callback synchronises CUDA at each ``on_step_end`` and takes
  the time, so step k = everything between the end of step k-1 and the end of step k (data loading,
  forward, backward, clipping, AdamW, scheduler, logging); tokens/s = non-padding tokens of the step
  (``state.num_input_tokens_seen``) / that time, median of the steps after ``--warmup``. Also
  reported: the trainer's own ``tokens_per_s`` from ``metrics.jsonl`` (median over the same steps)
  and wall clock over all timed steps.
* ``direct``: ``train_gpu_masked.one_run`` unchanged (the hand-timed loop attn's figures come from),
  in the same process, as the same-machine stand-in for the hand loop.

    export PYTHONPATH=$PWD/gpujob-trlgpu/src:$PWD/.gpusite HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    python3 gpujob-trlgpu/bench/train_gpu_trainer.py run --data gpujob-trlgpu/trainbench --out $OUT

``--tiny`` runs the plumbing on CPU with a 2-layer model, transformers backend only, rows cut to
256 tokens.
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
sys.path.insert(0, str(HERE.parent))

import train_gpu_masked as masked  # noqa: E402  (the models, configs and the direct loop)

log = masked.log


class _Cut:
    """TokenShardDataset items cut to the first ``n`` tokens (``--tiny`` on CPU only)."""

    def __init__(self, ds, n: int) -> None:
        self.ds, self.n = ds, n

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i):
        return {k: v[: self.n] for k, v in self.ds[i].items()}


def trainer_run(spec: dict, recipe: str) -> dict:
    """``build_trainer(...).trainer.train()`` for ``spec['steps']`` steps, timed per step."""
    import torch
    from transformers import TrainerCallback

    from hanforge.train.trainer import build_trainer

    backend_name = spec["backend"]
    tiny = spec["tiny"]
    out = Path(spec["work"]) / f"trainer-{backend_name}-{recipe}"
    base = masked.train_config({**spec, "attention": spec["attention"]}, recipe)
    cfg = base.merge(
        {
            "output": str(out),
            # merge() replaces a whole section: keep the recipe's batch size
            "run": {
                **base.run.to_dict(),
                "max_steps": spec["steps"],
                "log_every": 1,
                "save_every": 0,
                "tensorboard": False,
            },
        }
    )
    if cfg.run.batch_size != masked.RECIPES[recipe][4]:
        raise RuntimeError(f"batch size {cfg.run.batch_size} is not the recipe's {masked.RECIPES[recipe][4]}")
    dataset = None
    if tiny:
        from hanforge.shards import TokenShardDataset

        dataset = _Cut(TokenShardDataset(Path(spec["data"]) / "tokens"), 256)
    cuda = torch.cuda.is_available() and not tiny
    t0 = time.perf_counter()
    built = build_trainer(
        cfg,
        backend="unsloth" if backend_name == "unsloth" else "transformers",
        dataset=dataset,
        progress=False,
        log=lambda s: log("[hanforge]", s),
    )
    build_s = time.perf_counter() - t0
    trainer = built.trainer

    counter = {"varlen_calls": 0}
    dispatch = inner = None
    if backend_name == "unsloth":  # count the varlen calls: proves the packed, masked path ran
        from unsloth.utils import attention_dispatch as dispatch

        inner = dispatch._TORCH_VARLEN_ATTN
        if inner is not None:

            def counted(*a, **k):
                counter["varlen_calls"] += 1
                return inner(*a, **k)

            dispatch._TORCH_VARLEN_ATTN = counted

    marks: list[tuple[float, int]] = []

    class StepClock(TrainerCallback):
        def _mark(self, state):
            if cuda:
                torch.cuda.synchronize()
            marks.append((time.perf_counter(), int(state.num_input_tokens_seen)))

        def on_train_begin(self, args, state, control, **kwargs):
            self._mark(state)

        def on_step_end(self, args, state, control, **kwargs):
            self._mark(state)

    trainer.add_callback(StepClock())
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t1 = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - t1
    step_s = [b[0] - a[0] for a, b in zip(marks[:-1], marks[1:], strict=True)]
    step_tokens = [b[1] - a[1] for a, b in zip(marks[:-1], marks[1:], strict=True)]
    warm = spec["warmup"]
    tps = [n / s for n, s in zip(step_tokens[warm:], step_s[warm:], strict=True)]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    own = [r["tokens_per_s"] for r in records if "tokens_per_s" in r and r.get("step", 0) > warm]
    timed_wall = marks[-1][0] - marks[warm][0] if len(marks) > warm + 1 else None
    result = {
        "recipe": recipe,
        "backend": backend_name,
        "mode": "trainer",
        "attention": built.model_info.get("attention") if backend_name != "unsloth" else "unsloth packed varlen",
        "tokens_per_s": round(statistics.median(tps), 1) if tps else None,
        "tokens_per_s_steps": [round(x) for x in tps],
        "tokens_per_s_metrics_jsonl": round(statistics.median(own), 1) if own else None,
        "tokens_per_s_wall_timed_steps": round(sum(step_tokens[warm:]) / timed_wall, 1) if timed_wall else None,
        "step_s": [round(x, 3) for x in step_s],
        "tokens_per_step": step_tokens,
        "losses": [r.get("step_loss") for r in records if "step_loss" in r],
        "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2) if cuda else None,
        "build_s": round(build_s, 1),
        "train_s": round(train_s, 1),
        "trainable_params": built.model_info.get("num_trainable_params"),
        "trainer_class_mro": [c.__name__ for c in type(trainer).__mro__[:6]],
    }
    if backend_name == "unsloth":
        result["varlen_calls_per_step"] = round(counter["varlen_calls"] / max(1, len(step_s)), 1)
        if inner is not None:
            dispatch._TORCH_VARLEN_ATTN = inner
    del trainer, built
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return result


def child(spec: dict) -> None:
    if spec["backend"] == "unsloth":
        import unsloth  # noqa: F401  (before transformers)
    import torch

    results: dict = {"runs": []}
    result = Path(spec["result"])
    for recipe, mode in spec["runs"]:
        if time.time() > spec["deadline"]:
            results["runs"].append({"recipe": recipe, "mode": mode, "skipped": "time budget"})
            continue
        t0 = time.perf_counter()
        try:
            if mode == "trainer":
                r = trainer_run(spec, recipe)
            else:  # the direct loop of train_gpu_masked, untouched
                r = masked.one_run(spec, recipe, spec["attention"])
                r["mode"] = "direct"
        except Exception as exc:  # noqa: BLE001 - a failed run is reported, the others still run
            import traceback

            traceback.print_exc()
            r = {"recipe": recipe, "mode": mode, "error": f"{type(exc).__name__}: {exc}"[:1500]}
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        r["wall_s"] = round(time.perf_counter() - t0, 1)
        results["runs"].append(r)
        log(json.dumps({k: v for k, v in r.items() if k not in ("losses", "tokens_per_s_steps")}))
        result.write_text(json.dumps(results, indent=1))


def summarize(report: dict) -> dict:
    s: dict = {}
    for backend in ("unsloth", "hf"):
        for r in (report.get(backend) or {}).get("runs", []):
            if r.get("tokens_per_s"):
                s.setdefault(r["recipe"], {})[f"{backend}_{r['mode']}"] = r["tokens_per_s"]
    for e in s.values():
        for backend in ("unsloth", "hf"):
            if e.get(f"{backend}_trainer") and e.get(f"{backend}_direct"):
                e[f"{backend}_trainer_vs_direct"] = round(e[f"{backend}_trainer"] / e[f"{backend}_direct"], 3)
        if e.get("unsloth_trainer") and e.get("hf_trainer"):
            e["unsloth_vs_hf_trainer"] = round(e["unsloth_trainer"] / e["hf_trainer"], 3)
    return s


def run_all(args: argparse.Namespace) -> None:
    import torch

    start = time.time()
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    ngpu = torch.cuda.device_count()
    tiny = args.tiny or ngpu == 0
    shape = "tiny" if tiny else "7b"
    models = {shape: str(work / f"model-{shape}")}
    report: dict = {"command": " ".join(sys.argv), "gpus": ngpu, "torch": torch.__version__}
    if ngpu:
        report["device"] = torch.cuda.get_device_name(0)
    if not Path(models[shape], "config.json").exists():
        report[f"make_model_{shape}_s"] = masked.make_model(
            shape, Path(models[shape]), Path(args.data) / "tok", "cpu" if tiny else "cuda"
        )
        if not tiny:
            torch.cuda.empty_cache()
    log("model ready", report)
    base = {"data": args.data, "work": str(work), "models": models, "tiny": tiny, "steps": args.steps}
    base["warmup"] = args.warmup
    if tiny:
        plans = {"hf": (["tiny", "trainer"], ["tiny", "direct"])}
        budgets = {"hf": args.budget_s}
    else:
        recipes = ["ref7b", "cpt7b"] if not args.no_cpt else ["ref7b"]
        plans = {
            backend: [[recipes[0], "trainer"], [recipes[0], "direct"]] + [[r, "trainer"] for r in recipes[1:]]
            for backend in ("unsloth", "hf")
        }
        budgets = {"unsloth": args.unsloth_budget_s, "hf": args.budget_s}
    for backend, runs in plans.items():
        spec = {
            **base,
            "backend": backend,
            "runs": runs,
            "attention": "sdpa" if backend == "unsloth" else args.hf_attention,
            "deadline": start + budgets[backend],
            "result": str(work / f"result-{backend}.json"),
        }
        Path(spec["result"]).unlink(missing_ok=True)
        env = dict(os.environ)
        if tiny:
            env["CUDA_VISIBLE_DEVICES"] = ""
        with (out / f"log-{backend}.txt").open("w") as fh:
            proc = subprocess.Popen(
                [sys.executable, str(HERE), "child", json.dumps(spec)], stdout=fh, stderr=subprocess.STDOUT, env=env
            )
            try:
                proc.wait(timeout=max(5.0, start + args.hard_limit_s - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                fh.write("\n[killed at the time limit]\n")
        report[backend] = masked.read(spec["result"])
        (out / "train_gpu_trainer.json").write_text(json.dumps(report, indent=1))
    report["summary"] = summarize(report)
    report["total_s"] = round(time.time() - start, 1)
    (out / "train_gpu_trainer.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report["summary"], indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--data", required=True, help="output of `bench/train_gpu.py prepare` (tok/ and tokens/)")
    r.add_argument("--out", required=True)
    r.add_argument("--work", default="/dev/shm/hanforge-trainer")
    r.add_argument("--steps", type=int, default=8)
    r.add_argument("--warmup", type=int, default=3)
    r.add_argument("--hf-attention", default="varlen", help="model.attention of the transformers runs")
    r.add_argument("--unsloth-budget-s", type=float, default=200.0, help="unsloth: start no new run after this")
    r.add_argument("--budget-s", type=float, default=330.0, help="transformers: start no new run after this")
    r.add_argument("--hard-limit-s", type=float, default=420.0, help="kill what still runs after this")
    r.add_argument("--no-cpt", action="store_true")
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
