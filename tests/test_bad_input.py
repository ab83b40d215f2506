"""Bad input through the command line: one clear line, exit status 2, nothing lost.

Every case runs ``python -m scriptgen ...`` as a subprocess in its own folder
under tmp and checks that

* the exit status is 2;
* stderr has exactly one line ``scriptgen: error: ...`` (the only other lines
  allowed are the data preparation's progress lines before it);
* that line names the problem and what to do (distinctive substrings);
* no traceback appears anywhere;
* a checkpoint that existed before is byte-identical afterwards (sha256 of
  every file), and a failed training run leaves no checkpoint behind.

One tiny word-level and one tiny char-level checkpoint are trained once per
session; cases that damage a checkpoint work on a copy.  Cases run two at a
time, each in a process forked from an interpreter that has imported torch
already (see ``forkrun.Runner``); ``SCRIPTGEN_TEST_EXEC=1`` runs each in a fresh
``python -m scriptgen`` instead (about 2-3 s of imports per case).
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import json
import os
import pickle
import queue
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import torch
from conftest import make_script
from forkrun import FORK, Runner, cli_env, run_cli
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parent.parent
ERROR = "scriptgen: error: "
PROGRESS = re.compile(
    r"^(preparing |prepared |model: )"
)  # progress lines: prepare's, and the model's size at the start of training
TINY = [
    "--embedding-dim", "16", "--hidden-dim", "32", "--n-layers", "1", "--seq-len", "8", "--batch-size", "4",
    "--epochs", "1", "--output", "softmax", "--no-progress",
]  # fmt: skip
CUDA = torch.cuda.is_available()


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def digests(folder: Path | None) -> dict[str, str]:
    if folder is None or not folder.is_dir():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rehash(folder: Path, **fields) -> None:
    """Rewrite manifest.json so the damage left is only the one a case is about."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = {name: sha256(folder / name) for name in manifest["files"] if (folder / name).exists()}
    manifest.update(fields)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


class _Payload:
    """Unpickling this creates the marker file: proof that a pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


def the_error(stderr: str) -> str:
    """The one error line of stderr; fails on anything else (progress lines of prepare aside)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(ERROR)]
    others = [line for line in lines if not line.startswith(ERROR) and not PROGRESS.match(line)]
    assert len(errors) == 1 and not others, f"want one '{ERROR}' line, got:\n{stderr}"
    assert lines[-1] == errors[0], f"the error line must come last:\n{stderr}"
    assert len(errors[0]) > len(ERROR) + 10, errors[0]
    return errors[0]


# --------------------------------------------------------------------------
# the two tiny checkpoints and the case context
# --------------------------------------------------------------------------
@dataclass
class Env:
    root: Path
    corpus: Path
    word: Path  # a word-level checkpoint (--min-count 1: no <unk>)
    char: Path  # a char-level checkpoint
    data_dir: Path  # prepared data of both

    def work(self, case_id: str) -> Path:
        folder = self.root / "cases" / re.sub(r"[^A-Za-z0-9_.-]+", "_", case_id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def copy(self, work: Path, which: str = "word") -> Path:
        dst = work / "ckpts" / which
        shutil.copytree(getattr(self, which), dst)
        return dst

    def train(self, work: Path, *flags, data: Path | None = None) -> list:
        return [
            "train",
            "--data",
            data or self.corpus,
            "--name",
            "run",
            "--out-dir",
            work / "ckpts",
            "--data-dir",
            work / "data",
            *TINY,
            *flags,
        ]

    def generate(self, ckpt: Path, *flags) -> list:
        return ["generate", "--checkpoint", ckpt, "--length", "5", "--seed", "1", *flags]


@pytest.fixture(scope="session")
def env(tmp_path_factory, corpus_dir) -> Env:
    root = tmp_path_factory.mktemp("bad_input")
    chars = root / "char_corpus"
    chars.mkdir()
    for i in range(2):
        (chars / f"ep{i}.txt").write_text(make_script(50, seed=10 + i), encoding="utf-8")
    data_dir, out = root / "data", root / "ckpts"
    jobs = [
        ["train", "--data", corpus_dir, "--name", "word", "--out-dir", out, "--data-dir", data_dir, *TINY],
        [
            "train",
            "--data",
            chars,
            "--name",
            "char",
            "--level",
            "char",
            "--out-dir",
            out,
            "--data-dir",
            data_dir,
            *TINY,
        ],
    ]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda args: run_cli(args, root), jobs))
    for result in results:
        assert result.returncode == 0, result.stderr
    return Env(root, corpus_dir, out / "word", out / "char", data_dir)


