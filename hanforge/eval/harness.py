"""Korean benchmarks through lm-evaluation-harness (``lm_eval`` 0.4.x), not a re-implementation.

Online, tasks load from the hub by their harness names (``kmmlu``, ``kobest_copa``, ...).
Offline, the user points a task (or a group such as ``kobest``) at local JSON/JSONL/Parquet/CSV
files; :func:`write_offline_tasks` writes, for each leaf task, a YAML that ``include:``s the
harness's own packaged task file and only swaps the data source (``dataset_path: json`` +
``dataset_kwargs.data_files``), so prompt, answer choices and metrics stay the harness's and the
numbers compare with published ones. The offline task manager indexes only those YAMLs
(indexing the harness's ~14,000 task files takes a minute on a small machine).

Local files for a leaf task with harness ``dataset_name`` D and split S are looked up in the
folder given, first match wins: ``D/S.*``, ``D/S-*.*``, ``D-S.*``, ``D_S.*`` and, when the name
given is a single task, ``S.*``, ``S-*.*``, or the given path itself when it is a file (used as
the test split). Extensions: .jsonl/.json, .parquet, .csv. Rows must carry the fields the
harness template reads (the hub dataset's columns).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path
from typing import Any

from hanforge.errors import ConfigError, InputError

#: The Korean tasks and groups of lm-evaluation-harness 0.4.x that hanforge documents.
KOREAN_TASKS: dict[str, str] = {
    "kmmlu": "KMMLU, 45 subjects (4 groups), multiple choice, acc",
    "kmmlu_hard": "KMMLU-Hard: the questions most models miss",
    "haerae": "HAE-RAE Bench: general knowledge, history, loan words, rare words, nomenclature",
    "kobest": "KoBEST: boolq, copa, hellaswag, sentineg, wic (acc, macro F1)",
    "click": "CLIcK: Korean language and culture",
    "kormedmcqa": "KorMedMCQA: doctor, nurse, pharmacist, dentist licensing exams",
    "csatqa": "CSAT-QA: Korean college entrance exam (reading, grammar, literature)",
    "hrm8k": "HRM8K: Korean math (generation; slow)",
}
FORMATS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}
SPLIT_KEYS = ("test_split", "validation_split", "training_split", "fewshot_split")
LOCAL_TAG = "hanforge_local"


@dataclasses.dataclass
class LeafTask:
    """A harness task (no group) and its packaged YAML."""

    name: str
    yaml_path: Path
    config: dict[str, Any]


def harness_tasks_dir() -> Path:
    try:
        import lm_eval
    except ImportError:
        raise ConfigError("lm-evaluation-harness is not installed: pip install 'hanforge[eval]'") from None
    return Path(lm_eval.__file__).parent / "tasks"


@functools.cache
def _yaml_texts() -> dict[Path, str]:
    root = harness_tasks_dir()
    return {p: p.read_text(encoding="utf-8", errors="replace") for p in sorted(root.rglob("*.yaml"))}


def _load(path: Path) -> dict[str, Any]:
    from lm_eval.tasks._yaml_loader import load_yaml

    return load_yaml(path, resolve_func=False)


def _as_list(value) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def resolve_leaves(name: str, *, _depth: int = 0) -> list[LeafTask]:
    """The leaf tasks behind a harness task, group or tag name, in the harness's order."""
    if _depth > 8:
        raise ConfigError(f"task {name!r}: groups nest too deeply")
    # files naming it as a task, group or tag value, or as a list item (a group's member, a tag)
    word = re.compile(
        rf"^[ \t]*(?:['\"]?(?:task|group|tag)['\"]?[ \t]*:[ \t]*|-[ \t]*)['\"]?{re.escape(name)}['\"]?[ \t]*$",
        re.MULTILINE,
    )
    candidates = [p for p, text in _yaml_texts().items() if word.search(text)]
    tagged: list[LeafTask] = []
    for path in candidates:
        try:
            cfg = _load(path)
        except Exception:  # a template the harness itself would skip  # noqa: BLE001
            continue
        if cfg.get("group") == name:
            leaves: list[LeafTask] = []
            for member in _as_list(cfg.get("task")):
                if not isinstance(member, str):
                    raise ConfigError(f"group {name!r} ({path}) defines a task inline; name its leaf tasks instead")
                leaves.extend(resolve_leaves(member, _depth=_depth + 1))
            return leaves
        if cfg.get("task") == name and "group" not in cfg:
            return [LeafTask(name=name, yaml_path=path, config=cfg)]
        if name in _as_list(cfg.get("tag")) and isinstance(cfg.get("task"), str):
            tagged.append(LeafTask(name=cfg["task"], yaml_path=path, config=cfg))
    if tagged:
        return sorted(tagged, key=lambda t: t.name)
    raise ConfigError(
        f"task {name!r} is not a task, group or tag of lm-evaluation-harness (Korean ones: {', '.join(KOREAN_TASKS)})"
    )


