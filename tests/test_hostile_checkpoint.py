"""Hostile checkpoints: loading never hangs, never exhausts memory, never prints a traceback.

A FIFO, device, folder or symbolic link where a checkpoint file goes; JSON
files that are too big, nested too deeply, of the wrong types or missing
fields; a config.json describing a huge model beside a small weights file;
weights of another shape.  Each case runs ``python -m scriptgen generate``
on a damaged copy of one tiny checkpoint (trained once for the module) and
checks: exit status 2, exactly one stderr line ``scriptgen: error: ...``
naming the problem, no traceback, and every file of the copy unchanged.

The cases run in children forked from one interpreter that has imported
scriptgen already (a fresh ``python -m scriptgen`` costs seconds of imports),
each with an alarm (a hang kills it) and an address-space limit of what it
holds plus :data:`HEADROOM` (a big allocation fails it).  The FIFO manifest is
also run in a fresh interpreter, exactly as a user would.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import make_script
from forkrun import Runner, cli_env
from safetensors.torch import load_file, save_file

from scriptgen import RNN, Config, ScriptgenError, load_checkpoint, train
from scriptgen.data.tokens import Vocab
from scriptgen.files.safeload import JSON_CAP, read_header, vocab_cap
from scriptgen.model.checkpoint import expected_weights, read_json, read_tensors

ROOT = Path(__file__).resolve().parent.parent
ERROR = "scriptgen: error: "
HEADROOM = 512 << 20  # bytes of address space a case may add to what the forked child holds
ALARM = 20  # seconds before a case counts as hung


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def snapshot(folder: Path) -> dict[str, str]:
    """What every entry of ``folder`` is and holds, read without opening anything but regular files."""
    out = {}
    for path in sorted(folder.rglob("*")):
        mode = os.lstat(path).st_mode
        key = str(path.relative_to(folder))
        if stat.S_ISLNK(mode):
            out[key] = "link -> " + os.readlink(path)
        elif stat.S_ISREG(mode):
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[key] = f"mode {stat.S_IFMT(mode):o}"
    return out


def rehash(folder: Path) -> None:
    """Rewrite manifest.json so the only damage left is the one a case is about (non-regular files keep their old
    digest)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in manifest["files"]:
        path = folder / name
        if os.path.lexists(path) and stat.S_ISREG(os.lstat(path).st_mode):
            manifest["files"][name] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


def edit_json(folder: Path, name: str, change) -> None:
    data = json.loads((folder / name).read_text())
    change(data)
    (folder / name).write_text(json.dumps(data))
    rehash(folder)