# --------------------------------------------------------------------------
# the catalog: id -> (argv, checkpoint that must stay unchanged) and the words the error must contain
# --------------------------------------------------------------------------
@dataclass
class Case:
    id: str
    build: Callable[[Env, Path], tuple[list, Path | None]]
    expect: tuple[str, ...]
    skip: str | None = None
    after: Callable[[Path], None] | None = None  # an extra check on the case's folder


CASES: list[Case] = []


def case(id: str, *expect: str, skip: str | None = None, after=None):
    def register(build):
        CASES.append(Case(id, build, expect, skip, after))
        return build

    return register


def train_flag(id: str, flags: list[str], *expect: str, skip: str | None = None) -> None:
    CASES.append(Case(id, lambda e, w: (e.train(w, *flags), None), expect, skip))


def generate_flag(id: str, flags: list[str], *expect: str, which: str = "word", skip: str | None = None) -> None:
    CASES.append(Case(id, lambda e, w: (e.generate(getattr(e, which), *flags), getattr(e, which)), expect, skip))


# --- the corpus --------------------------------------------------------------
@case("data-missing", "nope.txt", "does not exist", "pass a UTF-8 text file")
def _(e, w):
    return e.train(w, data=w / "nope.txt"), None


@case("data-empty-file", "empty.txt", "holds no text", "pass a corpus")
def _(e, w):
    (w / "empty.txt").write_bytes(b"")
    return e.train(w, data=w / "empty.txt"), None


@case("data-whitespace-only", "blank.txt", "holds no text", "pass a corpus")
def _(e, w):
    (w / "blank.txt").write_text(" \n\n\t \n")
    return e.train(w, data=w / "blank.txt"), None


@case("data-folder-without-txt", "no .txt files", "put your scripts there")
def _(e, w):
    (w / "scripts").mkdir()
    (w / "scripts" / "notes.md").write_text(make_script(50, 1))
    return e.train(w, data=w / "scripts"), None


@case("data-binary", "blob.txt", "binary", "plain text file")
def _(e, w):
    (w / "blob.txt").write_bytes(bytes(range(256)) * 64)
    return e.train(w, data=w / "blob.txt"), None


@case("data-not-utf8", "latin.txt", "not valid utf-8", "--encoding")
def _(e, w):
    (w / "latin.txt").write_bytes(make_script(200, 3).replace("soup", "soupé").encode("latin-1"))
    return e.train(w, data=w / "latin.txt"), None


@case("encoding-unknown", "--encoding 'klingon'", "not a known text encoding", "utf-8 or latin-1")
def _(e, w):
    return e.train(w, "--encoding", "klingon"), None


@case("encoding-not-text", "--encoding 'base64'", "not a known text encoding", "utf-8 or latin-1")
def _(e, w):
    return e.train(w, "--encoding", "base64"), None  # a codec, but one that decodes bytes to bytes


@case("validation-too-small", "validation split has", "--seq-len 8", "raise --val-fraction")
def _(e, w):
    # two documents: the held-out one is a single short line
    (w / "docs").mkdir()
    (w / "docs" / "a.txt").write_text(make_script(200, 4))
    (w / "docs" / "b.txt").write_text("jerry: hi.\n")
    return e.train(w, "--val-fraction", "0.4", "--split-seed", "0", data=w / "docs"), None


