"""Checkpoints: safe, portable, atomic folders.

A checkpoint is a folder ``checkpoints/NAME/`` with

* ``model.safetensors`` - weights of the best model (lowest validation loss);
* ``config.json`` - hyperparameters, vocabulary size, data source, its hash and the split,
  and the neural cache fitted for the best weights (``"cache"``, :mod:`scriptgen.model.cache`), if any;
* ``vocab.json`` - the tokens, most frequent first;
* ``tokenizer.json`` - at ``--level bpe`` only: the byte-level BPE tokenizer (:mod:`scriptgen.data.bpe`), in the
  Hugging Face format, its ids the model's;
* ``cast.json`` - the corpus's speakers with their line counts and its action
  lines (:class:`scriptgen.data.script.Cast`); optional: older checkpoints lack it;
* ``trainer.safetensors`` + ``trainer.json`` - the last training state (weights,
  Adam moments, hidden state, RNG, step, data position) for ``--resume``;
* ``history.csv`` and ``loss.png`` - the learning curves;
* ``manifest.json`` - format version and the sha256 of every other file.

Nothing here unpickles: tensors go through safetensors and the rest is JSON.
Loading verifies the manifest, so a truncated, bit-flipped or swapped file is
refused with a clear message.  Loading never hangs, never exhausts memory and
never prints a traceback: only regular files are opened (no FIFO, device,
folder or symbolic link), every JSON file has a size cap and every field is
checked (see :mod:`scriptgen.files.safeload`), and the shapes in the weights file's
header are compared with the config before any tensor or model is allocated.
Any bad input is one :class:`ScriptgenError` line naming the file and field.

Saving writes a complete new folder beside the old one and swaps it in with
two renames; files that did not change are hard-linked, not copied.  At every
moment either the new or the old complete folder is on disk, and
:func:`fsutil.recover_folder` puts the old one back after a crash between the
renames.  The folder's bytes (the atomic write, the manifest and the sha256
check) are :mod:`scriptgen.model.manifest`; this module reads what the files
hold: config.json field by field, the weights against it, the vocabulary and
cast, and builds the model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from torch.overrides import TorchFunctionMode

from ..config import Config, config_fields
from ..data.bpe import TOKENIZER_FILE, load_vocab, read_tokenizer
from ..data.conditions import label_tokens
from ..data.labels import MAX_LABELS, read_labels
from ..data.script import Cast
from ..data.tokens import Vocab
from ..errors import ScriptgenError
from ..files.safeload import FLOAT_DTYPES, TensorInfo, parse_header, read_bytes, read_header, read_json, vocab_cap
from .cache import CacheSettings
from .manifest import RESTORE, json_bytes, read_manifest, verify, write_folder
from .rnn import RNN

WEIGHTS_ADVICE = "use a checkpoint written by scriptgen"


def read_tensors(path: Path, check: Callable[[dict[str, TensorInfo]], None] | None = None) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file; anything else is refused (never unpickled).

    The header is parsed and checked first (and passed to ``check``, which may
    refuse it); only then are tensors created.
    """
    path = Path(path)
    try:
        data = read_bytes(path, None, WEIGHTS_ADVICE)
    except FileNotFoundError:
        raise ScriptgenError(f"{str(path)!r} does not exist; {WEIGHTS_ADVICE}") from None
    header = parse_header(data, len(data), path)
    if check is not None:
        check(header)
    try:
        return st_load(data)
    except (SafetensorError, ValueError, RuntimeError, OSError) as exc:
        raise ScriptgenError(
            f"{str(path)!r} is not a valid safetensors file ({_short(exc)}); {WEIGHTS_ADVICE}"
        ) from None


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


# --------------------------------------------------------------------------
# config.json and the weights it describes
# --------------------------------------------------------------------------
_JSON_TYPES = {
    int: "a whole number",
    float: "a number",
    str: "a string",
    bool: "true or false",
    list: "a list",
    dict: "an object",
}


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def _has_type(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def read_config(info: Any, path: Path) -> tuple[Config, int]:
    """The config and vocabulary size of a checkpoint's config.json, each field checked (one line names a bad one)."""

    def bad(why: str) -> ScriptgenError:
        return ScriptgenError(f"{str(path)!r} is malformed ({why}); {RESTORE}")

    def field_is(where: str, value: Any, kind: type) -> None:
        if not _has_type(value, kind):
            raise bad(f"{where} is {str(value)[:40]!r} ({_json_kind(value)}), not {_JSON_TYPES[kind]}")

    if not isinstance(info, dict):
        raise bad(f"it is {_json_kind(info)}, not an object")
    for key in ("config", "vocab_size", "data"):
        if key not in info:
            raise bad(f"the field {key!r} is missing")
    raw = info["config"]
    field_is("'config'", raw, dict)
    fields = {f.name: f.type for f in config_fields()}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise bad(f"'config' holds unknown keys {unknown[:5]}; a newer scriptgen may have written it")
    for name, value in raw.items():
        field_is(f"'config.{name}'", value, fields[name])
    if "condition" not in raw:  # written before labels could condition every step: label tokens only
        raw = {**raw, "condition": "token"}
    config = Config.from_dict(raw)
    try:
        config.validate()
    except ScriptgenError as exc:
        raise ScriptgenError(f"{str(path)!r} holds an impossible setting ({exc}); {RESTORE}") from None
    vocab_size = info["vocab_size"]
    field_is("'vocab_size'", vocab_size, int)
    if not 1 <= vocab_size < 2**31:
        raise bad(f"'vocab_size' is {vocab_size}, not between 1 and {2**31 - 1}")
    data = info["data"]
    field_is("'data'", data, dict)
    for key in ("source", "fingerprint"):
        if key not in data:
            raise bad(f"the field 'data.{key}' is missing")
        field_is(f"'data.{key}'", data[key], str)
    if "encoding" in data:
        field_is("'data.encoding'", data["encoding"], str)
    return config, vocab_size


class _SkipInit(TorchFunctionMode):
    """Skip parameter initialisation of meta tensors: it fills nothing, and ``normal_`` on meta imports torch._dynamo
    (~1 s)."""

    OPS = frozenset(
        (
            "normal_ uniform_ zero_ fill_ trunc_normal_ constant_ zeros_ ones_ orthogonal_ kaiming_uniform_ "
            "kaiming_normal_ xavier_uniform_"
        ).split()
    )

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") in self.OPS:
            target = next((a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)), None)
            if target is not None and target.is_meta:
                return target
        return func(*args, **kwargs)


