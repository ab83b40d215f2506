"""Checkpoints: safe, portable, atomic folders.

A checkpoint is a folder ``checkpoints/NAME/`` with

* ``model.safetensors`` - weights of the best model (lowest validation loss);
* ``config.json`` - hyperparameters, vocabulary size, data source, its hash and the split;
* ``vocab.json`` - the tokens, most frequent first;
* ``trainer.safetensors`` + ``trainer.json`` - the last training state (weights,
  Adam moments, hidden state, RNG, step, data position) for ``--resume``;
* ``history.csv`` and ``loss.png`` - the learning curves;
* ``manifest.json`` - format version and the sha256 of every other file.

Nothing here unpickles: tensors go through safetensors and the rest is JSON.
Loading verifies the manifest, so a truncated, bit-flipped or swapped file is
refused with a clear message.  Saving writes a complete new folder beside the
old one and swaps it in with two renames; files that did not change are
hard-linked, not copied.  At every moment either the new or the old complete
folder is on disk, and :func:`fsutil.recover_folder` puts the old one back after a crash
between the renames.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .config import Config
from .errors import ScriptgenError
from .fsutil import disk_error, recover_folder, replace_folder
from .model import RNN
from .tokens import Vocab

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
REQUIRED = ("model.safetensors", "config.json", "vocab.json")


# --------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------
def tensors_to_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> bytes:
    """safetensors bytes of CPU copies (tied weights become two plain tensors)."""
    plain = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    return st_save(plain, metadata=metadata)


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def write_folder(folder: Path, files: dict[str, bytes], keep: tuple[str, ...] = ()) -> None:
    """Replace ``folder`` by one holding ``files`` (+ ``keep`` from the old folder) and a manifest, atomically."""
    folder = Path(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScriptgenError(f"cannot create {str(folder.parent)!r}: {exc.strerror}; choose a writable --out-dir") from None
    recover_folder(folder)
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    links = {}
    old_manifest = _read_manifest(folder) if (folder / MANIFEST).exists() else None
    for name in keep:
        if name in files or not (folder / name).exists() or old_manifest is None or name not in old_manifest["files"]:
            continue
        links[name] = folder / name
        digests[name] = old_manifest["files"][name]
    manifest = {"format_version": FORMAT_VERSION, "files": dict(sorted(digests.items()))}
    try:
        replace_folder(folder, {**files, MANIFEST: json_bytes(manifest)}, links)
    except OSError as exc:
        raise ScriptgenError(
            f"could not save the checkpoint to {str(folder)!r}: {disk_error(exc)}; free space or choose another --out-dir (the previous checkpoint is kept)"
        ) from None


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------
def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScriptgenError(
            f"{str(folder)!r} has no {MANIFEST}, so it is not a scriptgen checkpoint folder; pass a folder written by 'scriptgen train' (checkpoints/NAME)"
        ) from None
    except (OSError, ValueError):
        raise ScriptgenError(f"{str(path)!r} is damaged; restore the checkpoint or train again") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ScriptgenError(f"{str(path)!r} is malformed; restore the checkpoint or train again")
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise ScriptgenError(f"{str(path)!r} has no format version; restore the checkpoint or train again")
    if version > FORMAT_VERSION:
        raise ScriptgenError(
            f"checkpoint format {version} is newer than this scriptgen reads ({FORMAT_VERSION}); upgrade scriptgen"
        )
    return manifest


def verify(folder: Path, need: tuple[str, ...] = REQUIRED) -> Path:
    """Check the manifest and every file's sha256; return the folder to read.

    Reading changes nothing on disk.  If a save was killed between its two
    renames, the complete previous folder is read where it lies (the next
    save or ``--resume`` puts it back in place).
    """
    folder = Path(folder)
    if not folder.exists():
        olds = sorted(folder.parent.glob(f".{folder.name}.old-*"), key=lambda p: p.stat().st_mtime) if folder.parent.is_dir() else []
        if not olds:
            raise ScriptgenError(f"checkpoint {str(folder)!r} does not exist; train one with 'scriptgen train --name NAME'")
        folder = olds[-1]
    if not folder.is_dir():
        raise ScriptgenError(f"checkpoint {str(folder)!r} is a file; pass the checkpoint folder (checkpoints/NAME)")
    manifest = _read_manifest(folder)
    for name in need:
        if name not in manifest["files"] or not (folder / name).exists():
            raise ScriptgenError(f"checkpoint {str(folder)!r} lacks {name}; it is incomplete, train again or restore it")
    for name, digest in manifest["files"].items():
        path = folder / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise ScriptgenError(f"checkpoint {str(folder)!r} lacks {name}; it is incomplete, train again or restore it")
        if _sha256(path) != digest:
            raise ScriptgenError(
                f"{str(path)!r} does not match its checksum in {MANIFEST} (truncated, damaged or replaced); "
                f"do not use it: restore the checkpoint or train again"
            )
    return folder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ScriptgenError(f"{str(path)!r} is not valid JSON; the checkpoint is damaged, restore it or train again") from None


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file; anything else is refused (never unpickled)."""
    try:
        return st_load(Path(path).read_bytes())
    except (SafetensorError, ValueError, RuntimeError, OSError) as exc:
        raise ScriptgenError(f"{str(path)!r} is not a valid safetensors file ({_short(exc)}); use a checkpoint written by scriptgen") from None


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


