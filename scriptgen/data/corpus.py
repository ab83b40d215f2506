"""Stage 1, corpus: read scripts into a list of documents (one per episode or file).

Two kinds of source:

* the default, ``"seinfeld"``: the episodes of the Seinfeld laugh corpus,
  converted to ``name: words`` lines by :mod:`scriptgen.data.seinfeld`;
* any text file, or a folder of ``.txt`` files (each file a document),
  UTF-8 or another ``--encoding``: read here.

Run ``python -m scriptgen prepare [--data PATH]`` to turn a source into cached
token ids, or use :func:`load_documents` directly::

    docs = load_documents(None)          # the default corpus
    print(docs[0].name, docs[0].text[:200])

This module lists a source's files and makes documents of them; one file's
text is opened, decoded and streamed by :mod:`scriptgen.data.text` (big files
need not fit in memory: ``prepare`` reads user text through its
:func:`~scriptgen.data.text.iter_text`).

Files from real disks: a folder's listing names a FIFO, device, socket or
broken link it holds (never skipped, never opened); an unreadable folder or file
is named with its OS error; a file name that is not UTF-8 becomes a document
named with ``\\xff`` escapes.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import ScriptgenError
from ..files.safeload import NotRegular, file_kind
from .screenplay.elements import Screenplay
from .screenplay.formats import SUFFIXES, format_of, read_screenplay
from .seinfeld import LAUGH_CUE as LAUGH_CUE  # re-exported: the default corpus's names, importable from here too
from .seinfeld import episode_to_script as episode_to_script
from .seinfeld import read_episodes, seinfeld_files
from .text import _SURROGATE, _decode_all, _read_block, _refused, open_text_file, read_text, shown

DEFAULT_SOURCE = "seinfeld"
CORPUS_SUFFIXES = tuple(SUFFIXES)  # .txt, and the screenplays' .fountain, .spmd, .fdx, .pdf


@dataclass(frozen=True)
class Document:
    name: str  # episode title or file path relative to the source
    text: str


def load_seinfeld() -> list[Document]:
    """The default corpus: one document per episode (see :mod:`scriptgen.data.seinfeld`)."""
    return [Document(name, text) for name, text in read_episodes()]


# --------------------------------------------------------------------------
# A source's files on real disks: odd names, unreadable files, FIFOs and devices
# --------------------------------------------------------------------------
def document_name(name: str) -> str:
    """A file name as text that can be stored: bytes that are not UTF-8 become ``\\xff`` escapes."""
    return os.fsencode(name).decode("utf-8", errors="backslashreplace")


def _stat(path: Path) -> os.stat_result:
    try:
        return os.stat(path)
    except (OSError, ValueError) as exc:
        raise _refused(path, exc) from None


def _check_regular(path: Path) -> None:
    mode = _stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise _refused(path, NotRegular(file_kind(mode)))


def _folder_files(root: Path) -> list[Path]:
    """The ``.txt`` (and screenplay) files under ``root`` (not hidden ones, not under hidden folders or symbolic links
    to folders)."""

    def unreadable(exc: OSError) -> None:
        raise _refused(Path(exc.filename or root), exc)

    files = []
    for folder, subfolders, names in os.walk(root, onerror=unreadable):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        for name in names:
            if name.lower().endswith(CORPUS_SUFFIXES) and not name.startswith("."):
                files.append(Path(folder, name))
                _check_regular(files[-1])  # a FIFO, device or broken link is named, not skipped
    return sorted(files)


def text_files(path: Path) -> list[Path]:
    """The files a ``--data PATH`` names: the file itself, or a folder's ``.txt`` files."""
    if _SURROGATE.search(str(path)):
        raise ScriptgenError(
            f"data path {shown(path)} is not valid UTF-8, and runs record it as text; rename it or link to it under a "
            "UTF-8 name"
        )
    if not os.path.lexists(path):
        raise ScriptgenError(
            f"data path {str(path)!r} does not exist; pass a UTF-8 text file or a folder of .txt files"
        )
    mode = _stat(path).st_mode
    if stat.S_ISREG(mode):
        return [path]
    if not stat.S_ISDIR(mode):
        raise ScriptgenError(
            f"data path {shown(path)} is {file_kind(mode)}, not a file or folder; pass a UTF-8 text file or a folder "
            "of .txt files"
        )
    files = _folder_files(path)
    if not files:
        raise ScriptgenError(
            f"folder {str(path)!r} has no .txt files (nor .fountain, .fdx or .pdf screenplays); "
            f"put your scripts there as UTF-8 .txt files"
        )
    return files


# --------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------
def named_text_files(path: Path) -> list[tuple[str, Path]]:
    """``(document name, file)`` of each file a ``--data PATH`` names; the name is the path relative to the source."""
    root = path if path.is_dir() else path.parent
    return [(document_name(str(f.relative_to(root))), f) for f in text_files(path)]


def no_text_error(path: Path) -> ScriptgenError:
    what = "file" if path.is_file() else "folder's .txt files"
    return ScriptgenError(f"the {what} at {str(path)!r} holds no text; pass a corpus with some scripts in it")


def load_text_source(path: Path, encoding: str = "utf-8") -> list[Document]:
    docs = [Document(name, read_text(f, encoding)) for name, f in named_text_files(path)]
    docs = [d for d in docs if d.text.strip()]
    if not docs:
        raise no_text_error(path)
    return docs


def load_documents(source: str | Path | None, encoding: str = "utf-8") -> list[Document]:
    """Documents of ``source``: None or ``"seinfeld"`` means the default corpus."""
    if source is None or str(source) == DEFAULT_SOURCE:
        return load_seinfeld()
    return load_text_source(Path(source), encoding)


def source_files(source: str | Path | None) -> list[Path]:
    if source is None or str(source) == DEFAULT_SOURCE:
        return seinfeld_files()
    return text_files(Path(source))


def fingerprint(source: str | Path | None, files: list[Path] | None = None) -> str:
    """sha256 over the source's file names (their bytes on disk) and contents: the cache is rebuilt when it changes.

    ``files`` are the :func:`source_files` of ``source``, when the caller has listed them already.
    """
    digest = hashlib.sha256()
    folder = Path(source) if source is not None and str(source) != DEFAULT_SOURCE and Path(source).is_dir() else None
    for f in source_files(source) if files is None else files:
        digest.update(os.fsencode(f.relative_to(folder) if folder else f.name) + b"\0")
        with open_text_file(f) as fh:
            while block := _read_block(fh, f, 1 << 20):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


# --------------------------------------------------------------------------
# Screenplays
# --------------------------------------------------------------------------
def file_format(path: Path, fmt: str = "auto") -> str:
    """The reader a corpus file gets (:func:`scriptgen.data.screenplay.formats.format_of`): its extension, then its
    first 64 KB."""
    if fmt != "auto":
        return fmt
    with open_text_file(path) as fh:
        head = _read_block(fh, path, 65536)
    return format_of(path.suffix, head)


def read_screenplay_file(path: Path, fmt: str, encoding: str = "utf-8") -> Screenplay:
    """One screenplay file read whole (within its size cap) into elements; every refusal one line naming it."""
    from .screenplay.formats import MAX_BYTES

    size = _stat(path).st_size
    if size > MAX_BYTES:
        raise ScriptgenError(f"{shown(path)} is {size:,} bytes, more than {MAX_BYTES:,}; a screenplay is far smaller")
    with open_text_file(path) as fh:
        data = _read_block(fh, path, MAX_BYTES + 1)
    return read_screenplay(data, fmt, shown(path), lambda raw: _decode_all(path, raw, encoding))