def _find(folder: Path, stems: list[str]) -> list[Path]:
    for stem in stems:
        for ext in FORMATS:
            hits = sorted(folder.glob(stem + ext))
            if hits:
                return hits
    return []


def local_data_files(leaf: LeafTask, data: Path, *, single: bool) -> dict[str, list[Path]]:
    """``{split: files}`` for ``leaf`` under ``data`` (see the module docstring)."""
    cfg = leaf.config
    dname = cfg.get("dataset_name")
    splits = {cfg[k] for k in SPLIT_KEYS if cfg.get(k)}
    if data.is_file():
        if not single:
            raise InputError(f"{data}: a group ({leaf.name} is one of its tasks) needs a folder, not a file")
        test = cfg.get("test_split") or cfg.get("validation_split")
        return {test: [data]}
    out: dict[str, list[Path]] = {}
    for split in sorted(splits):
        stems = []
        if dname:
            stems += [f"{dname}/{split}", f"{dname}/{split}-*", f"{dname}-{split}", f"{dname}_{split}"]
        if single or not dname:
            stems += [split, f"{split}-*"]
        files = _find(data, stems)
        if files:
            out[split] = files
    return out


def write_offline_tasks(task_data: dict[str, str | Path], output: str | Path) -> list[str]:
    """Write one YAML per leaf task of each ``{task_or_group: local_path}`` into ``output``.

    Returns the leaf task names (the names the offline task manager knows them by).
    """
    import yaml

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    for name, raw in task_data.items():
        data = Path(raw)
        if not data.exists():
            raise InputError(f"{data}: no such file or folder (local data of task {name!r})")
        leaves = resolve_leaves(name)
        for leaf in leaves:
            files = local_data_files(leaf, data, single=len(leaves) == 1)
            evaluated = leaf.config.get("test_split") or leaf.config.get("validation_split")
            if not files or not ({leaf.config.get("test_split"), leaf.config.get("validation_split")} & set(files)):
                dname = leaf.config.get("dataset_name") or ""
                raise InputError(
                    f"{data}: no local file for task {leaf.name} split {evaluated!r} "
                    f"(looked for {dname + '/' if dname else ''}{evaluated}.jsonl|.parquet|.csv)"
                )
            fmts = {FORMATS[f.suffix] for fs in files.values() for f in fs}
            if len(fmts) > 1:
                raise InputError(f"{data}: task {leaf.name} mixes file formats ({', '.join(sorted(fmts))})")
            doc: dict[str, Any] = {
                "include": str(leaf.yaml_path.resolve()),
                "task": leaf.name,
                "tag": [LOCAL_TAG],
                "dataset_path": fmts.pop(),
                "dataset_name": None,
                "dataset_kwargs": {"data_files": {s: [str(f.resolve()) for f in fs] for s, fs in files.items()}},
            }
            for key in SPLIT_KEYS:  # splits without a local file are switched off
                if leaf.config.get(key) and leaf.config[key] not in files:
                    doc[key] = None
            (output / f"{leaf.name}.yaml").write_text(
                yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8"
            )
            names.append(leaf.name)
    return names


