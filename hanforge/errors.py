"""The one error hierarchy of hanforge.

User-facing failures raise a subclass of :class:`HanforgeError` whose message names the file,
key or value at fault and what to do. Bad *documents* are never raised: they are counted and
dropped with a reason (see :mod:`hanforge.corpus.steps`).
"""


class HanforgeError(Exception):
    """Base class of every error hanforge raises on purpose."""


class ConfigError(HanforgeError):
    """A configuration file, key or value is invalid (raised before any work starts)."""


class InputError(HanforgeError):
    """An input path or file cannot be used at all (missing, unreadable, unknown type)."""


class ShardError(HanforgeError):
    """A shard or shard folder is missing, incomplete or does not match its schema."""


class BudgetError(HanforgeError):
    """A mixing or token budget cannot be met under the configured caps."""


class TrainingError(HanforgeError):
    """A training run cannot start or continue (bad model path, missing backend, ...)."""


class ExportError(HanforgeError):
    """A trained model cannot be exported, converted, verified or served as asked."""


class OutputError(HanforgeError):
    """An output folder cannot be used: it holds files of another job or of the user."""


class OutputBusyError(OutputError):
    """Another hanforge process is writing the same output folder."""


class IncompleteRunError(HanforgeError):
    """A job stopped before all its work was done (rerun the same command to resume)."""