@dataclass
class Checkpoint:
    folder: Path
    config: Config
    vocab: Vocab
    info: dict  # the rest of config.json: vocab_size, data, metrics, versions

    def build_model(self, device: torch.device | str = "cpu", which: str = "best") -> RNN:
        """The model with the best (default) or last weights, on ``device``."""
        path = self.folder / ("model.safetensors" if which == "best" else "trainer.safetensors")
        tensors = read_tensors(path)
        if which != "best":
            tensors = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
        model = RNN.from_config(self.config, len(self.vocab))
        load_weights(model, tensors, path)
        return model.to(device).eval()


def load_weights(model: RNN, tensors: dict[str, torch.Tensor], path: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ScriptgenError(
            f"{str(path)!r} holds other weights than its config.json describes "
            f"(missing {missing[:3]}, unexpected {extra[:3]}); the checkpoint is inconsistent, restore it or train again"
        )
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise ScriptgenError(
                f"weight {name} in {str(path)!r} has shape {tuple(tensor.shape)}, but config.json and vocab.json "
                f"need {tuple(expected[name].shape)}; the files come from different models, restore the checkpoint or train again"
            )
        if not tensor.dtype.is_floating_point and expected[name].dtype.is_floating_point:
            raise ScriptgenError(f"weight {name} in {str(path)!r} is not floating point; the checkpoint is damaged, restore it or train again")
    model.load_state_dict(tensors)


def load_checkpoint(folder: str | Path) -> Checkpoint:
    """Verify and read a checkpoint folder (config and vocabulary; weights via build_model)."""
    folder = verify(Path(folder))
    info = read_json(folder / "config.json")
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
        raise ScriptgenError(f"{str(folder / 'config.json')!r} is malformed (no 'config' object); restore it or train again")
    config = Config.from_dict(info["config"])
    try:
        config.validate()
    except ScriptgenError as exc:
        raise ScriptgenError(f"{str(folder / 'config.json')!r} holds an impossible setting ({exc}); restore the checkpoint or train again") from None
    vocab = Vocab.from_json(read_json(folder / "vocab.json"))
    if info.get("vocab_size") != len(vocab):
        raise ScriptgenError(
            f"vocab.json has {len(vocab)} tokens but config.json says {info.get('vocab_size')}; "
            f"the files come from different checkpoints, restore the checkpoint or train again"
        )
    return Checkpoint(folder, config, vocab, info)


def load_model(folder: str | Path, device: torch.device | str = "cpu") -> tuple[RNN, Vocab, Config]:
    """The best model of a checkpoint, ready for generation, with its vocabulary and config."""
    ckpt = load_checkpoint(folder)
    return ckpt.build_model(device), ckpt.vocab, ckpt.config
