"""Stage 4, model: embedding -> LSTM/GRU/RNN layers -> dropout -> linear output (or adaptive softmax).

Training can add the AWD-LSTM regularizers of :mod:`scriptgen.model.regularize`; in
eval mode the model is always the plain one.

:class:`RNN` keeps the classic course's constructor and contract:
``forward(nn_input, hidden)`` returns the logits of the last time step and the
new hidden state, and ``init_hidden(batch_size)`` gives zeros on the model's
device.  Training uses :meth:`RNN.forward_all` / :meth:`RNN.loss`, which score
every position of a chunk (the fast path), and generation uses
:meth:`RNN.step`.

    >>> model = RNN(vocab_size=100, output_size=100, embedding_dim=16, hidden_dim=32, n_layers=2)
    >>> hidden = model.init_hidden(batch_size=4)
    >>> logits, hidden = model(torch.zeros(4, 10, dtype=torch.long), hidden)   # logits: (4, 100)
"""

from __future__ import annotations

from typing import Union

import torch
import torch.nn.functional as F
from torch import nn

from ..config import CELLS, OUTPUTS, Config
from ..data.conditions import weights_of
from ..errors import ScriptgenError
from . import regularize
from .tied import TiedAdaptiveLogSoftmax, TiedSoftmax

Hidden = Union[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]

