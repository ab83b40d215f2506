"""Structure fidelity of a screenplay model: do its samples have the shape of the screenplays it learned?

A screenplay model trains on canonical text and writes it
(:mod:`scriptgen.data.screenplay.elements`): one line per element, a dialogue
block on one line.  :class:`Structure` measures such text the same way for the
training split and for the samples, both decoded by the checkpoint's
vocabulary (so both lowercase at word level, and words are split alike):

- **element shares**: the kinds :func:`~scriptgen.data.screenplay.elements.from_canonical`
  reads, counted as ``prepare`` counts them (a dialogue block is its cue, its
  parentheticals and its dialogue);
- **scenes**: a scene runs from a scene heading to the next, or to the end of
  a training document; its length in lines (canonical lines, blank ones aside,
  a dialogue block one line, its heading included) and in words (of those
  lines).  Only a sample's whole scenes count, those between two of its
  headings: the stretch before its first heading follows the prime, the one
  after its last is cut by the sample's length;
- **dialogue blocks**: a cue's line; its length is the words of its dialogue
  (the cue, its extensions and parentheticals aside).

:class:`StructureScores` compares samples with the training split: the
total-variation distance between the element shares (as the cast's speaker
TVD, 0 = the same, 1 = disjoint), and for each length the Wasserstein-1
(earth mover's) distance between the two length distributions divided by the
training split's mean length (:func:`relative_w1`): 0 = the same
distribution, 0.25 = lengths would have to move by a quarter of a typical
training length on average.  A distance is NaN (``null`` in JSON) when either
side has nothing to measure, e.g. samples too short to hold a whole scene.

    >>> s = Structure.of(["INT. DINER - DAY\\nJerry sits.\\nJERRY: (quietly) Not again.\\n"])
    >>> (s.kinds["character"], s.mean("scene_lines"), s.mean("scene_words"), s.mean("block_words"))
    (1, 3.0, 10.0, 2.0)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from ..data.screenplay.elements import KINDS, from_canonical, line_kind
from .textstats import total_variation

LENGTHS = ("scene_lines", "scene_words", "block_words")  # the lengths measured, each a Counter of Structure


def relative_w1(values: Counter[int], reference: Counter[int]) -> float:
    """Wasserstein-1 distance between the length distributions the counts ``values`` and ``reference`` describe,
    divided by ``reference``'s mean (NaN when either is empty or that mean is 0).

    For two distributions on the line it is the area between their cumulative distribution functions; counts keep
    a big training split's lengths in memory as a histogram, not one number per scene."""
    n, m = sum(values.values()), sum(reference.values())
    mean = sum(k * c for k, c in reference.items()) / m if m else 0.0
    if not n or not mean:
        return math.nan
    grid = sorted(set(values) | set(reference))
    cdf_values = np.cumsum([values[x] for x in grid]) / n
    cdf_reference = np.cumsum([reference[x] for x in grid]) / m
    return float(np.sum(np.abs(cdf_values - cdf_reference)[:-1] * np.diff(grid))) / mean


@dataclass
class Structure:
    """Element kinds and the lengths of scenes and dialogue blocks of some canonical text; see the module's
    docstring."""

    kinds: Counter[str] = field(default_factory=Counter)
    scene_lines: Counter[int] = field(default_factory=Counter)  # lines of a scene -> scenes that long
    scene_words: Counter[int] = field(default_factory=Counter)
    block_words: Counter[int] = field(default_factory=Counter)  # words of a block's dialogue -> blocks

    @classmethod
    def of(cls, texts: Iterable[str], whole_end: bool = True) -> "Structure":
        structure = cls()
        for text in texts:
            structure.add(text, whole_end)
        return structure

    def add(self, text: str, whole_end: bool = True) -> None:
        """Count one text; ``whole_end``: its end closes its last scene (a training document), else that scene
        is cut off and left out (a sample)."""
        scene = None  # [lines, words] of the open scene, None before the first heading
        for line in text.split("\n"):
            kind = line_kind(line)
            if kind == "blank":
                continue
            elements = from_canonical(line)
            self.kinds.update(e.kind for e in elements)
            if kind == "scene_heading":
                self._close(scene)
                scene = [0, 0]
            if scene is not None:
                scene[0] += 1
                scene[1] += len(line.split())
            if kind == "dialogue":
                self.block_words[sum(len(e.text.split()) for e in elements if e.kind == "dialogue")] += 1
        if whole_end:
            self._close(scene)

    def _close(self, scene: list[int] | None) -> None:
        if scene is not None:
            self.scene_lines[scene[0]] += 1
            self.scene_words[scene[1]] += 1

    def counting(self, texts: Iterable[str]) -> Iterator[str]:
        """``texts`` passed through, each counted (as a whole document) on the way: one decoding of the training
        split serves the cast and the structure."""
        for text in texts:
            self.add(text)
            yield text

    @property
    def elements(self) -> int:
        return sum(self.kinds.values())

    @property
    def scenes(self) -> int:
        return sum(self.scene_lines.values())

    @property
    def blocks(self) -> int:
        return sum(self.block_words.values())

    def shares(self) -> dict[str, float]:
        """Each kind's share of the elements (every kind of :data:`KINDS`, 0 for one not seen); {} for none."""
        n = self.elements
        return {k: self.kinds[k] / n for k in KINDS} if n else {}

    def mean(self, length: str) -> float:
        """The mean of one of :data:`LENGTHS` (NaN when nothing was measured)."""
        counts: Counter[int] = getattr(self, length)
        n = sum(counts.values())
        return sum(k * c for k, c in counts.items()) / n if n else math.nan

    def to_json(self) -> dict:
        return {
            "elements": self.elements,
            "element_shares": self.shares(),
            "scenes": self.scenes,
            "scene_lines": self.mean("scene_lines"),
            "scene_words": self.mean("scene_words"),
            "dialogue_blocks": self.blocks,
            "block_words": self.mean("block_words"),
        }


@dataclass
class StructureScores:
    """The structure of one temperature's samples and its distances from the training split's."""

    samples: Structure
    element_tvd: float
    distances: dict[str, float]  # each of LENGTHS -> relative_w1 of the samples' lengths from the training split's

    @classmethod
    def of(cls, texts: Iterable[str], reference: Structure) -> "StructureScores":
        """The scores of samples ``texts`` (each the lines the model wrote whole) against ``reference``."""
        return cls.against(Structure.of(texts, whole_end=False), reference)

    @classmethod
    def against(cls, samples: Structure, reference: Structure) -> "StructureScores":
        tvd = total_variation(samples.kinds, reference.kinds)
        return cls(samples, tvd, {k: relative_w1(getattr(samples, k), getattr(reference, k)) for k in LENGTHS})

    def to_json(self) -> dict:
        return {**self.samples.to_json(), "distance": {"element_shares": self.element_tvd, **self.distances}}
