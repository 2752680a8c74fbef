"""Korean document filters: each module defines one pipeline step and registers its config.

Step types (in the default pipeline order): ``boilerplate`` (line removal),
``hangul_ratio``, ``length``, ``repetition``, ``quality``, ``spam``, ``url_blocklist``. Every
step stores its signal columns (see :mod:`hanforge.shards.text_schema`) also on documents it
keeps, so thresholds can be tuned by looking at the shards. None runs a morpheme analyser:
they measure eojeols (whitespace words). Editable word and pattern lists live in
``hanforge/assets/``.
"""

from hanforge.corpus.filters import (  # noqa: F401  (imported to register the step types)
    boilerplate,
    hangul,
    length,
    quality,
    repetition,
    spam,
    url_blocklist,
)
from hanforge.corpus.filters.boilerplate import BoilerplateConfig, BoilerplateRemover
from hanforge.corpus.filters.hangul import HangulRatioConfig, HangulRatioFilter
from hanforge.corpus.filters.length import LengthConfig, LengthFilter
from hanforge.corpus.filters.quality import QualityConfig, QualityFilter
from hanforge.corpus.filters.repetition import RepetitionConfig, RepetitionFilter
from hanforge.corpus.filters.spam import SpamConfig, SpamFilter
from hanforge.corpus.filters.url_blocklist import UrlBlocklistConfig, UrlBlocklistFilter

__all__ = [
    "BoilerplateConfig",
    "BoilerplateRemover",
    "HangulRatioConfig",
    "HangulRatioFilter",
    "LengthConfig",
    "LengthFilter",
    "QualityConfig",
    "QualityFilter",
    "RepetitionConfig",
    "RepetitionFilter",
    "SpamConfig",
    "SpamFilter",
    "UrlBlocklistConfig",
    "UrlBlocklistFilter",
]