def the_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1 and lines[0].startswith(ERROR), f"want one '{ERROR}' line, got:\n{stderr}"
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One tiny word-level checkpoint (three short episodes, one epoch: a few seconds)."""
    root = tmp_path_factory.mktemp("hostile")
    corpus = root / "corpus"
    corpus.mkdir()
    for i in range(3):
        (corpus / f"episode{i}.txt").write_text(make_script(40, seed=i), encoding="utf-8")
    cfg = Config(
        embedding_dim=16, hidden_dim=32, n_layers=2, dropout=0.1, seq_len=8, batch_size=4, lr=0.01, epochs=1,
        output="softmax", val_fraction=0.34,
    )  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(cfg, data=corpus, name="run", out_dir=root, data_dir=root / "data", progress=False, log=lambda m: None)
    finally:
        torch.set_num_threads(threads)
    return root / "run"


# --------------------------------------------------------------------------
# the cases: id -> (damage done to a copy, words the error line must contain)
# --------------------------------------------------------------------------
CASES: dict[str, tuple] = {}


def case(id: str, *expect: str):
    def register(damage):
        CASES[id] = (damage, expect)
        return damage

    return register


def _mkfifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


@case("manifest-fifo", "manifest.json", "FIFO", "not a regular file", "restore the checkpoint")
def _(f, out):
    _mkfifo(f / "manifest.json")


@case("config-fifo", "config.json", "FIFO", "restore")
def _(f, out):
    _mkfifo(f / "config.json")


@case("history-fifo", "history.csv", "FIFO", "restore")
def _(f, out):
    _mkfifo(f / "history.csv")


@case("model-char-device", "model.safetensors", "character device", "restore")
def _(f, out):
    (f / "model.safetensors").unlink()
    try:
        os.mknod(f / "model.safetensors", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero: endless bytes
    except (PermissionError, OSError):
        os.symlink("/dev/zero", f / "model.safetensors")  # no CAP_MKNOD: a link to it instead
        return "model.safetensors", "symbolic link"


@case("vocab-symlink-to-dev-zero", "vocab.json", "symbolic link", "restore")
def _(f, out):
    (f / "vocab.json").unlink()
    os.symlink("/dev/zero", f / "vocab.json")


@case("vocab-symlink-out-of-the-folder", "vocab.json", "symbolic link", "restore")
def _(f, out):
    shutil.move(f / "vocab.json", out / "vocab.json")  # the very same bytes, elsewhere: the checksum would match
    os.symlink(out / "vocab.json", f / "vocab.json")


@case("config-symlink-inside-the-folder", "config.json", "symbolic link", "restore")
def _(f, out):
    os.rename(f / "config.json", f / "real-config.json")
    os.symlink("real-config.json", f / "config.json")


@case("config-is-a-folder", "config.json", "a folder", "restore")
def _(f, out):
    (f / "config.json").unlink()
    (f / "config.json").mkdir()


@case("manifest-oversized", "manifest.json", "more than the 1,048,576 bytes", "restore the checkpoint")
def _(f, out):
    manifest = json.loads((f / "manifest.json").read_text())
    (f / "manifest.json").write_text(json.dumps(manifest) + " " * (JSON_CAP + 10))


@case("config-oversized", "config.json", "more than the 1,048,576 bytes", "restore")
def _(f, out):
    edit_json(f, "config.json", lambda d: d["config"]["extra"].update(notes="x" * (2 << 20)))


@case("vocab-oversized", "vocab.json", "bytes such a file may hold", "restore")
def _(f, out):
    vocab = json.loads((f / "vocab.json").read_text())
    (f / "vocab.json").write_text(json.dumps(vocab) + " " * (3 << 20))
    rehash(f)


@case("manifest-nested", "manifest.json", "nested deeper than 64 levels", "restore the checkpoint")
def _(f, out):
    (f / "manifest.json").write_text("[" * 100_000)


@case("vocab-nested", "vocab.json", "nested deeper than 64 levels", "restore")
def _(f, out):
    (f / "vocab.json").write_text("[" * 100_000 + "]" * 100_000)
    rehash(f)


@case("config-nested-within-parser-limit", "config.json", "nested deeper than 64 levels", "restore")
def _(f, out):
    edit_json(f, "config.json", lambda d: d["config"]["extra"].update(deep=json.loads("[" * 500 + "]" * 500)))


@case("manifest-files-is-a-list", "manifest.json", "no 'files' object", "restore the checkpoint")
def _(f, out):
    (f / "manifest.json").write_text(json.dumps({"format_version": 1, "files": ["model.safetensors"]}))


@case("manifest-name-with-a-slash", "manifest.json", "'../run/config.json'", "cannot be a file of a checkpoint")
def _(f, out):
    manifest = json.loads((f / "manifest.json").read_text())
    manifest["files"]["../run/config.json"] = manifest["files"]["config.json"]
    (f / "manifest.json").write_text(json.dumps(manifest))


@case("manifest-digest-not-a-string", "manifest.json", "malformed sha256", "restore the checkpoint")
def _(f, out):
    manifest = json.loads((f / "manifest.json").read_text())
    manifest["files"]["config.json"] = 5
    (f / "manifest.json").write_text(json.dumps(manifest))


@case("config-without-config", "config.json", "the field 'config' is missing", "restore")
def _(f, out):
    edit_json(f, "config.json", lambda d: d.pop("config"))


@case("config-without-data", "config.json", "the field 'data' is missing", "restore")
def _(f, out):
    edit_json(f, "config.json", lambda d: d.pop("data"))


@case("config-without-vocab-size", "config.json", "the field 'vocab_size' is missing", "restore")
def _(f, out):
    edit_json(f, "config.json", lambda d: d.pop("vocab_size"))


@case("config-without-data-fingerprint", "config.json", "'data.fingerprint' is missing", "restore")
def _(f, out):
    edit_json(f, "config.json", lambda d: d["data"].pop("fingerprint"))


@case("config-is-a-list", "config.json", "a list", "not an object", "restore")
def _(f, out):
    (f / "config.json").write_text("[1, 2]")
    rehash(f)


@case("config-config-is-a-list", "config.json", "'config'", "(a list), not an object", "restore")
def _(f, out):
    edit_json(f, "config.json", lambda d: d.update(config=[1, 2]))


@case(
    "config-hidden-dim-a-string", "config.json", "'config.hidden_dim' is '32' (a string), not a whole number", "restore"
)
def _(f, out):
    edit_json(f, "config.json", lambda d: d["config"].update(hidden_dim="32"))


@case("config-tie-weights-a-string", "config.json", "'config.tie_weights'", "not true or false", "restore")
def _(f, out):
    edit_json(f, "config.json", lambda d: d["config"].update(tie_weights="no"))


@case("config-lr-null", "config.json", "'config.lr' is 'None' (null), not a number", "restore")
def _(f, out):
    edit_json(f, "config.json", lambda d: d["config"].update(lr=None))


@case("config-vocab-size-a-string", "config.json", "'vocab_size'", "(a string), not a whole number", "restore")
def _(f, out):
    edit_json(f, "config.json", lambda d: d.update(vocab_size=str(d["vocab_size"])))


@case("config-data-a-number", "config.json", "'data' is '7' (a number), not an object", "restore")
def _(f, out):
    edit_json(f, "config.json", lambda d: d.update(data=7))


@case("config-unknown-key", "config.json", "unknown keys ['warp_drive']", "newer scriptgen")
def _(f, out):
    edit_json(f, "config.json", lambda d: d["config"].update(warp_drive=True))


@case("config-number-of-5000-digits", "config.json", "not valid JSON", "restore")
def _(f, out):
    text = (f / "config.json").read_text().replace('"hidden_dim": 32', '"hidden_dim": ' + "9" * 5000)
    (f / "config.json").write_text(text)
    rehash(f)


@case("config-cutoffs-beyond-the-vocabulary", "config.json", "describes no buildable model", "restore")
def _(f, out):
    edit_json(f, "config.json", lambda d: d["config"].update(output="adaptive", cutoffs=[5000]))


@case(
    "config-huge-model",
    "model.safetensors",
    "holds other weights than its config.json describes",
    "parameters",
    "restore",
)
def _(f, out):
    edit_json(f, "config.json", lambda d: d["config"].update(hidden_dim=65536, embedding_dim=65536, n_layers=64))


@case("config-1gb-model", "model.safetensors", "shape", "different models", "restore the checkpoint")
def _(f, out):
    edit_json(f, "config.json", lambda d: d["config"].update(hidden_dim=4096))  # ~200M parameters (800 MB) if built


@case("config-huge-vocab-size", "model.safetensors", "embedding.weight", "vocab_size 1073741824", "different models")
def _(f, out):
    edit_json(f, "config.json", lambda d: d.update(vocab_size=1 << 30))


@case("vocab-token-not-a-string", "vocab.json", "token 3 is '5'", "must be strings")
def _(f, out):
    edit_json(f, "vocab.json", lambda d: d["itos"].__setitem__(3, 5))


@case("vocab-duplicate-token", "vocab.json", "appears twice")
def _(f, out):
    edit_json(f, "vocab.json", lambda d: d["itos"].__setitem__(3, d["itos"][2]))


@case("vocab-lone-surrogate", "vocab.json", "lone surrogate")
def _(f, out):
    edit_json(f, "vocab.json", lambda d: d["itos"].__setitem__(3, "\ud800"))


@case("vocab-unknown-level", "vocab.json", "'level' is 'klingon'")
def _(f, out):
    edit_json(f, "vocab.json", lambda d: d.update(level="klingon"))


@case("vocab-is-a-string", "vocab.json", "not a JSON object")
def _(f, out):
    (f / "vocab.json").write_text('"hello"')
    rehash(f)


@case("weights-of-another-shape", "model.safetensors", "shape", "different models", "restore the checkpoint")
def _(f, out):
    tensors = load_file(str(f / "model.safetensors"))
    save_file({k: torch.zeros([n + 3 for n in v.shape]) for k, v in tensors.items()}, str(f / "model.safetensors"))
    rehash(f)


@case(
    "weights-header-claims-a-huge-tensor",
    "model.safetensors",
    "not a valid safetensors file",
    "lies beyond the end of the file",
)
def _(f, out):
    data = (f / "model.safetensors").read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    name = next(k for k in header if k != "__metadata__")
    header[name]["shape"] = [1 << 20, 1 << 20]
    header[name]["data_offsets"] = [0, 4 << 40]
    raw = json.dumps(header).encode()
    (f / "model.safetensors").write_bytes(len(raw).to_bytes(8, "little") + raw + data[8 + n :])
    rehash(f)


@case("weights-header-length-2-to-the-60", "model.safetensors", "not a valid safetensors file", "announces a header")
def _(f, out):
    data = (f / "model.safetensors").read_bytes()
    (f / "model.safetensors").write_bytes((1 << 60).to_bytes(8, "little") + data[8:])
    rehash(f)


@pytest.fixture(scope="module")
def outcomes(trained, tmp_path_factory) -> dict:
    """Damage a copy per case, run every case's ``generate`` in a forked child, and record what happened."""
    root = tmp_path_factory.mktemp("cases")
    jobs = {}
    for id, (damage, expect) in {"intact": (lambda f, out: None, ()), **CASES}.items():
        work = root / id
        folder, outside = work / "ckpt", work / "outside"
        shutil.copytree(trained, folder)
        outside.mkdir()
        expect = damage(folder, outside) or expect
        args = [
            "generate",
            "--checkpoint",
            str(folder),
            "--length",
            "3",
            "--seed",
            "1",
            "--prime",
            "jerry:",
            "--device",
            "cpu",
        ]
        jobs[id] = (folder, expect, snapshot(folder), work, args)
    runner, info = Runner(root, fork=True), {}  # always forked: the headroom and the timing are the forked child's
    try:
        for id, (folder, expect, before, work, args) in jobs.items():
            info[id] = (folder, expect, before, runner.run(args, work, timeout=ALARM, headroom=HEADROOM, logs=work))
    finally:
        runner.close()
    return {
        id: {
            "folder": folder,
            "expect": expect,
            "before": before,
            "reply": {"rc": run.returncode, "seconds": run.seconds},
            "stderr": run.stderr,
        }
        for id, (folder, expect, before, run) in info.items()
    }


