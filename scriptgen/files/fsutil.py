"""File-system helpers: the one home of atomic writes, folder swaps, locks and pid checks.

Every file scriptgen writes goes through :func:`write_bytes` (a single file)
or :func:`replace_folder` (a whole folder such as a checkpoint): the new
content is written beside the old under a temporary name ``.NAME.tmp-PID``,
flushed to disk, then renamed over it, so a reader sees the old or the new
version and never a half-written one.  It replaces only a regular file: a
FIFO, device, socket, folder or symbolic link under the name is refused, even
when overwriting was asked for, and without it an existing file is kept (the
kernel refuses the final name if it is taken).  :func:`hold_lock` keeps two processes
from writing the same thing at once and names the one that holds it.

    write_bytes(Path("results.csv"), data, advice="choose another --out-dir")
    with hold_lock(Path("checkpoints/.seinfeld.lock"), "training checkpoints/seinfeld"):
        ...
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..errors import ScriptgenError
from .safeload import file_kind

Writer = Callable[[BinaryIO], object]


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (its temporary files are then in use)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists but belongs to someone else
        return True
    except (OverflowError, ValueError):  # not a pid at all
        return False
    return True


def written_by_another_live_process(path: Path) -> bool:
    """Whether a temporary ``NAME-PID`` belongs to another process that still runs (so it must be left alone)."""
    pid = str(Path(path).name).rsplit("-", 1)[-1]
    return pid.isdigit() and int(pid) != os.getpid() and pid_alive(int(pid))


def temp_name(path: Path, kind: str = "tmp") -> Path:
    """The temporary sibling of ``path`` that this process writes: ``.NAME.KIND-PID``."""
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}")


def disk_error(exc: OSError) -> str:
    """A short reason for a failed write, for an error line."""
    return "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes | Writer) -> None:
    with open(path, "wb") as fh:
        if isinstance(data, (bytes, bytearray, memoryview)):
            fh.write(data)
        else:
            data(fh)
        fh.flush()
        os.fsync(fh.fileno())


class Refused(ScriptgenError):
    """A write :func:`write_bytes` will not do: the path is not a regular file, or exists without overwrite."""


class Exists(Refused):
    """The path exists and overwriting was not asked for (a caller may choose another name)."""


def special_kind(path: Path) -> str | None:
    """What ``path`` is when it exists and is not a regular file ("a FIFO (named pipe)", "a symbolic link"), else None.

    From ``lstat``: a symbolic link is named as one, never followed (``/dev/stdout`` is a link).
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError:
        return None  # unreadable parent and the like: the write itself reports it
    return None if stat.S_ISREG(mode) else file_kind(mode)


def check_target(path: Path, overwrite: bool, label: str | None = None, exists_advice: str | None = None) -> None:
    """Refuse, as :func:`write_bytes` would, to write ``path``: one line naming it (as ``label``) and what to do.

    A FIFO, device, socket, folder or symbolic link is refused even with ``overwrite`` (renaming a file
    over ``/dev/stdout`` would replace the node, not write to it), and its message does not offer
    overwriting; an existing regular file is refused without ``overwrite``, with ``exists_advice``.
    """
    label = label or repr(str(path))
    kind = special_kind(path)
    if kind is not None:
        raise Refused(f"{label} is {kind}; scriptgen writes only regular files, so choose another file name")
    if not overwrite and os.path.lexists(path):
        raise Exists(f"{label} exists; {exists_advice or 'choose another file name'}")


def write_bytes(
    path: Path,
    data: bytes | Writer,
    advice: str | None = None,
    overwrite: bool = True,
    label: str | None = None,
    exists_advice: str | None = None,
) -> None:
    """Replace ``path`` by ``data`` (bytes, or a function writing to a binary file) atomically.

    The one writer of every file scriptgen writes.  It only ever creates or replaces a regular file:
    anything else under the name (:func:`check_target`) is refused, even with ``overwrite``; without
    ``overwrite`` an existing file is refused (:class:`Exists`), checked by the kernel at the moment of
    the rename (a hard link, which fails on an existing name), so a file appearing meanwhile is kept.
    The content is complete under a temporary name before it takes the final one.  On failure the old
    file is untouched and the temporary one removed; the OSError propagates, or with ``advice``
    becomes one ScriptgenError line.
    """
    path = Path(path)
    check_target(path, overwrite, label, exists_advice)
    tmp = temp_name(path)
    try:
        _write_file(tmp, data)
        if overwrite:
            check_target(path, overwrite, label, exists_advice)  # again, just before the rename
            os.replace(tmp, path)
        else:
            _rename_no_replace(tmp, path, label, exists_advice)
    except OSError as exc:
        if advice is None:
            raise
        raise ScriptgenError(f"could not write {str(path)!r}: {disk_error(exc)}; {advice}") from None
    finally:
        if os.path.lexists(tmp):
            tmp.unlink()


