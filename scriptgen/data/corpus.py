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

Big files need not fit in memory: :func:`iter_text` streams one file's text in
blocks of about 1 MB cut after a newline (decoded incrementally, with the same
checks and messages as :func:`read_text`); ``prepare`` reads user text that way.

Files from real disks: only regular files are opened, through
:func:`scriptgen.files.safeload.open_fd` (a FIFO, device or socket is named and
refused, never opened, so nothing blocks; a symbolic link to a regular file is
read); an unreadable file is named with its OS error; a file name that is not
UTF-8 becomes a document named with ``\\xff`` escapes; text that cannot be
stored (a lone surrogate, as ``unicode_escape`` or ``utf-7`` can give) is
refused with its line.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import stat
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import ScriptgenError
from ..files.safeload import NotRegular, file_kind, open_regular
from .screenplay.elements import Screenplay
from .screenplay.formats import SUFFIXES, format_of, read_screenplay
from .seinfeld import LAUGH_CUE as LAUGH_CUE  # re-exported: the default corpus's names, importable from here too
from .seinfeld import episode_to_script as episode_to_script
from .seinfeld import read_episodes, seinfeld_files

DEFAULT_SOURCE = "seinfeld"
CORPUS_SUFFIXES = tuple(SUFFIXES)  # .txt, and the screenplays' .fountain, .spmd, .fdx, .pdf

_SNIFF_BYTES = 8192
_SURROGATE = re.compile("[\ud800-\udfff]")  # text that cannot be written as UTF-8 (a lone surrogate)
_ESCAPED_BYTE = re.compile(r"(?<!\\)((?:\\\\)*)\\udc([89a-f][0-9a-f])")  # repr() of a file name's undecodable byte


@dataclass(frozen=True)
class Document:
    name: str  # episode title or file path relative to the source
    text: str


def load_seinfeld() -> list[Document]:
    """The default corpus: one document per episode (see :mod:`scriptgen.data.seinfeld`)."""
    return [Document(name, text) for name, text in read_episodes()]


# --------------------------------------------------------------------------
# Files from real disks: odd names, unreadable files, FIFOs and devices
# --------------------------------------------------------------------------
def shown(path: str | Path) -> str:
    """A path quoted for a one-line message; bytes of its name that are not UTF-8 appear as ``\\xff``."""
    return _ESCAPED_BYTE.sub(r"\1\\x\2", repr(str(path)))


def document_name(name: str) -> str:
    """A file name as text that can be stored: bytes that are not UTF-8 become ``\\xff`` escapes."""
    return os.fsencode(name).decode("utf-8", errors="backslashreplace")


def _refused(path: Path, exc: NotRegular | OSError | ValueError) -> ScriptgenError:
    """One line naming ``path`` and why it is not read: what it is, or the OS error."""
    if isinstance(exc, NotRegular) and not exc.replaced:
        return ScriptgenError(f"{shown(path)} is {exc.kind}, not a text file; remove it, or pass plain text files only")
    if isinstance(exc, NotRegular):
        reason = f"it was replaced by {exc.kind} while being opened"
    elif isinstance(exc, FileNotFoundError) and os.path.islink(path):
        reason = "it is a symbolic link to nothing"
    else:
        reason = getattr(exc, "strerror", None) or str(exc)
    return ScriptgenError(f"cannot read {shown(path)}: {reason}; check the path and its permissions")


def _stat(path: Path) -> os.stat_result:
    try:
        return os.stat(path)
    except (OSError, ValueError) as exc:
        raise _refused(path, exc) from None


def _check_regular(path: Path) -> None:
    mode = _stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise _refused(path, NotRegular(file_kind(mode)))


def open_text_file(path: Path) -> BinaryIO:
    """``path`` opened for reading if it is a regular file (or a link to one), by the one opener of hostile files,
    :func:`scriptgen.files.safeload.open_regular`; a FIFO or device is refused unopened, every refusal one line."""
    return os.fdopen(open_regular(path, follow_links=True, words=_refused), "rb")


