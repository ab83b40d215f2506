"""What a labelled token stream tells the model about its labels, position by position.

Two signals, both derived from each document's labels (:func:`scriptgen.data.labels.document_labels`):

- **lead tokens** (:func:`lead_ids`): where a stream restarts in the middle of a
  document with a fresh hidden state, its first input becomes the document's
  label token (:class:`scriptgen.data.batches.StreamBatches`);
- **label weights** (:func:`label_weights`): for ``--condition step``, every
  input position carries its document's labels as a row of weights over the
  vocabulary's label tokens (1/k for each of a document's k labels, zeros for a
  document without any), which the model turns into a learned label embedding
  added to each input (:class:`scriptgen.model.rnn.RNN`).  A label read once at
  a document's start competes with everything the text says after it over a
  feature-length script; one added to every input does not fade.

Column ``j`` of the weights is the ``j``-th label token in id order (:func:`label_tokens`), the same order the
model's label embedding has, so a checkpoint's vocabulary alone fixes it.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

from .labels import document_labels, label_token
from .tokens import Vocab


def label_tokens(vocab: Vocab) -> tuple[int, ...]:
    """The label token ids in the order of the model's label embedding rows (id order)."""
    return tuple(sorted(vocab.special_ids))


def _range_labels(documents: Sequence[dict], ranges: Sequence[tuple[int, int]]) -> list[list[str]]:
    starts = [d["start"] for d in documents]
    return [document_labels(documents[bisect.bisect_right(starts, s) - 1]) for s, _ in ranges]


def lead_ids(documents: Sequence[dict], ranges: Sequence[tuple[int, int]], vocab: Vocab) -> list[int] | None:
    """For each token range, the token id of the first label of the document it lies in (-1 for a document without
    labels: its stream restarts on its own token); None for an unlabelled corpus."""
    if not any(document_labels(d) for d in documents):
        return None
    return [vocab.stoi[label_token(labels[0])] if labels else -1 for labels in _range_labels(documents, ranges)]


def label_ranges(
    documents: Sequence[dict], ranges: Sequence[tuple[int, int]], label: str | Sequence[str]
) -> list[tuple[int, int]]:
    """The ranges (of a split) that lie in documents of ``label`` (of every one of several labels): a document of
    several labels counts for each."""
    wanted = {label} if isinstance(label, str) else set(label)
    return [r for r, labels in zip(ranges, _range_labels(documents, ranges)) if wanted <= set(labels)]


def weights_of(token_ids: Sequence[int], labels: Sequence[int]) -> np.ndarray:
    """One row of label weights, (n_labels,) float32: 1/k for each of the k label tokens among ``token_ids``;
    ``labels`` are the label token ids in column order (:func:`label_tokens`)."""
    columns = {token: j for j, token in enumerate(labels)}
    row = np.zeros(len(columns), dtype=np.float32)
    chosen = sorted({columns[t] for t in token_ids if t in columns})
    if chosen:
        row[chosen] = 1.0 / len(chosen)
    return row


def label_weights(documents: Sequence[dict], ranges: Sequence[tuple[int, int]], vocab: Vocab) -> np.ndarray | None:
    """For each token range, its document's label weights: (n_ranges, n_labels) float32; None for an unlabelled
    corpus."""
    if not vocab.special_ids or not any(document_labels(d) for d in documents):
        return None
    columns = label_tokens(vocab)
    rows = [[vocab.stoi[label_token(name)] for name in labels] for labels in _range_labels(documents, ranges)]
    return np.stack([weights_of(row, columns) for row in rows]) if rows else np.zeros((0, len(columns)), np.float32)
