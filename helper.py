"""The classic course's helper functions, on safe formats (JSON, numpy, safetensors; no pickle).

    import helper
    text = helper.load_data()                 # the default corpus as script text
    helper.preprocess_and_save_data(None, token_lookup, create_lookup_tables)
    int_text, vocab_to_int, int_to_vocab, token_dict = helper.load_preprocess()
    pad_id = vocab_to_int[helper.SPECIAL_WORDS["PADDING"]]   # fills the course's generation window
    helper.save_model("checkpoints/trained_rnn", rnn)
    rnn = helper.load_model("checkpoints/trained_rnn")

Everything is a thin wrapper over the ``scriptgen`` package.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import torch

from scriptgen.data.corpus import load_documents
from scriptgen.errors import ScriptgenError
from scriptgen.files.fsutil import write_bytes
from scriptgen.files.safeload import read_bytes, read_json
from scriptgen.model.checkpoint import meta_shapes, read_tensors
from scriptgen.model.manifest import tensors_to_bytes
from scriptgen.model.rnn import RNN

PREPROCESS_DIR = Path("data") / "preprocess"
# Words that are in the vocabulary without being in the text, as in the course:
# its generate() pads the prediction window with vocab_to_int[SPECIAL_WORDS["PADDING"]].
SPECIAL_WORDS = {"PADDING": "<PAD>"}
_SAVE_AGAIN = "save the model with helper.save_model"
_PREPROCESS_AGAIN = "run helper.preprocess_and_save_data again"


def load_data(path: str | os.PathLike | None = None) -> str:
    """The text of ``path`` (file or folder of .txt), or of the default Seinfeld corpus when None."""
    return "".join(doc.text for doc in load_documents(path))


def preprocess_and_save_data(dataset_path, token_lookup, create_lookup_tables, out_dir=PREPROCESS_DIR) -> None:
    """Tokenize as the course does and save ids, lookup tables and the token dict under ``out_dir``.

    The lookup tables are built from the words plus the values of
    :data:`SPECIAL_WORDS` (the course's rule), so ``<PAD>`` has an id though
    it never occurs in ``int_text``.  The text is lowercased before they are
    added, so a ``<pad>`` in the text stays a word of its own.
    """
    text = load_data(dataset_path)
    token_dict = token_lookup()
    for symbol, token in token_dict.items():
        text = text.replace(symbol, f" {token} ")
    words = text.lower().split()
    vocab_to_int, int_to_vocab = create_lookup_tables(words + list(SPECIAL_WORDS.values()))
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
    lookup = read_json(out / "lookup.json", None, _PREPROCESS_AGAIN)  # a regular file only (a FIFO cannot block)
    if (
        not isinstance(lookup, dict)
        or not isinstance(lookup.get("int_to_vocab"), list)
        or not isinstance(lookup.get("token_dict"), dict)
    ):
        raise ScriptgenError(
            f"{str(out / 'lookup.json')!r} is not what preprocess_and_save_data writes; {_PREPROCESS_AGAIN}"
        )
    try:
        int_text = np.load(
            io.BytesIO(read_bytes(out / "ids.npy", None, _PREPROCESS_AGAIN)), allow_pickle=False
        ).tolist()
    except (FileNotFoundError, ValueError, EOFError):
        raise ScriptgenError(f"{str(out / 'ids.npy')!r} is missing or not a numpy array; {_PREPROCESS_AGAIN}") from None
    int_to_vocab = dict(enumerate(lookup["int_to_vocab"]))
    vocab_to_int = {w: i for i, w in int_to_vocab.items()}
    missing = [w for w in SPECIAL_WORDS.values() if w not in vocab_to_int]
    if missing:
        raise ScriptgenError(
            f"{str(out / 'lookup.json')!r} lacks the special word {missing[0]!r} (it was made before "
            f"helper.SPECIAL_WORDS); {_PREPROCESS_AGAIN}"
        )
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
    hparams = read_json(
        base.with_suffix(".json"), advice=_SAVE_AGAIN
    )  # a regular file of at most 1 MiB (a FIFO cannot block)
    if not isinstance(hparams, dict):
        raise ScriptgenError(f"{str(base.with_suffix('.json'))!r} is not a JSON object of RNN arguments; {_SAVE_AGAIN}")
    try:
        want = meta_shapes(
            lambda: RNN(**hparams)
        )  # on the meta device: a .json declaring a huge model allocates nothing

        def check(header: dict) -> None:  # runs on the file's header, before any tensor is created
            got = {name: info.shape for name, info in header.items()}
            if got != want:
                diff = sorted(set(want) ^ set(got)) or [n for n in want if want[n] != got[n]]
                raise ValueError(f"weights {diff[:3]} differ in name or shape")

        tensors = read_tensors(base.with_suffix(".safetensors"), check)
        model = RNN(**hparams)
        model.load_state_dict(tensors)
    except (TypeError, ValueError, RuntimeError, OverflowError) as exc:
        why = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ScriptgenError(
            f"{str(base)!r}: the weights and the RNN arguments do not fit ({why}); {_SAVE_AGAIN}"
        ) from None
    return model.to(device)
