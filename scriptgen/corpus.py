"""Stage 1, corpus: read scripts into a list of documents (one per episode or file).

Two kinds of source:

* the default: the Seinfeld transcripts installed by the PyPI package
  ``seinfeld-laugh-corpus`` (subtitle timestamps, ``# SPEAKER`` tags and
  ``**LOL**`` laugh marks).  Each episode becomes script text, one utterance a
  line, ``name: words`` with a lowercase speaker name; timestamps are dropped
  and every laugh becomes a line ``[laughter]`` that the model can learn.
* any UTF-8 text file, or a folder of ``.txt`` files (each file a document).

Run ``python -m scriptgen prepare`` to turn a source into cached token ids, or
use :func:`load_documents` directly::

    docs = load_documents(None)          # the default corpus
    print(docs[0].name, docs[0].text[:200])

Big files need not fit in memory: :func:`iter_text` streams one file's text in
blocks of about 1 MB cut after a newline (decoded incrementally, with the same
checks and messages as :func:`read_text`); ``prepare`` reads user text that way.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import ScriptgenError

DEFAULT_SOURCE = "seinfeld"
LAUGH_CUE = "[laughter]"

_TIMESTAMP = re.compile(r"^-?\d+(?:\.\d+)?$")
_HEBREW = re.compile("[\u0590-\u05ff\u2122\u00d7]")  # signs of UTF-8 read as cp1255
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Document:
    name: str  # episode title or file path relative to the source
    text: str


# --------------------------------------------------------------------------
# The default corpus
# --------------------------------------------------------------------------
def seinfeld_files() -> list[Path]:
    """The episode files of the installed ``seinfeld-laugh-corpus`` package."""
    try:
        import seinfeld_laugh_corpus  # noqa: PLC0415 - optional at import time
    except ImportError:
        raise ScriptgenError(
            "the default corpus needs the package seinfeld-laugh-corpus: "
            "run 'pip install seinfeld-laugh-corpus' or pass --data PATH"
        ) from None
    folder = Path(seinfeld_laugh_corpus.__file__).parent / "the_corpus"
    files = sorted(folder.glob("*.merged"))
    if not files:
        raise ScriptgenError(f"no episodes found in {folder}; reinstall seinfeld-laugh-corpus or pass --data PATH")
    return files


def _cp1252_fallback(err: UnicodeDecodeError) -> tuple[str, int]:
    # bytes that are not UTF-8 were Latin-1/cp1252 text: decode just those
    return err.object[err.start : err.end].decode("cp1252", errors="replace"), err.end


codecs.register_error("scriptgen-cp1252", _cp1252_fallback)


def _fix_mojibake(line: str) -> str:
    """Undo UTF-8 (or Latin-1) text that was once decoded as Hebrew cp1255."""
    if not _HEBREW.search(line):
        return line
    try:
        raw = line.encode("cp1255")
    except UnicodeError:
        return line
    return raw.decode("utf-8", errors="scriptgen-cp1252")


def _decode_episode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="scriptgen-cp1252")  # a few episodes have Latin-1 words


def episode_to_script(raw: str) -> str:
    """Turn one episode of the laugh corpus into ``name: words`` lines."""
    lines: list[str] = []
    speaker = ""
    words: list[str] = []

    def flush() -> None:
        if words:
            text = " ".join(words)
            lines.append(f"{speaker}: {text}" if speaker else text)
            words.clear()

    for line in raw.splitlines():
        line = _fix_mojibake(line).replace("\u266a", " ").replace("\xa0", " ").strip()
        if not line:
            continue
        if line.startswith("#"):
            flush()
            speaker = "".join(line.lstrip("#").split()).lower()
        elif _TIMESTAMP.match(line):
            flush()  # every utterance ends with its end time
        elif line == "**LOL**":
            flush()
            if not lines or lines[-1] != LAUGH_CUE:
                lines.append(LAUGH_CUE)
        else:
            words.append(line)
    flush()
    return "\n".join(lines) + "\n"


def _episode_name(path: Path) -> str:
    # "Seinfeld.S07E06.The.Soup.Nazi.merged" -> "S07E06 The Soup Nazi"
    parts = path.stem.split(".")
    if parts and parts[0].lower() == "seinfeld":
        parts = parts[1:]
    return " ".join(parts)


def load_seinfeld() -> list[Document]:
    return [Document(_episode_name(p), episode_to_script(_decode_episode(p.read_bytes()))) for p in seinfeld_files()]


# --------------------------------------------------------------------------
# User text
# --------------------------------------------------------------------------
def text_files(path: Path) -> list[Path]:
    """The files a ``--data PATH`` names: the file itself, or a folder's ``.txt`` files."""
    if not path.exists():
        raise ScriptgenError(f"data path {str(path)!r} does not exist; pass a UTF-8 text file or a folder of .txt files")
    if path.is_file():
        return [path]
    files = sorted(
        p for p in path.rglob("*.txt") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not files:
        raise ScriptgenError(f"folder {str(path)!r} has no .txt files; put your scripts there as UTF-8 .txt files")
    return files


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


def text_blocks(text: str, size: int | None = None) -> Iterator[str]:
    """Pieces of ``text`` of about ``size`` characters, cut as :func:`_cut` says (tokenizing them equals tokenizing all)."""
    rest = yield from _full_blocks(text, size or BLOCK_SIZE)
    if rest:
        yield rest


def check_encoding(encoding: str) -> str:
    """The codec's canonical name; ScriptgenError for an unknown codec or one that does not decode to text (base64, zlib, ...)."""
    try:
        codec = codecs.lookup(encoding)
        b"\0\0\0\0".decode(codec.name)  # LookupError for the bytes-to-bytes codecs (not for empty input)
    except UnicodeError:
        pass  # a text codec that rejects those bytes
    except LookupError:
        raise ScriptgenError(f"--encoding {encoding!r} is not a known text encoding; use a Python codec name such as utf-8 or latin-1") from None
    return codec.name


def iter_text(path: Path, encoding: str = "utf-8", size: int | None = None) -> Iterator[str]:
    """The text of one user file, streamed in pieces of about ``size`` characters (see :func:`text_blocks`).

    Reads ``size`` bytes at a time and decodes incrementally, so a multibyte
    character split between two reads is whole; line ends become ``\\n`` and a
    leading byte-order mark is dropped.  Binary data (NUL bytes in the first
    8 KB) and undecodable bytes (named by their offset) raise ScriptgenError.
    Joined, the pieces are exactly :func:`read_text`.
    """
    size = size or BLOCK_SIZE

    def read(n: int) -> bytes:
        try:
            return fh.read(n)
        except OSError as exc:
            raise ScriptgenError(f"cannot read {str(path)!r}: {exc.strerror or exc}; check the path and its permissions") from None

    def reads(head: bytes) -> Iterator[bytes]:
        """The file ``size`` bytes at a time (the sniffed head too), then b"" to say it ended."""
        for i in range(0, len(head), size):
            yield head[i : i + size]
        while raw := read(size):
            yield raw
        yield b""

    codec = check_encoding(encoding)
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise ScriptgenError(f"cannot read {str(path)!r}: {exc.strerror or exc}; check the path and its permissions") from None
    with fh:
        head = read(max(size, _SNIFF_BYTES))
        if b"\x00" in head[:_SNIFF_BYTES] and not codec.startswith(("utf-16", "utf-32")):  # their text has NUL bytes
            raise ScriptgenError(f"{str(path)!r} looks binary (it has NUL bytes); pass a plain text file")
        if not head:
            return  # an empty file: no text (whatever the encoding)
        decoder = codecs.getincrementaldecoder(codec)()
        fed = 0  # bytes handed to the decoder so far
        pending = ""  # decoded text not yet handed out
        held_cr = False  # a "\r" at the end of a read: its "\n" may start the next one
        at_start = True  # byte-order marks are still to be dropped
        for raw in reads(head):
            final = not raw
            buffered = len(decoder.getstate()[0])  # undecoded bytes the decoder kept from earlier reads
            try:
                text = decoder.decode(raw, final)
            except UnicodeDecodeError as exc:
                raise ScriptgenError(
                    f"{str(path)!r} is not valid {encoding} (byte {fed - buffered + exc.start}); "
                    f"convert it to UTF-8 or pass --encoding, e.g. --encoding latin-1"
                ) from None
            fed += len(raw)
            if held_cr:
                text = "\r" + text
            held_cr = not final and text.endswith("\r")
            if held_cr:
                text = text[:-1]
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            if at_start and text:
                text = text.lstrip("\ufeff")
                at_start = not text
            pending = yield from _full_blocks(pending + text, size)
        if pending:
            yield pending


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """Read one user file, refusing binary data and undecodable text with a clear message."""
    return "".join(iter_text(path, encoding))


def named_text_files(path: Path) -> list[tuple[str, Path]]:
    """``(document name, file)`` of each file a ``--data PATH`` names; the name is the path relative to the source."""
    root = path if path.is_dir() else path.parent
    return [(str(f.relative_to(root)), f) for f in text_files(path)]


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


def fingerprint(source: str | Path | None) -> str:
    """sha256 over the source's file names and bytes: the cache is rebuilt when it changes."""
    digest = hashlib.sha256()
    folder = Path(source) if source is not None and str(source) != DEFAULT_SOURCE and Path(source).is_dir() else None
    for f in source_files(source):
        digest.update(str(f.relative_to(folder) if folder else f.name).encode() + b"\0")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()
