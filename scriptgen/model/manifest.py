"""The checkpoint folder as bytes on disk: written atomically with its manifest, verified against it on load.

:func:`write_folder` writes a complete new folder beside the old one (``json_bytes`` and ``tensors_to_bytes`` make
the files' bytes) and swaps it in with two renames; files that did not change are hard-linked, not copied, and
``manifest.json`` lists the sha256 of every other file.  :func:`check_loadable` refuses, before anything is written,
a save the loader would refuse as too big.  :func:`verify` checks the manifest and every file's sha256 (regular
files only) before anything of a checkpoint is read; what the files hold is checked in
:mod:`scriptgen.model.checkpoint`.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as st_save

from ..errors import ScriptgenError
from ..files.fsutil import disk_error, recover_folder, replace_folder
from ..files.safeload import JSON_CAP, parse_json, read_bytes, regular_kind, sha256, vocab_cap

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


def loader_caps(vocab_size: int) -> dict[str, int]:
    """The most bytes the loader reads of each JSON file of a checkpoint: a save must stay within them."""
    return {MANIFEST: JSON_CAP, "config.json": JSON_CAP, "trainer.json": JSON_CAP, "cast.json": JSON_CAP,
            "vocab.json": vocab_cap(vocab_size), "tokenizer.json": vocab_cap(vocab_size)}  # fmt: skip


def check_loadable(files: dict[str, bytes], vocab_size: int, records: dict[str, Any] | None = None) -> None:
    """Refuse, before anything is written, a save the loader would refuse as too big (one line naming what is).

    ``records``: the objects behind the JSON files, so the line can name the field that takes the room.
    """
    for name, cap in loader_caps(vocab_size).items():
        if name in files and len(files[name]) > cap:
            part = _largest_part((records or {}).get(name))
            where = f" ({part[0]} takes {part[1]:,} bytes)" if part else ""
            raise ScriptgenError(
                f"the checkpoint's {name} would be {len(files[name]):,} bytes, more than the {cap:,} bytes scriptgen "
                f"loads of it{where}, so the run could never be loaded; shorten that (fewer or shorter names or paths)"
            )


def _largest_part(record: Any, prefix: str = "", depth: int = 3) -> tuple[str, int] | None:
    """The dotted name and JSON size of the biggest field of ``record``, looking ``depth`` levels down."""
    if not isinstance(record, dict) or not record or depth == 0:
        return None
    name, value = max(record.items(), key=lambda kv: len(json_bytes(kv[1])))
    path = f"{prefix}{name}"
    return _largest_part(value, path + ".", depth - 1) or (path, len(json_bytes(value)))


def write_folder(folder: Path, files: dict[str, bytes], keep: tuple[str, ...] = ()) -> None:
    """Replace ``folder`` by one holding ``files`` (+ ``keep`` from the old folder) and a manifest, atomically."""
    folder = Path(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScriptgenError(
            f"cannot create {str(folder.parent)!r}: {exc.strerror}; choose a writable --out-dir"
        ) from None
    recover_folder(folder)
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    links = {}
    old_manifest = read_manifest(folder) if (folder / MANIFEST).exists() else None
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
            f"could not save the checkpoint to {str(folder)!r}: {disk_error(exc)}; free space or choose another "
            "--out-dir (the previous checkpoint is kept)"
        ) from None


# --------------------------------------------------------------------------
# Verifying
# --------------------------------------------------------------------------
RESTORE = "restore the checkpoint or train again"
MANIFEST_ADVICE = f"the checkpoint is damaged, {RESTORE}"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        data = read_bytes(path, JSON_CAP, MANIFEST_ADVICE)
    except FileNotFoundError:
        raise ScriptgenError(
            f"{str(folder)!r} has no {MANIFEST}, so it is not a scriptgen checkpoint folder; pass a folder written by "
            "'scriptgen train' (checkpoints/NAME)"
        ) from None
    manifest = parse_json(data, path, MANIFEST_ADVICE)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ScriptgenError(f"{str(path)!r} is malformed (no 'files' object); {MANIFEST_ADVICE}")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ScriptgenError(f"{str(path)!r} has no format version; restore the checkpoint or train again")
    if version > FORMAT_VERSION:
        raise ScriptgenError(
            f"checkpoint format {version} is newer than this scriptgen reads ({FORMAT_VERSION}); upgrade scriptgen"
        )
    for name, digest in manifest["files"].items():
        if not name or len(name) > 255 or name.startswith(".") or any(c in name for c in "/\\\0"):
            raise ScriptgenError(
                f"{str(path)!r} lists {name[:60]!r}, which cannot be a file of a checkpoint; {MANIFEST_ADVICE}"
            )
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise ScriptgenError(
                f"{str(path)!r} gives {name[:60]!r} a malformed sha256 ({str(digest)[:70]!r}); {MANIFEST_ADVICE}"
            )
    return manifest


def verify(folder: Path, need: tuple[str, ...] = REQUIRED) -> Path:
    """Check the manifest and every file's sha256; return the folder to read.

    Reading changes nothing on disk.  If a save was killed between its two
    renames, the complete previous folder is read where it lies (the next
    save or ``--resume`` puts it back in place).  Only regular files are read:
    a listed file that is a symbolic link, FIFO, device or folder is refused
    without being opened.
    """
    folder = Path(folder)
    if not folder.exists():
        olds = (
            sorted(folder.parent.glob(f".{folder.name}.old-*"), key=lambda p: p.stat().st_mtime)
            if folder.parent.is_dir()
            else []
        )
        if not olds:
            raise ScriptgenError(
                f"checkpoint {str(folder)!r} does not exist; train one with 'scriptgen train --name NAME'"
            )
        folder = olds[-1]
    if not folder.is_dir():
        what = "is a file" if folder.is_file() else "is not a folder"
        raise ScriptgenError(f"checkpoint {str(folder)!r} {what}; pass the checkpoint folder (checkpoints/NAME)")
    manifest = read_manifest(folder)
    lacks = "checkpoint {!r} lacks {}; it is incomplete, train again or restore it"
    for name in need:
        if name not in manifest["files"] or regular_kind(folder / name) == "missing":
            raise ScriptgenError(lacks.format(str(folder), name))
    for name, digest in manifest["files"].items():
        path = folder / name
        try:
            actual = sha256(path, MANIFEST_ADVICE)
        except FileNotFoundError:
            raise ScriptgenError(lacks.format(str(folder), name)) from None
        if actual != digest:
            raise ScriptgenError(
                f"{str(path)!r} does not match its checksum in {MANIFEST} (truncated, damaged or replaced); "
                f"do not use it: restore the checkpoint or train again"
            )
    return folder
