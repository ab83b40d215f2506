"""AWD-LSTM regularizers for the recurrent language model (Merity, Keskar and Socher, 2017).

All are active in training mode only; in eval mode the model is the plain one,
so validation, checkpoints and generation see no randomness:

- :func:`locked_dropout` - variational dropout: one mask per sequence, shared by
  every time step (a per-step mask would wipe out what the recurrence carries);
- :func:`embedding_dropout` - whole vocabulary words dropped for a step (the
  word's embedding is zero wherever it occurs), so the model cannot lean on any
  single word;
- :func:`run_layers` - the stacked recurrent layers one fused call per layer,
  with DropConnect on each layer's hidden-to-hidden weights (the mask is
  applied to the weight tensor before the fused kernel runs, so the time loop
  stays inside torch) and dropout between the layers;
- :func:`activation_penalty` - activation regularization (AR, the size of the
  last layer's dropped outputs) and temporal activation regularization (TAR,
  how fast its raw outputs change from one step to the next).

The model (:mod:`scriptgen.model.rnn`) applies them as its config asks
(``--dropout-input``, ``--dropout-embed``, ``--weight-drop``,
``--locked-dropout``, ``--ar-alpha``, ``--tar-beta``); tests compare each with
a plain computation (tests/test_regularize.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# the fused kernel of each cell: (input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
_FUSED = {"lstm": torch.lstm, "gru": torch.gru, "rnn": torch.rnn_tanh}


def locked_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout of ``x`` (batch, time, features) with one mask per sequence and feature, shared across time."""
    if not training or p == 0.0:
        return x
    # Plain dropout draws a new mask at every time step, which a recurrent net sees as noise it cannot learn
    # around; one mask per sequence removes the same units for the whole chunk (variational dropout).
    mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1.0 - p).div_(1.0 - p)  # (B, 1, D)
    return x * mask


def embedding_dropout(embedding: nn.Embedding, ids: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Embeddings of ``ids`` with a share ``p`` of the vocabulary's rows zeroed (the rest scaled by 1/(1-p))."""
    if not training or p == 0.0:
        return embedding(ids)
    weight = embedding.weight
    # Dropping whole words (every occurrence of a word in the batch) rather than single features teaches the
    # model to predict from context when a word is unseen, which matters most for rare names.
    mask = weight.new_empty(weight.shape[0], 1).bernoulli_(1.0 - p).div_(1.0 - p)  # (V, 1): one draw per word
    return F.embedding(ids, weight * mask, embedding.padding_idx)


def run_layers(
    rnn: nn.RNNBase,
    cell: str,
    x: torch.Tensor,
    hidden,
    between: float,
    weight_drop: float,
    locked: bool,
    training: bool,
):
    """Run ``rnn``'s layers (batch-first) one fused call each: DropConnect ``weight_drop`` on the hidden-to-hidden
    weights and dropout ``between`` the layers (locked if ``locked``).  Returns the top layer's outputs and the
    new hidden state, shaped as ``rnn`` would return them."""
    # DropConnect has to change the weight matrix itself, and nn.LSTM keeps its weights inside one fused
    # kernel call.  So each layer is run here as torch's own fused call on the (dropped) weights: the same
    # kernel nn.LSTM uses, just one layer at a time; evaluation never comes here (it is nn.LSTM as is).
    fused, lstm = _FUSED[cell], cell == "lstm"
    h0, c0 = hidden if lstm else (hidden, None)
    hs, cs = [], []
    for k in range(rnn.num_layers):
        w_ih, w_hh = getattr(rnn, f"weight_ih_l{k}"), getattr(rnn, f"weight_hh_l{k}")
        if training and weight_drop > 0.0:
            # one mask per call: the same dropped weights at every step
            w_hh = F.dropout(w_hh, weight_drop, training=True)
        params = [w_ih, w_hh, getattr(rnn, f"bias_ih_l{k}"), getattr(rnn, f"bias_hh_l{k}")]
        if lstm:
            x, h, c = fused(x, (h0[k : k + 1], c0[k : k + 1]), params, True, 1, 0.0, training, False, True)
            cs.append(c)
        else:
            x, h = fused(x, h0[k : k + 1], params, True, 1, 0.0, training, False, True)
        hs.append(h)
        if k < rnn.num_layers - 1:
            x = locked_dropout(x, between, training) if locked else F.dropout(x, between, training)
    h = torch.cat(hs)
    return x, ((h, torch.cat(cs)) if lstm else h)


def activation_penalty(raw: torch.Tensor, dropped: torch.Tensor, ar_alpha: float, tar_beta: float) -> torch.Tensor:
    """``ar_alpha * mean(dropped^2) + tar_beta * mean((raw_t - raw_{t-1})^2)`` over (batch, time, features) outputs."""
    # AR keeps the (dropped) outputs small, TAR keeps them from jumping between steps; both act on the
    # top layer's outputs, so they shape what the softmax sees without touching the weights directly.
    penalty = raw.new_zeros((), dtype=torch.float32)
    if ar_alpha:
        penalty = penalty + ar_alpha * dropped.float().pow(2).mean()
    if tar_beta and raw.shape[1] > 1:
        penalty = penalty + tar_beta * (raw[:, 1:] - raw[:, :-1]).float().pow(2).mean()
    return penalty
