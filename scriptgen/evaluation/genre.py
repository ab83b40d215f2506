"""Does a sample read as the genre it was written under?  A naive Bayes classifier over words, kept simple.

    classifier = GenreClassifier.fit({"comedy": comedy_texts, "drama": drama_texts})
    classifier.classify("ROLE1: the funeral was at noon.")   # -> "drama"
    classifier.share(samples_by_label)                       # the share of samples given their own label

It is trained on each label's held-out text (the model never trained on it) and
scores a text by the sum over its words of log p(word | label), the
multinomial naive Bayes rule with add-one smoothing over the words of all
labels and equal priors (so a label with more held-out text is not favoured).
Word-level tokens are the project's own (:func:`scriptgen.data.tokens.tokenize`),
punctuation left out: genre lives in the words.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..data.tokens import tokenize


def _words(text: str) -> list[str]:
    return [w for w in tokenize(text, "word") if not w.startswith("||")]


@dataclass
class GenreClassifier:
    log_p: dict[str, dict[str, float]]  # label -> word -> log p(word | label)
    unseen: dict[str, float]  # label -> log p of a word its text never had

    @classmethod
    def fit(cls, texts: Mapping[str, Iterable[str]]) -> "GenreClassifier":
        counts = {label: Counter(w for text in group for w in _words(text)) for label, group in texts.items()}
        words = set().union(*counts.values()) if counts else set()
        log_p, unseen = {}, {}
        for label, count in counts.items():
            total = sum(count.values()) + len(words) + 1  # add-one over the known words and one unseen word
            log_p[label] = {w: math.log((n + 1) / total) for w, n in count.items()}
            unseen[label] = math.log(1 / total)
        return cls(log_p, unseen)

    def scores(self, text: str) -> dict[str, float]:
        """log p(text | label) up to a shared constant, per label."""
        words = Counter(_words(text))
        return {
            label: sum(n * table.get(w, self.unseen[label]) for w, n in words.items())
            for label, table in self.log_p.items()
        }

    def classify(self, text: str) -> str | None:
        """The label that gives ``text`` the highest likelihood; None for a text without words or a tie."""
        scores = self.scores(text)
        if not scores or not _words(text):
            return None
        best = max(scores.values())
        winners = [label for label, score in scores.items() if score == best]
        return winners[0] if len(winners) == 1 else None

    def share(self, samples: Mapping[str, Iterable[str]]) -> float:
        """The share of samples (label -> texts written under it) that the classifier gives their own label."""
        pairs = [(label, text) for label, texts in samples.items() for text in texts]
        return sum(self.classify(text) == label for label, text in pairs) / len(pairs) if pairs else 0.0