@case("data-dir-under-a-file", "cannot write the prepared corpus", "a-file", "writable --data-dir")
def _(e, w):
    (w / "a-file").write_text("not a folder")
    return e.train(w, "--data-dir", w / "a-file" / "data"), None  # the last --data-dir wins


@case("batch-too-big-for-corpus", "training text has", "--batch-size 5000 x --seq-len 8", "lower --batch-size to")
def _(e, w):
    return e.train(w, "--batch-size", "5000"), None


@case("corpus-too-small", "tokens", "--batch-size 4 x --seq-len 8", "lower --seq-len", "add text")
def _(e, w):
    (w / "small.txt").write_text("jerry: hello there, newman.\ngeorge: i'm out.\nelaine: get out!\n")
    return e.train(w, data=w / "small.txt"), None


# --- hyperparameters of train ------------------------------------------------------
for flag, value, *expect in [
    ("epochs", "0", "at least 1"),
    ("epochs", "-3", "at least 1"),
    ("epochs", "abc", "invalid int value"),
    ("batch-size", "0", "at least 1"),
    ("batch-size", "100000000", "at most"),
    ("seq-len", "-1", "at least 1"),
    ("hidden-dim", "0", "at least 1"),
    ("hidden-dim", "10000000", "at most 65536"),
    ("hidden-dim", "2.5", "invalid int value"),
    ("embedding-dim", "0", "at least 1"),
    ("n-layers", "0", "at least 1"),
    ("n-layers", "1000", "at most 64"),
    ("lr", "0", "positive learning rate"),
    ("lr", "-1", "positive learning rate"),
    ("lr", "nan", "not a finite number"),
    ("lr", "inf", "not a finite number"),
    ("lr", "abc", "not a number"),
    ("lr", "1e9", "positive learning rate"),
    ("lr-decay", "0", "(0, 1]"),
    ("clip", "0", "positive gradient norm"),
    ("clip", "-1", "positive gradient norm"),
    ("max-minutes", "-1", "0 (no limit)"),
    ("min-count", "0", "at least 1"),
    ("val-fraction", "0.9", "between 0 and 0.5"),
    ("eval-interval", "-1", "positive number of steps"),
    ("seed", "-1", "non-negative whole number"),
    ("dropout", "1", "in [0, 1)"),
    ("dropout", "-0.1", "in [0, 1)"),
    ("cell", "xyz", "choose one of lstm, gru, rnn"),
    ("level", "xyz", "choose one of word, char"),
    ("output", "xyz", "choose one of adaptive, softmax"),
    ("device", "tpu", "choose one of auto, cpu, cuda"),
    ("precision", "fp8", "choose one of auto, fp32, bf16"),
]:
    train_flag(f"train--{flag}={value}", [f"--{flag}", value], f"--{flag}", *expect)

train_flag(
    "train--device=cuda-without-cuda",
    ["--device", "cuda"],
    "--device cuda",
    "CUDA is not available",
    "--device cpu",
    skip="CUDA is available" if CUDA else None,
)
train_flag("train--unknown-flag", ["--hiden-dim", "8"], "--hiden-dim", "--help")


