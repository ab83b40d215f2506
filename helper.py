"""The classic course's helper functions, on safe formats (JSON, numpy, safetensors; no pickle).

    import helper
    text = helper.load_data()                 # the default corpus as script text
    helper.preprocess_and_save_data(None, token_lookup, create_lookup_tables)
    int_text, vocab_to_int, int_to_vocab, token_dict = helper.load_preprocess()
    helper.save_model("checkpoints/trained_rnn", rnn)
    rnn = helper.load_model("checkpoints/trained_rnn")

Everything is a thin wrapper over the ``scriptgen`` package.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from scriptgen.checkpoint import read_tensors, tensors_to_bytes
from scriptgen.corpus import load_documents
from scriptgen.errors import ScriptgenError
from scriptgen.fsutil import write_bytes
from scriptgen.model import RNN

PREPROCESS_DIR = Path("data") / "preprocess"


def load_data(path: str | os.PathLike | None = None) -> str:
    """The text of ``path`` (file or folder of .txt), or of the default Seinfeld corpus when None."""
    return "".join(doc.text for doc in load_documents(path))


def preprocess_and_save_data(dataset_path, token_lookup, create_lookup_tables, out_dir=PREPROCESS_DIR) -> None:
    """Tokenize as the course does and save ids, lookup tables and the token dict under ``out_dir``."""
    text = load_data(dataset_path)
    token_dict = token_lookup()
    for symbol, token in token_dict.items():
        text = text.replace(symbol, f" {token} ")
    words = text.lower().split()
    vocab_to_int, int_to_vocab = create_lookup_tables(words)
    int_text = np.asarray([vocab_to_int[w] for w in words], dtype=np.int64)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_bytes(out / "ids.npy", lambda fh: np.save(fh, int_text))
    vocab = [int_to_vocab[i] for i in range(len(int_to_vocab))]
    write_bytes(out / "lookup.json", json.dumps({"int_to_vocab": vocab, "token_dict": token_dict}).encode())


def load_preprocess(out_dir=PREPROCESS_DIR):
    """``(int_text, vocab_to_int, int_to_vocab, token_dict)`` saved by preprocess_and_save_data."""
    out = Path(out_dir)
    if not (out / "lookup.json").exists():
        raise ScriptgenError(f"no preprocessed data in {str(out)!r}; run helper.preprocess_and_save_data first")
    lookup = json.loads((out / "lookup.json").read_text(encoding="utf-8"))
    int_text = np.load(out / "ids.npy", allow_pickle=False).tolist()
    int_to_vocab = dict(enumerate(lookup["int_to_vocab"]))
    vocab_to_int = {w: i for i, w in int_to_vocab.items()}
    return int_text, vocab_to_int, int_to_vocab, lookup["token_dict"]


def save_model(filename, decoder: RNN) -> None:
    """Weights to ``filename.safetensors`` and constructor arguments to ``filename.json``."""
    base = Path(str(filename).removesuffix(".safetensors").removesuffix(".pt"))
    base.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(base.with_suffix(".safetensors"), tensors_to_bytes(decoder.state_dict()))
    write_bytes(base.with_suffix(".json"), json.dumps(decoder.hparams, indent=1).encode())


def load_model(filename, device: str | torch.device = "cpu") -> RNN:
    """The RNN saved by save_model (never unpickles anything)."""
    base = Path(str(filename).removesuffix(".safetensors").removesuffix(".pt"))
    try:
        hparams = json.loads(base.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ScriptgenError(f"{str(base.with_suffix('.json'))!r} is missing or not JSON; save the model with helper.save_model") from None
    tensors = read_tensors(base.with_suffix(".safetensors"))
    model = RNN(**hparams)
    model.load_state_dict(tensors)
    return model.to(device)
