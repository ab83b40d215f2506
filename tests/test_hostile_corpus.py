"""Corpus folders from real disks: odd names, unreadable files, FIFOs, devices, odd encodings.

The promise is the one of ``tests/test_bad_input.py``: bad input ends with one
line ``scriptgen: error: ...`` naming the problem and what to do, exit status
2, no traceback, nothing hangs, and no partial cache is left under the
``--data-dir``.  Command-line cases run ``python -m scriptgen`` as a
subprocess, three at a time (all are set up first, then run together); the
encoding cases, which differ only in their bytes, call ``main`` in-process
(each subprocess costs seconds of imports on a busy machine).  Cases that need
an OS error root cannot provoke (EACCES, EIO on a later read, a full disk
midway) patch the OS calls in-process and call ``main`` or ``prepare``.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import io
import json
import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import pytest
from conftest import make_script
from forkrun import cli_env

from scriptgen.cli import main
from scriptgen.data import corpus as corpus_mod
from scriptgen.data import text as text_mod
from scriptgen.errors import ScriptgenError

cache_mod = importlib.import_module("scriptgen.data.cache")  # where the cache's files are written
prepare_mod = importlib.import_module(
    "scriptgen.data.prepare"
)  # the module (scriptgen.data.prepare is also the function's name)

ROOT = Path(__file__).resolve().parent.parent
ERROR = "scriptgen: error: "
PROGRESS = ("preparing ", "prepared ")


def run_cli(args: list, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """A fresh ``python -m scriptgen ARGS`` (a hang fails the test through the timeout)."""
    return subprocess.run(
        [sys.executable, "-m", "scriptgen", *args], cwd=cwd, env=cli_env(), capture_output=True, timeout=timeout
    )


def run_in_process(args: list, cwd: Path) -> subprocess.CompletedProcess:
    """``main(ARGS)`` run in ``cwd``, as a finished process."""
    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(args, code, out.getvalue().encode(), err.getvalue().encode())


def the_error(stderr: str) -> str:
    """The one error line of stderr (prepare's progress lines aside); fails on anything else."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith(PROGRESS)]
    assert len(lines) == 1 and lines[0].startswith(ERROR), f"want one '{ERROR}' line, got:\n{stderr}"
    return lines[0]


def no_cache(data_dir: Path) -> None:
    """Nothing under the data folder: no partial cache, no temporary file, no empty folder."""
    assert not data_dir.exists() or not any(data_dir.rglob("*")), sorted(data_dir.rglob("*"))


def script_folder(tmp_path: Path, n: int = 2) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for i in range(n):
        (folder / f"ep{i}.txt").write_text(make_script(30, seed=i), encoding="utf-8")
    return folder


def quiet(_: str) -> None:
    pass


# --------------------------------------------------------------------------
# the command-line cases: each sets up its folder and returns its arguments
# --------------------------------------------------------------------------
Setup = Callable[[Path], list]
CASES: dict[str, tuple[Setup, tuple[str, ...]]] = {}
IN_PROCESS: set[str] = set()
PREPARE = ["prepare", "--data-dir", "data", "--data"]


def case(name: str, *wanted: str, setup: Setup | None = None, in_process: bool = False):
    """Register a case refused with one error line holding every ``wanted`` piece (none: a case that succeeds)."""

    def register(setup: Setup) -> Setup:
        CASES[name] = (setup, wanted)
        if in_process:
            IN_PROCESS.add(name)
        return setup

    return register(setup) if setup else register


@case("file-name-not-utf8")
def _(tmp: Path) -> list:
    script_folder(tmp)
    with open(os.fsencode(tmp) + b"/corpus/bad\xff.txt", "wb") as fh:
        fh.write(make_script(30, seed=7).encode())
    return [*PREPARE, "corpus"]


@case("data-path-not-utf8", "data path 'scripts\\xff' is not valid UTF-8", "rename it")
def _(tmp: Path) -> list:
    folder = os.fsencode(tmp) + b"/scripts\xff"
    os.mkdir(folder)
    with open(folder + b"/a.txt", "w") as fh:
        fh.write(make_script(30, seed=1))
    return [*PREPARE, os.fsdecode(b"scripts\xff")]


@case("broken-symlink-in-folder", "cannot read 'corpus/gone.txt': it is a symbolic link to nothing", "check the path")
def _(tmp: Path) -> list:
    (script_folder(tmp) / "gone.txt").symlink_to(tmp / "nowhere.txt")
    return [*PREPARE, "corpus"]


@case("read-error-eio-train", "cannot read 'corpus/mem.txt': Input/output error", "check the path")
def _(tmp: Path) -> list:
    (script_folder(tmp) / "mem.txt").symlink_to(
        "/proc/self/mem"
    )  # a regular file whose first read fails with EIO, even for root
    return ["train", "--data-dir", "data", "--data", "corpus", "--epochs", "1"]


@case("data-dev-zero", "data path '/dev/zero' is a character device, not a file or folder", "pass a UTF-8 text file")
def _(tmp: Path) -> list:
    return [*PREPARE, "/dev/zero"]


@case(
    "data-fifo-prepare",
    "data path 'pipe' is a FIFO (named pipe), not a file or folder",
    "pass a UTF-8 text file",
    in_process=True,
)
def _(tmp: Path) -> list:
    os.mkfifo(tmp / "pipe")
    return [*PREPARE, "pipe"]


@case("data-fifo-train", "data path 'pipe' is a FIFO (named pipe), not a file or folder", "pass a UTF-8 text file")
def _(tmp: Path) -> list:
    os.mkfifo(tmp / "pipe")
    return ["train", "--data-dir", "data", "--data", "pipe"]


@case("fifo-in-folder", "'corpus/live.txt' is a FIFO (named pipe), not a text file", "remove it")
def _(tmp: Path) -> list:
    os.mkfifo(script_folder(tmp) / "live.txt")
    return [*PREPARE, "corpus"]


def encoded(encoding: str, raw: bytes) -> Setup:
    def setup(tmp: Path) -> list:
        (tmp / "a.txt").write_bytes(raw)
        return [*PREPARE, "a.txt", "--encoding", encoding]

    return setup


SURROGATE_ADVICE = "which is not text that can be stored; convert the file to UTF-8 or pass another --encoding"
case("raw-unicode-escape-surrogate", "'a.txt' read as raw_unicode_escape gives a lone surrogate U+D800 (line 2)",
     SURROGATE_ADVICE, in_process=True,
     setup=encoded("raw_unicode_escape", b"jerry: hi\ngeorge: \\ud800 there\n"))  # fmt: skip
case("unicode-escape-surrogate", "'a.txt' read as unicode_escape gives a lone surrogate U+DFFF (line 1)",
     SURROGATE_ADVICE, in_process=True, setup=encoded("unicode_escape", b"jerry: \\udfff\n"))  # fmt: skip
case("utf-7-surrogate", "'a.txt' read as utf-7 gives a lone surrogate U+D800 (line 1)", SURROGATE_ADVICE,
     in_process=True, setup=encoded("utf-7", b"jerry: +2AA- hi\n"))  # fmt: skip
case("utf-16-without-bom", "'a.txt' cannot be read as utf-16 (UTF-16 stream does not start with BOM)",
     "--encoding utf-16-le or utf-16-be", in_process=True,
     setup=encoded("utf-16", "jerry: hi\n".encode("utf-16-le")))  # fmt: skip


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """Every case set up, then run (subprocesses three at a time): name -> (its folder, the finished run)."""
    jobs = {}
    for name, (setup, _) in CASES.items():
        cwd = tmp_path_factory.mktemp(name)
        jobs[name] = (cwd, setup(cwd))
    with ThreadPoolExecutor(3) as pool:
        futures = {
            name: pool.submit(run_cli, args, cwd) for name, (cwd, args) in jobs.items() if name not in IN_PROCESS
        }
        done = {name: run_in_process(args, cwd) for name, (cwd, args) in jobs.items() if name in IN_PROCESS}
        done |= {name: future.result() for name, future in futures.items()}
    return {name: (jobs[name][0], done[name]) for name in jobs}


@pytest.mark.parametrize("name", [name for name, (_, wanted) in CASES.items() if wanted])
def test_refused_with_one_line(cli_runs, name):
    if name == "read-error-eio-train" and not Path("/proc/self/mem").exists():
        pytest.skip("needs Linux /proc")
    cwd, done = cli_runs[name]
    stderr = done.stderr.decode("utf-8")
    assert done.returncode == 2, stderr
    line = the_error(stderr)
    for piece in CASES[name][1]:
        assert piece in line, line
    no_cache(cwd / "data")
    assert not any(p.is_dir() for p in (cwd / "checkpoints").glob("*")), "a failed run left a checkpoint"


def test_undecodable_file_name_is_read_and_stored_escaped(cli_runs):
    cwd, done = cli_runs["file-name-not-utf8"]
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr.decode()
    (cache,) = (cwd / "data").iterdir()
    meta = json.loads((cache / "meta.json").read_bytes().decode("utf-8"))  # strict UTF-8: no lone surrogate stored
    json.loads((cache / "vocab.json").read_bytes().decode("utf-8"))
    assert [d["name"] for d in meta["documents"]] == ["bad\\xff.txt", "ep0.txt", "ep1.txt"]
    logged: list[str] = []
    again = prepare_mod.prepare(cwd / "corpus", data_dir=cwd / "data", log=logged.append)  # the fingerprint is stable
    assert not logged and again.meta == meta


# --------------------------------------------------------------------------
# files that cannot be read, or are not files (in-process: root reads anything)
# --------------------------------------------------------------------------
def test_permission_denied_is_one_line(tmp_path, monkeypatch, capsys):
    """Root reads any file, so EACCES is simulated at os.open, as the kernel reports it."""
    folder = script_folder(tmp_path)
    real_open = os.open

    def fake_open(path, flags, *args, **kwargs):
        if str(path).endswith("ep1.txt"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    assert main(["prepare", "--data", str(folder), "--data-dir", str(tmp_path / "data")]) == 2
    line = the_error(capsys.readouterr().err)
    assert "ep1.txt': Permission denied; check the path and its permissions" in line, line
    no_cache(tmp_path / "data")


def test_read_error_midway_names_the_file(tmp_path, monkeypatch):
    """An EIO on a later read (not the first) in the streaming reader."""
    path = tmp_path / "a.txt"
    path.write_text(make_script(200, seed=3), encoding="utf-8")
    real_fdopen = os.fdopen

    class Failing:
        def __init__(self, fh):
            self.fh, self.reads = fh, 0

        def read(self, n):
            self.reads += 1
            if self.reads > 1:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            return self.fh.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Failing(real_fdopen(fd, mode)))
    with pytest.raises(ScriptgenError, match=r"cannot read '.*a\.txt': Input/output error; check the path"):
        list(text_mod.iter_text(path, size=64))


def test_folder_named_like_a_text_file(tmp_path):
    """A folder called x.txt inside --data is walked as a folder; read as a file it is named for what it is."""
    folder = script_folder(tmp_path)
    (folder / "more.txt").mkdir()
    (folder / "more.txt" / "ep9.txt").write_text(make_script(20, seed=9), encoding="utf-8")
    assert [str(f.relative_to(folder)) for f in corpus_mod.text_files(folder)] == [
        "ep0.txt",
        "ep1.txt",
        "more.txt/ep9.txt",
    ]
    with pytest.raises(ScriptgenError, match="'.*more.txt' is a folder, not a text file"):
        text_mod.read_text(folder / "more.txt")


def test_socket_in_folder_is_named(tmp_path):
    folder = script_folder(tmp_path)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "sock.txt"))
        with pytest.raises(ScriptgenError, match="sock.txt' is a socket, not a text file"):
            corpus_mod.fingerprint(folder)