# --- generate: sampling settings and the prime ---------------------------------------
generate_flag("prime-empty", ["--prime", ""], "prime is empty", "--prime")
generate_flag("prime-blank", ["--prime", "   "], "prime is empty", "--prime")
generate_flag(
    "prime-unknown-word",
    ["--prime", "jerry: flibbertigibbet"],
    "'flibbertigibbet'",
    "not in the vocabulary",
    "use words that appear",
)
generate_flag(
    "prime-unknown-word-close",
    ["--prime", "jerri: the soup"],
    "'jerri:'",
    "not in the vocabulary",
    "closest known words",
    "jerry:",
)
generate_flag(
    "prime-unknown-char", ["--prime", "jerry: Z"], "'Z'", "not in the vocabulary", "use characters", which="char"
)
generate_flag("length-0", ["--length", "0"], "--length 0", "at least 1 token")
generate_flag("length-negative", ["--length", "-5"], "--length -5", "at least 1 token")
generate_flag("length-abc", ["--length", "abc"], "--length", "invalid int value")
generate_flag(
    "length-huge", ["--length", str(10**30)], "--length 1000000000000000000000000000000", "at most 10,000,000"
)
generate_flag("temperature-huge", ["--temperature", "1e300"], "--temperature 1e+300", "at most 100")
generate_flag("seed-above-64-bits", ["--seed", str(2**65)], f"--seed {2**65}", "2**64 - 1")
generate_flag("seed-negative", ["--seed", "-1"], "--seed -1", "from 0")
generate_flag("temperature-0", ["--temperature", "0"], "--temperature 0", "above 0")
generate_flag("temperature-negative", ["--temperature", "-1"], "--temperature -1", "above 0")
generate_flag("temperature-nan", ["--temperature", "nan"], "--temperature", "not a finite number")
generate_flag("temperature-list-with-0", ["--temperature", "0.5,0"], "--temperature 0", "above 0")
generate_flag("temperature-list-empty", ["--temperature", ","], "--temperature", "comma-separated list")
generate_flag("top-k-negative", ["--top-k", "-1"], "--top-k -1", "0 (whole vocabulary)")
generate_flag("unk-without-unk", ["--unk"], "--unk", "<unk>", "drop --unk")
generate_flag(
    "generate-device-cuda-without-cuda",
    ["--device", "cuda"],
    "--device cuda",
    "--device cpu",
    skip="CUDA is available" if CUDA else None,
)
generate_flag("generate-device-unknown", ["--device", "tpu"], "--device 'tpu'", "choose auto, cpu or cuda")


# --- generate: the checkpoint ---------------------------------------------------------
@case("checkpoint-missing", "nowhere", "does not exist", "scriptgen train")
def _(e, w):
    return e.generate(w / "nowhere"), None


@case("checkpoint-folder-without-files", "manifest.json", "not a scriptgen checkpoint", "scriptgen train")
def _(e, w):
    (w / "empty").mkdir()
    (w / "empty" / "notes.txt").write_text("hello")
    return e.generate(w / "empty"), w / "empty"


@case("checkpoint-is-a-file", "model.safetensors", "is a file", "pass the checkpoint folder")
def _(e, w):
    return e.generate(e.word / "model.safetensors"), e.word


@case("manifest-missing", "manifest.json", "not a scriptgen checkpoint", "scriptgen train")
def _(e, w):
    folder = e.copy(w)
    (folder / "manifest.json").unlink()
    return e.generate(folder), folder


@case("manifest-not-json", "manifest.json", "damaged", "restore the checkpoint")
def _(e, w):
    folder = e.copy(w)
    (folder / "manifest.json").write_text("{ nope")
    return e.generate(folder), folder


@case("manifest-format-999", "format 999", "newer", "upgrade scriptgen")
def _(e, w):
    folder = e.copy(w)
    rehash(folder, format_version=999)
    return e.generate(folder), folder


@case("config-malformed-rehashed", "config.json", "not valid JSON", "restore it or train again")
def _(e, w):
    folder = e.copy(w)
    (folder / "config.json").write_text('{"config": {"hidden_dim": 32,')
    rehash(folder)
    return e.generate(folder), folder


@case("config-malformed-not-rehashed", "config.json", "checksum", "restore the checkpoint or train again")
def _(e, w):
    folder = e.copy(w)
    (folder / "config.json").write_text('{"config": {"hidden_dim": 32,')
    return e.generate(folder), folder


@case(
    "config-impossible-value-rehashed", "config.json", "impossible setting", "--hidden-dim 0", "restore the checkpoint"
)
def _(e, w):
    folder = e.copy(w)
    info = json.loads((folder / "config.json").read_text())
    info["config"]["hidden_dim"] = 0
    (folder / "config.json").write_text(json.dumps(info))
    rehash(folder)
    return e.generate(folder), folder