_CELL_CLASSES = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class RNN(nn.Module):
    """Word- or char-level recurrent language model."""

    def __init__(
        self,
        vocab_size: int,
        output_size: int,
        embedding_dim: int,
        hidden_dim: int,
        n_layers: int,
        dropout: float = 0.5,
        cell: str = "lstm",
        tie_weights: bool = False,
        output: str = "softmax",
        cutoffs: list[int] | None = None,
        dropout_input: float = 0.0,
        dropout_embed: float = 0.0,
        weight_drop: float = 0.0,
        locked_dropout: bool = False,
        ar_alpha: float = 0.0,
        tar_beta: float = 0.0,
        n_labels: int = 0,
    ):
        super().__init__()
        self.unsampled: tuple[
            int, ...
        ] = ()  # token ids generation never draws (genre labels; set by Checkpoint.build_model)
        self.label_tokens: tuple[int, ...] = ()  # label token ids in the order of label_embedding's rows (likewise)
        if cell not in CELLS:
            raise ScriptgenError(f"cell {cell!r} is unknown; choose one of {', '.join(CELLS)}")
        if output not in OUTPUTS:
            raise ScriptgenError(f"output {output!r} is unknown; choose one of {', '.join(OUTPUTS)}")
        cutoffs = list(cutoffs or [])
        if output == "adaptive" and not cutoffs:
            output = "softmax"  # too small a vocabulary to split: see scriptgen.data.cutoffs
        if tie_weights and vocab_size != output_size:
            raise ScriptgenError("tie_weights needs vocab_size == output_size")
        self.hparams = {
            "vocab_size": vocab_size,
            "output_size": output_size,
            "embedding_dim": embedding_dim,
            "hidden_dim": hidden_dim,
            "n_layers": n_layers,
            "dropout": dropout,
            "cell": cell,
            "tie_weights": tie_weights,
            "output": output,
            "cutoffs": cutoffs,
            "dropout_input": dropout_input,
            "dropout_embed": dropout_embed,
            "weight_drop": weight_drop,
            "locked_dropout": locked_dropout,
            "ar_alpha": ar_alpha,
            "tar_beta": tar_beta,
            "n_labels": n_labels,
        }
        # the AWD-LSTM regularizers (regularize.py); with all of them off training runs nn.LSTM as is
        self.dropout_p, self.dropout_input, self.dropout_embed = dropout, dropout_input, dropout_embed
        self.weight_drop, self.locked_dropout = weight_drop, locked_dropout
        self.ar_alpha, self.tar_beta = ar_alpha, tar_beta
        self.regularized = bool(dropout_input or dropout_embed or weight_drop or locked_dropout)
        self.cell = cell
        self.n_layers = n_layers
        self.hidden_dim = hidden_dim
        self.output_size = output_size
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        # --condition step: one learned vector per genre label, added to every input (CTRL's control codes, read at
        # every step instead of once): a label read only at a document's start fades over a feature-length script
        self.label_embedding = nn.Embedding(n_labels, embedding_dim) if n_labels else None
        if self.label_embedding is not None:
            nn.init.normal_(self.label_embedding.weight, std=0.1)
        # dropout between stacked layers only exists for n_layers > 1
        self.rnn = _CELL_CLASSES[cell](
            embedding_dim, hidden_dim, n_layers, dropout=dropout if n_layers > 1 else 0.0, batch_first=True
        )
        self.dropout = nn.Dropout(dropout)
        self.output = output
        if output == "adaptive":
            # Frequent words get a full-width head; rare ones share narrower tail
            # projections (Grave et al., 2017). Ids are frequency-ordered.
            if tie_weights:  # the word vectors are the embedding's, projected to from each part (tied.py)
                self.fc = TiedAdaptiveLogSoftmax(hidden_dim, output_size, cutoffs, embedding_dim)
            else:
                self.fc = nn.AdaptiveLogSoftmaxWithLoss(hidden_dim, output_size, cutoffs, div_value=4.0)
        elif tie_weights and embedding_dim != hidden_dim:
            self.fc = TiedSoftmax(hidden_dim, output_size, embedding_dim)
        else:
            self.fc = nn.Linear(hidden_dim, output_size)
        if tie_weights:
            self.fc.weight = self.embedding.weight  # "Using the Output Embedding" (Press & Wolf, 2017)

    @classmethod
    def from_config(cls, cfg: Config, vocab_size: int, n_labels: int = 0) -> "RNN":
        """The model ``cfg`` describes; ``n_labels`` (the vocabulary's label tokens) rows of label embedding when
        ``cfg`` conditions every step on labels (``labels`` and ``condition == "step"``), else none."""
        return cls(
            vocab_size,
            vocab_size,
            cfg.embedding_dim,
            cfg.hidden_dim,
            cfg.n_layers,
            dropout=cfg.dropout,
            cell=cfg.cell,
            tie_weights=cfg.tie_weights,
            output=cfg.output,
            cutoffs=cfg.cutoffs,
            dropout_input=cfg.dropout_input,
            dropout_embed=cfg.dropout_embed,
            weight_drop=cfg.weight_drop,
            locked_dropout=cfg.locked_dropout,
            ar_alpha=cfg.ar_alpha,
            tar_beta=cfg.tar_beta,
            n_labels=n_labels if cfg.labels and cfg.condition == "step" else 0,
        )

    @property
    def device(self) -> torch.device:
        return self.embedding.weight.device

    # -- hidden state ---------------------------------------------------------
    def init_hidden(self, batch_size: int) -> Hidden:
        """Zeros of shape (n_layers, batch_size, hidden_dim); a (h, c) pair for LSTM."""
        h = self.embedding.weight.new_zeros(self.n_layers, batch_size, self.hidden_dim)
        return (h, h.clone()) if self.cell == "lstm" else h

    def _hidden_on_device(self, hidden: Hidden | None, batch_size: int) -> Hidden:
        if hidden is None:
            return self.init_hidden(batch_size)
        device, dtype = self.device, self.embedding.weight.dtype
        if isinstance(hidden, (tuple, list)):
            if self.cell != "lstm":
                hidden = hidden[0]  # tolerate an LSTM-style pair for GRU/RNN
            else:
                return tuple(h.to(device=device, dtype=dtype) for h in hidden)  # type: ignore[return-value]
        elif self.cell == "lstm":
            raise ScriptgenError("an LSTM needs its hidden state as a (h, c) pair; use model.init_hidden(batch_size)")
        return hidden.to(device=device, dtype=dtype)

    # -- forward passes ---------------------------------------------------------
    def features(
        self, nn_input: torch.Tensor, hidden: Hidden | None = None, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, Hidden]:
        """Top-layer outputs after dropout, (batch, seq_len, hidden_dim), and the new hidden state."""
        _, dropped, hidden = self._features(nn_input, hidden, labels)
        return dropped, hidden

    def label_vector(self, labels: torch.Tensor | None) -> torch.Tensor | None:
        """What ``labels`` add to each input: label weights (..., n_labels) -> (..., embedding_dim); None when the
        model has no label embedding or no labels are given (a model trained with --condition token ignores them)."""
        if self.label_embedding is None or labels is None:
            return None
        return labels.to(self.device, self.label_embedding.weight.dtype) @ self.label_embedding.weight

    def labels_of(self, token_ids) -> torch.Tensor | None:
        """The label weights (n_labels,) of the label tokens among ``token_ids``, by the rule training uses
        (:func:`scriptgen.data.conditions.weights_of`); None without a label embedding or without any label token
        among them."""
        if self.label_embedding is None:
            return None
        weights = weights_of(token_ids, self.label_tokens)
        return torch.from_numpy(weights).to(self.label_embedding.weight) if weights.any() else None

    def _embed(self, nn_input: torch.Tensor, labels: torch.Tensor | None, regularized: bool) -> torch.Tensor:
        """The inputs' embeddings (B, T, E), plus their labels' vector; under training's regularizers, embedding
        dropout first."""
        if regularized:
            embeds = regularize.embedding_dropout(self.embedding, nn_input, self.dropout_embed, True)
        else:
            embeds = self.embedding(nn_input)
        condition = self.label_vector(labels)  # (B, T, E) per position, or (B, E) for the whole chunk
        if condition is None:
            return embeds
        return embeds + (condition.unsqueeze(1) if condition.dim() == 2 else condition)

    def _features(
        self, nn_input: torch.Tensor, hidden: Hidden | None, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, Hidden]:
        """The top layer's raw outputs, the same after dropout (both (B, T, H)), and the new hidden state."""
        hidden = self._hidden_on_device(hidden, nn_input.shape[0])
        nn_input = nn_input.to(self.device)
        if nn_input.dtype != torch.long:
            nn_input = nn_input.long()  # the course feeds whatever its DataLoader yields
        if not (self.training and self.regularized):
            out, hidden = self.rnn(self._embed(nn_input, labels, False), hidden)  # (B, T, H)
            return out, self.dropout(out), hidden
        embeds = self._embed(nn_input, labels, True)  # (B, T, E)
        drop = regularize.locked_dropout if self.locked_dropout else F.dropout  # both (x, p, training)
        embeds = drop(embeds, self.dropout_input, True)
        out, hidden = regularize.run_layers(
            self.rnn, self.cell, embeds, hidden, self.dropout_p, self.weight_drop, self.locked_dropout, True
        )
        return out, drop(out, self.dropout_p, True), hidden

    def forward(
        self, nn_input: torch.Tensor, hidden: Hidden | None = None, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, Hidden]:
        """The course contract: logits of the last time step, (batch, output_size), and the hidden state."""
        out, hidden = self.features(nn_input, hidden, labels)
        return self.logits(out[:, -1]), hidden

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Scores over the vocabulary for (..., hidden_dim) features; log-probabilities for the adaptive output."""
        if self.output == "adaptive":
            shape = features.shape[:-1]
            with torch.autocast(features.device.type, enabled=False):
                return self.fc.log_prob(features.reshape(-1, self.hidden_dim).float()).reshape(*shape, self.output_size)
        return self.fc(features)

    def forward_all(
        self, nn_input: torch.Tensor, hidden: Hidden | None = None, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, Hidden]:
        """Scores for every position, (batch, seq_len, output_size), and the hidden state."""
        out, hidden = self.features(nn_input, hidden, labels)
        return self.logits(out), hidden

    def loss(
        self,
        nn_input: torch.Tensor,
        target: torch.Tensor,
        hidden: Hidden | None = None,
        labels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, Hidden]:
        """Mean cross-entropy (nats/token) over every position, and the hidden state."""
        _, out, hidden = self._features(nn_input, hidden, labels)
        return self._cross_entropy(out, target), hidden

    def train_loss(
        self,
        nn_input: torch.Tensor,
        target: torch.Tensor,
        hidden: Hidden | None = None,
        labels: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, Hidden]:
        """What training minimises (the cross-entropy plus the AR/TAR penalties in training mode), the
        cross-entropy alone (what is reported), and the hidden state."""
        raw, out, hidden = self._features(nn_input, hidden, labels)
        loss = self._cross_entropy(out, target)
        if self.training and (self.ar_alpha or self.tar_beta):
            return loss + regularize.activation_penalty(raw, out, self.ar_alpha, self.tar_beta), loss, hidden
        return loss, loss, hidden

    def target_log_probs(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """log p of every target ``y`` (B, T) given the top-layer outputs ``out`` (B, T, H), in fp32 (evaluation and
        the neural cache score this way)."""
        target = y.to(self.device).reshape(-1).long()
        flat = out.reshape(-1, self.hidden_dim).float()
        if self.output == "adaptive":
            log_p = self.fc(flat, target).output  # without the full (N, vocab) matrix
        else:
            log_p = torch.log_softmax(self.fc(flat).float(), dim=-1).gather(1, target[:, None])[:, 0]
        return log_p.reshape(y.shape)

    def _cross_entropy(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        target = target.to(self.device).reshape(-1).long()
        if self.output == "adaptive":
            # the same quantity as F.cross_entropy, without the full (N, vocab) matrix; kept in
            # fp32 because its index_select/gather mix dtypes under autocast
            with torch.autocast(out.device.type, enabled=False):
                return self.fc(out.reshape(-1, self.hidden_dim).float(), target).loss
        logits = self.fc(out)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target)


def detach_hidden(hidden: Hidden) -> Hidden:
    """Cut the graph between BPTT chunks (truncated backpropagation through time)."""
    if isinstance(hidden, (tuple, list)):
        return tuple(h.detach() for h in hidden)  # type: ignore[return-value]
    return hidden.detach()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
