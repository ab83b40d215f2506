"""Shared pieces of the benchmarks: the default corpus split, machine facts, FLOP counts, JSON output."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scriptgen import RNN, Config, prepare  # noqa: E402
from scriptgen.device import cpu_fields, cpu_flags  # noqa: E402


def default_split(data: str | None = None, level: str = "word", data_dir: str = "data"):
    """(prepared, train_ids, val ranges) of the default corpus with the default seeded split."""
    cfg = Config(level=level)
    prepared = prepare(data, cfg.level, cfg.min_count, data_dir, log=lambda m: print(m, file=sys.stderr))
    split = prepared.split(cfg.val_fraction, cfg.split_seed)
    return prepared, np.asarray(prepared.stream(split.train), dtype=np.int64), split


def heldout_texts(ckpt, data_dir, labels) -> dict[str, list[str]]:
    """The decoded held-out documents of each of ``labels`` in a labelled checkpoint's corpus (what a genre
    classifier is fitted on)."""
    from scriptgen.data.labels import document_labels

    prepared = prepare(ckpt.info["data"]["source"], data_dir=data_dir, labels=True, log=lambda m: None)
    split = prepared.split(ckpt.config.val_fraction, ckpt.config.split_seed)
    held = {(s, e) for s, e in split.val}
    texts: dict[str, list[str]] = {label: [] for label in labels}
    for doc in prepared.documents:
        if (doc["start"], doc["end"]) in held:
            ids = prepared.ids[doc["start"] : doc["end"]].tolist()
            texts[document_labels(doc)[0]].append(prepared.vocab.decode(ids))
    return texts


# the CPU flags that decide how fast training runs here (fp32 on AVX2 only, bf16 autocast with AVX-512 BF16 or AMX):
# machines that share a model name ("AMD EPYC") differ in these, so every figure names them
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "avx512_vnni", "amx_bf16", "amx_tile")


def machine() -> dict:
    cpu = cpu_fields().get("model name") or platform.processor() or platform.machine()
    info = {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__}
    flags = cpu_flags()
    info["cpu_flags"] = [f for f in SPEED_FLAGS if f in flags]
    capability = getattr(torch.backends.cpu, "get_cpu_capability", None)
    if capability is not None:
        info["cpu_capability"] = capability()  # what torch's kernels use: "AVX2", "AVX512", ...
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def rnn_macs_per_token(model: RNN) -> int:
    """Multiply-adds of the recurrent layers for one token (forward)."""
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[model.cell]
    macs, width = 0, model.embedding.embedding_dim
    for _ in range(model.n_layers):
        macs += gates * model.hidden_dim * (width + model.hidden_dim)
        width = model.hidden_dim
    return macs


def output_macs_per_token(model: RNN) -> int:
    """Multiply-adds of the output layer for one scored position (forward, training: target's clusters only on average
    ~ head)."""
    if model.output == "adaptive":
        fc = model.fc
        macs = fc.head.in_features * fc.head.out_features
        for (
            tail
        ) in fc.tail:  # every tail cluster is evaluated for the positions that fall in it; count all (upper bound)
            macs += sum(layer.in_features * layer.out_features for layer in tail)
        return macs
    return model.fc.in_features * model.fc.out_features


def matmul_peak_gflops(
    device: torch.device, dtype: torch.dtype = torch.float32, n: int = 2048, seconds: float = 3.0
) -> float:
    """GFLOP/s of a large square matrix product: the most this machine's kernels deliver."""
    import time

    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    for _ in range(2):
        a @ b  # warm up
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    sync()
    return 2 * n**3 * count / (time.perf_counter() - start) / 1e9


def save_curves(path: str, curves: list[tuple[str, list[tuple[float, float]]]], xlabel: str, ylabel: str) -> None:
    """A PNG of validation curves, one (label, [(x, loss), ...]) per contender."""
    from matplotlib.figure import Figure

    from scriptgen.training.plots import figure_png

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot()
    for label, points in curves:
        ax.plot(*zip(*points), "o-", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with open(path, "wb") as fh:
        fh.write(figure_png(fig))


def emit(result: dict) -> None:
    print(json.dumps(result))