@case(
    "vocab-from-another-checkpoint", "vocab.json", "config.json says", "different checkpoints", "restore the checkpoint"
)
def _(e, w):
    folder = e.copy(w)
    shutil.copy(e.char / "vocab.json", folder / "vocab.json")
    rehash(folder)
    return e.generate(folder), folder


@case("weights-of-another-shape", "model.safetensors", "shape", "different models", "restore the checkpoint")
def _(e, w):
    folder = e.copy(w)
    tensors = load_file(str(folder / "model.safetensors"))
    save_file({k: torch.zeros([n + 3 for n in v.shape]) for k, v in tensors.items()}, str(folder / "model.safetensors"))
    rehash(folder)
    return e.generate(folder), folder


@case("weights-truncated", "model.safetensors", "checksum", "restore the checkpoint")
def _(e, w):
    folder = e.copy(w)
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return e.generate(folder), folder


@case(
    "weights-truncated-rehashed", "model.safetensors", "not a valid safetensors file", "checkpoint written by scriptgen"
)
def _(e, w):
    folder = e.copy(w)
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    rehash(folder)
    return e.generate(folder), folder


@case("weights-one-bit-flipped", "model.safetensors", "checksum", "restore the checkpoint")
def _(e, w):
    folder = e.copy(w)
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[len(data) // 2] ^= 0x10
    (folder / "model.safetensors").write_bytes(bytes(data))
    return e.generate(folder), folder


def _no_marker(work: Path) -> None:
    assert not (work / "PWNED").exists(), "a pickle payload was executed"


@case(
    "weights-pickle-payload",
    "model.safetensors",
    "not a valid safetensors file",
    "checkpoint written by scriptgen",
    after=_no_marker,
)
def _(e, w):
    folder = e.copy(w)
    (folder / "model.safetensors").write_bytes(pickle.dumps({"weight": _Payload(w / "PWNED")}))
    rehash(folder)
    return e.generate(folder), folder


@case(
    "weights-torch-save-payload",
    "model.safetensors",
    "not a valid safetensors file",
    "checkpoint written by scriptgen",
    after=_no_marker,
)
def _(e, w):
    folder = e.copy(w)
    torch.save({"weight": _Payload(w / "PWNED")}, folder / "model.safetensors")
    rehash(folder)
    return e.generate(folder), folder


# --- train: resume and the output folder ----------------------------------------------------
@case("resume-changed-hidden-dim", "--hidden-dim 64", "(checkpoint: 32)", "drop those flags")
def _(e, w):
    folder = e.copy(w)
    return ["train", "--resume", folder, "--data-dir", e.data_dir, "--hidden-dim", "64", "--no-progress"], folder


@case("resume-changed-level", "--level 'char'", "(checkpoint: 'word')", "drop those flags")
def _(e, w):
    folder = e.copy(w)
    return ["train", "--resume", folder, "--data-dir", e.data_dir, "--level", "char", "--no-progress"], folder


@case("resume-without-trainer-state", "no training state", "--name")
def _(e, w):
    folder = e.copy(w)
    for name in ("trainer.json", "trainer.safetensors"):
        (folder / name).unlink()
    rehash(folder)
    return ["train", "--resume", folder, "--data-dir", e.data_dir, "--no-progress"], folder


def damaged_resume(e, w, name: str, damage) -> tuple[list, Path]:
    """A copy of the word checkpoint whose file ``name`` was changed by ``damage(path)``, manifest rehashed."""
    folder = e.copy(w)
    damage(folder / name)
    rehash(folder)
    return ["train", "--resume", folder, "--data-dir", e.data_dir, "--epochs", "2", "--no-progress"], folder


def edit_json(change):
    def damage(path: Path) -> None:
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))

    return damage


@case("resume-trainer-json-missing-key", "trainer.json", "'step' is missing", "restore the checkpoint")
def _(e, w):
    return damaged_resume(e, w, "trainer.json", edit_json(lambda d: d.pop("step")))


