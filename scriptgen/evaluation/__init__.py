"""Evaluation: is a model any good?  Held-out loss, novelty, and the statistics of its samples.

    from scriptgen.evaluation import evaluate_checkpoint
    report = evaluate_checkpoint("checkpoints/seinfeld", samples=20, seed=1)
    print(report.markdown())

``scriptgen evaluate --checkpoint checkpoints/NAME [--json]`` is the command line.  The modules:

- ``evaluate.py``: :func:`evaluate_checkpoint`, the whole evaluation (the training
  text as training saw it, the samples drawn and scored);
- ``report.py``: what it found, :class:`Evaluation` and one :class:`SampleScores`
  row per temperature, as markdown or JSON;
- ``heldout.py``: loss on the validation documents or on any text, per
  token, per word and in bits per character;
- ``novelty.py``: how much of a sample is copied from the training text
  (hashed n-grams in one sorted array; the longest copied span);
- ``textstats.py``: distinct-n, repetition, and how the sample's cast matches
  the corpus's;
- ``genre.py``: a naive Bayes classifier over words: does a sample read as the
  genre it was written under;
- ``structure.py``: a screenplay model's structure fidelity, element shares
  and scene and dialogue-block lengths against the training split's.

Imports :mod:`scriptgen.writing` (to draw samples) and below; never
:mod:`scriptgen.training`.
"""

from .evaluate import evaluate_checkpoint
from .heldout import heldout_nats, score_text
from .novelty import NgramIndex
from .report import Evaluation
from .textstats import distinct_n, repetition_rate

__all__ = [
    "Evaluation",
    "NgramIndex",
    "distinct_n",
    "evaluate_checkpoint",
    "heldout_nats",
    "repetition_rate",
    "score_text",
]
