"""Typed, validated configuration: the machinery behind ``pipelines.toml``.

Every config object is a dataclass deriving from :class:`ConfigBase`. ``from_table`` builds it
from a TOML table, rejecting unknown keys and values of the wrong type with a
:class:`~hanforge.errors.ConfigError` that names the key (``pipelines.web.steps[2].min_chars``)
before any work starts. Each dataclass documents its fields in its docstring and checks
cross-field rules in ``validate()``.

Pipeline steps register their config class with :func:`register_step`; top-level sections of
``pipelines.toml`` other than ``[pipelines.*]`` register with :func:`register_section`.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, get_args, get_origin

from hanforge.errors import ConfigError

T = TypeVar("T", bound="ConfigBase")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``; return it (converted where lossless)."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} matches none of {tp}")
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, allowed))}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = get_args(tp)
        item_tp = args[0] if args else Any
        items = [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        key_tp, val_tp = get_args(tp) or (Any, Any)
        return {_coerce(k, key_tp, where): _coerce(v, val_tp, f"{where}.{k}") for k, v in value.items()}
    if isinstance(tp, type) and issubclass(tp, ConfigBase):
        if isinstance(value, tp):  # an already built (and validated) config, e.g. in merge()
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return tp.from_table(value, where=where)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(value):  # TOML allows inf and nan; no hanforge setting means them
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    return value


#: Where ``sample:...`` paths point: the Korean sample embedded in the package.
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"


def resolve_path(path: str, *, base: Path) -> str:
    """The one rule for a path written in a config file: a relative one is relative to ``base``,
    the folder of that file, and comes back absolute; ``sample:NAME`` is NAME in the embedded
    sample; absolute paths and URLs (``scheme://``) come back unchanged. A path given on the
    command line is relative to the working directory instead (the CLI uses it as given)."""
    if path.startswith("sample:"):
        return str(SAMPLE_DIR / path.removeprefix("sample:").lstrip("/"))
    if "://" in path or Path(path).is_absolute():
        return path
    return str((base / path).resolve())


class ConfigBase:
    """Base of typed config dataclasses; see the module docstring.

    Subclasses are ``@dataclasses.dataclass(frozen=True)``: a config never changes after it is
    built and validated; :meth:`merge` returns a new one. (The base itself is no dataclass, so
    that each subclass picks ``frozen``; the training configs still wait for the TRL layer.)
    """

    #: Names of the fields holding paths (``str``, ``list[str]`` or None); see :meth:`resolve_paths`.
    path_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_table(cls: type[T], table: dict[str, Any], *, where: str = "") -> T:
        """Build from a TOML table; unknown keys and wrong types raise ConfigError."""
        if not isinstance(table, dict):
            raise ConfigError(f"{where or cls.__name__}: expected a table, got {table!r}")
        return _validated(cls(**_checked_values(cls, table, where)), where)

    def validate(self) -> None:
        """Check cross-field rules; raise ConfigError naming the key. Default: nothing."""

    def merge(self: T, overrides: dict[str, Any]) -> T:
        """A new config with ``overrides`` applied, checked like keys of the file, validated again.

        The one route for command-line options and programmatic changes: unknown keys and wrong
        types raise :class:`ConfigError` naming the key; ``self`` is never modified. A value for
        a nested config field may be a table or an instance of that config class.
        """
        where = getattr(self, "_where", "")
        return _validated(dataclasses.replace(self, **_checked_values(type(self), overrides, where)), where)

    def resolve_paths(self: T, base: Path) -> T:
        """This config with every relative path made relative to ``base`` (:func:`resolve_path`).

        The loader of a config file calls it with the file's folder; it covers the fields named
        in ``path_fields`` and, recursively, nested configs (also in lists and dict values).
        """
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in self.path_fields:
                if not value:  # unset: nothing to resolve
                    continue
                changes[f.name] = (
                    [resolve_path(v, base=base) for v in value]
                    if isinstance(value, list | tuple)
                    else resolve_path(value, base=base)
                )
            elif isinstance(value, ConfigBase):
                changes[f.name] = value.resolve_paths(base)
            elif isinstance(value, dict) and any(isinstance(v, ConfigBase) for v in value.values()):
                changes[f.name] = {
                    k: v.resolve_paths(base) if isinstance(v, ConfigBase) else v for k, v in value.items()
                }
        return self.merge(changes) if changes else self

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (used for fingerprints and manifests)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, ConfigBase):
                value = value.to_dict()
            elif isinstance(value, list | tuple):
                value = [v.to_dict() if isinstance(v, ConfigBase) else v for v in value]
            out[f.name] = value
        if isinstance(self, StepConfig):
            out = {"type": self.step_type, **out}
        return out


def _checked_values(cls: type[ConfigBase], table: dict[str, Any], where: str) -> dict[str, Any]:
    """``table`` with every key known to ``cls`` and every value coerced to its field's type."""
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(table) - fields)
    if unknown:
        raise ConfigError(
            f"{where + '.' if where else ''}{unknown[0]}: unknown key (known keys: {', '.join(sorted(fields))})"
        )
    return {name: _coerce(value, hints[name], f"{where + '.' if where else ''}{name}") for name, value in table.items()}