def test_a_fifo_is_never_opened(tmp_path, monkeypatch):
    os.mkfifo(tmp_path / "a.txt")
    opened: list = []
    monkeypatch.setattr(os, "open", lambda *args, **kwargs: opened.append(args))
    for read in (text_mod.open_text_file, text_mod.read_text, corpus_mod.text_files):
        with pytest.raises(ScriptgenError, match="FIFO"):
            read(tmp_path / "a.txt")
    assert not opened


def test_surrogate_split_between_reads_is_found(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"x" * 70 + b" \\udc80\n")
    with pytest.raises(ScriptgenError, match=r"U\+DC80 \(line 1\)"):
        list(text_mod.iter_text(tmp_path / "a.txt", "raw_unicode_escape", size=64))


# --------------------------------------------------------------------------
# a failed prepare leaves no partial cache, and the next one builds cleanly
# --------------------------------------------------------------------------
def full_disk_at(name: str, monkeypatch) -> None:
    """Writing ``name`` fails with ENOSPC after leaving a temporary file behind."""
    real = cache_mod.write_bytes

    def write_bytes(path, data, advice=None):
        if Path(path).name == name:
            real(Path(path).with_name(f".{name}.tmp-{os.getpid()}"), b"half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, data, advice)

    monkeypatch.setattr(cache_mod, "write_bytes", write_bytes)


@pytest.mark.parametrize("failing", ["ids.npy", "vocab.json", "meta.json"])
def test_failed_prepare_leaves_no_partial_cache(tmp_path, monkeypatch, failing):
    folder = script_folder(tmp_path)
    data = tmp_path / "data"
    full_disk_at(failing, monkeypatch)
    with pytest.raises(ScriptgenError, match="cannot write the prepared corpus .*: the disk is full; free space"):
        prepare_mod.prepare(folder, data_dir=data, log=quiet)
    no_cache(data)
    monkeypatch.undo()
    assert prepare_mod.prepare(folder, data_dir=data, log=quiet).meta["n_tokens"] > 0


def test_failed_rebuild_removes_the_stale_cache(tmp_path, monkeypatch):
    """A rebuild that fails midway must not leave the old meta.json describing new (or no) files."""
    folder = script_folder(tmp_path)
    data = tmp_path / "data"
    prepare_mod.prepare(folder, data_dir=data, log=quiet)
    (folder / "ep0.txt").write_text(make_script(40, seed=11), encoding="utf-8")  # the source changed: a rebuild
    full_disk_at("vocab.json", monkeypatch)
    with pytest.raises(ScriptgenError, match="the disk is full"):
        prepare_mod.prepare(folder, data_dir=data, log=quiet)
    assert not [p for p in data.rglob("*") if p.is_file()]


def test_interrupted_prepare_leaves_no_partial_cache(tmp_path, monkeypatch):
    folder = script_folder(tmp_path)
    data = tmp_path / "data"
    real = prepare_mod.Vocab.encode_tokens
    calls: list[int] = []

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # Ctrl-C while ids.npy is half written
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(prepare_mod.Vocab, "encode_tokens", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare_mod.prepare(folder, data_dir=data, log=quiet)
    no_cache(data)


def test_file_changed_during_prepare_leaves_no_partial_cache(tmp_path, monkeypatch):
    folder = script_folder(tmp_path)
    data = tmp_path / "data"
    real_count = prepare_mod._count

    def count_then_grow(*args, **kwargs):
        out = real_count(*args, **kwargs)
        (folder / "ep1.txt").write_text(make_script(60, seed=1), encoding="utf-8")
        return out

    monkeypatch.setattr(prepare_mod, "_count", count_then_grow)
    with pytest.raises(ScriptgenError, match="changed while it was being prepared"):
        prepare_mod.prepare(folder, data_dir=data, log=quiet)
    no_cache(data)


def test_cache_file_replaced_by_a_fifo_is_rebuilt_not_opened(tmp_path):
    folder = script_folder(tmp_path)
    data = tmp_path / "data"
    cache = prepare_mod.prepare(folder, data_dir=data, log=quiet).folder
    (cache / "meta.json").unlink()
    os.mkfifo(cache / "meta.json")
    assert prepare_mod.prepare(folder, data_dir=data, log=quiet).meta["n_tokens"] > 0
    assert (cache / "meta.json").is_file()