@case("resume-trainer-json-string-for-number", "trainer.json", "'epoch'", "not a non-negative")
def _(e, w):
    return damaged_resume(e, w, "trainer.json", edit_json(lambda d: d.update(epoch="two")))


@case("resume-trainer-json-not-an-object", "trainer.json", "not a JSON object")
def _(e, w):
    return damaged_resume(e, w, "trainer.json", lambda p: p.write_text("[1, 2, 3]"))


@case("resume-trainer-json-param-groups", "trainer.json", "param_groups")
def _(e, w):
    return damaged_resume(e, w, "trainer.json", edit_json(lambda d: d.update(param_groups="adam")))


@case("resume-history-garbage-row", "history.csv", "not a number", "delete the line")
def _(e, w):
    return damaged_resume(e, w, "history.csv", lambda p: p.write_text(p.read_text() + "12,zero,1,2,3,4,5\n"))


@case("resume-moments-of-another-shape", "trainer.safetensors", "optim.", "has shape")
def _(e, w):
    def damage(path: Path) -> None:
        tensors = load_file(path)
        key = next(k for k in tensors if k.startswith("optim.") and k.endswith("exp_avg"))
        tensors[key] = torch.zeros(3, 3)
        save_file(tensors, path)

    return damaged_resume(e, w, "trainer.safetensors", damage)


@case("resume-hidden-of-another-shape", "trainer.safetensors", "hidden state has shape")
def _(e, w):
    def damage(path: Path) -> None:
        tensors = load_file(path)
        tensors["hidden.0"] = torch.zeros(1, 2, 3)
        save_file(tensors, path)

    return damaged_resume(e, w, "trainer.safetensors", damage)


@case("resume-other-data", "--resume continues the run on the data it was trained on", "drop --data")
def _(e, w):
    folder = e.copy(w)
    (w / "other.txt").write_text(make_script(300, 9))
    return ["train", "--resume", folder, "--data", w / "other.txt", "--data-dir", e.data_dir, "--no-progress"], folder


@case("resume-other-encoding", "--encoding utf-8", "not latin-1", "drop --encoding")
def _(e, w):
    folder = e.copy(w)
    return ["train", "--resume", folder, "--encoding", "latin-1", "--data-dir", e.data_dir, "--no-progress"], folder


@case("resume-missing-folder", "nowhere", "does not exist")
def _(e, w):
    return ["train", "--resume", w / "nowhere", "--data-dir", e.data_dir, "--no-progress"], None


@case("train-into-existing-checkpoint", "already exists", "--resume", "--overwrite")
def _(e, w):
    folder = e.copy(w)
    return [
        "train",
        "--data",
        e.corpus,
        "--name",
        "word",
        "--out-dir",
        folder.parent,
        "--data-dir",
        e.data_dir,
        *TINY,
    ], folder


@case("out-dir-under-a-file", "not-a-folder", "--out-dir")
def _(e, w):
    (w / "not-a-folder").write_text("I am a file")
    return [
        "train",
        "--data",
        e.corpus,
        "--name",
        "run",
        "--out-dir",
        w / "not-a-folder" / "ckpts",
        "--data-dir",
        w / "data",
        *TINY,
    ], None


@case("experiment-grid-missing", "missing.toml", "does not exist", "--grid")
def _(e, w):
    return [
        "experiment",
        "--grid",
        w / "missing.toml",
        "--out-dir",
        w / "results",
        "--data-dir",
        w / "data",
        "--no-progress",
    ], None


# --------------------------------------------------------------------------
# running the catalog
# --------------------------------------------------------------------------
# Each case runs through forkrun.Runner: a child forked from a warm interpreter that has already
# imported torch, behaving exactly as ``python -m scriptgen ...``, so a case costs a fraction of a
# second instead of ~2-3 s of imports.  SCRIPTGEN_TEST_EXEC=1 (or a platform without fork) runs every
# case with a fresh ``python -m scriptgen`` instead; test_forked_runs_match_fresh_interpreters checks
# both agree.


