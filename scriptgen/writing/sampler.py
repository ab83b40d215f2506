"""The fast one-step machinery of generation: a trained model's weights prepared once, then one token per step.

:class:`Sampler` is what ``python -m scriptgen generate`` (and its
``--interactive`` mode) runs; from Python::

    from scriptgen.writing.sampler import Sampler
    from scriptgen.writing.draw import make_generator

    sampler = Sampler(model, "int8")  # or "fp32": exactly the model's distribution
    sampler.feed(vocab.encode("jerry:"))
    ids = sampler.sample(200, temperature=0.8, generator=make_generator(1))

The one-call :func:`scriptgen.writing.generate` and the small sampling functions
(settings check, one draw, seeded generator, the plain reference sampler) are
in ``draw.py`` and ``generate.py``; this module only makes each step cheap (the
weights' maps and their fp32/int8 products are built by ``products.py``).  Its
speed is measured by ``python bench/generate_speed.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Callable

import torch
from torch import nn

from ..errors import ScriptgenError
from ..model.cache import CacheSettings, StreamCache
from ..model.rnn import RNN
from .draw import check_sampling, sample_next
from .products import _output_maps, _prepare, _recurrent_maps


class Sampler:
    """One-step inference for a trained :class:`RNN`, with its weights prepared once.

    A batch-1 step is bound by memory traffic and per-operation overhead more
    than by arithmetic, so the weights are arranged for few, large reads:

    - the first layer's input products ``W_ih e + b`` are precomputed for every
      vocabulary entry (up to ``INPUT_TABLE_MAX_BYTES``), so that layer reads a
      table row and multiplies only its hidden state;
    - every other recurrent layer's input and hidden weights are fused into one
      map, one matrix-vector product per layer;
    - an adaptive output's head and tail projections are stacked into one
      product;
    - the state lives in buffers allocated once and updated in place: the
      inputs and hidden states of all layers sit side by side in one row, so
      layer k reads ``[x_k, h_k]`` as one slice without a concatenation;
    - each layer's update for this cell (LSTM, GRU or RNN) is a closure built
      once, so a step branches on nothing.

    With ``precision="int8"`` the maps are dynamically quantized (int8 weights,
    fp32 activations): 4x fewer bytes to read per step, and a word-level
    model's weights then fit in a CPU's last-level cache.  Thin maps (fewer
    than ``THIN`` inputs: an adaptive output's tails) stay fp32, where a
    plain product of the pre-transposed weight beat fbgemm's int8 kernel
    (bench/generate_speed.py).  Every map is called directly, without
    ``Module.__call__``: a batch-1 step pays for each Python-level call.

    The state is kept between calls: :meth:`feed` user text, :meth:`sample`
    new tokens, and everything sampled becomes context for the next turn.

    With ``cache`` (a fitted :class:`~scriptgen.model.cache.CacheSettings`, lambda > 0) every step also mixes
    in the neural cache of :mod:`scriptgen.model.cache`: the prime and the generated text fill its memory, and the
    step's scores are the mixture's log-probabilities over the whole vocabulary.  That adds one (size, H)
    matrix-vector product and two passes over the vocabulary per token; without a cache the step is untouched.
    """

    def __init__(self, model: RNN, precision: str = "fp32", cache: CacheSettings | None = None):
        if precision not in ("fp32", "int8"):
            raise ScriptgenError(
                f"--precision {precision!r} is unknown for generation; choose fp32 or int8 (the command line resolves "
                "auto)"
            )
        if precision == "int8" and model.device.type != "cpu":
            raise ScriptgenError("int8 generation runs on the CPU only; use --precision fp32 with --device cuda")
        self.model = model.eval()
        self.precision = precision
        self.cell = model.cell
        self.hidden_dim = model.hidden_dim
        self.vocab_size = model.output_size
        self.n_layers = model.n_layers
        with torch.no_grad():
            self.embedding = model.embedding.weight.detach()
            maps = nn.ModuleDict()  # the linear maps of one step
            self._input_table = _recurrent_maps(model, self.embedding, maps)
            self._w_ih0 = model.rnn.weight_ih_l0.detach() if model.label_embedding is not None else None
            self.adaptive = _output_maps(model, maps)
        self.maps = maps.to(model.device).requires_grad_(False)
        self._maps = _prepare(self.maps, precision)
        self._allocate(model.embedding.weight.shape[1])
        self._layers = [CELL_STEPS[self.cell](self, k) for k in range(self.n_layers)]
        self._output = self._maps["out"] if self.adaptive is None else self._adaptive_output
        unsampled = getattr(model, "unsampled", ())
        self._unsampled = torch.tensor(unsampled, dtype=torch.long, device=model.device) if unsampled else None
        if self._unsampled is not None:  # genre label tokens: scored -inf after every step, so never drawn
            output, never = self._output, self._unsampled
            self._output = lambda h: output(h).index_fill_(1, never, float("-inf"))
        self._has_output = False  # the top layer holds an output (whose next token the cache can remember)
        # --condition step: the labels fed (their weights) and their part of layer 0's gates, W_ih c, the same at
        # every step until other labels are fed, so added once a step instead of multiplied
        self._labels: torch.Tensor | None = None
        self._condition_gates: torch.Tensor | None = None
        self.cache = None
        if cache is not None and cache.lam > 0:  # lambda 0 is the model itself: the plain step, untouched
            self.cache = StreamCache(cache, self.hidden_dim, model.device, self._row.dtype)
            self._step = self._cached_step  # the instance's step: the plain one, then the mixture

    # -- state buffers ----------------------------------------------------------
    def _allocate(self, embedding_dim: int) -> None:
        H, L = self.hidden_dim, self.n_layers
        device, dtype = self.embedding.device, self.embedding.dtype
        # one row [x_0 | h_0 | h_1 | ... | h_{L-1}]: layer k reads its input and its own state as one slice
        self._row = torch.zeros(1, embedding_dim + L * H, device=device, dtype=dtype)
        self._x = self._row[:, :embedding_dim]
        self._h = [self._row[:, embedding_dim + k * H : embedding_dim + (k + 1) * H] for k in range(L)]
        starts = [0] + [embedding_dim + k * H for k in range(L - 1)]
        self._xh = [self._row[:, starts[k] : embedding_dim + (k + 1) * H] for k in range(L)]
        if self._input_table is not None:
            self._xh[0] = self._h[0]  # the input's part comes from the table
        self._c = [self._row.new_zeros(1, H) for _ in range(L)] if self.cell == "lstm" else []
        self.logits: torch.Tensor | None = None
        a = self.adaptive
        if a is not None:
            # views made once: the head's log-probabilities land in the output row's shortlist part
            self._logits = self._row.new_zeros(1, self.vocab_size)
            shortlist, n_tails = a["shortlist"], len(a["tail_sizes"])
            self._head_lp = self._row.new_zeros(1, a["head_size"])  # shortlist words, then one entry per cluster
            self._shortlist_lp, self._shortlist_out = self._head_lp[:, :shortlist], self._logits[:, :shortlist]
            self._tails = [self._maps[f"tail{i}"] for i in range(n_tails)]
            self._cluster_lp = [self._head_lp[:, shortlist + i : shortlist + i + 1] for i in range(n_tails)]
            cutoffs = a["cutoffs"]
            self._tail_out = [self._logits[:, cutoffs[i] : cutoffs[i + 1]] for i in range(n_tails)]

    def reset(self) -> None:
        self._row.zero_()
        for c in self._c:
            c.zero_()
        self.logits = None
        self._has_output = False
        self._labels = self._condition_gates = None
        if self.cache is not None:
            self.cache.reset()

    @property
    def state(self) -> list[tuple[torch.Tensor, ...]]:
        """Per layer, ``(h,)`` or ``(h, c)`` for an LSTM, each (1, H): views of the live buffers."""
        if self.cell == "lstm":
            return list(zip(self._h, self._c))
        return [(h,) for h in self._h]

    def _to_hidden(self):
        h = torch.stack(self._h)  # (n_layers, 1, H)
        return (h, torch.stack(self._c)) if self.cell == "lstm" else h

    def _from_hidden(self, hidden) -> None:
        h = hidden[0] if self.cell == "lstm" else hidden
        for k in range(self.n_layers):
            self._h[k].copy_(h[k])
            if self.cell == "lstm":
                self._c[k].copy_(hidden[1][k])

    # -- one step -----------------------------------------------------------------
    def _adaptive_output(self, h: torch.Tensor) -> torch.Tensor:
        """Log-probabilities over the vocabulary for the top layer's state ``h`` (1, H): (1, V), a reused buffer."""
        a = self.adaptive
        # (1, head_size + sum of tail projections), split into the head's scores and each tail's input
        head, *projections = self._maps["first"](h).split(a["split"], dim=1)
        torch.log_softmax(head, dim=1, out=self._head_lp)
        self._shortlist_out.copy_(self._shortlist_lp)
        for tail, projection, cluster_lp, out in zip(self._tails, projections, self._cluster_lp, self._tail_out):
            # log p(word) = log p(cluster) + log p(word | cluster), as AdaptiveLogSoftmaxWithLoss.log_prob
            torch.log_softmax(tail(projection), dim=1, out=out).add_(cluster_lp)
        return self._logits

    def _step(self, token: torch.Tensor) -> torch.Tensor:
        """One token id, shape (1,), in; scores over the vocabulary out, (1, V); updates the state in place."""
        if self._input_table is None:
            torch.index_select(self.embedding, 0, token, out=self._x)
        for layer in self._layers:
            layer(token)
        return self._output(self._h[-1])

    def _cached_step(self, token: torch.Tensor) -> torch.Tensor:
        """:meth:`_step` with the neural cache: the last output and ``token`` join the memory, then the mixture."""
        cache, top = self.cache, self._h[-1]
        if self._has_output:
            cache.push(top, token)  # top still holds the output this token was drawn from
        scores = Sampler._step(self, token)
        self._has_output = True
        mixed = cache.mix(scores, top)
        if self._unsampled is not None:
            mixed.index_fill_(1, self._unsampled, float("-inf"))
        return mixed

    @torch.inference_mode()
    def feed(self, ids: list[int]) -> None:
        """Run ``ids`` through the network, continuing the current state (and filling the cache, if any)."""
        if not ids:
            return
        x = torch.tensor([ids], dtype=torch.long, device=self.model.device)
        self._read_labels(ids)
        if self.precision == "int8":
            for token in x[0].split(1):  # the prime through the same int8 maps as the sampled tokens
                logits = self._step(token)
            self.logits = logits[0].clone()
            self._has_output = True
            return
        started = self.logits is not None
        if self.cache is not None and self._has_output:
            self.cache.push(self._h[-1], x[0, :1])
        labels = None if self._labels is None else self._labels.unsqueeze(0)  # (1, n_labels)
        out, hidden = self.model.features(x, self._to_hidden() if started else None, labels)  # one batched pass
        self._from_hidden(hidden)
        self._has_output = True
        self.logits = self.model.logits(out[0, -1:])[0]
        if self._unsampled is not None:
            self.logits.index_fill_(0, self._unsampled, float("-inf"))
        if self.cache is not None:
            self.cache.extend(out[0, :-1], x[0, 1:])
            self.logits = self.cache.mix(self.logits.unsqueeze(0), self._h[-1])[0]
            if self._unsampled is not None:
                self.logits.index_fill_(0, self._unsampled, float("-inf"))

    def _read_labels(self, ids: list[int]) -> None:
        """Label tokens among ``ids`` (a document's opening, as training reads it) condition every later step of a
        model trained with --condition step; ids without any keep the labels there are."""
        if self._w_ih0 is None:
            return
        weights = self.model.labels_of(ids)
        if weights is not None:
            self._labels = weights
            self._condition_gates = (self._w_ih0 @ self.model.label_vector(weights)).unsqueeze(0)  # (1, gates)

    @contextlib.contextmanager
    def stepping(self) -> Iterator[Callable[[torch.Tensor], torch.Tensor]]:
        """The one-step function, under the settings :meth:`sample` runs its loop with.

        For callers that draw each token themselves (``writer.py``):
        ``step(token)`` takes an id of shape (1,) and returns the next scores,
        (1, V), in a buffer the following step reuses.
        """
        threads = torch.get_num_threads()
        if self.model.device.type == "cpu" and self.precision == "fp32":
            # fp32 matrix-vector steps were no faster on two threads; fbgemm's int8 ones were (~10%)
            torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                yield self._step
        finally:
            torch.set_num_threads(threads)

    @torch.inference_mode()
    def sample(
        self,
        length: int,
        temperature: float = 1.0,
        top_k: int = 0,
        generator: torch.Generator | None = None,
        top_p: float = 1.0,
    ) -> list[int]:
        """``length`` new ids; each is fed back, so the state ends after the last one."""
        if self.logits is None:
            raise ScriptgenError("nothing to continue from: feed a prime first")
        top_k = check_sampling(length, temperature, top_k, self.vocab_size, top_p)
        new = []
        logits = self.logits.unsqueeze(0)
        with self.stepping() as step:
            for _ in range(length):
                token = sample_next(logits, temperature, top_k, generator, top_p).view(1)
                new.append(token)
                logits = step(token)
        self.logits = logits[0].clone()  # the step's buffer is reused by the next call
        return torch.cat(new).tolist()  # one device->host copy at the end

    # -- saving and restoring the state -------------------------------------------------
    def hidden(self):
        """A copy of the state in the model's layout: (n_layers, 1, H), a pair of them for an LSTM."""
        return self._to_hidden()

    def snapshot(self) -> tuple:
        """A copy of the state, the next scores, the labels and the cache's memory, for :meth:`restore`."""
        logits = None if self.logits is None else self.logits.clone()
        memory = None if self.cache is None else self.cache.snapshot()
        return self._to_hidden(), logits, self._has_output, (self._labels, self._condition_gates), memory

    def restore(self, snapshot: tuple) -> None:
        hidden, logits, self._has_output, (self._labels, self._condition_gates), memory = snapshot
        self._from_hidden(hidden)
        self.logits = None if logits is None else logits.clone()
        if memory is not None:
            self.cache.restore(memory)


# -- one layer's update per cell, chosen once per layer in Sampler.__init__ --------------
# Each returns step(token) that updates layer k's state buffers in place.  Layer 0 with an
# input table adds (or, for the GRU, takes) the token's precomputed row instead of multiplying.
def _lstm_layer(s: Sampler, k: int) -> Callable[[torch.Tensor], None]:
    product, xh, h, c, H = s._maps[f"l{k}"], s._xh[k], s._h[k], s._c[k], s.hidden_dim
    table = s._input_table if k == 0 else None
    act = s._row.new_zeros(1, 4 * H)  # sigmoid of the gates, written in place
    i, f, o = act[:, :H], act[:, H : 2 * H], act[:, 3 * H :]  # input, forget, output

    def step(token: torch.Tensor) -> None:
        gates = product(xh)  # (1, 4H) in PyTorch's i, f, g, o order
        if table is not None:
            gates.add_(torch.index_select(table, 0, token))
        if k == 0 and s._condition_gates is not None:
            gates.add_(s._condition_gates)
        torch.sigmoid(gates, out=act)
        c.mul_(f).addcmul_(i, torch.tanh(gates[:, 2 * H : 3 * H]))
        torch.mul(o, torch.tanh(c), out=h)

    return step


def _gru_layer(s: Sampler, k: int) -> Callable[[torch.Tensor], None]:
    # the GRU's candidate gate needs the hidden part apart, r * (W_hn h + b_hn), so its maps are not fused
    hidden_product, h, H = s._maps[f"hh{k}"], s._h[k], s.hidden_dim
    table = s._input_table if k == 0 else None
    input_product, x = s._maps.get(f"ih{k}"), (s._x if k == 0 else s._h[k - 1])

    def step(token: torch.Tensor) -> None:
        gi = torch.index_select(table, 0, token) if table is not None else input_product(x)
        if k == 0 and s._condition_gates is not None:
            gi = gi + s._condition_gates
        gh = hidden_product(h)
        r, z = torch.sigmoid(gi[:, : 2 * H] + gh[:, : 2 * H]).chunk(2, dim=1)
        n = torch.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
        h.sub_(n).mul_(z).add_(n)  # (1 - z) * n + z * h

    return step


def _rnn_layer(s: Sampler, k: int) -> Callable[[torch.Tensor], None]:
    product, xh, h = s._maps[f"l{k}"], s._xh[k], s._h[k]
    table = s._input_table if k == 0 else None

    def step(token: torch.Tensor) -> None:
        pre = product(xh)
        if table is not None:
            pre.add_(torch.index_select(table, 0, token))
        if k == 0 and s._condition_gates is not None:
            pre.add_(s._condition_gates)
        torch.tanh(pre, out=h)

    return step


CELL_STEPS = {"lstm": _lstm_layer, "gru": _gru_layer, "rnn": _rnn_layer}