def test_the_intact_checkpoint_generates_under_the_same_limits(outcomes):
    """The control: the time and memory limits the cases run under are enough for a good checkpoint."""
    o = outcomes["intact"]
    assert o["reply"]["rc"] == 0, o["stderr"]


@pytest.mark.parametrize("id", list(CASES))
def test_hostile_checkpoint_is_one_line_exit_2_nothing_changed(outcomes, id):
    o = outcomes[id]
    rc = o["reply"]["rc"]
    assert rc != -signal.SIGALRM, f"{id}: hung for {ALARM} s"
    assert rc == 2, f"{id}: exit status {rc}\n{o['stderr']}"
    line = the_error(o["stderr"])
    for words in o["expect"]:
        assert words in line, f"{id}: {words!r} not in {line!r}"
    assert snapshot(o["folder"]) == o["before"], f"{id}: the checkpoint changed"
    assert o["reply"]["seconds"] < 5, f"{id}: took {o['reply']['seconds']:.1f} s"


def test_fifo_manifest_in_a_fresh_interpreter_does_not_hang(trained, tmp_path):
    folder = tmp_path / "ckpt"
    shutil.copytree(trained, folder)
    _mkfifo(folder / "manifest.json")
    before = snapshot(folder)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "scriptgen", "generate", "--checkpoint", str(folder)],
            cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("generate on a FIFO manifest.json hung")
    assert result.returncode == 2, result.stderr
    line = the_error(result.stderr)
    assert "manifest.json" in line and "FIFO" in line, line
    assert snapshot(folder) == before


