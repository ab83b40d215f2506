"""One user file's text: opened as a regular file only, decoded, and streamed in blocks cut at a blank.

:func:`iter_text` streams one file's text in blocks of about 1 MB cut after a
newline (decoded incrementally, with the same checks and messages as
:func:`read_text`), so big files need not fit in memory; :func:`text_blocks`
cuts text already in memory the same way (tokenizing the blocks one by one
equals tokenizing the whole); :func:`check_encoding` vets an ``--encoding``.

Files from real disks: only regular files are opened, through
:func:`scriptgen.files.safeload.open_fd` (a FIFO, device or socket is named and
refused, never opened, so nothing blocks; a symbolic link to a regular file is
read); an unreadable file or a failed read is named with its OS error; text that
cannot be stored (a lone surrogate, as ``unicode_escape`` or ``utf-7`` can give)
is refused with its line.  :func:`shown` quotes a path for such a message.
:mod:`scriptgen.data.corpus` lists a source's files and makes documents of them.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import ScriptgenError
from ..files.safeload import NotRegular, open_regular

_SNIFF_BYTES = 8192
_SURROGATE = re.compile("[\ud800-\udfff]")  # text that cannot be written as UTF-8 (a lone surrogate)
_ESCAPED_BYTE = re.compile(r"(?<!\\)((?:\\\\)*)\\udc([89a-f][0-9a-f])")  # repr() of a file name's undecodable byte


# --------------------------------------------------------------------------
# One file from a real disk: regular files only, every refusal one line
# --------------------------------------------------------------------------
def shown(path: str | Path) -> str:
    """A path quoted for a one-line message; bytes of its name that are not UTF-8 appear as ``\\xff``."""
    return _ESCAPED_BYTE.sub(r"\1\\x\2", repr(str(path)))


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


def _decode_all(path: Path, raw: bytes, encoding: str) -> str:
    decoder = _TextDecoder(path, check_encoding(encoding), encoding)
    return decoder.decode(raw) + decoder.decode(b"")