def _rename_no_replace(tmp: Path, path: Path, label: str | None, exists_advice: str | None) -> None:
    """Give ``tmp`` the name ``path`` only if nothing has it (a hard link is refused by the kernel on an existing
    name)."""
    try:
        os.link(tmp, path, follow_symlinks=False)
    except FileExistsError:
        check_target(path, False, label, exists_advice)  # names what is there now
        raise Exists(f"{label or repr(str(path))} exists; {exists_advice or 'choose another file name'}") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # a file system without hard links: check, then rename (a file appearing in between would be replaced)
        check_target(path, False, label, exists_advice)
        os.replace(tmp, path)
        return
    tmp.unlink()
    fsync_dir(path.parent if str(path.parent) else Path("."))


def replace_folder(folder: Path, files: dict[str, bytes], links: dict[str, Path] | None = None) -> None:
    """Replace ``folder`` by one holding ``files`` (and hard links to ``links``), atomically.

    The new folder is written complete beside the old one and swapped in with
    two renames; at every moment the old or the new complete folder is on disk,
    and :func:`recover_folder` puts the old one back after a crash between the
    renames.  OSError propagates with the old folder in place.
    """
    folder = Path(folder)
    if folder.name in ("", ".", ".."):  # its parent would be swapped away: never
        raise ScriptgenError(f"refusing to replace {str(folder)!r}: it is not one named folder")
    parent = folder.parent
    recover_folder(folder)
    tmp, old = temp_name(folder), temp_name(folder, "old")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        for name, data in files.items():
            _write_file(tmp / name, data)
        for name, source in (links or {}).items():
            try:
                os.link(source, tmp / name)  # unchanged: share the bytes
            except OSError:
                shutil.copy2(source, tmp / name)
        fsync_dir(tmp)
        if folder.exists():
            os.rename(folder, old)
        os.rename(tmp, folder)
        fsync_dir(parent)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not folder.exists():
            os.rename(old, folder)
        raise
    shutil.rmtree(old, ignore_errors=True)


def recover_folder(folder: Path) -> None:
    """Undo a :func:`replace_folder` killed between its two renames; drop stale temporary folders."""
    folder = Path(folder)
    parent = folder.parent
    if not parent.is_dir():
        return
    olds = sorted(parent.glob(f".{folder.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not folder.exists() and olds:
        os.rename(olds[-1], folder)
        olds = olds[:-1]
    for stale in olds + list(parent.glob(f".{folder.name}.tmp-*")):
        if written_by_another_live_process(stale):
            continue  # another live process is writing it
        shutil.rmtree(stale, ignore_errors=True)


def remove_stale_temporaries(folder: Path) -> None:
    """Drop the temporary files of writers that were killed (not those of one still running)."""
    for tmp in Path(folder).glob(".*.tmp-*"):
        if tmp.is_file() and not written_by_another_live_process(tmp):
            tmp.unlink(missing_ok=True)


@contextmanager
def hold_lock(path: Path, what: str, wait: float = 0.0) -> Iterator[None]:
    """Hold an advisory lock on ``path`` while the block runs; the lock file is removed afterwards.

    ``what`` names the job in the refusal, e.g. "training checkpoints/seinfeld".
    ``wait`` seconds: how long to wait for another holder before refusing
    (0: refuse at once; the brief writes of workers sharing a folder wait).
    The kernel drops the lock when the process ends, however it ends, so a
    killed run never leaves a stale lock behind; the holder's pid is written
    into the file only to name it in the message.
    """
    path = Path(path)
    fd = _acquire(path, what, time.monotonic() + wait)
    try:
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        path.unlink(missing_ok=True)  # before the unlock: a process that opened this file then sees it is stale
        os.close(fd)


def _acquire(path: Path, what: str, deadline: float) -> int:
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ScriptgenError(
                f"cannot create the lock file {str(path)!r}: {disk_error(exc)}; choose a writable folder"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            who = f"pid {holder}" if holder.isdigit() else "another process"
            raise ScriptgenError(
                f"another scriptgen process ({who}) is {what}; wait for it to finish or stop it"
            ) from None
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(fd).st_ino:
            os.ftruncate(fd, 0)
            return fd
        os.close(fd)  # the holder removed this file as we opened it: take the lock on the new one


def check_name(name: str, flag: str = "--name") -> str:
    """``name`` if it is one plain folder name, else a ScriptgenError saying what is wrong with it.

    A run's folder is OUT_DIR/NAME and ``--overwrite`` replaces exactly that
    folder, so NAME must never reach outside it: no separators, not empty,
    not "." or "..", no control characters, not hidden (scriptgen's own
    temporary and lock files start with a dot).
    """
    why = None
    if not isinstance(name, str) or not name:
        why = "it is empty"
    elif name in (".", ".."):
        why = "it names a folder itself, not a run in it"
    elif "/" in name or "\\" in name or os.sep in name:
        why = "it contains a path separator"
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        why = "it contains a control character"
    elif name.startswith("."):
        why = "it starts with a dot (hidden names are scriptgen's temporary files)"
    elif len(os.fsencode(name)) > 200:
        why = "it is longer than 200 bytes"
    if why:
        raise ScriptgenError(
            f"{flag} {name!r} is not a plain folder name: {why}; choose a name such as seinfeld or run-2"
        )
    return name