def _validated(obj: T, where: str) -> T:
    """``obj`` after its ``validate()``, remembering ``where`` it was configured."""
    object.__setattr__(obj, "_where", where)  # frozen dataclasses too
    try:
        obj.validate()
    except ConfigError as exc:
        message = str(exc)  # nested tables' errors already start with their full key
        raise ConfigError(message if not where or message.startswith(where) else f"{where}: {message}") from None
    return obj


def require(condition: bool, key: str, message: str) -> None:
    """Raise ConfigError ``"<key>: <message>"`` unless ``condition`` holds (for ``validate``)."""
    if not condition:
        raise ConfigError(f"{key}: {message}")


class StepConfig(ConfigBase):
    """Config of one pipeline step; ``step_type`` is its ``type = "..."`` in pipelines.toml."""

    step_type: ClassVar[str] = ""

    def build(self):  # -> datatrove PipelineStep
        raise NotImplementedError


_STEP_TYPES: dict[str, type[StepConfig]] = {}
_SECTIONS: dict[str, type[ConfigBase]] = {}

#: Modules that register step configs and sections; imported on first lookup.
REGISTERING_MODULES: tuple[str, ...] = (
    "hanforge.corpus.ingest",
    "hanforge.corpus.decode",
    "hanforge.corpus.extract",
    "hanforge.corpus.normalize",
    "hanforge.corpus.filters",
    "hanforge.corpus.pii",
    "hanforge.corpus.dedup",
    "hanforge.corpus.mix",
    "hanforge.tokenizer.tokenize_config",
)


def register_step(cls: type[StepConfig]) -> type[StepConfig]:
    """Class decorator: make ``cls`` usable as ``type = cls.step_type`` in a steps list."""
    if not cls.step_type:
        raise TypeError(f"{cls.__name__} has no step_type")
    _STEP_TYPES[cls.step_type] = cls
    return cls


def register_section(name: str):
    """Class decorator: make ``cls`` the schema of top-level section ``[name]``."""

    def deco(cls: type[ConfigBase]) -> type[ConfigBase]:
        _SECTIONS[name] = cls
        return cls

    return deco


def _load_registering_modules() -> None:
    for module in REGISTERING_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real missing dependency inside the module
                raise


def step_types() -> dict[str, type[StepConfig]]:
    """All registered step types by name."""
    _load_registering_modules()
    return dict(_STEP_TYPES)


def section_types() -> dict[str, type[ConfigBase]]:
    """All registered top-level sections by name."""
    _load_registering_modules()
    return dict(_SECTIONS)


def parse_step(table: dict[str, Any], *, where: str) -> StepConfig:
    """Build one step config from ``{type = "...", ...}``."""
    if not isinstance(table, dict) or "type" not in table:
        raise ConfigError(f"{where}: a step needs a 'type' key (one of {', '.join(sorted(step_types()))})")
    table = dict(table)
    kind = table.pop("type")
    types_ = step_types()
    if kind not in types_:
        raise ConfigError(f"{where}.type: unknown step type {kind!r} (known: {', '.join(sorted(types_))})")
    return types_[kind].from_table(table, where=where)


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, turning syntax errors into ConfigError naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