def run_harness(
    model,
    tokenizer,
    *,
    tasks: list[str] | None = None,
    task_data: dict[str, str | Path] | None = None,
    work_dir: str | Path,
    num_fewshot: int | None = None,
    seed: int = 1234,
    limit: int | float | None = None,
    batch_size: int = 8,
    device: str | None = None,
    max_length: int | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` on harness ``tasks`` (online, by name) and/or ``task_data`` (offline).

    ``model``/``tokenizer`` are transformers objects (lm_eval's HFLM wraps the instance). Returns
    ``{"tasks": {task: {metric: value, metric_stderr: value, "num_samples": n}}, "config": ...}``.
    """
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    tasks = list(tasks or [])
    task_data = dict(task_data or {})
    if not tasks and not task_data:
        raise ConfigError("give harness tasks by name (online) or task=path pairs (offline)")
    offline = write_offline_tasks(task_data, Path(work_dir) / "tasks") if task_data else []
    if tasks:  # online names need the harness's full index
        manager = TaskManager(include_path=str(Path(work_dir) / "tasks") if offline else None)
    else:
        manager = TaskManager(include_path=str(Path(work_dir) / "tasks"), include_defaults=False)
    dev = device or str(next(model.parameters()).device)
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, device=dev, max_length=max_length)
    results = simple_evaluate(
        model=lm,
        tasks=tasks + offline,
        num_fewshot=num_fewshot,
        limit=limit,
        task_manager=manager,
        **dict.fromkeys(("random_seed", "numpy_random_seed", "torch_random_seed", "fewshot_random_seed"), seed),
        log_samples=False,
        bootstrap_iters=1000,
    )
    if results is None:  # only on non-zero ranks of a distributed run
        return {"tasks": {}}
    return {
        "tasks": _flatten(results),
        "config": {
            "num_fewshot": num_fewshot,
            "seed": seed,
            "limit": limit,
            "batch_size": batch_size,
            "offline_tasks": offline,
            "online_tasks": tasks,
            "lm_eval_version": _lm_eval_version(),
        },
    }


def _lm_eval_version() -> str:
    from importlib.metadata import version

    return version("lm_eval")


def _flatten(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{task: {metric: value}}`` from simple_evaluate's results (filter suffix ``,none`` dropped)."""
    out: dict[str, dict[str, Any]] = {}
    samples = results.get("n-samples", {})
    for task, metrics in results.get("results", {}).items():
        row: dict[str, Any] = {}
        for key, value in metrics.items():
            if key == "alias" or not isinstance(value, int | float):
                continue
            metric, _, filt = key.partition(",")
            row[metric if filt in ("none", "") else f"{metric}[{filt}]"] = value
        n = samples.get(task, {})
        if n:
            row["num_samples"] = n.get("effective", n.get("original"))
        out[task] = row
    return out


def format_harness_table(tasks: dict[str, dict[str, Any]]) -> str:
    """A Markdown table: task, samples, acc, acc_norm, f1 (± stderr) and any other metrics."""
    metrics: list[str] = []
    for row in tasks.values():
        for key in row:
            if key != "num_samples" and not key.endswith("_stderr") and key not in metrics:
                metrics.append(key)
    lines = ["| task | samples | " + " | ".join(metrics) + " |", "| --- | ---: |" + " ---: |" * len(metrics)]
    for task, row in tasks.items():
        cells = []
        for m in metrics:
            if m not in row:
                cells.append("—")
                continue
            err = row.get(f"{m}_stderr")
            cells.append(f"{row[m]:.4f}" + (f" ± {err:.4f}" if isinstance(err, float) else ""))
        lines.append(f"| {task} | {row.get('num_samples', '')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