def meta_shapes(build) -> dict[str, tuple[int, ...]]:
    """Name -> shape of the state dict of the model ``build()`` makes, built on the meta device (nothing is
    allocated)."""
    with torch.device("meta"), _SkipInit():
        return {name: tuple(t.shape) for name, t in build().state_dict().items()}


def expected_weights(config: Config, vocab_size: int, source: Path, n_labels: int = 0) -> dict[str, tuple[int, ...]]:
    """Name -> shape of the state dict of the model ``config`` describes (with ``n_labels`` genre labels), built on
    the meta device (nothing is allocated)."""
    try:
        return meta_shapes(lambda: RNN.from_config(config, vocab_size, n_labels))
    except ScriptgenError as exc:
        raise ScriptgenError(f"{str(source)!r} describes no buildable model ({exc}); {RESTORE}") from None
    except (ValueError, RuntimeError, TypeError, OverflowError) as exc:
        raise ScriptgenError(f"{str(source)!r} describes no buildable model ({_short(exc)}); {RESTORE}") from None


def check_weights(
    path: Path,
    header: dict[str, TensorInfo],
    config: Config,
    vocab_size: int,
    source: Path,
    prefix: str = "",
    n_labels: int = 0,
) -> None:
    """Refuse weights (from their safetensors header) whose names, shapes or dtypes differ from what ``config`` builds.

    ``prefix`` selects part of the file ("model." in trainer.safetensors).  This
    runs before any tensor or model is allocated, so a config describing a huge
    model is refused in milliseconds.
    """
    want = expected_weights(config, vocab_size, source, n_labels)
    got = {name[len(prefix) :]: info for name, info in header.items() if name.startswith(prefix)}
    n_want, n_got = sum(math.prod(s) for s in want.values()), sum(info.numel for info in got.values())
    counts = f"{source.name} describes {n_want:,} parameters, the file holds {n_got:,}"
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    if missing or extra:
        raise ScriptgenError(
            f"{str(path)!r} holds other weights than its {source.name} describes (missing {missing[:3]}, unexpected "
            f"{extra[:3]}; {counts}); the checkpoint is inconsistent, restore it or train again"
        )
    for name, shape in want.items():
        info = got[name]
        if info.shape != shape:
            raise ScriptgenError(
                f"weight {prefix}{name} in {str(path)!r} has shape {info.shape}, but {source.name} (vocab_size "
                f"{vocab_size}) needs {shape} ({counts}); the files come from different models, restore the checkpoint "
                "or train again"
            )
        if info.dtype not in FLOAT_DTYPES:
            raise ScriptgenError(
                f"weight {prefix}{name} in {str(path)!r} is {info.dtype}, not floating point; the checkpoint is "
                f"damaged, {RESTORE}"
            )


