"""The evaluation's figures and how they are reported: :class:`Evaluation`, its markdown and its JSON.

:func:`scriptgen.evaluation.evaluate.evaluate_checkpoint` measures; this module holds what it found (the held-out
loss, the training split's cast, one :class:`SampleScores` row per temperature; for a screenplay model the
structure of both, :mod:`scriptgen.evaluation.structure`) and renders it:
:meth:`Evaluation.markdown` (``scriptgen evaluate``'s text, a table with one row per temperature) and
:meth:`Evaluation.to_json` (``--json``: the same figures, NaN and infinity as null).  :func:`number` formats a
figure for a table cell, here and in :mod:`scriptgen.experiment.report`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from ..data.screenplay.elements import KINDS
from ..model.cache import CacheSettings
from .heldout import HeldOut
from .structure import LENGTHS, Structure, StructureScores
from .textstats import CastProfile


@dataclass
class SampleScores:
    """The figures of the samples of one temperature."""

    temperature: float
    samples: int
    tokens: int  # new tokens, all samples
    distinct: list[float]  # distinct-1, -2, -3 on words
    repetition: float  # share of 4-grams (words) repeating an earlier one of their sample
    copy_span: int  # tokens of the spans the copy check looks for
    novelty: float  # share of those spans not in the training split
    longest: int  # tokens of the longest copied span (0: none of copy_span tokens or more)
    longest_text: str
    longest_document: str
    cast: CastProfile = field(repr=False)
    speaker_tvd: float = math.nan
    structure: StructureScores | None = None  # a screenplay model's samples against the training split

    def to_json(self) -> dict:
        figures = {
            "temperature": self.temperature,
            "samples": self.samples,
            "tokens": self.tokens,
            "distinct_1": self.distinct[0],
            "distinct_2": self.distinct[1],
            "distinct_3": self.distinct[2],
            "repetition": self.repetition,
            "copy_span": self.copy_span,
            "novelty": self.novelty,
            "longest_copy": {"tokens": self.longest, "text": self.longest_text, "document": self.longest_document},
            "speaker_tvd": self.speaker_tvd,
            "cast": self.cast.to_json(),
        }
        return figures if self.structure is None else figures | {"structure": self.structure.to_json()}


@dataclass
class Evaluation:
    checkpoint: str
    level: str
    heldout: HeldOut
    corpus: CastProfile  # the training split's cast
    train_tokens: int
    train_documents: int
    prime: str
    samples: int
    length: int
    seed: int
    rows: list[SampleScores]
    seconds: dict[str, float]
    label: str | None = None  # the genre label the samples and the held-out loss are of
    # a labelled model without label=: each label's validation documents
    heldout_by_label: dict[str, HeldOut] = field(default_factory=dict)
    lines: int | None = None  # samples of this many whole lines (length their cap), or None: length tokens each
    cache: CacheSettings | None = None  # the neural cache scored beside the model (and used by the samples, unless off)
    cache_fitted: bool = False  # fitted by this evaluation (fit_cache=True) and recorded in the checkpoint
    samples_cached: bool = False  # the samples were drawn with the cache
    structure: Structure | None = None  # a screenplay model: the training split's structure (None: a transcript's)

    def to_json(self) -> dict:
        return _finite(
            {
                "checkpoint": self.checkpoint,
                "level": self.level,
                "heldout": self.heldout.to_json(),
                "label": self.label,
                "heldout_by_label": {name: h.to_json() for name, h in self.heldout_by_label.items()},
                "training_split": {
                    "tokens": self.train_tokens,
                    "documents": self.train_documents,
                    "cast": self.corpus.to_json(),
                }
                | ({} if self.structure is None else {"structure": self.structure.to_json()}),
                "sampling": {
                    "prime": self.prime,
                    "samples": self.samples,
                    "length": self.length,
                    "lines": self.lines,
                    "seed": self.seed,
                },
                "cache": None
                if self.cache is None
                else {**self.cache.to_json(), "fitted_now": self.cache_fitted, "samples": self.samples_cached},
                "temperatures": [row.to_json() for row in self.rows],
                "seconds": self.seconds,
            }
        )

    def _action(self, profile) -> str:
        """The share of action lines, a transcript's notion (``[laughter]`` lines); a screenplay's action is an
        element, in the structure table."""
        return "-" if self.structure is not None else _pct(profile.action_share)

    def markdown(self) -> str:
        """The figures as text: the held-out loss and the training split's cast above a table, one row per
        temperature."""
        h, c = self.heldout, self.corpus
        what = "word" if self.level == "word" else "character"
        unknown = f"; {h.unknown:,} unknown {what}{'s' if h.unknown != 1 else ''} ({h.unknown_as})" if h.unknown else ""
        lines = [
            f"checkpoint {self.checkpoint} ({self.level} level)"
            + (f", label {self.label}" if self.label is not None else ""),
            f"held-out, {_heldout(h)}{unknown}",
            *(f"held-out, {_heldout(b)}" for b in self.heldout_by_label.values()),
            *self._cache_lines(),
            f"training split: {self.train_documents} documents, {self.train_tokens:,} tokens, {c.lines:,} lines: "
            + ("" if self.structure is not None else f"{_pct(c.action_share)} action lines, ")
            + f"{number(c.words_per_line, ',.1f')} words/line, "
            f"{len(c.cast.speakers):,} speakers",
            f"samples: {self.samples} per temperature, "
            + (
                f"{self.lines} lines each (at most {self.length} tokens)"
                if self.lines
                else f"{self.length} tokens each"
            )
            + f" after the prime {self.prime!r}{', with the cache' if self.samples_cached else ''}, "
            f"seeds {self.seed}..{self.seed + self.samples - 1}; novelty = share of {self.rows[0].copy_span}-token "
            "spans not in the training split",
            "",
            "| temperature | distinct-1 | distinct-2 | distinct-3 | repetition | novelty | longest copy | copied from "
            "| speaker TVD | action lines | words/line |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            longest = f"{r.longest} tokens" if r.longest else f"< {r.copy_span} tokens"
            cells = [
                f"{r.temperature:g}", *(number(d, ",.3f") for d in r.distinct), _pct(r.repetition), _pct(r.novelty),
                longest, _cell(r.longest_document) or "-", number(r.speaker_tvd, ",.3f"), self._action(r.cast),
                number(r.cast.words_per_line, ",.1f"),
            ]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
        copies = [
            f"- {r.temperature:g}: {json.dumps(r.longest_text, ensure_ascii=False)}" for r in self.rows if r.longest
        ]
        lines += self._structure_lines()
        if copies:
            lines += ["", "longest copied spans:", *copies]
        return "\n".join(lines)

    def _structure_lines(self) -> list[str]:
        """A screenplay model's structure, the training split's row above the temperatures': element shares, then
        scene and dialogue-block lengths (none for a transcript model)."""
        if self.structure is None:
            return []
        rows = [("training split", self.structure, None)] + [
            (f"{r.temperature:g}", r.structure.samples, r.structure) for r in self.rows
        ]
        lines = [
            "",
            "structure against the training split: element TVD = total-variation distance between the element "
            "shares; W1 = Wasserstein-1 distance between the length distributions over the training split's mean; "
            "a sample's scenes are the whole ones, between two of its scene headings",
            "",
            "| temperature | " + " | ".join(k.replace("_", " ") for k in KINDS) + " | element TVD |",
            "|---" * (len(KINDS) + 2) + "|",
        ]
        for name, s, scores in rows:
            shares = s.shares()
            cells = [name, *(_pct(shares.get(k, math.nan)) for k in KINDS), _distance(scores, None)]
            lines.append("| " + " | ".join(cells) + " |")
        lines += [
            "",
            "| temperature | scenes | lines/scene | W1 | words/scene | W1 | dialogue blocks | words/block | W1 |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, s, scores in rows:
            scene_lines, scene_words, block_words = ((number(s.mean(k), ",.1f"), _distance(scores, k)) for k in LENGTHS)
            cells = [name, f"{s.scenes:,}", *scene_lines, *scene_words, f"{s.blocks:,}", *block_words]
            lines.append("| " + " | ".join(cells) + " |")
        return lines

    def _cache_lines(self) -> list[str]:
        """The held-out loss without and with the neural cache, as a table (none without a cache)."""
        cached, c = self.heldout.with_cache(), self.cache
        if cached is None:
            return []
        fitted = "fitted now" if self.cache_fitted else "as recorded in the checkpoint"
        rows = [("without the cache", self.heldout), (f"with the cache ({c.size} positions, theta {c.theta:g}, "
                                                      f"lambda {c.lam:g}; {fitted})", cached)]  # fmt: skip
        lines = ["", "| held-out | nats/token | perplexity | nats/word | bits/char |", "|---|---|---|---|---|"]
        for name, h in rows:
            cells = [name, number(h.nats_per_token, ",.4f"), number(math.exp(min(h.nats_per_token, 700)), ",.1f"),
                     number(h.nats_per_word, ",.4f"), number(h.bits_per_char, ",.4f")]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
        return lines + [""]


def _heldout(h: HeldOut) -> str:
    return (
        f"{h.text}: {h.tokens:,} tokens, {h.nats_per_token:.3f} nats/token (perplexity "
        f"{number(math.exp(min(h.nats_per_token, 700)), ',.1f')}), {number(h.nats_per_word, ',.3f')} nats/word, "
        f"{number(h.bits_per_char, ',.3f')} bits/char"
    )


def number(value: float | None, spec: str, missing: str = "-") -> str:
    """``value`` formatted with ``spec`` (e.g. ",.3f") for a report's table; ``missing`` for None, NaN or infinity."""
    return missing if value is None or (isinstance(value, float) and not math.isfinite(value)) else format(value, spec)


def _distance(scores: StructureScores | None, length: str | None) -> str:
    """A structure distance for a table cell: the element TVD (``length`` None) or a length's W1; "-" for the
    training split's own row."""
    if scores is None:
        return "-"
    return number(scores.element_tvd if length is None else scores.distances[length], ",.3f")


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%" if math.isfinite(value) else "-"


def _cell(text: str) -> str:
    """``text`` safe inside a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _finite(value):
    """``value`` with every NaN or infinity replaced by None (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
