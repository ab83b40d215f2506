"""Output layers whose word vectors are the input embedding's (``--tie-weights``), for either output.

Tying (Press & Wolf, 2017; Inan et al., 2017) makes the output vector of each word its input embedding, so every
occurrence of a word, as input or as target, trains the same vector, and a rare word's output vector is no longer
learned from its few targets alone.  The hidden state is projected to the embedding's width first, so the sizes need
not match (AWD-LSTM instead sizes its last layer to the embedding).

:class:`TiedAdaptiveLogSoftmax` (``--output adaptive``): torch's :class:`torch.nn.AdaptiveLogSoftmaxWithLoss`
(Grave et al., 2017) scores the frequent words (the *shortlist*) and one entry per tail cluster in a head, and the
rare words of each cluster in a tail that projects the hidden state first; here every part projects to the
embedding's width and scores against its words' embedding rows:

    head:      log_softmax([ (P0 h) . E[:c0]  ,  C h ])        shortlist words, then one score per cluster
    cluster i: log_softmax(  (Pi h) . E[ci:ci+1] ) + head's score of cluster i

with no biases, the same structure as torch's module, so generation's products treat both alike through
:func:`adaptive_weights`.  :class:`TiedSoftmax` (``--output softmax`` with unequal sizes): ``(P h) . E + b``; with
equal sizes the model shares ``nn.Linear.weight`` with the embedding as the course does.  In both ``weight`` is the
embedding's Parameter itself (set by :class:`scriptgen.model.rnn.RNN`).

    >>> fc = TiedAdaptiveLogSoftmax(in_features=8, n_classes=50, cutoffs=[10, 30], embedding_dim=4)
    >>> fc.log_prob(torch.zeros(3, 8)).exp().sum(-1)    # each row a distribution over the 50 words
    tensor([1.0000, 1.0000, 1.0000], grad_fn=<SumBackward1>)
"""

from __future__ import annotations

from collections import namedtuple

import torch
import torch.nn.functional as F
from torch import nn

AdaptiveOutput = namedtuple("AdaptiveOutput", ["output", "loss"])  # as torch's module returns


class TiedAdaptiveLogSoftmax(nn.Module):
    """Adaptive log-softmax over ``n_classes`` frequency-ordered words whose vectors are ``weight`` (tied)."""

    def __init__(self, in_features: int, n_classes: int, cutoffs: list[int], embedding_dim: int):
        super().__init__()
        cutoffs = list(cutoffs)
        if not cutoffs or cutoffs != sorted(set(cutoffs)) or cutoffs[0] <= 0 or cutoffs[-1] >= n_classes:
            raise ValueError(f"cutoffs {cutoffs} must increase within (0, {n_classes})")
        self.in_features, self.n_classes, self.embedding_dim = in_features, n_classes, embedding_dim
        self.cutoffs = cutoffs + [n_classes]  # as torch's module keeps them: the last edge is the vocabulary's end
        self.shortlist_size = cutoffs[0]
        self.n_clusters = len(cutoffs)
        self.head_size = self.shortlist_size + self.n_clusters
        self.weight = nn.Parameter(torch.empty(n_classes, embedding_dim))  # replaced by the embedding's (RNN)
        nn.init.normal_(self.weight)
        self.head_proj = nn.Linear(in_features, embedding_dim, bias=False)  # P0
        self.cluster = nn.Linear(in_features, self.n_clusters, bias=False)  # C
        self.tail_proj = nn.ModuleList(nn.Linear(in_features, embedding_dim, bias=False) for _ in cutoffs)  # Pi

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        """Head log-probabilities (N, shortlist + clusters)."""
        words = self.head_proj(x) @ self.weight[: self.shortlist_size].t()
        return torch.log_softmax(torch.cat([words, self.cluster(x)], dim=1), dim=1)

    def _tail(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """Cluster ``i``'s log-probabilities within the cluster (N, its size)."""
        rows = self.weight[self.cutoffs[i] : self.cutoffs[i + 1]]
        return torch.log_softmax(self.tail_proj[i](x) @ rows.t(), dim=1)

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> AdaptiveOutput:
        """log p of each target (N,) for features ``x`` (N, in_features), and their mean negative (the loss)."""
        head = self._head(x)
        in_shortlist = target < self.shortlist_size
        # shortlist targets read the head; the others read their cluster's head score plus their place in the tail
        gather_at = torch.where(in_shortlist, target, torch.zeros_like(target))
        output = head.gather(1, gather_at[:, None])[:, 0] * in_shortlist
        for i in range(self.n_clusters):
            rows = ((target >= self.cutoffs[i]) & (target < self.cutoffs[i + 1])).nonzero()[:, 0]
            if rows.numel() == 0:
                continue
            tail = self._tail(i, x[rows])
            local = (target[rows] - self.cutoffs[i])[:, None]
            output = output.index_add(0, rows, tail.gather(1, local)[:, 0] + head[rows, self.shortlist_size + i])
        return AdaptiveOutput(output, -output.mean())

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p of every word (N, n_classes)."""
        head = self._head(x)
        parts = [head[:, : self.shortlist_size]]
        for i in range(self.n_clusters):
            parts.append(self._tail(i, x) + head[:, self.shortlist_size + i : self.shortlist_size + i + 1])
        return torch.cat(parts, dim=1)


def adaptive_weights(fc: nn.Module) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
    """The head's weight (head_size, in_features) and each tail's (projection, words) weights of an adaptive output,
    torch's or the tied one, as plain matrices for generation (:mod:`scriptgen.writing.products`): the tied head's
    word rows are ``E[:c0] P0``, so one product of the hidden state gives the same scores."""
    if isinstance(fc, TiedAdaptiveLogSoftmax):
        words = fc.weight[: fc.shortlist_size] @ fc.head_proj.weight  # (shortlist, in_features)
        head = torch.cat([words, fc.cluster.weight]).detach()
        tails = [
            (proj.weight.detach(), fc.weight[fc.cutoffs[i] : fc.cutoffs[i + 1]].detach())
            for i, proj in enumerate(fc.tail_proj)
        ]
        return head, tails
    if fc.head.bias is not None:
        raise ValueError("an adaptive head with a bias is not one scriptgen builds")
    return fc.head.weight.detach(), [(tail[0].weight.detach(), tail[1].weight.detach()) for tail in fc.tail]


class TiedSoftmax(nn.Module):
    """Scores ``(P h) . E + b`` over ``n_classes`` words whose vectors ``weight`` (n_classes, embedding_dim) are
    tied to the embedding; ``P`` projects the hidden state to the embedding's width."""

    def __init__(self, in_features: int, n_classes: int, embedding_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_classes, embedding_dim))  # replaced by the embedding's (RNN)
        nn.init.normal_(self.weight)
        self.proj = nn.Linear(in_features, embedding_dim, bias=False)
        self.bias = nn.Parameter(torch.zeros(n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.proj(x), self.weight, self.bias)


def softmax_weights(fc: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The (n_classes, in_features) weight and the bias of a softmax output as one plain map: ``E P`` when tied with
    a projection."""
    if isinstance(fc, TiedSoftmax):
        return (fc.weight @ fc.proj.weight).detach(), fc.bias.detach()
    return fc.weight.detach(), fc.bias.detach() if fc.bias is not None else None
