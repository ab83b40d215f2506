"""The Sampler's guard around torch's private int8 calls: each fallback samples what the model would."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import torch

from scriptgen import RNN
from scriptgen.writing.draw import make_generator
from scriptgen.writing.sampler import Sampler

products_module = importlib.import_module("scriptgen.writing.products")

PRIME = [3, 1, 4, 1, 5, 9, 2, 6]


def _model(cell: str, output: str) -> RNN:
    torch.manual_seed(4)
    return RNN(600, 600, 32, 64, 2, dropout=0.0, cell=cell, output=output, cutoffs=[100, 300]).eval()


def _run(sampler: Sampler) -> tuple[torch.Tensor, list[int]]:
    sampler.feed(PRIME)
    prime_logits = sampler.logits.clone()
    return prime_logits, sampler.sample(40, 0.9, 0, make_generator(5))


def _is_int8(module) -> bool:
    return type(module).__module__.startswith("torch.ao.nn.quantized")


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("output", ["softmax", "adaptive"])
def test_a_failing_private_op_falls_back_to_the_module_with_the_same_tokens(cell, output, monkeypatch):
    monkeypatch.setattr(products_module, "THIN", 1)  # quantize every map of this small model
    model = _model(cell, output)
    fast = Sampler(model, "int8")
    assert all(product != fast.maps[name].forward for name, product in fast._maps.items())  # the direct op
    real = torch.ops.quantized.linear_dynamic

    def fast_call_fails(*args, **kwargs):
        if len(args) == 3:  # the direct call passes reduce_range by position; the module's forward by name
            raise RuntimeError("linear_dynamic changed in this torch")
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.ops.quantized, "linear_dynamic", fast_call_fails)
    guarded = Sampler(model, "int8")
    assert all(_is_int8(m) for m in guarded.maps.values())
    assert all(product == guarded.maps[name].forward for name, product in guarded._maps.items())
    expected_logits, expected_tokens = _run(fast)
    logits, tokens = _run(guarded)
    assert torch.equal(logits, expected_logits) and tokens == expected_tokens


def _quantize_fails(*args, **kwargs):
    raise RuntimeError("torch.ao.quantization has moved")


def _op_missing(*args, **kwargs):
    raise AttributeError("'_OpNamespace' 'quantized' object has no attribute 'linear_dynamic'")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("failure", ["quantize_dynamic fails", "the op is missing"])
def test_int8_unavailable_keeps_the_fp32_maps(cell, failure, monkeypatch):
    """Where this torch cannot quantize or run an int8 map at all, int8 samples from the exact fp32 maps."""
    monkeypatch.setattr(products_module, "THIN", 1)
    if failure == "quantize_dynamic fails":
        monkeypatch.setattr(torch.ao.quantization, "quantize_dynamic", _quantize_fails)
    else:
        monkeypatch.setattr(torch.ops.quantized, "linear_dynamic", _op_missing)
    model = _model(cell, "adaptive")
    with pytest.warns(RuntimeWarning, match="stays fp32"):
        fallback = Sampler(model, "int8")
    assert not any(_is_int8(m) for m in fallback.maps.values())
    expected_logits, expected_tokens = _run(Sampler(model, "fp32"))
    logits, tokens = _run(fallback)
    assert torch.allclose(logits, expected_logits, atol=1e-5) and tokens == expected_tokens


@pytest.mark.parametrize(
    "first", ["scriptgen", "scriptgen.writing.generate", "scriptgen.writing.sampler", "scriptgen.writing.interactive"]
)
def test_the_package_generate_stays_the_function(first):
    """The submodule scriptgen.writing.generate must not shadow the function, at the package face (scriptgen.generate)
    or at the stage's (scriptgen.writing.generate), whatever is imported first."""
    code = (
        f"import {first}\nimport scriptgen, scriptgen.writing.generate, scriptgen.writing.interactive\n"
        "from scriptgen import generate\n"
        "assert callable(generate) and scriptgen.generate is generate and scriptgen.writing.generate is generate\n"
        "assert generate.__module__ == 'scriptgen.writing.generate'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_temperatures_far_below_the_greedy_bound_are_greedy_decoding(precision):
    """1e-300 would scale the scores to infinity (NaN probabilities, one token forever); it is the greedy limit."""
    model = _model("lstm", "adaptive")
    outputs = []
    for temperature in (1e-300, 1e-4):
        sampler = Sampler(model, precision)
        sampler.feed([1, 2, 3])
        outputs.append(sampler.sample(30, temperature, 0, make_generator(0)))
    greedy = Sampler(model, precision)
    greedy.feed([1, 2, 3])
    expected = []
    for _ in range(30):  # argmax of the step's scores, one token at a time
        logits = greedy.logits
        expected.append(int(logits.argmax()))
        greedy.feed([expected[-1]])
    assert outputs[0] == outputs[1] == expected


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_snapshot_restore_and_stepping(precision):
    """restore() puts back the exact state a snapshot took; stepping() runs sample()'s steps and gives the thread count
    back."""
    model = _model("lstm", "adaptive")
    sampler = Sampler(model, precision)
    sampler.feed(PRIME)
    snapshot = sampler.snapshot()
    first = sampler.sample(25, 0.9, 0, make_generator(1))
    sampler.restore(snapshot)
    assert sampler.sample(25, 0.9, 0, make_generator(1)) == first
    sampler.restore(snapshot)
    threads, logits, stepped = torch.get_num_threads(), sampler.logits.clone(), []
    with sampler.stepping() as step:
        for token in first:  # the same tokens through the bare step: the same scores as sample() saw
            stepped.append(int(logits.argmax()))
            logits = step(torch.tensor([token]))[0].clone()
    assert torch.get_num_threads() == threads
    greedy = Sampler(model, precision)
    greedy.restore(snapshot)
    assert stepped[0] == int(greedy.logits.argmax())
    sampler.restore(snapshot)
    sampler.feed(first)
    assert (
        torch.equal(sampler.logits, logits)
        if precision == "int8"
        else torch.allclose(sampler.logits, logits, atol=1e-5)
    )
