"""Reading files that may be hostile: no hang, no memory blow-up, no traceback, no unpickling.

Everything scriptgen loads from a checkpoint or a prepared-data cache goes
through these readers, and corpus files are opened by the same :func:`open_fd`:

* :func:`open_fd` is the one place that opens a file which may be hostile.  A
  FIFO, device, socket or folder (and, unless ``follow_links``, a symbolic
  link) is refused from ``os.lstat``/``os.stat`` *before* it is opened
  (opening a FIFO blocks until a writer comes, that is forever); the file is
  then opened with ``O_NONBLOCK`` (and ``O_NOFOLLOW``) and checked again with
  ``fstat``, so one swapped in between is refused too.  It raises
  :class:`NotRegular` and OS errors; :func:`open_regular` words them, for checkpoint
  files by default and for corpus files in the corpus's own words;
* :func:`read_bytes` refuses a file larger than its cap before reading a byte;
* :func:`read_json` turns every parse failure (syntax, encoding, numbers of
  thousands of digits, nesting deeper than :data:`MAX_DEPTH`) into one
  :class:`ScriptgenError` line naming the file;
* :func:`read_header` / :func:`parse_header` read a safetensors header (an
  8-byte little-endian length, then JSON) and check every tensor's dtype, shape
  and byte range against the file's size without reading or allocating a
  tensor, so shapes can be compared with a config before any weight is loaded.

The caps (bytes), far above what scriptgen writes and far below what could
exhaust memory:

==========================  =========================================  ==============================
file                        cap                                        scriptgen writes
==========================  =========================================  ==============================
manifest.json               1 MiB  (:data:`JSON_CAP`)                  ~1 KiB
config.json, trainer.json   1 MiB  (:data:`JSON_CAP`)                  ~2 KiB
vocab.json                  1 MiB + 256 bytes per token of             ~12 bytes per token
                            ``vocab_size`` (:func:`vocab_cap`)         (1M tokens: ~12 MiB, cap 257 MiB)
safetensors header          16 MiB (:data:`HEADER_CAP`)                ~100 bytes per tensor
data/NAME/meta.json         1 MiB + 256 bytes per source file + 6      ~80 bytes per document
                            per byte of its path (:func:`meta_cap`)
data/NAME/vocab.json        as a checkpoint's vocab.json               ~12 bytes per token
==========================  =========================================  ==============================

    header = read_header(Path("checkpoints/seinfeld/model.safetensors"))   # {name: TensorInfo}
    info = read_json(Path("checkpoints/seinfeld/config.json"))
    fd = open_fd(Path("notes.txt"), follow_links=True)                       # or NotRegular / OSError
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ScriptgenError

MiB = 1 << 20
JSON_CAP = 1 * MiB  # manifest.json, config.json, trainer.json
VOCAB_BASE_CAP = 1 * MiB
VOCAB_BYTES_PER_TOKEN = 256
META_BYTES_PER_DOCUMENT = 256  # a document's entry in a prepared meta.json, besides its name
# and its roles (--roles): 8 role -> name pairs, a name of at most 40 characters of up to 12 bytes each as JSON escapes
# them (scriptgen.data.roles.MAX_ROLES, scriptgen.data.script.MAX_CUE_CHARS), a key and an indent each
ROLES_BYTES_PER_DOCUMENT = 8 * (40 * 12 + 32)
HEADER_CAP = 16 * MiB  # a safetensors header (the safetensors library itself allows 100 MB)
MAX_DEPTH = 64  # JSON nesting; scriptgen writes at most 4 levels
DAMAGED = "the checkpoint is damaged, restore it or train again"

# bytes per element of the safetensors dtypes scriptgen can meet
DTYPE_SIZES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")

_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def vocab_cap(vocab_size: int) -> int:
    """The size cap of a vocab.json holding ``vocab_size`` tokens."""
    return VOCAB_BASE_CAP + VOCAB_BYTES_PER_TOKEN * max(int(vocab_size), 0)


def meta_cap(paths: Iterable[str | Path]) -> int:
    """The size cap of a prepared corpus's meta.json whose documents come from the files ``paths``.

    A document's entry holds its name, at most the file's path, which JSON's
    ``\\u`` escapes make at most 6 bytes per byte.
    """
    per_document = META_BYTES_PER_DOCUMENT + ROLES_BYTES_PER_DOCUMENT
    return JSON_CAP + sum(per_document + 6 * len(os.fsencode(p)) for p in paths)


def file_kind(mode: int) -> str:
    """What a file of ``mode`` is in words ("a FIFO (named pipe)", "a folder", ...), for one that is not a regular
    file."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _fail(path: Path, problem: str, advice: str) -> ScriptgenError:
    return ScriptgenError(f"{str(path)!r} {problem}; {advice}")


