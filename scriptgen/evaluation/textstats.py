"""Figures of generated text: distinct n-grams, repetition, and how its cast compares with the corpus's.

The functions take plain Python data (lists of words, texts, counters), so
they are the same for word- and char-level models: :mod:`scriptgen.evaluation.evaluate`
turns samples into words with the word tokenizer first.

    >>> distinct_n([["a", "b", "a", "b"]], 2)     # bigrams ab, ba, ab: 2 of 3 distinct
    0.6666666666666666
    >>> repetition_rate([["a", "b", "c", "d", "a", "b", "c", "d"]], 4)   # abcd comes back once, of 5 4-grams
    0.2
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..data.script import Cast


def ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def distinct_n(samples: Iterable[Sequence[str]], n: int) -> float:
    """Distinct n-grams over total n-grams, pooled over ``samples`` (nan when there are none)."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for words in samples:
        grams = ngrams(words, n)
        seen.update(grams)
        total += len(grams)
    return len(seen) / total if total else float("nan")


def repetition_rate(samples: Iterable[Sequence[str]], n: int = 4) -> float:
    """Share of n-grams that repeat an earlier n-gram of the same sample, pooled over ``samples`` (nan when there are
    none)."""
    repeats = total = 0
    for words in samples:
        grams = ngrams(words, n)
        repeats += len(grams) - len(set(grams))  # every occurrence after the first is a repeat
        total += len(grams)
    return repeats / total if total else float("nan")


def total_variation(p: Counter[str], q: Counter[str]) -> float:
    """Half the L1 distance between the distributions the counts ``p`` and ``q`` describe
    (0 = the same, 1 = disjoint)."""
    p_total, q_total = sum(p.values()), sum(q.values())
    if not p_total or not q_total:
        return float("nan")
    # summed in sorted order: a set's order follows the hash seed, and the last digit with it
    return 0.5 * sum(abs(p[k] / p_total - q[k] / q_total) for k in sorted(set(p) | set(q)))


def chosen_lines(text: str) -> str:
    """The lines of a sample that the model wrote whole: without the prime's first line and the last, cut-off one."""
    return "\n".join(text.split("\n")[1:-1])


@dataclass
class CastProfile:
    """The shape of a script's lines: who speaks, how many lines are action, how long lines are."""

    cast: Cast

    @property
    def lines(self) -> int:
        return self.cast.lines

    @property
    def dialogue_lines(self) -> int:
        return sum(self.cast.speakers.values())

    @property
    def action_share(self) -> float:
        return sum(self.cast.actions.values()) / self.cast.lines if self.cast.lines else float("nan")

    @property
    def words_per_line(self) -> float:
        return self.cast.words / self.cast.lines if self.cast.lines else float("nan")

    def speaker_tvd(self, reference: "CastProfile") -> float:
        """Total-variation distance between who speaks here and in ``reference`` (shares of dialogue lines)."""
        return total_variation(self.cast.speakers, reference.cast.speakers)

    def to_json(self, top: int = 10) -> dict:
        return {
            "lines": self.lines,
            "dialogue_lines": self.dialogue_lines,
            "speakers": len(self.cast.speakers),
            "top_speakers": {name: self.cast.speakers[name] for name in self.cast.names()[:top]},
            "action_share": self.action_share,
            "words_per_line": self.words_per_line,
        }