@dataclass
class Outcome:
    result: subprocess.CompletedProcess
    work: Path
    guarded: Path | None
    before: dict[str, str]
    after: dict[str, str]


def _run_case(env: Env, c: Case, runner: Runner) -> Outcome:
    work = env.work(c.id)
    args, guarded = c.build(env, work)
    before = digests(guarded)
    result = runner.run(args, work)
    return Outcome(result, work, guarded, before, digests(guarded))


class Runners:
    """Two runners; ``run`` takes whichever is free."""

    def __init__(self, scratch: Path, n: int = 2):
        self.free: queue.Queue[Runner] = queue.Queue()
        self.all = [Runner(scratch / str(i)) for i in range(n)]
        for runner in self.all:
            runner.scratch.mkdir()
            self.free.put(runner)

    def run(self, args: list, cwd: Path) -> subprocess.CompletedProcess:
        runner = self.free.get()
        try:
            return runner.run(args, cwd)
        finally:
            self.free.put(runner)

    def case(self, env: Env, c: Case) -> Outcome:
        runner = self.free.get()
        try:
            return _run_case(env, c, runner)
        finally:
            self.free.put(runner)


@pytest.fixture(scope="session")
def runners(tmp_path_factory):
    made = Runners(tmp_path_factory.mktemp("runners"))  # they import torch while env trains
    yield made
    for runner in made.all:
        runner.close()


@pytest.fixture(scope="session")
def outcomes(request, runners, env):
    """Every selected case started at once, two at a time; each test waits for its own."""
    params = [getattr(item, "callspec", None) for item in request.session.items]
    wanted = {p.params["c"].id for p in params if p and "c" in p.params} | {
        p.params["case_id"] for p in params if p and "case_id" in p.params
    }
    pool = ThreadPoolExecutor(len(runners.all))
    futures = {c.id: pool.submit(runners.case, env, c) for c in CASES if not c.skip and c.id in wanted}
    yield futures
    pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input(c: Case, outcomes):
    assert len({c.id for c in CASES}) == len(CASES)  # the catalog: unique ids, and big enough
    assert len(CASES) >= 30
    if c.skip:
        pytest.skip(c.skip)
    out = outcomes[c.id].result()
    res = out.result
    assert "Traceback" not in res.stdout + res.stderr, res.stderr
    assert res.returncode == 2, f"exit {res.returncode}\nstdout: {res.stdout}\nstderr: {res.stderr}"
    line = the_error(res.stderr)
    for words in c.expect:
        assert words in line, f"{words!r} not in: {line}"
    if out.guarded is not None:
        assert out.before, f"nothing to guard in {out.guarded}"
        assert out.after == out.before, f"files of {out.guarded} changed"
    if args_train_new(res.args):
        assert not (out.work / "ckpts" / "run").exists(), "a failed run left a checkpoint"
    if c.after:
        c.after(out.work)


def args_train_new(argv: list[str]) -> bool:
    return "train" in argv and "--resume" not in argv


@pytest.mark.skipif(not FORK, reason="every case already runs in a fresh interpreter")
@pytest.mark.parametrize("case_id", ["train--lr=abc", "data-not-utf8", "weights-pickle-payload"])
def test_forked_runs_match_fresh_interpreters(case_id, outcomes):
    """The fast runner and a fresh ``python -m scriptgen`` give the same status, stdout and stderr."""
    out = outcomes[case_id].result()
    fresh = run_cli(out.result.args, out.work)
    assert (fresh.returncode, fresh.stdout, fresh.stderr) == (
        out.result.returncode,
        out.result.stdout,
        out.result.stderr,
    )
    if case_id == "weights-pickle-payload":
        _no_marker(out.work)