def _too_big(path: Path, size: str, cap: int, advice: str) -> ScriptgenError:
    """An over-cap refusal: it says the file is too big, not that it is damaged (its content is never looked at)."""
    advice = advice.removeprefix("the checkpoint is damaged, ")
    return _fail(path, f"{size} more than the {cap:,} bytes such a file may hold: too big to be read", advice)


def regular_kind(path: Path) -> str | None:
    """None when ``path`` is a regular file (not a symlink), else what it is ("missing", "a FIFO (named pipe)", ...)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError):
        return "unreadable"
    return None if stat.S_ISREG(mode) else file_kind(mode)


class NotRegular(Exception):
    """What :func:`open_fd` raises for a path that is not a regular file: ``kind`` says what it is
    ("a FIFO (named pipe)", ...); ``replaced`` when it became that while being opened."""

    def __init__(self, kind: str, replaced: bool = False):
        super().__init__(kind)
        self.kind, self.replaced = kind, replaced


def open_fd(path: Path, follow_links: bool = False) -> int:
    """A read-only descriptor of the regular file ``path``; anything else raises :class:`NotRegular` unopened.

    ``os.lstat`` (``os.stat`` when ``follow_links``: a corpus may link to its
    files) says what ``path`` is *before* it is opened, so a FIFO, device,
    socket, folder or (unless ``follow_links``) symbolic link is never opened;
    then ``O_NONBLOCK`` (and ``O_NOFOLLOW``) and an ``fstat`` of the same inode
    make sure nothing swapped in meanwhile can block either.  OS errors
    (``OSError``, ``ValueError`` for a NUL in the name) propagate for the
    caller to word, as every refusal here does: this is the one place that
    opens a file which may be hostile.
    """
    before = os.stat(path) if follow_links else os.lstat(path)
    if not stat.S_ISREG(before.st_mode):
        raise NotRegular(file_kind(before.st_mode))
    try:
        fd = os.open(
            path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_links:
            raise NotRegular("a symbolic link", replaced=True) from None
        raise
    try:
        after = os.fstat(fd)
        if not stat.S_ISREG(after.st_mode):
            raise NotRegular(file_kind(after.st_mode), replaced=True)
        if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
            raise NotRegular("another file", replaced=True)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_regular(
    path: Path,
    advice: str = DAMAGED,
    follow_links: bool = False,
    words: Callable[[Path, Exception], ScriptgenError] | None = None,
) -> int:
    """:func:`open_fd` of ``path``, every refusal one ScriptgenError line.

    By default for a checkpoint or cache file: symbolic links refused, the line
    ends in ``advice``, and FileNotFoundError propagates (callers word
    "missing" themselves).  A corpus file passes ``follow_links=True`` (a
    corpus may link to its files) and its own wording, ``words(path, exc)``,
    for every refusal and OS error.
    """
    try:
        return open_fd(path, follow_links)
    except FileNotFoundError as exc:
        if words is None:
            raise
        raise words(path, exc) from None
    except (NotRegular, OSError, ValueError) as exc:
        raise (words or _checkpoint_words(advice))(path, exc) from None


def _checkpoint_words(advice: str) -> Callable[[Path, Exception], ScriptgenError]:
    def words(path: Path, exc: Exception) -> ScriptgenError:
        if isinstance(exc, NotRegular):
            problem = (
                f"was replaced by {exc.kind} while being opened"
                if exc.replaced
                else f"is {exc.kind}, not a regular file, so it is not read"
            )
        else:
            problem = f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
        return _fail(path, problem, advice)

    return words


@contextmanager
def _opened(path: Path, advice: str) -> Iterator[int]:
    """:func:`open_regular` of ``path``, closed at the end; an OS error while reading is one ScriptgenError line."""
    fd = open_regular(path, advice)
    try:
        yield fd
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror})", advice) from None
    finally:
        os.close(fd)


def read_bytes(path: Path, cap: int | None = None, advice: str = DAMAGED) -> bytes:
    """The bytes of the regular file ``path``, refused unread when it holds more than ``cap``."""
    with _opened(path, advice) as fd:
        size = os.fstat(fd).st_size
        if cap is not None and size > cap:
            raise _too_big(path, f"is {size:,} bytes,", cap, advice)
        chunks, total = [], 0
        while True:  # usually one read of the whole file (so its bytes are held once); on to the end if it grew
            block = os.read(fd, min(max(size + 1 - total, 1 << 16), 1 << 30))
            if not block:
                break
            chunks.append(block)
            total += len(block)
            if cap is not None and total > cap:
                raise _too_big(path, "holds", cap, advice)
    return b"".join(chunks)


def sha256(path: Path, advice: str = DAMAGED) -> str:
    """The sha256 of the regular file ``path`` (never of a FIFO, device or link)."""
    digest = hashlib.sha256()
    with _opened(path, advice) as fd:
        for block in iter(lambda: os.read(fd, 1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------
def parse_json(data: bytes, path: Path, advice: str = DAMAGED) -> Any:
    """The JSON value of ``data``; any failure is one ScriptgenError naming ``path``."""
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise _fail(path, "is not valid JSON (not UTF-8 text)", advice) from None
    except RecursionError:
        raise _fail(path, f"is not valid JSON (nested deeper than {MAX_DEPTH} levels)", advice) from None
    except ValueError as exc:  # JSONDecodeError, and integers of more than 4300 digits
        raise _fail(path, f"is not valid JSON ({str(exc).splitlines()[0][:100]})", advice) from None
    if _depth(value) > MAX_DEPTH:
        raise _fail(path, f"is not valid JSON (nested deeper than {MAX_DEPTH} levels)", advice)
    return value


def read_json(path: Path, cap: int | None = JSON_CAP, advice: str = DAMAGED) -> Any:
    """Parse the regular file ``path`` (at most ``cap`` bytes) as JSON; every failure is one ScriptgenError line."""
    path = Path(path)
    try:
        data = read_bytes(path, cap, advice)
    except FileNotFoundError:
        raise _fail(path, "is missing", advice) from None
    return parse_json(data, path, advice)


def _depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value, without recursion (strings and numbers are depth 0)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


# --------------------------------------------------------------------------
# safetensors headers
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class TensorInfo:
    """One tensor as a safetensors header describes it."""

    dtype: str  # "F32", "BF16", "I64", ...
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def _invalid(path: Path, why: str) -> ScriptgenError:
    return ScriptgenError(
        f"{str(path)!r} is not a valid safetensors file ({why}); use a checkpoint written by scriptgen"
    )


def parse_header(head: bytes, file_size: int, path: Path) -> dict[str, TensorInfo]:
    """The tensors described by the start ``head`` of a safetensors file of ``file_size`` bytes.

    ``head`` must hold at least the 8 length bytes and the header they announce
    (:func:`header_length` says how much that is).
    """
    length = header_length(head, file_size, path)
    if len(head) < 8 + length:
        raise _invalid(path, "the header is cut short")
    raw = head[8 : 8 + length]
    if not raw.lstrip().startswith(b"{"):
        raise _invalid(path, "the header is not a JSON object")
    header = parse_json(raw, path, "use a checkpoint written by scriptgen")
    if not isinstance(header, dict):
        raise _invalid(path, "the header is not a JSON object")
    data_size = file_size - 8 - length
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        what = f"tensor {name[:60]!r}"
        if not isinstance(entry, dict):
            raise _invalid(path, f"{what} is not described by an object")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if dtype not in DTYPE_SIZES:
            raise _invalid(path, f"{what} has the unknown dtype {str(dtype)[:20]!r}")
        if not isinstance(shape, list) or len(shape) > 16 or not all(_whole(n) for n in shape):
            raise _invalid(path, f"{what} has a malformed shape")
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(_whole(n) for n in offsets):
            raise _invalid(path, f"{what} has malformed data offsets")
        begin, end = offsets
        if not begin <= end <= data_size:
            raise _invalid(path, f"{what} lies beyond the end of the file")
        info = TensorInfo(dtype, tuple(shape))
        if end - begin != info.numel * DTYPE_SIZES[dtype]:
            raise _invalid(path, f"{what} has {end - begin} bytes of data for shape {info.shape}")
        tensors[name] = info
    return tensors


def header_length(head: bytes, file_size: int, path: Path) -> int:
    """The header length announced by the first 8 bytes, checked against the file's size and :data:`HEADER_CAP`."""
    if file_size < 8 or len(head) < 8:
        raise _invalid(path, "it is shorter than a safetensors header")
    length = int.from_bytes(head[:8], "little")
    if length < 2 or length > HEADER_CAP:
        raise _invalid(path, f"it announces a header of {length:,} bytes")
    if 8 + length > file_size:
        raise _invalid(path, "the header runs past the end of the file")
    return length


def read_header(path: Path, advice: str = DAMAGED) -> dict[str, TensorInfo]:
    """The tensors a safetensors file describes, read from its header alone (no tensor is read or allocated)."""
    try:
        with _opened(path, advice) as fd:
            size = os.fstat(fd).st_size
            head = os.pread(fd, 8, 0)
            head += os.pread(fd, header_length(head, size, path), 8)
    except FileNotFoundError:
        raise _fail(path, "is missing", advice) from None
    return parse_header(head, size, path)


def _whole(n: Any) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n >= 0
