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


class Sampler:
    """One-step inference for a trained :class:`RNN`, with its weights prepared once.

    Each recurrent layer's input and hidden weights are fused into one linear
    map, so a step costs one matrix-vector product per layer; an adaptive
    output's head and tail projections are stacked into one product too.  With
    ``precision="int8"`` those maps are dynamically quantized (int8 weights,
    fp32 activations): a word-level step reads 4x fewer bytes, which is what
    limits speed on a CPU.  The state is kept between calls: :meth:`feed` user
    text, :meth:`sample` new tokens, and everything sampled becomes context for
    the next turn.
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
        maps = nn.ModuleDict()
        with torch.no_grad():
            self.embedding = model.embedding.weight.detach()
            for k in range(model.n_layers):
                w_ih = getattr(model.rnn, f"weight_ih_l{k}")
                w_hh = getattr(model.rnn, f"weight_hh_l{k}")
                b_ih = getattr(model.rnn, f"bias_ih_l{k}")
                b_hh = getattr(model.rnn, f"bias_hh_l{k}")
                if self.cell == "gru":
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
                    "head_bias": fc.head.bias.detach() if fc.head.bias is not None else None,
                    "head_size": fc.head_size,
                    "shortlist": fc.shortlist_size,
                    "tail_sizes": [tail[0].out_features for tail in fc.tail],
                    "cutoffs": fc.cutoffs,
                }
            else:
                maps["out"] = _linear(fc.weight, fc.bias)
        maps = maps.to(model.device)
        if precision == "int8":
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
                from torch.ao.quantization import quantize_dynamic

                maps = quantize_dynamic(maps, {nn.Linear}, dtype=torch.qint8)
        self.maps = maps
        self.state: list[tuple[torch.Tensor, ...]] | None = None
        self.logits: torch.Tensor | None = None

    def _output(self, h: torch.Tensor) -> torch.Tensor:
        """Scores over the vocabulary for the top layer's state ``h`` (1, H): (V,)."""
        a = self.adaptive
        if a is None:
            return self.maps["out"](h)[0]
        first = self.maps["first"](h)[0]
        head = first[: a["head_size"]]
        if a["head_bias"] is not None:
            head = head + a["head_bias"]
        head_lp = torch.log_softmax(head, dim=0)
        shortlist = a["shortlist"]
        parts = [head_lp[:shortlist]]
        offset = a["head_size"]
        for i, hsz in enumerate(a["tail_sizes"]):
            # log p(word) = log p(cluster) + log p(word | cluster), as AdaptiveLogSoftmaxWithLoss.log_prob
            cluster = torch.log_softmax(self.maps[f"tail{i}"](first[offset : offset + hsz].unsqueeze(0))[0], dim=0)
            parts.append(cluster + head_lp[shortlist + i])
            offset += hsz
        return torch.cat(parts)

    def reset(self) -> None:
        self.state, self.logits = None, None

    def _to_hidden(self):
        if self.state is None:
            return None
        if self.cell == "lstm":
            h = torch.stack([s[0] for s in self.state])  # (n_layers, 1, H)
            c = torch.stack([s[1] for s in self.state])
            return (h, c)
        return torch.stack([s[0] for s in self.state])

    def _from_hidden(self, hidden) -> None:
        if self.cell == "lstm":
            h, c = hidden
            self.state = [(h[k], c[k]) for k in range(h.shape[0])]  # each (1, H)
        else:
            self.state = [(hidden[k],) for k in range(hidden.shape[0])]

    @torch.inference_mode()
    def feed(self, ids: list[int]) -> None:
        """Run ``ids`` through the network (one batched pass), continuing the current state."""
        if not ids:
            return
        x = torch.tensor([ids], dtype=torch.long, device=self.model.device)
        if self.precision == "int8":
            for token in x[0]:  # the prime through the same int8 maps as the sampled tokens
                self.logits = self._step(token)
            return
        out, hidden = self.model.features(x, self._to_hidden())
        self._from_hidden(hidden)
        self.logits = self.model.logits(out[0, -1:])[0]

    def _step(self, token: torch.Tensor) -> torch.Tensor:
        """One token in, scores over the vocabulary out; updates the state."""
        x = self.embedding[token].unsqueeze(0)  # (1, E)
        H = self.hidden_dim
        maps = self.maps
        new_state = []
        for k in range(self.model.n_layers):
            prev = self.state[k] if self.state is not None else None
            h = prev[0] if prev is not None else x.new_zeros(1, H)
            if self.cell == "lstm":
                c = prev[1] if prev is not None else x.new_zeros(1, H)
                gates = maps[f"l{k}"](torch.cat([x, h], dim=1))  # (1, 4H) in PyTorch's i, f, g, o order
                act = torch.sigmoid(gates)
                c = act[:, H : 2 * H] * c + act[:, :H] * torch.tanh(gates[:, 2 * H : 3 * H])
                h = act[:, 3 * H :] * torch.tanh(c)
                new_state.append((h, c))
            elif self.cell == "gru":
                gi = maps[f"ih{k}"](x)
                gh = maps[f"hh{k}"](h)
                rz = torch.sigmoid(gi[:, : 2 * H] + gh[:, : 2 * H])
                n = torch.tanh(gi[:, 2 * H :] + rz[:, :H] * gh[:, 2 * H :])
                h = n + rz[:, H:] * (h - n)  # (1 - z) * n + z * h
                new_state.append((h,))
            else:
                h = torch.tanh(maps[f"l{k}"](torch.cat([x, h], dim=1)))
                new_state.append((h,))
            x = h
        self.state = new_state
        return self._output(x)

    @torch.inference_mode()
    def sample(self, length: int, temperature: float = 1.0, top_k: int = 0, generator: torch.Generator | None = None) -> list[int]:
        """``length`` new ids; each is fed back, so the state ends after the last one."""
        if self.logits is None:
            raise ScriptgenError("nothing to continue from: feed a prime first")
        top_k = check_sampling(length, temperature, top_k, self.vocab_size)
        new = []
        logits = self.logits
        threads = torch.get_num_threads()
        if self.model.device.type == "cpu":
            torch.set_num_threads(1)  # matrix-vector steps are too small to share between threads
        try:
            for _ in range(length):
                token = sample_next(logits.unsqueeze(0), temperature, top_k, generator)[0, 0]
                new.append(token)
                logits = self._step(token)
        finally:
            torch.set_num_threads(threads)
        self.logits = logits
        return torch.stack(new).tolist()  # one device->host copy at the end


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
