"""A training run killed with SIGKILL at random moments, resumed each time, ends as if never stopped.

Also: Ctrl-C (SIGINT) saves, exits 130 and says how to resume.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from scriptgen import load_checkpoint
from scriptgen.model.checkpoint import read_tensors

pytestmark = pytest.mark.slow

# saves every 8 steps: a save (validation, loss.png, fsyncs, renames) takes longer than
# the 8 steps, so many kills land inside one
TRAIN_FLAGS = [
    "--embedding-dim", "16", "--hidden-dim", "32", "--n-layers", "2", "--dropout", "0.2", "--seq-len", "8",
    "--batch-size", "4", "--lr", "0.01", "--epochs", "2", "--eval-interval", "8", "--seed", "3",
    "--no-progress",
]  # fmt: skip
N_KILLS = 10


def train_cmd(corpus_dir: Path, root: Path, resume: bool) -> list[str]:
    cmd = [sys.executable, "-m", "scriptgen", "train", "--data-dir", str(root / "data")]
    if resume:
        return cmd + ["--resume", str(root / "ck" / "run"), "--no-progress"]
    return cmd + ["--data", str(corpus_dir), "--name", "run", "--out-dir", str(root / "ck"), *TRAIN_FLAGS]


def final_state(folder: Path) -> tuple[dict, dict, dict]:
    best = read_tensors(folder / "model.safetensors")
    last = read_tensors(folder / "trainer.safetensors")
    state = json.loads((folder / "trainer.json").read_text())
    return best, last, state


def assert_loads(folder: Path) -> None:
    """Whatever a kill left on disk is a complete, verified checkpoint."""
    ckpt = load_checkpoint(folder)  # verifies every file's sha256 (and repairs a half-done swap)
    ckpt.build_model("cpu")
    ckpt.build_model("cpu", which="last")


def saved_at(folder: Path) -> int | None:
    try:
        return (folder / "manifest.json").stat().st_mtime_ns
    except FileNotFoundError:
        return None


def wait_for_a_save(proc: subprocess.Popen, folder: Path, timeout: float = 120.0) -> bool:
    """Wait until the process has saved once (so the run advances, and the kill lands in its training loop)."""
    before, start = saved_at(folder), time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            return False
        if saved_at(folder) not in (None, before):
            return True
        time.sleep(0.01)
    raise AssertionError("training did not save within the timeout")


def wait_inside_a_save(proc: subprocess.Popen, folder: Path, timeout: float = 60.0) -> None:
    """Return as soon as a save has begun writing its temporary folder (so the kill lands inside it)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout and proc.poll() is None:
        if any(p.name.startswith(".run.tmp-") for p in folder.parent.iterdir()):
            return
        time.sleep(0.002)


def test_sigkill_at_random_moments_then_resume_gives_identical_weights(corpus_dir, tmp_path):
    ref_root, run_root = tmp_path / "ref", tmp_path / "killed"
    ref = subprocess.run(train_cmd(corpus_dir, ref_root, False), capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0, ref.stderr
    ref_best, ref_last, ref_state = final_state(ref_root / "ck" / "run")
    assert ref_state["epoch"] == 2

    folder = run_root / "ck" / "run"
    rng = random.Random(1234)
    kills, leftovers, resume = 0, 0, False
    while True:
        proc = subprocess.Popen(
            train_cmd(corpus_dir, run_root, resume), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        if kills < N_KILLS and wait_for_a_save(proc, folder):
            if kills % 2:
                wait_inside_a_save(proc, folder)
            else:
                time.sleep(rng.uniform(0.0, 0.5))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.communicate(timeout=60)
                kills += 1
                # a kill inside a save leaves its temporary or old folder beside the checkpoint
                leftovers += any(p.name.startswith(".run.") for p in folder.parent.iterdir())
                assert_loads(folder)
                resume = True
                continue
        out, err = proc.communicate(timeout=600)
        if proc.returncode == 0:
            break
        raise AssertionError(f"resumed run failed: {err}")
    assert kills == N_KILLS, f"the run finished after {kills} kills; make it longer"
    assert leftovers >= 1, "no kill landed inside a save"
    assert_loads(folder)
    best, last, state = final_state(folder)
    assert state["step"] == ref_state["step"] and state["epoch"] == ref_state["epoch"]
    # bitwise: same weights, same Adam moments, same best model as the uninterrupted run
    assert best.keys() == ref_best.keys() and all(torch.equal(best[k], ref_best[k]) for k in best)
    assert last.keys() == ref_last.keys()
    for key in ref_last:  # model, optimizer, hidden state and RNG state
        assert torch.equal(last[key], ref_last[key]), key
    history = (folder / "history.csv").read_text().splitlines()
    assert history == [row for row in history if row]  # no torn rows
    assert len(history) == len((ref_root / "ck" / "run" / "history.csv").read_text().splitlines())
    # the samples drawn at each validation (on by default) survive the kills: none lost, none twice
    assert (folder / "samples.txt").read_text() == (ref_root / "ck" / "run" / "samples.txt").read_text()
    print(f"{kills} kills, {leftovers} left a half-done save behind")


def test_ctrl_c_saves_and_says_how_to_resume(corpus_dir, tmp_path):
    folder = tmp_path / "ck" / "run"
    cmd = train_cmd(corpus_dir, tmp_path, False)
    cmd[cmd.index("--epochs") + 1] = "200"  # long enough to be interrupted
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for_a_save(proc, folder)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"scriptgen train --resume {folder}" in err
    assert_loads(folder)
    state = json.loads((folder / "trainer.json").read_text())
    assert state["step"] > 0
    again = subprocess.run(
        [*train_cmd(corpus_dir, tmp_path, True), "--epochs", "1"], capture_output=True, text=True, timeout=600
    )
    # resumed with --epochs 1: it goes on from the saved step and finishes the first epoch
    assert again.returncode == 0, again.stderr
    assert f"resuming {folder} at step {state['step']}" in again.stderr
    done = json.loads((folder / "trainer.json").read_text())
    assert done["epoch"] == max(1, state["epoch"]) and done["step"] >= state["step"]