# --------------------------------------------------------------------------
# the library: readers, the meta-device shapes, build_model("last"), caps
# --------------------------------------------------------------------------
@pytest.fixture
def alarm():
    """Fail instead of hanging for ever."""

    def hung(signum, frame):
        raise AssertionError("hung")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_readers_refuse_fifos_and_links_without_opening_them(tmp_path, alarm):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    os.symlink("/dev/zero", tmp_path / "zero")
    for path in (fifo, tmp_path / "zero", tmp_path):
        for read in (read_tensors, read_json, read_header):
            with pytest.raises(ScriptgenError, match="not a regular file"):
                read(path)


def test_meta_shapes_equal_real_shapes_and_draw_no_random_numbers():
    rng = torch.get_rng_state()
    for cell in ("lstm", "gru", "rnn"):
        for output, cutoffs, tie in (("softmax", [], False), ("softmax", [], True), ("adaptive", [40, 90], False)):
            cfg = Config(
                cell=cell, output=output, cutoffs=cutoffs, tie_weights=tie, embedding_dim=32, hidden_dim=32, n_layers=3
            )
            meta = expected_weights(cfg, 120, Path("config.json"))
            assert torch.equal(rng, torch.get_rng_state()), "building on the meta device drew random numbers"
            real = {k: tuple(v.shape) for k, v in RNN.from_config(cfg, 120).state_dict().items()}
            assert meta == real, (cell, output, tie)
            rng = torch.get_rng_state()


