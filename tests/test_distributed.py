"""Training with several processes: torchrun + DistributedDataParallel on CPU (gloo), against one process.

Two processes on a 2-core machine, a tiny model: the same global batch, seed and
data give the same losses and weights as one process (within float rounding:
the gradient's mean is summed in another order), and a run killed with SIGKILL
resumes and finishes, with 2 processes or with 1.
"""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from safetensors.torch import load_file

pytestmark = pytest.mark.slow

TINY = [
    "--embedding-dim", "16", "--hidden-dim", "32", "--n-layers", "2", "--dropout", "0", "--seq-len", "8",
    "--batch-size", "8",
    "--dropout-input", "0", "--dropout-embed", "0", "--weight-drop", "0",
    # masks differ per process; the deterministic rest of the recipe stays on
    "--lr", "0.01", "--output", "softmax", "--precision", "fp32", "--device", "cpu", "--sample-every", "0",
    "--patience", "0",  # the runs end at their epochs, as the tests ask
    "--no-progress",
]  # fmt: skip


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return env


def _command(nproc: int, *args: str) -> list[str]:
    if nproc == 1:
        return [sys.executable, "-m", "scriptgen", "train", *args]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "-m",
        "scriptgen",
        "train",
        *args,
    ]


def _train(nproc: int, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(_command(nproc, *args), capture_output=True, text=True, env=_env(), timeout=timeout)


def _history(folder: Path) -> list[dict]:
    with open(folder / "history.csv") as fh:
        return list(csv.DictReader(fh))


def _common(corpus_dir, tmp_path) -> list[str]:
    return ["--data", str(corpus_dir), "--data-dir", str(tmp_path / "data"), "--out-dir", str(tmp_path / "ck"), *TINY]


def test_two_processes_train_the_same_model_as_one(corpus_dir, tmp_path):
    common = _common(corpus_dir, tmp_path)
    one = _train(1, *common, "--name", "one", "--epochs", "2")
    assert one.returncode == 0, one.stderr
    two = _train(2, *common, "--name", "two", "--epochs", "2")
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("best validation loss") == 1, "only rank 0 reports"
    a, b = _history(tmp_path / "ck" / "one"), _history(tmp_path / "ck" / "two")
    assert [r["step"] for r in a] == [r["step"] for r in b] and len(a) >= 4
    # losses: within 1e-4 nats (the all-reduced mean gradient is summed in another order than one process's)
    for ra, rb in zip(a, b):
        assert abs(float(ra["val_loss"]) - float(rb["val_loss"])) < 1e-4, (ra, rb)
        assert abs(float(ra["train_loss"]) - float(rb["train_loss"])) < 1e-4, (ra, rb)
    assert int(b[-1]["tokens_per_s"]) > 0
    # weights after the same steps: within 1e-3 (absolute) everywhere
    wa, wb = (
        load_file(tmp_path / "ck" / "one" / "trainer.safetensors"),
        load_file(tmp_path / "ck" / "two" / "trainer.safetensors"),
    )
    for key in (k for k in wa if k.startswith("model.")):
        assert torch.allclose(wa[key], wb[key], atol=1e-3, rtol=0), key
    # the saved hidden state holds all 8 streams, gathered from both processes
    assert wb["hidden.0"].shape == wa["hidden.0"].shape == (2, 8, 32)
    assert torch.allclose(wa["hidden.0"], wb["hidden.0"], atol=1e-3, rtol=0)


def test_a_killed_two_process_run_resumes_and_finishes(corpus_dir, tmp_path):
    common = _common(corpus_dir, tmp_path)
    folder = tmp_path / "ck" / "ddp"
    proc = subprocess.Popen(
        _command(2, *common, "--name", "ddp", "--epochs", "40", "--eval-interval", "5"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not (folder / "trainer.json").exists():
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.2)
        time.sleep(1.0)  # a few more saves
        assert (folder / "trainer.json").exists(), "no checkpoint before the deadline"
    finally:
        # the launcher and both workers (torchrun starts them in sessions of their own), with no chance to save
        for p in [*psutil.Process(proc.pid).children(recursive=True), psutil.Process(proc.pid)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.send_signal(signal.SIGKILL)
        proc.communicate()
    killed_at = int(_history(folder)[-1]["step"])
    assert killed_at > 0
    # the rest of a short run, with two processes, then one more epoch with one process (the streams re-split)
    data_dir = ["--data-dir", str(tmp_path / "data")]  # the run's own cache, not one in the working folder
    resumed = _train(2, "--resume", str(folder), *data_dir, "--epochs", "3", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    rows = _history(folder)
    assert rows[-1]["stop_reason"] == "epochs" and int(rows[-1]["step"]) > killed_at
    steps = [int(r["step"]) for r in rows]
    assert steps == sorted(set(steps)), "a step was recorded twice"
    alone = _train(1, "--resume", str(folder), *data_dir, "--epochs", "4", "--no-progress")
    assert alone.returncode == 0, alone.stderr
    assert float(_history(folder)[-1]["epoch"]) == pytest.approx(4.0)


def test_a_batch_that_does_not_split_over_the_processes_is_one_line(corpus_dir, tmp_path):
    common = _common(corpus_dir, tmp_path)
    result = _train(
        2,
        *[a if a != "8" or common[i - 1] != "--batch-size" else "7" for i, a in enumerate(common)],
        "--name",
        "odd",
        "--epochs",
        "1",
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("scriptgen: error:")]
    assert errors and "does not split evenly over 2 processes" in errors[0]
    assert "Traceback" not in "\n".join(line for line in result.stderr.splitlines() if "scriptgen" in line)
