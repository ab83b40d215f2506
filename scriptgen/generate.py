"""Stage 6, generate: sample new tokens from a trained model, then decode them.

``python -m scriptgen generate --checkpoint checkpoints/NAME --prime "jerry:" --length 400``
or, from Python::

    model, vocab, cfg = load_model("checkpoints/seinfeld")
    ids = generate(model, vocab.encode("jerry:"), length=200, temperature=0.8, seed=1)
    print(vocab.decode(vocab.encode("jerry:") + ids))

The prime is fed once; then every new token is one step of the network from
the carried hidden state (no window is re-fed).  :func:`generate` returns the
new token ids; decoding is the vocabulary's job.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from .errors import ScriptgenError
from .model import RNN


def check_sampling(length: int, temperature: float, top_k: int, vocab_size: int) -> int:
    """Validate sampling settings; returns top_k clamped to the vocabulary."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ScriptgenError(f"--length {length!r} is invalid: ask for at least 1 token, e.g. --length 400")
    if not isinstance(temperature, (int, float)) or not temperature > 0 or temperature != temperature or temperature > 100:
        raise ScriptgenError(f"--temperature {temperature!r} is invalid: use a value above 0 such as 0.8 (1 = as trained)")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise ScriptgenError(f"--top-k {top_k!r} is invalid: use 0 (whole vocabulary) or a positive number such as 40")
    return 0 if top_k >= vocab_size else top_k


def sample_next(logits: torch.Tensor, temperature: float, top_k: int, generator: torch.Generator | None) -> torch.Tensor:
    """One id per row of ``logits`` (batch, vocab): temperature, optional top-k, then a draw."""
    logits = logits.float() / temperature
    if top_k:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    cdf = torch.cumsum(torch.softmax(logits, dim=-1), dim=-1)
    # inverse-CDF draw: one uniform number per row (torch.multinomial costs far more per call)
    u = torch.rand((*cdf.shape[:-1], 1), generator=generator, device=cdf.device, dtype=cdf.dtype) * cdf[..., -1:]
    return torch.searchsorted(cdf, u, right=True).clamp_max_(cdf.shape[-1] - 1)  # (batch, 1)


