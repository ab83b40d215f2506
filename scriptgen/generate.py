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

    Each recurrent layer's input and hidden weights are fused into one
    row-major matrix, so a step costs one matrix-vector product per layer; the
    output layer is used as trained (full or adaptive softmax).  The state is
    kept between calls: :meth:`feed` user text, :meth:`sample` new tokens, and
    everything sampled becomes context for the next turn.
    """

    def __init__(self, model: RNN):
        self.model = model.eval()
        self.cell = model.cell
        self.hidden_dim = model.hidden_dim
        self.vocab_size = model.output_size
        with torch.inference_mode():
            self.embedding = model.embedding.weight.detach()
            self.layers = []
            for k in range(model.n_layers):
                w_ih = getattr(model.rnn, f"weight_ih_l{k}").detach()
                w_hh = getattr(model.rnn, f"weight_hh_l{k}").detach()
                b_ih = getattr(model.rnn, f"bias_ih_l{k}").detach()
                b_hh = getattr(model.rnn, f"bias_hh_l{k}").detach()
                if self.cell == "gru":
                    # the GRU's candidate gate needs the hidden part apart: r * (W_hn h + b_hn)
                    self.layers.append((w_ih.contiguous(), b_ih.clone(), w_hh.contiguous(), b_hh.clone()))
                else:
                    self.layers.append((torch.cat([w_ih, w_hh], dim=1).contiguous(), (b_ih + b_hh).contiguous()))
            self.adaptive = None
            if model.output == "adaptive":
                fc = model.fc
                # head and every tail's first projection read the same vector: one stacked product
                first = [fc.head.weight] + [tail[0].weight for tail in fc.tail]
                self.adaptive = {
                    "first": torch.cat(first).detach().contiguous(),
                    "head_bias": fc.head.bias.detach() if fc.head.bias is not None else None,
                    "head_size": fc.head_size,
                    "shortlist": fc.shortlist_size,
                    "tails": [(tail[1].weight.detach().contiguous(), tail[0].out_features) for tail in fc.tail],
                    "cutoffs": fc.cutoffs,
                    "out": torch.empty(fc.n_classes, device=model.device),
                }
        self.state: list[tuple[torch.Tensor, ...]] | None = None
        self.logits: torch.Tensor | None = None

    def _output(self, h: torch.Tensor) -> torch.Tensor:
        """Scores over the vocabulary for the top layer's state ``h`` (H,)."""
        a = self.adaptive
        if a is None:
            return self.model.logits(h.unsqueeze(0))[0]
        first = torch.mv(a["first"], h)
        head = first[: a["head_size"]]
        if a["head_bias"] is not None:
            head = head + a["head_bias"]
        head_lp = torch.log_softmax(head, dim=0)
        out = a["out"].clone()
        shortlist = a["shortlist"]
        out[:shortlist] = head_lp[:shortlist]
        offset = a["head_size"]
        for i, (w2, hsz) in enumerate(a["tails"]):
            # log p(word) = log p(cluster) + log p(word | cluster), as AdaptiveLogSoftmaxWithLoss.log_prob
            start, stop = a["cutoffs"][i], a["cutoffs"][i + 1]
            cluster = torch.log_softmax(torch.mv(w2, first[offset : offset + hsz]), dim=0)
            out[start:stop] = cluster + head_lp[shortlist + i]
            offset += hsz
        return out

    def reset(self) -> None:
        self.state, self.logits = None, None

    def _to_hidden(self):
        if self.state is None:
            return None
        if self.cell == "lstm":
            h = torch.stack([s[0] for s in self.state]).unsqueeze(1)
            c = torch.stack([s[1] for s in self.state]).unsqueeze(1)
            return (h, c)
        return torch.stack([s[0] for s in self.state]).unsqueeze(1)

    def _from_hidden(self, hidden) -> None:
        if self.cell == "lstm":
            h, c = hidden
            self.state = [(h[k, 0], c[k, 0]) for k in range(h.shape[0])]
        else:
            self.state = [(hidden[k, 0],) for k in range(hidden.shape[0])]

    @torch.inference_mode()
    def feed(self, ids: list[int]) -> None:
        """Run ``ids`` through the network (one batched pass), continuing the current state."""
        if not ids:
            return
        x = torch.tensor([ids], dtype=torch.long, device=self.model.device)
        out, hidden = self.model.features(x, self._to_hidden())
        self._from_hidden(hidden)
        self.logits = self.model.logits(out[0, -1:])[0]

    def _step(self, token: torch.Tensor) -> torch.Tensor:
        """One token in, scores over the vocabulary out; updates the state."""
        x = self.embedding[token]  # (E,)
        H = self.hidden_dim
        new_state = []
        for k, weights in enumerate(self.layers):
            prev = self.state[k] if self.state is not None else None
            h = prev[0] if prev is not None else x.new_zeros(H)
            if self.cell == "lstm":
                w, b = weights
                c = prev[1] if prev is not None else x.new_zeros(H)
                gates = torch.addmv(b, w, torch.cat([x, h]))  # (4H,) in PyTorch's i, f, g, o order
                act = torch.sigmoid(gates)
                c = act[H : 2 * H] * c + act[:H] * torch.tanh(gates[2 * H : 3 * H])
                h = act[3 * H :] * torch.tanh(c)
                new_state.append((h, c))
            elif self.cell == "gru":
                w_ih, b_ih, w_hh, b_hh = weights
                gi = torch.addmv(b_ih, w_ih, x)
                gh = torch.addmv(b_hh, w_hh, h)
                rz = torch.sigmoid(gi[: 2 * H] + gh[: 2 * H])
                n = torch.tanh(gi[2 * H :] + rz[:H] * gh[2 * H :])
                h = n + rz[H:] * (h - n)  # (1 - z) * n + z * h
                new_state.append((h,))
            else:
                w, b = weights
                h = torch.tanh(torch.addmv(b, w, torch.cat([x, h])))
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
) -> list[int]:
    """``length`` new token ids after ``prime_ids``: the prime is fed once, then one step per token."""
    if not prime_ids:
        raise ScriptgenError("the prime is empty; pass one or more words with --prime, e.g. --prime 'jerry:'")
    check_sampling(length, temperature, top_k, model.output_size)
    sampler = Sampler(model)
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