@dataclass
class Checkpoint:
    folder: Path
    config: Config
    vocab: Vocab
    info: dict  # the rest of config.json: vocab_size, data, metrics, versions
    cast: Cast | None = None  # cast.json: who speaks how often in the corpus; None for a checkpoint older than it
    labels: dict[str, int] | None = (
        None  # genre label -> documents (config.json's data.labels); None: trained without labels
    )

    @property
    def form(self) -> str:
        """``"screenplay"`` when the model learned screenplays (their canonical text), else ``"transcript"``."""
        data = self.info.get("data")
        return "screenplay" if isinstance(data, dict) and data.get("form") == "screenplay" else "transcript"

    @property
    def roles(self) -> bool:
        """Whether its screenplays' characters were role tokens (``ROLE1`` ...: :mod:`scriptgen.data.roles`); False for
        a checkpoint older than roles."""
        data = self.info.get("data")
        return isinstance(data, dict) and data.get("roles") is True

    @property
    def cache(self) -> CacheSettings | None:
        """The neural cache fitted for the best weights (config.json's ``"cache"``), or None when it has none."""
        if self.info.get("cache") is None:
            return None
        return CacheSettings.from_json(self.info["cache"], repr(str(self.folder / "config.json")))

    def build_model(self, device: torch.device | str = "cpu", which: str = "best") -> RNN:
        """The model with the best (default) or last weights, on ``device``.

        The weights file's header is checked against the config before any
        tensor is read or the model is built.
        """
        best = which == "best"
        path = self.folder / ("model.safetensors" if best else "trainer.safetensors")
        prefix = "" if best else "model."

        def check(header: dict[str, TensorInfo]) -> None:
            check_weights(
                path, header, self.config, len(self.vocab), self.folder / "config.json", prefix, len(self.labels or ())
            )

        check(read_header(path, RESTORE))  # the header alone: cheap, before the whole file is read
        tensors = read_tensors(path, check)  # and again on the very bytes that are loaded
        if not best:
            tensors = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        model = RNN.from_config(self.config, len(self.vocab), len(self.labels or ()))
        load_weights(model, tensors, path)
        model.unsampled = model.label_tokens = label_tokens(self.vocab)  # label tokens are read, never written
        return model.to(device).eval()


def load_weights(model: RNN, tensors: dict[str, torch.Tensor], path: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ScriptgenError(
            f"{str(path)!r} holds other weights than its config.json describes "
            f"(missing {missing[:3]}, unexpected {extra[:3]}); the checkpoint is inconsistent, restore it or train "
            "again"
        )
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise ScriptgenError(
                f"weight {name} in {str(path)!r} has shape {tuple(tensor.shape)}, but config.json and vocab.json "
                f"need {tuple(expected[name].shape)}; the files come from different models, restore the checkpoint or "
                "train again"
            )
        if not tensor.dtype.is_floating_point and expected[name].dtype.is_floating_point:
            raise ScriptgenError(
                f"weight {name} in {str(path)!r} is not floating point; the checkpoint is damaged, restore it or train "
                "again"
            )
    model.load_state_dict(tensors)


def load_checkpoint(folder: str | Path) -> Checkpoint:
    """Verify and read a checkpoint folder (config and vocabulary; weights via build_model).

    Order matters: the manifest and checksums, then config.json (capped,
    every field checked), then model.safetensors' header against the config
    (nothing allocated), and only then vocab.json, whose cap grows with the
    vocabulary size the weights have just confirmed.
    """
    folder = verify(Path(folder))
    path = folder / "config.json"
    info = read_json(path)
    config, vocab_size = read_config(info, path)
    weights = folder / "model.safetensors"
    labels = info["data"].get("labels")  # checked against the vocabulary below (read_labels)
    n_labels = len(labels) if isinstance(labels, dict) and len(labels) <= MAX_LABELS else 0
    check_weights(weights, read_header(weights, RESTORE), config, vocab_size, path, n_labels=n_labels)
    vocab_path = folder / "vocab.json"
    vocab = load_vocab(
        read_json(vocab_path, vocab_cap(vocab_size)), lambda: _read_tokenizer(folder, vocab_size), repr(str(vocab_path))
    )
    if len(vocab) != vocab_size:
        raise ScriptgenError(
            f"vocab.json has {len(vocab)} tokens but config.json says {vocab_size}; "
            f"the files come from different checkpoints, restore the checkpoint or train again"
        )
    return Checkpoint(folder, config, vocab, info, _read_cast(folder), read_labels(info, vocab, repr(str(path))))


def _read_tokenizer(folder: Path, vocab_size: int) -> str:
    """tokenizer.json's text, which a bpe vocabulary needs: listed in the manifest (so its sha256 was checked), within
    the vocabulary's cap."""
    if TOKENIZER_FILE not in read_manifest(folder)["files"]:
        raise ScriptgenError(f"checkpoint {str(folder)!r} lacks {TOKENIZER_FILE}; it is incomplete, {RESTORE}")
    return read_tokenizer(folder / TOKENIZER_FILE, vocab_cap(vocab_size), f"the checkpoint is damaged, {RESTORE}")


def _read_cast(folder: Path) -> Cast | None:
    """cast.json when the manifest lists it (its sha256 is checked by then), else None."""
    if "cast.json" not in read_manifest(folder)["files"]:
        return None
    return Cast.from_json(read_json(folder / "cast.json"))


def record_cache(folder: str | Path, settings: CacheSettings) -> None:
    """Write ``settings`` into the checkpoint's config.json (``"cache"``), every other file kept as it is."""
    folder = verify(Path(folder))
    info = read_json(folder / "config.json")
    info["cache"] = settings.to_json()
    write_folder(folder, {"config.json": json_bytes(info)}, keep=tuple(read_manifest(folder)["files"]))


def load_model(folder: str | Path, device: torch.device | str = "cpu") -> tuple[RNN, Vocab, Config]:
    """The best model of a checkpoint, ready for generation, with its vocabulary and config."""
    ckpt = load_checkpoint(folder)
    return ckpt.build_model(device), ckpt.vocab, ckpt.config