THIN = 256  # maps with fewer inputs stay fp32 under int8 (see Sampler)
INPUT_TABLE_MAX_BYTES = 256 * 2**20  # largest first-layer input table (see Sampler) before falling back to products


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
      layer k reads ``[x_k, h_k]`` as one slice without a concatenation.

    With ``precision="int8"`` the maps are dynamically quantized (int8 weights,
    fp32 activations): 4x fewer bytes to read per step, and a word-level
    model's weights then fit in a CPU's last-level cache.  Thin maps (fewer
    than ``THIN`` inputs: an adaptive output's tails) stay fp32, where a
    plain product of the pre-transposed weight beat fbgemm's int8 kernel
    (bench/generate_speed.py).  Every map is called directly, without
    ``Module.__call__``: a batch-1 step pays for each Python-level call.

    The state is kept between calls: :meth:`feed` user text, :meth:`sample`
    new tokens, and everything sampled becomes context for the next turn.
    """

    def __init__(self, model: RNN, precision: str = "fp32"):
        if precision not in ("fp32", "int8"):
            raise ScriptgenError(f"--precision {precision!r} is unknown for generation; choose auto, fp32 or int8")
        if precision == "int8" and model.device.type != "cpu":
            raise ScriptgenError("int8 generation runs on the CPU only; use --precision fp32 with --device cuda")
        self.model = model.eval()
        self.precision = precision
        self.cell = model.cell
        self.hidden_dim = model.hidden_dim
        self.vocab_size = model.output_size
        self.n_layers = model.n_layers
        maps = nn.ModuleDict()  # the linear maps of one step
        with torch.no_grad():
            self.embedding = model.embedding.weight.detach()
            self._input_table = None
            for k in range(model.n_layers):
                w_ih = getattr(model.rnn, f"weight_ih_l{k}")
                w_hh = getattr(model.rnn, f"weight_hh_l{k}")
                b_ih = getattr(model.rnn, f"bias_ih_l{k}")
                b_hh = getattr(model.rnn, f"bias_hh_l{k}")
                if k == 0 and self.embedding.shape[0] * w_ih.shape[0] * 4 <= INPUT_TABLE_MAX_BYTES:
                    # the first layer's input is one of vocab_size embeddings: precompute W_ih e + b for each
                    # (vocab_size, gates); a step then reads one row instead of multiplying by W_ih
                    bias = b_ih if self.cell == "gru" else b_ih + b_hh
                    self._input_table = torch.addmm(bias, self.embedding, w_ih.t())
                    if self.cell == "gru":
                        maps["hh0"] = _linear(w_hh, b_hh)
                    else:
                        maps["l0"] = _linear(w_hh, None)
                elif self.cell == "gru":
                    # the GRU's candidate gate needs the hidden part apart: r * (W_hn h + b_hn)
                    maps[f"ih{k}"] = _linear(w_ih, b_ih)
                    maps[f"hh{k}"] = _linear(w_hh, b_hh)
                else:
                    maps[f"l{k}"] = _linear(torch.cat([w_ih, w_hh], dim=1), b_ih + b_hh)
            self.adaptive = None
            fc = model.fc
            if model.output == "adaptive":
                # the head and every tail's first projection read the same vector: one stacked product
                maps["first"] = _linear(torch.cat([fc.head.weight] + [tail[0].weight for tail in fc.tail]), None)
                for i, tail in enumerate(fc.tail):
                    maps[f"tail{i}"] = _linear(tail[1].weight, None)
                self.adaptive = {
                    "head_bias": fc.head.bias.detach().clone() if fc.head.bias is not None else None,
                    "head_size": fc.head_size,
                    "shortlist": fc.shortlist_size,
                    "tail_sizes": [tail[0].out_features for tail in fc.tail],
                    "cutoffs": fc.cutoffs,
                    "split": [fc.head_size] + [tail[0].out_features for tail in fc.tail],  # of the stacked product
                }
            else:
                maps["out"] = _linear(fc.weight, fc.bias)
        maps = maps.to(model.device)
        if precision == "int8":
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
                from torch.ao.quantization import quantize_dynamic

                for name, layer in maps.items():
                    if layer.in_features >= THIN:
                        maps[name] = quantize_dynamic(nn.Sequential(layer), {nn.Linear}, dtype=torch.qint8)[0]
        self.maps = maps.requires_grad_(False)
        self._maps = {name: _direct(module) for name, module in maps.items()}
        self._allocate(model.embedding.weight.shape[1])

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
        self._act = [self._row.new_zeros(1, 4 * H) for _ in self._c]  # sigmoid of the gates, written in place
        self._gates = [(a[:, :H], a[:, H : 2 * H], a[:, 3 * H :]) for a in self._act]  # input, forget, output
        self._logits = self._row.new_zeros(1, self.vocab_size)
        self.logits: torch.Tensor | None = None
        a = self.adaptive
        if a is not None:
            # views made once: the head's log-probabilities land in the output row's shortlist part
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
    def _output(self, h: torch.Tensor) -> torch.Tensor:
        """Scores over the vocabulary for the top layer's state ``h`` (1, H): (1, V), a reused buffer."""
        a = self.adaptive
        if a is None:
            return self._maps["out"](h)
        # (1, head_size + sum of tail projections), split into the head's scores and each tail's input
        head, *projections = self._maps["first"](h).split(a["split"], dim=1)
        if a["head_bias"] is not None:
            head = head + a["head_bias"]
        torch.log_softmax(head, dim=1, out=self._head_lp)
        self._shortlist_out.copy_(self._shortlist_lp)
        for tail, projection, cluster_lp, out in zip(self._tails, projections, self._cluster_lp, self._tail_out):
            # log p(word) = log p(cluster) + log p(word | cluster), as AdaptiveLogSoftmaxWithLoss.log_prob
            torch.log_softmax(tail(projection), dim=1, out=out).add_(cluster_lp)
        return self._logits

    def _step(self, token: torch.Tensor) -> torch.Tensor:
        """One token id, shape (1,), in; scores over the vocabulary out, (1, V); updates the state in place."""
        table = self._input_table
        if table is None:
            torch.index_select(self.embedding, 0, token, out=self._x)
        H = self.hidden_dim
        maps = self._maps
        for k in range(self.n_layers):
            h = self._h[k]
            if self.cell == "lstm":
                gates = maps[f"l{k}"](self._xh[k])  # (1, 4H) in PyTorch's i, f, g, o order
                if k == 0 and table is not None:
                    gates.add_(torch.index_select(table, 0, token))
                torch.sigmoid(gates, out=self._act[k])
                i, f, o = self._gates[k]  # views of _act[k]
                c = self._c[k]
                c.mul_(f).addcmul_(i, torch.tanh(gates[:, 2 * H : 3 * H]))
                torch.mul(o, torch.tanh(c), out=h)
            elif self.cell == "gru":
                if k == 0:
                    gi = torch.index_select(table, 0, token) if table is not None else maps["ih0"](self._x)
                else:
                    gi = maps[f"ih{k}"](self._h[k - 1])
                gh = maps[f"hh{k}"](h)
                r, z = torch.sigmoid(gi[:, : 2 * H] + gh[:, : 2 * H]).chunk(2, dim=1)
                n = torch.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
                h.sub_(n).mul_(z).add_(n)  # (1 - z) * n + z * h
            else:
                pre = maps[f"l{k}"](self._xh[k])
                if k == 0 and table is not None:
                    pre.add_(torch.index_select(table, 0, token))
                torch.tanh(pre, out=h)
        return self._output(self._h[-1])

    @torch.inference_mode()
    def feed(self, ids: list[int]) -> None:
        """Run ``ids`` through the network, continuing the current state."""
        if not ids:
            return
        x = torch.tensor([ids], dtype=torch.long, device=self.model.device)
        if self.precision == "int8":
            for token in x[0].split(1):  # the prime through the same int8 maps as the sampled tokens
                logits = self._step(token)
            self.logits = logits[0].clone()
            return
        started = self.logits is not None
        out, hidden = self.model.features(x, self._to_hidden() if started else None)  # one batched pass
        self._from_hidden(hidden)
        self.logits = self.model.logits(out[0, -1:])[0]

    @torch.inference_mode()
    def sample(self, length: int, temperature: float = 1.0, top_k: int = 0, generator: torch.Generator | None = None) -> list[int]:
        """``length`` new ids; each is fed back, so the state ends after the last one."""
        if self.logits is None:
            raise ScriptgenError("nothing to continue from: feed a prime first")
        top_k = check_sampling(length, temperature, top_k, self.vocab_size)
        new = []
        logits = self.logits.unsqueeze(0)
        threads = torch.get_num_threads()
        if self.model.device.type == "cpu" and self.precision == "fp32":
            # fp32 matrix-vector steps were no faster on two threads; fbgemm's int8 ones were (~10%)
            torch.set_num_threads(1)
        try:
            for _ in range(length):
                token = sample_next(logits, temperature, top_k, generator).view(1)
                new.append(token)
                logits = self._step(token)
        finally:
            torch.set_num_threads(threads)
        self.logits = logits[0].clone()  # the step's buffer is reused by the next call
        return torch.cat(new).tolist()  # one device->host copy at the end


def _direct(module: nn.Module):
    """The module's product as one plain call on a (1, in) row: (1, out).

    Skips ``Module.__call__`` and the quantized module's Python checks (about
    20 us per call on a small CPU, several calls per generated token).  An
    fp32 weight is stored transposed, (in, out): a row times it streams the
    matrix in memory order, faster than ``F.linear``'s matrix-vector product
    for batch 1 on the CPU.
    """
    packed = getattr(getattr(module, "_packed_params", None), "_packed_params", None)
    if packed is not None:
        if getattr(module, "version", None) and module.version >= 4:
            op = torch.ops.quantized.linear_dynamic
            return lambda x: op(x, packed, True)  # what torch.ao.nn.quantized.dynamic.Linear.forward runs for qint8
        return module.forward
    weight_t = module.weight.detach().t().contiguous()  # (in, out)
    if module.bias is None:
        return functools.partial(torch.mm, mat2=weight_t)
    bias = module.bias.detach().unsqueeze(0)  # (1, out)
    return lambda x: torch.addmm(bias, x, weight_t)


def _linear(weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    layer.weight.copy_(weight.detach())
    if bias is not None:
        layer.bias.copy_(bias.detach())
    return layer.eval()


def make_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    generator = torch.Generator(device=device)
    generator.manual_seed(seed if seed is not None else torch.seed())
    return generator


def generate(
    model: RNN,
    prime_ids: list[int],
    length: int = 400,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int | None = None,
    precision: str = "fp32",
) -> list[int]:
    """``length`` new token ids after ``prime_ids``: the prime is fed once, then one step per token.

    ``precision="int8"`` samples from int8-quantized weights (CPU only, much faster
    on word-level models); fp32 gives exactly the model's distribution.
    """
    if not prime_ids:
        raise ScriptgenError("the prime is empty; pass one or more words with --prime, e.g. --prime 'jerry:'")
    check_sampling(length, temperature, top_k, model.output_size)
    sampler = Sampler(model, precision)
    sampler.feed(list(prime_ids))
    return sampler.sample(length, temperature, top_k, make_generator(seed, model.device))


@torch.no_grad()
def generate_reference(
    model: RNN, prime_ids: list[int], length: int, temperature: float = 1.0, top_k: int = 0, seed: int | None = None
) -> list[int]:
    """The plain sampler (the module's own forward, one token at a time); the fast path is tested against it."""
    top_k = check_sampling(length, temperature, top_k, model.output_size)
    model.eval()
    generator = make_generator(seed, model.device)
    out, hidden = model.features(torch.tensor([prime_ids], device=model.device), None)
    logits = model.logits(out[:, -1])
    new = []
    for _ in range(length):
        token = sample_next(logits, temperature, top_k, generator)
        new.append(int(token))
        out, hidden = model.features(token, hidden)
        logits = model.logits(out[:, -1])
    return new
