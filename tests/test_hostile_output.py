"""Output onto special files: ``generate --out``, the panel's outputs/, experiment results and the docs page.

Every output goes through the one writer (scriptgen.files.fsutil.write_bytes), which replaces only a regular
file: a FIFO, device node, socket, folder or symbolic link under the name is refused with one line, even with
``--overwrite`` (a rename over ``/dev/stdout`` as root would replace the system's node), the refusal never
suggests ``--overwrite``, and the node is still there afterwards.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_script
from forkrun import Runner, cli_env, run_cli

from scriptgen.errors import ScriptgenError

ERROR = "scriptgen: error: "
TINY = [
    "--embedding-dim", "8", "--hidden-dim", "16", "--n-layers", "1", "--seq-len", "8", "--batch-size", "4",
    "--epochs", "1", "--output", "softmax", "--no-progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile_output")
    (root / "s.txt").write_text(make_script(120, seed=3), encoding="utf-8")
    done = run_cli(
        ["train", "--data", root / "s.txt", "--name", "m", "--out-dir", root / "ck", "--data-dir", root / "d", *TINY],
        root,
    )
    assert done.returncode == 0, done.stderr
    return root / "ck" / "m"


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    r = Runner(tmp_path_factory.mktemp("hostile_output_logs"))
    yield r
    r.close()


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(ERROR) and "Traceback" not in stderr, stderr
    return lines[0]


def _nodes(tmp: Path):
    """Each special node an --out may name, made in ``tmp``: (name, path, check it is still that node, cleanup)."""
    fifo = tmp / "pipe.txt"
    os.mkfifo(fifo)
    sock_path = tmp / "sock.txt"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    target = tmp / "target.txt"
    target.write_text("precious\n")
    link = tmp / "link.txt"
    link.symlink_to(target)
    nodes = [
        ("fifo", fifo, lambda: stat.S_ISFIFO(os.lstat(fifo).st_mode), "a FIFO"),
        ("socket", sock_path, lambda: stat.S_ISSOCK(os.lstat(sock_path).st_mode), "a socket"),
        ("symlink", link, lambda: link.is_symlink() and target.read_text() == "precious\n", "a symbolic link"),
    ]
    try:
        os.mknod(tmp / "null.txt", stat.S_IFCHR | 0o666, os.makedev(1, 3))  # root only: a device node of our own
        nodes.append(
            ("device", tmp / "null.txt", lambda: stat.S_ISCHR(os.lstat(tmp / "null.txt").st_mode), "a character device")
        )
    except PermissionError:
        pass
    return nodes, sock


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
def test_generate_out_onto_a_fifo_socket_symlink_or_device_is_refused(ckpt, runner, tmp_path, overwrite):
    nodes, sock = _nodes(tmp_path)
    try:
        for name, path, still, kind in nodes:
            flags = ["--overwrite"] if overwrite else []
            done = runner.run(
                ["generate", "--checkpoint", ckpt, "--length", "5", "--seed", "1", "--out", path, *flags],
                tmp_path,
                timeout=60,
            )
            line = _one_error_line(done.stderr)
            assert done.returncode == 2, (name, done.stderr)
            assert kind in line and "regular files" in line and "--overwrite" not in line, (name, line)
            assert still(), f"the {name} was replaced"
        assert not [p for p in os.listdir(tmp_path) if p.startswith(".")], "a temporary file was left behind"
    finally:
        sock.close()


def test_generate_out_onto_dev_stdout_with_overwrite_is_refused_before_any_work(ckpt, runner, tmp_path):
    # /dev/stdout is a symbolic link: as root a rename over it would replace the system's node
    before = os.readlink("/dev/stdout")
    done = runner.run(
        ["generate", "--checkpoint", ckpt, "--length", "5", "--out", "/dev/stdout", "--overwrite"], tmp_path, timeout=60
    )
    line = _one_error_line(done.stderr)
    assert done.returncode == 2 and "a symbolic link" in line and "--overwrite" not in line
    assert os.readlink("/dev/stdout") == before


def test_generate_out_onto_a_folder_is_refused_even_with_overwrite(ckpt, runner, tmp_path):
    (tmp_path / "d").mkdir()
    done = runner.run(
        ["generate", "--checkpoint", ckpt, "--length", "5", "--out", tmp_path / "d", "--overwrite"],
        tmp_path,
        timeout=60,
    )
    assert done.returncode == 2 and "is a folder" in _one_error_line(done.stderr) and (tmp_path / "d").is_dir()


def test_generate_out_onto_a_regular_file_needs_overwrite(ckpt, runner, tmp_path):
    out = tmp_path / "scene.txt"
    out.write_text("mine\n")
    done = runner.run(["generate", "--checkpoint", ckpt, "--length", "5", "--out", out], tmp_path, timeout=60)
    assert done.returncode == 2 and "pass --overwrite" in _one_error_line(done.stderr) and out.read_text() == "mine\n"
    done = runner.run(
        ["generate", "--checkpoint", ckpt, "--length", "5", "--out", out, "--overwrite"], tmp_path, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text() != "mine\n" and out.is_file() and not out.is_symlink()


def test_panel_output_onto_a_fifo_is_refused_and_an_existing_script_kept(tmp_path):
    from scriptgen.panel import save_script

    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (outputs / "script-1.txt").write_text("kept\n")
    assert save_script("jerry: hi.\n", "text", outputs) == outputs / "script-2.txt"  # the next free name
    assert (outputs / "script-1.txt").read_text() == "kept\n"
    os.mkfifo(outputs / "script-3.txt")
    with pytest.raises(ScriptgenError, match="a FIFO.*regular files"):
        save_script("jerry: hi.\n", "text", outputs)
    assert stat.S_ISFIFO(os.lstat(outputs / "script-3.txt").st_mode)


def test_experiment_results_onto_a_fifo_are_refused_unopened(tmp_path):
    from scriptgen.experiment.results import Recorder, write_file

    os.mkfifo(tmp_path / "grid.csv")
    with pytest.raises(ScriptgenError, match="a FIFO"):
        Recorder(tmp_path, "grid")  # reading it first: refused, not waited on
    with pytest.raises(ScriptgenError, match="a FIFO.*regular files"):
        write_file(tmp_path / "grid.csv", b"row\n")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "grid.csv").st_mode)


def test_docs_page_onto_a_fifo_is_refused_with_one_line(tmp_path):
    os.mkfifo(tmp_path / "cli.md")
    args = [sys.executable, "-m", "scriptgen.cli.docs", "--path", str(tmp_path / "cli.md")]
    done = subprocess.run(args, cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "a FIFO" in _one_error_line(done.stderr)
    assert stat.S_ISFIFO(os.lstat(tmp_path / "cli.md").st_mode)
