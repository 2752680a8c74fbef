"""The config rules every verb shares (docs/architecture.md, "Contracts every verb shares"):
configs are frozen, relative paths in a config file resolve against that file's folder, and a
path on the command line is taken relative to the working directory."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest
from test_architecture import parse

import hanforge
from hanforge.cli import main
from hanforge.config import SAMPLE_DIR
from hanforge.corpus.dedup.config import DedupConfig
from hanforge.corpus.mix import load_mix_config
from hanforge.corpus.pipeline import load_pipelines
from hanforge.tokenizer.tokenize_config import TokenizeConfig

#: Config classes that are not frozen yet (replaced by the TRL training layer, issue 19 item 4).
NOT_FROZEN_YET = ("hanforge.train.",)


def config_classes(package: Path) -> dict[str, bool]:
    """``{module.Class: frozen}`` of every ConfigBase subclass in ``package`` outside
    ``NOT_FROZEN_YET``, read from the source (``ast``: no import, so no optional dependency and
    no import time): a class is a config when a base names ConfigBase, StepConfig or another
    config class; frozen when its dataclass decorator says ``frozen=True``."""
    classes: dict[str, tuple[set[str], bool]] = {}
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        if module.startswith(NOT_FROZEN_YET) or "Config" not in path.read_text(encoding="utf-8"):
            continue
        for node in ast.walk(parse(path)):
            if isinstance(node, ast.ClassDef):
                bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                frozen = any(
                    isinstance(d, ast.Call)
                    and any(k.arg == "frozen" and getattr(k.value, "value", False) for k in d.keywords)
                    for d in node.decorator_list
                )
                classes[f"{module}.{node.name}"] = (bases, frozen)
    configs = {"ConfigBase", "StepConfig"}
    while True:  # subclasses of subclasses
        more = {key.rpartition(".")[2] for key, (bases, _) in classes.items() if bases & configs} - configs
        if not more:
            break
        configs |= more
    return {
        key: frozen
        for key, (bases, frozen) in classes.items()
        if bases & configs and key.rpartition(".")[2] not in ("ConfigBase", "StepConfig")
    }


def undocumented_fields(package: Path) -> list[str]:
    """``module.Class.field`` of every config field outside ``NOT_FROZEN_YET`` that has neither a
    docstring of its own (a string right below it) nor its name in the class docstring."""
    configs = {key.rpartition(".")[2] for key in config_classes(package)}
    missing = []
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        if module.startswith(NOT_FROZEN_YET) or "Config" not in path.read_text(encoding="utf-8"):
            continue
        for cls in ast.walk(parse(path)):
            if not isinstance(cls, ast.ClassDef) or cls.name not in configs:
                continue
            doc = ast.get_docstring(cls) or ""
            for i, st in enumerate(cls.body):
                if not isinstance(st, ast.AnnAssign) or "ClassVar" in ast.unparse(st.annotation):
                    continue
                name = st.target.id
                after = cls.body[i + 1] if i + 1 < len(cls.body) else None
                own = isinstance(after, ast.Expr) and isinstance(getattr(after, "value", None), ast.Constant)
                if not own and re.search(rf"(^|\W){name}(\W|$)", doc) is None:
                    missing.append(f"{module}.{cls.name}.{name}")
    return missing


def test_every_config_field_is_documented():
    assert undocumented_fields(Path(hanforge.__file__).parent) == []


def test_every_config_outside_train_is_frozen():
    classes = config_classes(Path(hanforge.__file__).parent)
    names = {key.rpartition(".")[2] for key in classes}
    assert {"PipelineConfig", "DedupConfig", "MixConfig", "TokenizeConfig", "QualityConfig", "CrawlConfig"} <= names
    assert [key for key, frozen in classes.items() if not frozen] == []
    config = DedupConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.threshold = 0.5  # type: ignore[misc]
    assert config.merge({"threshold": 0.5}).threshold == 0.5 and config.threshold == 0.8


def test_the_frozen_check_finds_a_mutable_config(tmp_path):
    package = tmp_path / "hanforge"
    package.mkdir()
    (package / "a.py").write_text(
        "@dataclass(frozen=True)\nclass A(ConfigBase): ...\n@dataclass\nclass B(A): ...\n@dataclass\nclass C: ...\n"
    )
    assert config_classes(package) == {"hanforge.a.A": True, "hanforge.a.B": False}
    (package / "b.py").write_text(
        'class D(ConfigBase):\n    """x: documented here."""\n\n    x: int = 1\n    y: int = 2\n'
        '    """documented below."""\n    z: int = 3\n'
    )
    assert undocumented_fields(package) == ["hanforge.b.D.z"]


def test_relative_paths_in_a_config_file_resolve_against_its_folder(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (folder / "pipelines.toml").write_text(
        '[pipelines.a]\ninputs = ["data", "sample:debian-faq-ko", "/abs/in"]\noutput = "out/a"\n'
        '[mix]\noutput = "out/mix"\ntotal = 10\nunit = "chars"\n'
        '[mix.sources.x]\npath = "../shards"\nratio = 1.0\n'
    )
    monkeypatch.chdir(elsewhere)  # the working directory plays no part
    pipeline = load_pipelines(Path("..") / "project" / "pipelines.toml").pipeline(None)
    assert pipeline.inputs == [str(folder / "data"), str(SAMPLE_DIR / "debian-faq-ko"), "/abs/in"]
    assert pipeline.output == str(folder / "out" / "a")
    mix = load_mix_config(folder / "pipelines.toml")
    assert mix.output == str(folder / "out" / "mix")
    assert mix.sources["x"].path == str(tmp_path / "shards")


def test_command_line_paths_are_relative_to_the_working_directory(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pipelines.toml").write_text('[pipelines.a]\ninputs = ["data"]\noutput = "out/a"\n')
    monkeypatch.chdir(tmp_path)
    seen = {}

    def fake_run_pipeline(cfg, **_):
        seen["cfg"] = cfg
        raise KeyboardInterrupt  # stop before any work; the CLI reports it in one line

    monkeypatch.setattr("hanforge.corpus.runner.run_pipeline", fake_run_pipeline)
    assert main(["run", "in", "--config", "project/pipelines.toml", "--output", "o", "--no-progress"]) == 130
    assert seen["cfg"].output == "o"  # as given: relative to the working directory
    assert seen["cfg"].inputs == [str(tmp_path / "in")]


def test_tokenize_options_merge_over_the_config_section(tmp_path, monkeypatch):
    (tmp_path / "pipelines.toml").write_text("[pipelines.a]\n[tokenize]\nseq_len = 128\nbatch_size = 7\n")
    seen = {}

    def fake_tokenize_shards(*, config, **_):
        seen["config"] = config
        raise KeyboardInterrupt

    monkeypatch.setattr("hanforge.tokenizer.tokenize_job.tokenize_shards", fake_tokenize_shards)
    argv = ["tokenize", "in", "--tokenizer", "tok", "--output", "o", "--config", str(tmp_path / "pipelines.toml")]
    assert main([*argv, "--no-shuffle", "--workers", "3"]) == 130
    assert seen["config"] == TokenizeConfig(seq_len=128, batch_size=7, shuffle_seed=None, num_workers=3)
    assert main([*argv, "--seq-len", "64"]) == 130
    assert seen["config"] == TokenizeConfig(seq_len=64, batch_size=7)
