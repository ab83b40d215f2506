"""A trained model's weights as the maps of one generation step, built once, and their fp32 or int8 products.

:class:`scriptgen.writing.sampler.Sampler` calls these when it is made: :func:`_recurrent_maps` (the first layer's
input table, each other layer's fused input and hidden weights; the GRU's kept apart) and :func:`_output_maps` (a
softmax's one map, or an adaptive output's head and tail projections stacked into one) collect the weights as
``nn.Linear`` maps; :func:`_prepare` turns each into one plain call, fp32 with the weight pre-transposed or, under
int8, dynamically quantized when it has at least ``THIN`` inputs (torch's int8 internals are used only in
:func:`_int8_product`, tried once on a probe row).
"""

from __future__ import annotations

import functools
import warnings
from typing import Callable

import torch
from torch import nn

from ..model.rnn import RNN
from ..model.tied import adaptive_weights, softmax_weights

THIN = 256  # maps with fewer inputs stay fp32 under int8 (see Sampler)
INPUT_TABLE_MAX_BYTES = 256 * 2**20  # largest first-layer input table (see Sampler) before falling back to products

Product = Callable[[torch.Tensor], torch.Tensor]  # a prepared map: (1, in) row -> (1, out)


# -- the maps, built once -------------------------------------------------------------------
def _recurrent_maps(model: RNN, embedding: torch.Tensor, maps: nn.ModuleDict) -> torch.Tensor | None:
    """Add each layer's maps to ``maps``; returns the first layer's input table, or None when too big."""
    gru = model.cell == "gru"
    table = None
    for k in range(model.n_layers):
        w_ih, w_hh, b_ih, b_hh = (
            getattr(model.rnn, f"{name}_l{k}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
        if k == 0 and embedding.shape[0] * w_ih.shape[0] * 4 <= INPUT_TABLE_MAX_BYTES:
            # the first layer's input is one of vocab_size embeddings: precompute W_ih e + b for each
            # (vocab_size, gates); a step then reads one row instead of multiplying by W_ih
            table = torch.addmm(b_ih if gru else b_ih + b_hh, embedding, w_ih.t())
            if gru:
                maps["hh0"] = _linear(w_hh, b_hh)
            else:
                maps["l0"] = _linear(w_hh, None)
        elif gru:
            maps[f"ih{k}"] = _linear(w_ih, b_ih)
            maps[f"hh{k}"] = _linear(w_hh, b_hh)
        else:
            maps[f"l{k}"] = _linear(torch.cat([w_ih, w_hh], dim=1), b_ih + b_hh)
    return table


def _output_maps(model: RNN, maps: nn.ModuleDict) -> dict | None:
    """Add the output's maps to ``maps``; returns what an adaptive output's step needs, None for a softmax."""
    fc = model.fc
    if model.output != "adaptive":
        maps["out"] = _linear(*softmax_weights(fc))  # a tied projection folded in: E P
        return None
    head, tails = adaptive_weights(fc)  # torch's adaptive output or the tied one (model/tied.py) alike
    # the head and every tail's first projection read the same vector: one stacked product
    maps["first"] = _linear(torch.cat([head] + [proj for proj, _ in tails]), None)
    for i, (_, words) in enumerate(tails):
        maps[f"tail{i}"] = _linear(words, None)
    tail_sizes = [proj.shape[0] for proj, _ in tails]
    return {
        "head_size": fc.head_size,
        "shortlist": fc.shortlist_size,
        "tail_sizes": tail_sizes,
        "cutoffs": fc.cutoffs,
        "split": [fc.head_size] + tail_sizes,  # of the stacked product
    }


def _linear(weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    layer.weight.copy_(weight.detach())
    if bias is not None:
        layer.bias.copy_(bias.detach())
    return layer.eval()


def _prepare(maps: nn.ModuleDict, precision: str) -> dict[str, Product]:
    """Each map's product as one plain call; under int8 the wide maps are replaced by int8 copies in ``maps``."""
    products = {}
    for name, layer in list(maps.items()):
        # Generating one token multiplies a single row by every weight matrix: the time goes into reading the
        # weights from memory, so int8 weights (a quarter of the bytes) are faster even with their
        # quantize/dequantize steps.  Thin maps gain nothing and lose precision, so they stay fp32.
        if precision == "int8" and layer.in_features >= THIN:
            maps[name], products[name] = _int8_product(layer)
        else:
            products[name] = _fp32_product(layer)
    return products


def _fp32_product(layer: nn.Linear) -> Product:
    """``layer`` on a (1, in) row without ``Module.__call__``.

    The weight is stored transposed, (in, out): a row times it streams the
    matrix in memory order, faster than ``F.linear``'s matrix-vector product
    for batch 1 on the CPU.
    """
    weight_t = layer.weight.detach().t().contiguous()  # (in, out)
    if layer.bias is None:
        return functools.partial(torch.mm, mat2=weight_t)
    bias = layer.bias.detach().unsqueeze(0)  # (1, out)
    return lambda x: torch.addmm(bias, x, weight_t)


def _int8_product(layer: nn.Linear) -> tuple[nn.Module, Product]:
    """An int8 copy of the fp32 ``layer`` and its product on a (1, in) row: the only use of torch's int8 internals.

    The fast product calls fbgemm's op on the packed weight directly, as the
    quantized module's ``forward`` does for qint8 (module version 4 and
    later), skipping ``Module.__call__`` and the module's Python checks (about
    20 us per call on a small CPU, several calls per token).  Those names are
    private and may change in any torch release, so they are tried once here,
    on a probe row: the op must give the module's own result, else the module
    is called; and where this torch cannot quantize or run the module, the map
    stays fp32 (the exact model, only slower).
    """
    probe = torch.linspace(-1.0, 1.0, layer.in_features).unsqueeze(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
            from torch.ao.quantization import quantize_dynamic

            module = quantize_dynamic(nn.Sequential(layer), {nn.Linear}, dtype=torch.qint8)[0]
            expected = module(probe)
    except Exception as exc:  # any failure here only costs speed
        warnings.warn(
            f"int8 weights are unavailable on torch {torch.__version__} ({exc!r}); this map stays fp32", RuntimeWarning
        )
        return layer, _fp32_product(layer)
    try:
        if (getattr(module, "version", None) or 0) < 4:
            raise ValueError("an older packed format: its forward calls the op with other arguments")
        op, packed = torch.ops.quantized.linear_dynamic, module._packed_params._packed_params
        if torch.equal(op(probe, packed, True), expected):  # True: reduce_range, as forward passes it
            return module, lambda x: op(x, packed, True)
    except Exception:  # a missing or changed private name: the module's public call gives the same numbers
        pass
    return module, module.forward