def _read_block(fh: BinaryIO, path: Path, n: int) -> bytes:
    """Up to ``n`` bytes of ``fh``; an OS error (EIO, ...) becomes one ScriptgenError line naming ``path``."""
    try:
        return fh.read(n)
    except OSError as exc:
        raise _refused(path, exc) from None


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
# User text
# --------------------------------------------------------------------------
BLOCK_SIZE = 1 << 20  # read and hand out user text about 1 MB at a time
_SPACE_BREAK = re.compile(r"[\n \t]")


def _cut(text: str, size: int) -> int:
    """Where to cut ``text`` so its first piece is about ``size`` characters: after a newline, else a space or tab.

    Tokenizing the pieces one by one then equals tokenizing the whole (a newline
    or an ASCII blank ends every token and breaks every case mapping's context).
    0 means no break yet: wait for more text.
    """
    cut = text.rfind("\n", 0, size) + 1
    if not cut:
        cut = max(text.rfind(" ", 0, size), text.rfind("\t", 0, size)) + 1
    if not cut:
        found = _SPACE_BREAK.search(text, size)
        cut = found.end() if found else 0
    return cut


def _full_blocks(text: str, size: int) -> Generator[str, None, str]:
    """Pieces of about ``size`` characters while more than ``size`` remain and a cut is found; returns the rest."""
    while len(text) > size:
        cut = _cut(text, size)
        if not cut:
            break
        yield text[:cut]
        text = text[cut:]
    return text


class _Pieces:
    """:func:`_full_blocks` of text that arrives in parts, in time linear in its length.

    Text held back because no cut was found in it holds no blank at all, so it is never scanned
    again: the next cut is the first blank of the text that follows (what :func:`_cut` would find
    in the whole), and a 50 MB line without a blank is read in one pass, not rescanned at each read.
    """

    def __init__(self, size: int):
        self.size = size
        self.pending = ""  # at most ``size`` characters not yet handed out (blanks possible)
        self.unbroken: list[str] = []  # or: a longer stretch without any blank, in the parts it came in

    def feed(self, text: str) -> Iterator[str]:
        if self.unbroken:
            found = _SPACE_BREAK.search(text)
            if found is None:
                self.unbroken.append(text)
                return
            yield "".join(self.unbroken) + text[: found.end()]
            self.unbroken, text = [], text[found.end() :]
        rest = yield from _full_blocks(self.pending + text, self.size)
        if len(rest) > self.size:  # no cut: not one blank in it
            self.pending, self.unbroken = "", [rest]
        else:
            self.pending = rest

    def rest(self) -> str:
        return "".join(self.unbroken) or self.pending


def text_blocks(text: str, size: int | None = None) -> Iterator[str]:
    """Pieces of ``text`` of about ``size`` characters, cut as :func:`_cut` says (tokenizing them equals tokenizing
    all)."""
    rest = yield from _full_blocks(text, size or BLOCK_SIZE)
    if rest:
        yield rest


def check_encoding(encoding: str) -> str:
    """The codec's canonical name; ScriptgenError for an unknown codec or one that does not decode to text (base64,
    zlib, ...)."""
    try:
        codec = codecs.lookup(encoding)
        b"\0\0\0\0".decode(codec.name)  # LookupError for the bytes-to-bytes codecs (not for empty input)
    except UnicodeError:
        pass  # a text codec that rejects those bytes
    except LookupError:
        raise ScriptgenError(
            f"--encoding {encoding!r} is not a known text encoding; use a Python codec name such as utf-8 or latin-1"
        ) from None
    return codec.name


