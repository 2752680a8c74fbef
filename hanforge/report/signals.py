"""Signal columns of text shards and the configured limits that act on them.

Each filter step (hanforge/corpus/filters/) writes a signal column and drops a document when
the signal crosses a limit from its config; the drop reason names the rule. This table says,
per column, which step key holds the limit, on which side the document is kept and which drop
reason the rule writes, so the report can draw the limits on the distributions and show the
kept documents nearest to each one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    """``step.key`` is a lower (``min``) or upper (``max``) limit; crossing it gives ``reason``."""

    step: str
    key: str
    side: str  # "min": kept when value >= limit; "max": kept when value <= limit
    reason: str


@dataclass(frozen=True)
class Signal:
    """A signal column, how to bin it, and the rules acting on it."""

    column: str
    title: str
    log_x: bool = False
    rules: tuple[Rule, ...] = ()


SIGNALS: tuple[Signal, ...] = (
    Signal("hangul_ratio", "Hangul ratio", rules=(Rule("hangul_ratio", "threshold", "min", "hangul_ratio"),)),
    Signal(
        "num_chars",
        "length (characters)",
        log_x=True,
        rules=(Rule("length", "min_chars", "min", "too_short"), Rule("length", "max_chars", "max", "too_long")),
    ),
    Signal(
        "num_eojeols", "eojeols (words)", log_x=True, rules=(Rule("length", "min_eojeols", "min", "too_few_eojeols"),)
    ),
    Signal(
        "avg_eojeol_len",
        "mean eojeol length",
        rules=(
            Rule("quality", "min_avg_eojeol_len", "min", "avg_eojeol_len_low"),
            Rule("quality", "max_avg_eojeol_len", "max", "avg_eojeol_len_high"),
        ),
    ),
    Signal("num_lines", "lines", log_x=True),
    Signal(
        "dup_line_frac",
        "duplicated lines (fraction)",
        rules=(Rule("repetition", "dup_line_frac", "max", "dup_line_frac"),),
    ),
    Signal(
        "dup_line_char_frac",
        "duplicated line characters (fraction)",
        rules=(Rule("repetition", "dup_line_char_frac", "max", "dup_line_char_frac"),),
    ),
    Signal(
        "top_ngram_char_frac",
        "top eojeol n-gram characters (n=2..4)",
        rules=tuple(Rule("repetition", f"top_ngrams.{n}", "max", f"top_{n}gram") for n in (2, 3, 4)),
    ),
    Signal(
        "dup_ngram_char_frac",
        "duplicated eojeol n-gram characters (n=5..10)",
        rules=tuple(Rule("repetition", f"dup_ngrams.{n}", "max", f"dup_{n}gram") for n in range(5, 11)),
    ),
    Signal("punct_ratio", "punctuation ratio", rules=(Rule("quality", "max_punct_ratio", "max", "punct_ratio"),)),
    Signal("symbol_ratio", "symbol ratio", rules=(Rule("quality", "max_symbol_ratio", "max", "symbol_ratio"),)),
    Signal("digit_ratio", "digit ratio", rules=(Rule("quality", "max_digit_ratio", "max", "digit_ratio"),)),
)


@dataclass(frozen=True)
class Limit:
    """A rule with its configured value."""

    column: str
    rule: Rule
    value: float

    @property
    def label(self) -> str:
        return f"{self.rule.key} {'≥' if self.rule.side == 'min' else '≤'} {self.value:g}"


def configured_limits(signal: Signal, step_configs: dict[str, dict[str, Any]]) -> list[Limit]:
    """The limits of ``signal`` set in the run's config (unset or disabled rules are skipped)."""
    out = []
    for rule in signal.rules:
        value: Any = step_configs.get(rule.step)
        for part in rule.key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            out.append(Limit(signal.column, rule, float(value)))
    return out
