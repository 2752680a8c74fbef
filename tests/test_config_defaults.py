"""pipelines.toml shows defaults: every value it writes equals the config class's default, and
every key it documents (commented out or not) exists in that class.

Values that are examples rather than defaults (inputs, output folders, the mix budget and its
sources) are listed in :data:`EXAMPLE_KEYS`; everything else must match the dataclass.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

from hanforge.config import ConfigBase, section_types, step_types
from hanforge.corpus.ingest import IngestConfig
from hanforge.corpus.pipeline import PipelineConfig, RayConfig, SlurmConfig

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines.toml"
DOCUMENTED = "korean-web"  # the pipeline written out key by key
EXAMPLE_KEYS = {
    f"pipelines.{DOCUMENTED}": {"description", "inputs", "output", "tasks"},
    "mix": {"output", "total", "tokenizer", "sources"},
}


def _default(cls: type[ConfigBase], name: str):
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _tables() -> list[tuple[str, type[ConfigBase], dict]]:
    """``(where, config class, TOML table)`` of every documented table of pipelines.toml."""
    data = tomllib.loads(PIPELINES.read_text(encoding="utf-8"))
    web = data["pipelines"][DOCUMENTED]
    out = [
        (
            f"pipelines.{DOCUMENTED}",
            PipelineConfig,
            {k: v for k, v in web.items() if k not in ("steps", "ingest", "ray", "slurm")},
        )
    ]
    out += [
        (f"pipelines.{DOCUMENTED}.{k}", cls, web[k])
        for k, cls in (("ingest", IngestConfig), ("ray", RayConfig), ("slurm", SlurmConfig))
    ]
    steps = step_types()
    for i, step in enumerate(web["steps"]):
        out.append(
            (f"pipelines.{DOCUMENTED}.steps[{i}]", steps[step["type"]], {k: v for k, v in step.items() if k != "type"})
        )
    sections = section_types()
    out += [(name, sections[name], table) for name, table in data.items() if name in sections]
    return out


def test_every_value_in_pipelines_toml_is_the_dataclass_default():
    wrong = []
    for where, cls, table in _tables():
        built = cls.from_table(table, where=where) if cls is not PipelineConfig else None
        for key, value in table.items():
            if key in EXAMPLE_KEYS.get(where, ()):
                continue
            written = getattr(built, key) if built is not None else value
            if written != _default(cls, key):
                wrong.append(f"{where}.{key} = {value!r}, default {_default(cls, key)!r}")
    assert wrong == []


def test_every_documented_key_exists():
    """Commented-out keys (``# key = value``) name real fields of the table's class too."""
    classes = {where: cls for where, cls, _ in _tables()}
    steps = step_types()
    unknown, table, step_index = [], None, -1
    for line in PIPELINES.read_text(encoding="utf-8").splitlines():
        header = re.match(r"^\[\[?([^\]]+)\]\]?", line)
        if header:
            table = header.group(1)
            if table == f"pipelines.{DOCUMENTED}.steps":
                step_index += 1
                table = f"{table}[{step_index}]"
            continue
        key = re.match(r"^#\s*([a-z_]+)\s*=", line)
        if key and table in classes:
            names = {f.name for f in dataclasses.fields(classes[table])}
            if key.group(1) not in names:
                unknown.append(f"{table}: {key.group(1)}")
    assert step_index + 1 == len([c for w, c, _ in _tables() if "steps[" in w]) and set(steps)
    assert unknown == []


def test_merge_returns_a_new_validated_config_and_names_a_bad_key():
    import pytest

    from hanforge.corpus.dedup.config import DedupConfig
    from hanforge.errors import ConfigError

    base = DedupConfig.from_table({"threshold": 0.8}, where="dedup")
    merged = base.merge({"threshold": 0.9, "ngram": 3})
    assert (merged.threshold, merged.ngram, base.threshold, base.ngram) == (0.9, 3, 0.8, 5)
    with pytest.raises(ConfigError, match=r"dedup\.ngrams: unknown key"):
        base.merge({"ngrams": 3})
    with pytest.raises(ConfigError, match=r"dedup\.ngram: expected an integer"):
        base.merge({"ngram": "3"})
    with pytest.raises(ConfigError, match="threshold"):
        base.merge({"threshold": 1.5})