class _TextDecoder:
    """Decodes one file's reads in turn: line ends become ``\\n``, a leading byte-order mark is dropped,
    and undecodable bytes or text that cannot be stored (a lone surrogate) raise ScriptgenError."""

    def __init__(self, path: Path, codec: str, encoding: str):
        self.path, self.codec, self.encoding = path, codec, encoding
        self.decoder = codecs.getincrementaldecoder(codec)()
        self.fed = 0  # bytes handed to the decoder so far
        self.lines = 0  # newlines handed out so far
        self.held_cr = False  # a "\r" at the end of a read: its "\n" may start the next one
        self.at_start = True  # byte-order marks are still to be dropped

    def decode(self, raw: bytes) -> str:
        """The text of the next read ``raw``; ``b""`` says the file ended."""
        text = ("\r" if self.held_cr else "") + self._decode(raw, not raw)
        self.held_cr = bool(raw) and text.endswith("\r")
        text = (text[:-1] if self.held_cr else text).replace("\r\n", "\n").replace("\r", "\n")
        if self.at_start and text:
            text = text.lstrip("\ufeff")
            self.at_start = not text
        self._check_storable(text)
        return text

    def _decode(self, raw: bytes, final: bool) -> str:
        buffered = len(self.decoder.getstate()[0])  # undecoded bytes the decoder kept from earlier reads
        try:
            text = self.decoder.decode(raw, final)
        except UnicodeDecodeError as exc:
            raise ScriptgenError(
                f"{shown(self.path)} is not valid {self.encoding} (byte {self.fed - buffered + exc.start}); "
                f"convert it to UTF-8 or pass --encoding, e.g. --encoding latin-1"
            ) from None
        except UnicodeError as exc:  # utf-16 or utf-32 without a byte-order mark
            hint = f", e.g. --encoding {self.codec}-le or {self.codec}-be" if self.codec in ("utf-16", "utf-32") else ""
            what = f"{shown(self.path)} cannot be read as {self.encoding} ({exc})"
            raise ScriptgenError(f"{what}; convert it to UTF-8 or pass another --encoding{hint}") from None
        self.fed += len(raw)
        return text

    def _check_storable(self, text: str) -> None:
        found = _SURROGATE.search(text)
        if found:
            line = self.lines + text.count("\n", 0, found.start()) + 1
            raise ScriptgenError(
                f"{shown(self.path)} read as {self.encoding} gives a lone surrogate U+{ord(found.group()):04X} (line "
                f"{line}), which is not text that can be stored; convert the file to UTF-8 or pass another --encoding"
            )
        self.lines += text.count("\n")


def iter_text(path: Path, encoding: str = "utf-8", size: int | None = None) -> Iterator[str]:
    """The text of one user file, streamed in pieces of about ``size`` characters (see :func:`text_blocks`).

    Reads ``size`` bytes at a time and decodes incrementally, so a multibyte
    character split between two reads is whole; line ends become ``\\n`` and a
    leading byte-order mark is dropped.  Binary data (NUL bytes in the first
    8 KB), undecodable bytes (named by their offset), text that cannot be
    stored, a file that is not a regular file and a failed read raise
    ScriptgenError.  Joined, the pieces are exactly :func:`read_text`.
    """
    size = size or BLOCK_SIZE
    codec = check_encoding(encoding)
    with open_text_file(path) as fh:
        head = _read_block(fh, path, max(size, _SNIFF_BYTES))
        if b"\x00" in head[:_SNIFF_BYTES] and not codec.startswith(("utf-16", "utf-32")):  # their text has NUL bytes
            raise ScriptgenError(f"{shown(path)} looks binary (it has NUL bytes); pass a plain text file")
        if not head:
            return  # an empty file: no text (whatever the encoding)
        decoder = _TextDecoder(path, codec, encoding)
        pieces = _Pieces(size)
        for raw in _reads(fh, path, head, size):
            yield from pieces.feed(decoder.decode(raw))
        rest = pieces.rest()
        if rest:
            yield rest


def _reads(fh: BinaryIO, path: Path, head: bytes, size: int) -> Iterator[bytes]:
    """The file ``size`` bytes at a time (the sniffed ``head`` first), then b"" to say it ended."""
    for i in range(0, len(head), size):
        yield head[i : i + size]
    while raw := _read_block(fh, path, size):
        yield raw
    yield b""


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """Read one user file, refusing binary data and undecodable text with a clear message."""
    return "".join(iter_text(path, encoding))


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


def _decode_all(path: Path, raw: bytes, encoding: str) -> str:
    decoder = _TextDecoder(path, check_encoding(encoding), encoding)
    return decoder.decode(raw) + decoder.decode(b"")