def test_huge_config_is_checked_in_milliseconds():
    start = time.perf_counter()
    shapes = expected_weights(
        Config(hidden_dim=65536, embedding_dim=65536, n_layers=64, output="softmax"), 1 << 20, Path("config.json")
    )
    assert time.perf_counter() - start < 2
    assert sum(torch.Size(s).numel() for s in shapes.values()) > 10**12


def test_last_weights_are_checked_from_the_header_first(trained, tmp_path, monkeypatch):
    folder = tmp_path / "ckpt"
    shutil.copytree(trained, folder)
    assert load_checkpoint(folder).build_model("cpu", which="last").hidden_dim == 32
    tensors = load_file(str(folder / "trainer.safetensors"))
    tensors["model.rnn.weight_hh_l1"] = torch.zeros(128, 33)
    save_file(tensors, str(folder / "trainer.safetensors"))
    rehash(folder)
    ckpt = load_checkpoint(folder)
    monkeypatch.setattr(
        "scriptgen.model.checkpoint.st_load",
        lambda data: pytest.fail("tensors were loaded before the header was checked"),
    )
    with pytest.raises(ScriptgenError, match=r"model\.rnn\.weight_hh_l1 .* has shape \(128, 33\).*different models"):
        ckpt.build_model("cpu", which="last")


def test_a_million_token_vocabulary_fits_its_cap(tmp_path):
    vocab = Vocab("word", [f"token{i:07d}" for i in range(1_000_000)])
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps(vocab.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert path.stat().st_size < vocab_cap(len(vocab)) / 10
    assert len(Vocab.from_json(read_json(path, vocab_cap(len(vocab))))) == 1_000_000


def test_vocab_from_json_names_the_field():
    good = {"level": "word", "unk": None, "itos": ["a", "b", "c"]}
    assert Vocab.from_json(good).itos == ["a", "b", "c"]
    for change, words in (
        ({"itos": "abc"}, "no token list"),
        ({"itos": ["a", None]}, "token 1 is 'None'"),
        ({"itos": ["a", "a"]}, "token 1 'a' appears twice"),
        ({"itos": ["a", "\udcff"]}, "token 1"),
        ({"level": None}, "'level' is 'None'"),
        ({"unk": "z"}, "'unk' is 'z'"),
        ({"unk": 3}, "'unk' is '3'"),
    ):
        with pytest.raises(ScriptgenError, match="my/vocab.json is malformed") as err:
            Vocab.from_json({**good, **change}, where="my/vocab.json")
        assert words in str(err.value), (change, str(err.value))
