"""The test suite's one runner of ``python -m scriptgen ARGS``: fresh, or forked from a warm interpreter.

A fresh ``python -m scriptgen`` spends seconds importing torch and scriptgen.  A :class:`Runner`
instead starts one server interpreter that has imported them already; each run is a child forked
from it that runs the module ``scriptgen`` as ``__main__`` with its own argv, cwd, stdin
(/dev/null), stdout and stderr (files), exit status and an alarm (a hang kills it with SIGALRM),
exactly as ``python -m scriptgen ...`` would, at a fraction of a second a run.  A run may also be
given a memory headroom: the child's address space is limited to what it holds after the fork plus
that many bytes (RLIMIT_AS), so a big allocation fails it.

``SCRIPTGEN_TEST_EXEC=1`` (or a platform without fork) makes a runner start a fresh
``python -m scriptgen`` for every run instead, unless it is made with ``fork=True``.

The server is this file's :func:`serve`, launched with ``python -c``; it only needs the standard
library and scriptgen (on PYTHONPATH through :func:`cli_env`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
FORK = hasattr(os, "fork") and os.environ.get("SCRIPTGEN_TEST_EXEC") != "1"
# the expensive imports, done once in the server
WARM = (
    "scriptgen.cli", "scriptgen.model.checkpoint", "scriptgen.writing.generate", "scriptgen.writing.interactive",
    "scriptgen.writing.sampler", "scriptgen.training.train",
)  # fmt: skip


def cli_env() -> dict[str, str]:
    """The environment every ``python -m scriptgen`` of the tests runs in."""
    return dict(os.environ, PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


def run_cli(args: list, cwd: Path, timeout: float = 150) -> subprocess.CompletedProcess:
    """A fresh ``python -m scriptgen ARGS`` (text output; a hang raises subprocess.TimeoutExpired)."""
    return subprocess.run(
        [sys.executable, "-m", "scriptgen", *map(str, args)],
        cwd=cwd, env=cli_env(), capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=timeout,
    )  # fmt: skip


class Run(subprocess.CompletedProcess):
    """A finished run; ``seconds`` is how long it took (the fork to its exit, or the fresh process)."""

    def __init__(self, args, returncode: int, stdout: str, stderr: str, seconds: float):
        super().__init__(args, returncode, stdout, stderr)
        self.seconds = seconds


class Runner:
    """``python -m scriptgen ARGS`` in a child process, one at a time.

    ``scratch`` is the folder for the runs' stdout and stderr files (a run may name another).
    """

    def __init__(self, scratch: Path, fork: bool | None = None):
        self.scratch = scratch
        launch = f"import sys; sys.path.insert(0, {str(HERE)!r}); import forkrun; sys.path.pop(0); forkrun.serve()"
        self.server = subprocess.Popen(
            [sys.executable, "-c", launch], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=cli_env(), cwd=ROOT,
            text=True
        ) if (FORK if fork is None else fork) else None  # fmt: skip

    def run(
        self, args: list, cwd: Path, timeout: int = 150, headroom: int | None = None, logs: Path | None = None
    ) -> Run:
        """Run ``args`` in ``cwd``; stdout and stderr go to ``logs/stdout`` and ``logs/stderr`` (``logs`` defaults to
        scratch).

        ``timeout``: seconds before the alarm.  ``headroom``: bytes of address space the forked child may add
        (None: no limit; a fresh interpreter gets none).
        """
        logs = logs or self.scratch
        out, err, args = logs / "stdout", logs / "stderr", [str(a) for a in args]
        if self.server is None:
            start = time.monotonic()
            done = run_cli(args, cwd, timeout)
            out.write_text(done.stdout, encoding="utf-8")
            err.write_text(done.stderr, encoding="utf-8")
            return Run(args, done.returncode, done.stdout, done.stderr, time.monotonic() - start)
        request = {
            "args": args,
            "cwd": str(cwd),
            "stdout": str(out),
            "stderr": str(err),
            "alarm": timeout,
            "headroom": headroom,
        }
        self.server.stdin.write(json.dumps(request) + "\n")
        self.server.stdin.flush()
        reply = self.server.stdout.readline()
        assert reply, "the scriptgen fork server died"
        reply = json.loads(reply)
        read = lambda p: p.read_bytes().decode("utf-8", errors="replace")  # noqa: E731
        return Run(args, reply["rc"], read(out), read(err), reply["seconds"])

    def close(self) -> None:
        if self.server is not None:
            self.server.stdin.close()
            self.server.wait(timeout=30)


# --------------------------------------------------------------------------
# the server side
# --------------------------------------------------------------------------
def serve() -> None:
    """Read one JSON request a line from stdin, run each in a forked child, write one JSON reply a line."""
    import importlib

    for name in WARM:
        importlib.import_module(name)
    requests, replies = os.fdopen(os.dup(0), "r"), os.fdopen(os.dup(1), "w")
    for line in requests:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(req)  # never returns
        start = time.monotonic()
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"rc": os.waitstatus_to_exitcode(status), "seconds": time.monotonic() - start}) + "\n")
        replies.flush()


def _child(req: dict) -> None:
    """``python -m scriptgen`` in this forked child, as ``req`` says; exits with its status."""
    import resource
    import runpy
    import signal
    import traceback

    code = 1
    try:
        signal.alarm(req["alarm"])
        os.chdir(req["cwd"])
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
        os.dup2(os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
        if req["headroom"] is not None:
            with open("/proc/self/status") as status:
                vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
            resource.setrlimit(resource.RLIMIT_AS, (vm + req["headroom"], resource.RLIM_INFINITY))
        sys.argv = ["scriptgen", *req["args"]]
        try:
            runpy.run_module("scriptgen", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            code = (
                exc.code
                if isinstance(exc.code, int)
                else 0
                if exc.code is None
                else (print(exc.code, file=sys.stderr) or 1)
            )
        except BaseException:
            traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
