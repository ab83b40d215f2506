"""Nothing lost: dangerous run names, two runs into one name, and stop signals.

* ``--name ""``, ``.``, ``..``, a path or a control character, with ``--overwrite``,
  is refused and every byte of a full ``--out-dir`` (other checkpoints, other
  files) is still there afterwards;
* a second run into the name of a live run, plain or with ``--overwrite``, is
  refused with a line naming the live process, and the live run finishes with
  its own checkpoint;
* SIGTERM and SIGHUP stop training between steps, save, print the resume
  command and exit 128 + the signal's number; the saved run resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_script

ROOT = Path(__file__).resolve().parent.parent
ERROR = "scriptgen: error: "
TINY = [
    "--embedding-dim", "16", "--hidden-dim", "32", "--n-layers", "1", "--seq-len", "8", "--batch-size", "4",
    "--output", "softmax", "--no-progress",
]  # fmt: skip


def env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8", OMP_NUM_THREADS="1")


def cli(args: list, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scriptgen", *map(str, args)],
        cwd=cwd,
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(args: list, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "scriptgen", *map(str, args)],
        cwd=cwd,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def tree(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` with the sha256 of each file's bytes."""
    out = {}
    for p in sorted(folder.rglob("*")):
        out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
    return out


def assert_one_error_line(res: subprocess.CompletedProcess, *expect: str) -> None:
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr + res.stdout
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(ERROR), res.stderr
    for text in expect:
        assert text in lines[0], (text, lines[0])


def wait_for_save(proc: subprocess.Popen, folder: Path, timeout: float = 240) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if (folder / "trainer.json").exists():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def text(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("text") / "script.txt"
    path.write_text(make_script(1500, seed=5), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained_out_dir(tmp_path_factory, text) -> Path:
    """An --out-dir holding a trained checkpoint, another folder and loose files (made once)."""
    root = tmp_path_factory.mktemp("trained")
    out = root / "ckpts"
    res = cli(
        [
            "train",
            "--data",
            text,
            "--data-dir",
            root / "data",
            "--out-dir",
            out,
            "--name",
            "precious",
            "--epochs",
            "1",
            *TINY,
        ],
        root,
    )
    assert res.returncode == 0, res.stderr
    (out / "notes").mkdir()
    (out / "notes" / "ideas.txt").write_text("a show about nothing\n")
    (out / "README.md").write_text("my checkpoints\n")
    return out


@pytest.fixture
def full_out_dir(tmp_path, trained_out_dir) -> Path:
    out = tmp_path / "ckpts"
    shutil.copytree(trained_out_dir, out)
    return out


@pytest.mark.parametrize("name", ["", ".", "..", "../ckpts", "sub/run", "a\nb", ".hidden"])
def test_dangerous_names_with_overwrite_touch_nothing(full_out_dir, tmp_path, text, name):
    before = tree(full_out_dir)
    assert "precious/model.safetensors" in before
    args = [
        "train",
        "--data",
        text,
        "--data-dir",
        tmp_path / "data",
        "--out-dir",
        full_out_dir,
        "--name",
        name,
        "--overwrite",
        "--epochs",
        "1",
    ]
    res = cli([*args, *TINY], tmp_path)
    assert_one_error_line(res, "--name", "not a plain folder name")
    assert tree(full_out_dir) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpts"]  # nothing written beside it either


def test_out_dir_with_empty_name_through_the_python_api_is_refused(full_out_dir, tmp_path, text):
    from scriptgen import Config, ScriptgenError, train
    from scriptgen.config import REGULARIZERS_OFF

    before = tree(full_out_dir)
    cfg = Config(
        **REGULARIZERS_OFF, embedding_dim=16, hidden_dim=32, n_layers=1, seq_len=8, batch_size=4, epochs=1,
        output="softmax",
    )  # fmt: skip
    for name in ("", "."):
        with pytest.raises(ScriptgenError, match="not a plain folder name"):
            train(
                cfg,
                data=text,
                name=name,
                out_dir=full_out_dir,
                data_dir=tmp_path / "data",
                overwrite=True,
                progress=False,
                log=lambda m: None,
            )
    assert tree(full_out_dir) == before


@pytest.mark.slow
def test_second_run_into_a_live_runs_name_is_refused(tmp_path, text):
    out = tmp_path / "ckpts"
    common = ["--data", text, "--data-dir", tmp_path / "data", "--out-dir", out, "--name", "dup", *TINY]
    first = start(["train", *common, "--epochs", "3", "--eval-interval", "20"], tmp_path)
    try:
        assert wait_for_save(first, out / "dup"), "the first run never saved"
        for extra in ([], ["--overwrite"]):
            second = cli(["train", *common, "--epochs", "1", *extra], tmp_path)
            assert_one_error_line(second, "another scriptgen process", f"pid {first.pid}", "dup")
        out_text, err = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    state = json.loads((out / "dup" / "trainer.json").read_text())
    assert state["epoch"] == 3, "the live run finished its own work"
    # the lock goes with the process: a new run of that name may now replace it
    again = cli(["train", *common, "--epochs", "1", "--overwrite"], tmp_path)
    assert again.returncode == 0, again.stderr


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_stop_signals_save_and_resume(tmp_path, text, signum):
    out = tmp_path / "ckpts"
    folder = out / "run"
    args = [
        "train",
        "--data",
        text,
        "--data-dir",
        tmp_path / "data",
        "--out-dir",
        out,
        "--name",
        "run",
        *TINY,
        "--epochs",
        "50",
        "--eval-interval",
        "25",
    ]
    proc = start(args, tmp_path)
    try:
        assert wait_for_save(proc, folder)
        time.sleep(0.3)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err
    assert signal.Signals(signum).name in err and f"scriptgen train --resume {folder}" in err
    saved = json.loads((folder / "trainer.json").read_text())
    assert 0 < saved["step"] and saved["epoch"] < 50
    assert (folder / "loss.png").is_file(), "a stopped run draws its curves"
    again = cli(
        [
            "train",
            "--resume",
            folder,
            "--data-dir",
            tmp_path / "data",
            "--epochs",
            str(saved["epoch"] + 1),
            "--no-progress",
        ],
        tmp_path,
    )
    assert again.returncode == 0, again.stderr
    assert f"resuming {folder} at step {saved['step']}" in again.stderr