# --------------------------------------------------------------------------
# what is allowed
# --------------------------------------------------------------------------
def test_encoding_latin1_then_works(runners, env, tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes(make_script(200, 3).replace("soup", "soupé").encode("latin-1"))
    res = runners.run(env.train(tmp_path, "--encoding", "latin-1", data=latin), tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert (tmp_path / "ckpts" / "run" / "manifest.json").exists()
    vocab = json.loads((tmp_path / "ckpts" / "run" / "vocab.json").read_text(encoding="utf-8"))
    assert "soupé" in vocab["itos"]


def test_utf16_and_utf32_text_is_not_called_binary(runners, env, tmp_path):
    for encoding in ("utf-16", "UTF_32LE"):
        text = make_script(120, 5).replace("soup", "soupé")
        source = tmp_path / f"{encoding}.txt"
        source.write_bytes(text.encode(encoding))  # NUL bytes throughout, yet text
        res = runners.run(env.train(tmp_path / encoding, "--encoding", encoding, data=source), tmp_path)
        assert res.returncode == 0, res.stderr
        vocab = json.loads((tmp_path / encoding / "ckpts" / "run" / "vocab.json").read_text(encoding="utf-8"))
        assert "soupé" in vocab["itos"]


def test_resume_reads_the_text_with_the_encoding_it_was_trained_with(runners, env, tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes(make_script(200, 3).replace("soup", "soupé").encode("latin-1"))
    first = runners.run(env.train(tmp_path, "--encoding", "latin-1", data=latin), tmp_path)
    assert first.returncode == 0, first.stderr
    folder = tmp_path / "ckpts" / "run"
    again = runners.run(
        ["train", "--resume", folder, "--epochs", "2", "--data-dir", tmp_path / "data", "--no-progress"], tmp_path
    )
    assert again.returncode == 0, again.stderr
    assert json.loads((folder / "trainer.json").read_text())["epoch"] == 2


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_output_that_cannot_be_written_is_one_line(env, tmp_path):
    """``generate > /dev/full``: the write fails (no space left), one line says so, no traceback at exit."""
    with open("/dev/full", "w") as full:
        res = subprocess.run(
            [sys.executable, "-m", "scriptgen", *map(str, env.generate(env.word, "--length", "50"))],
            cwd=tmp_path, env=cli_env(), stdout=full, stderr=subprocess.PIPE, text=True, timeout=150,
        )  # fmt: skip
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1 and lines[0].startswith(ERROR) and "cannot write the output" in lines[0], res.stderr
    assert "Traceback" not in res.stderr and "Exception ignored" not in res.stderr


def test_top_k_above_vocabulary_is_clamped_with_a_note(runners, env, tmp_path):
    before = digests(env.word)
    res = runners.run(env.generate(env.word, "--top-k", "1000000"), tmp_path)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("scriptgen: note: "), res.stderr
    assert "--top-k 1000000" in lines[0] and "whole vocabulary" in lines[0]
    assert res.stdout.strip()
    assert digests(env.word) == before


# --------------------------------------------------------------------------
# a disk that fills while a resumed run saves (in-process: fsync raises ENOSPC)
# --------------------------------------------------------------------------
def test_disk_full_while_saving_keeps_the_previous_checkpoint(env, tmp_path, monkeypatch, capsys):
    from scriptgen import cli
    from scriptgen.files import fsutil

    folder = tmp_path / "ckpts" / "word"
    shutil.copytree(env.word, folder)
    before = digests(folder)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fsutil.os, "fsync", full)
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        status = cli.main(
            ["train", "--resume", str(folder), "--epochs", "2", "--data-dir", str(env.data_dir), "--no-progress"]
        )
    finally:
        torch.set_num_threads(threads)
    captured = capsys.readouterr()
    assert status == 2, captured.err
    assert "Traceback" not in captured.out + captured.err
    lines = [
        line for line in captured.err.splitlines() if line.strip() and not line.startswith(("resuming ", "model: "))
    ]
    assert len(lines) == 1 and lines[0].startswith(ERROR), captured.err
    assert "disk is full" in lines[0] and "previous checkpoint is kept" in lines[0]
    assert digests(folder) == before
    assert sorted(p.name for p in folder.parent.iterdir()) == ["word"], "temporary folders were left behind"
