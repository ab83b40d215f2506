"""--level bpe end to end: train, checkpoint (tokenizer.json), steered writing, evaluate, fine-tune, the CLI."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import shutil

import pytest
from conftest import make_script

from scriptgen import Config, ScriptgenError, evaluate_checkpoint, load_checkpoint, train, write_script
from scriptgen.cli import main
from scriptgen.config import REGULARIZERS_OFF
from scriptgen.data.bpe import BpeVocab
from scriptgen.data.script import parse_script

CFG = Config(
    **REGULARIZERS_OFF, level="bpe", bpe_vocab=600, embedding_dim=16, hidden_dim=32, n_layers=1, dropout=0.0,
    seq_len=16, batch_size=4, lr=0.01, epochs=1, sample_every=0, seed=1,
)  # fmt: skip
pytestmark = pytest.mark.slow  # a few tiny trainings: about two minutes on a shared CPU
QUIET = dict(progress=False, log=lambda message: None)


def corpus(folder, n_docs: int, seed: int = 0):
    folder.mkdir(parents=True)
    for i in range(n_docs):
        text = make_script(120, seed=seed + i).replace("jerry:", "JERRY:").replace("kramer:", "JOSÉ:")
        (folder / f"ep{i}.txt").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bpe_run")
    train(CFG, data=corpus(root / "corpus", 4), name="bpe", out_dir=root, data_dir=root / "data", **QUIET)
    return root


def test_the_checkpoint_carries_tokenizer_json(run):
    folder = run / "bpe"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert "tokenizer.json" in manifest["files"]
    ckpt = load_checkpoint(folder)
    assert isinstance(ckpt.vocab, BpeVocab) and ckpt.config.level == "bpe" and "JOSÉ:" in ckpt.vocab.cue_tokens()


def test_cast_lines_and_turns_steer_at_bpe_level(run, one_thread):
    ckpt = load_checkpoint(run / "bpe")
    model, vocab = ckpt.build_model(), ckpt.vocab
    prime = vocab.encode("JERRY: hello")
    ids = write_script(model, vocab, prime, lines=6, cast=["elaine", "josé"], seed=3, known_cast=ckpt.cast)
    lines = [line for line in parse_script(vocab.decode(prime + ids)) if line.kind != "blank"]
    assert len(lines) == 6 and vocab.decode(ids).endswith("\n")
    for line in lines[1:]:  # the prime's line is jerry's; then only the cast speaks (or an action opens a line)
        assert line.speaker in ("elaine", "josé") or line.text.startswith(("[", "("))
    turns = ["elaine", "george", "elaine"]
    ids = write_script(model, vocab, vocab.encode("\n"), turns=turns, seed=4, known_cast=ckpt.cast)
    spoken = [line.speaker for line in parse_script(vocab.decode(ids)) if line.kind == "dialogue"]
    assert spoken == turns


def test_evaluate_reports_bits_per_character_of_the_decoded_text(run):
    report = evaluate_checkpoint(
        run / "bpe", samples=1, length=20, temperatures=(0.8,), data_dir=run / "data", log=lambda m: None
    )
    heldout = report.heldout
    assert report.level == "bpe" and heldout.unknown == 0 and heldout.chars > heldout.tokens
    assert math.isfinite(heldout.bits_per_char)
    assert heldout.bits_per_char == pytest.approx(heldout.nats / math.log(2) / heldout.chars)


def test_fine_tuning_keeps_the_parents_tokenizer(run):
    child = Config(**{**CFG.to_dict(), "seed": 2})
    train(child, data=corpus(run / "other", 3, seed=50), name="child", out_dir=run, data_dir=run / "data",
          init_from=run / "bpe", **QUIET)  # fmt: skip
    parent, tuned = load_checkpoint(run / "bpe"), load_checkpoint(run / "child")
    assert tuned.vocab.to_json() == parent.vocab.to_json()
    assert (run / "child" / "tokenizer.json").read_bytes() == (run / "bpe" / "tokenizer.json").read_bytes()


def cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def test_generate_on_the_command_line(run):
    status, out, _ = cli(["generate", "--checkpoint", str(run / "bpe"), "--lines", "3", "--cast", "josé,elaine",
                          "--seed", "1", "--device", "cpu"])  # fmt: skip
    assert status == 0 and len([line for line in out.splitlines() if line.strip()]) >= 3


def damaged(run, tmp_path, change) -> str:
    """A copy of the checkpoint whose tokenizer.json ``change`` rewrote, the manifest's sha256 updated (so the file,
    not the checksum, is what is refused)."""
    folder = tmp_path / "damaged"
    shutil.copytree(run / "bpe", folder)
    path = folder / "tokenizer.json"
    change(path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["tokenizer.json"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return str(folder)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.write_text('{"model": {"type": "BPE", "vocab": {}, "merges": []}, "added_tokens": []}'),
        lambda p: p.write_bytes(p.read_bytes() + b" " * (3 << 20)),  # past the size cap
        lambda p: p.write_bytes(p.read_bytes()[:-10]),  # truncated: not JSON
        lambda p: p.write_text(p.read_text().replace('"JERRY:"', '"JERRX:"')),  # other tokens than vocab.json's
    ],
    ids=["other-ids", "oversized", "truncated", "other-tokens"],
)
def test_a_damaged_tokenizer_json_is_one_line(run, tmp_path, change):
    folder = damaged(run, tmp_path, change)
    with pytest.raises(ScriptgenError):
        load_checkpoint(folder)
    status, _, err = cli(["generate", "--checkpoint", folder, "--lines", "1"])
    assert status != 0 and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_checkpoint_without_tokenizer_json_is_refused(run, tmp_path):
    folder = tmp_path / "lacking"
    shutil.copytree(run / "bpe", folder)
    (folder / "tokenizer.json").unlink()
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"]["tokenizer.json"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ScriptgenError, match="tokenizer.json"):
        load_checkpoint(folder)


def test_a_lowercase_bpe_model_trains_writes_in_lower_case_and_its_child_keeps_it(run):
    cased = corpus(run / "cased", 3, seed=70)
    for file in cased.glob("*.txt"):
        file.write_text(file.read_text(encoding="utf-8").title().replace("Jerry:", "JERRY:"), encoding="utf-8")
    lower = CFG.replace(bpe_lowercase=True)
    train(lower, data=cased, name="lower", out_dir=run, data_dir=run / "data_lower", **QUIET)
    ckpt = load_checkpoint(run / "lower")
    assert ckpt.config.bpe_lowercase and "JERRY:" in ckpt.vocab.cue_tokens()
    model, vocab = ckpt.build_model(), ckpt.vocab
    prime = vocab.encode("JERRY: Hello There")
    text = vocab.decode(prime + write_script(model, vocab, prime, lines=4, seed=2, known_cast=ckpt.cast))
    assert text.startswith("JERRY: hello there")
    words = "".join(line.partition(": ")[2] for line in text.splitlines())  # the cues keep the corpus's capitals
    assert words.strip() and words == words.lower(), text
    report = evaluate_checkpoint(run / "lower", samples=1, length=10, data_dir=run / "data_lower", log=lambda m: None)
    assert report.heldout.unknown == 0 and math.isfinite(report.heldout.bits_per_char)
    train(CFG.replace(seed=3), data=cased, name="lower_child", out_dir=run, data_dir=run / "data_lower",
          init_from=run / "lower", **QUIET)  # fmt: skip
    assert load_checkpoint(run / "lower_child").config.bpe_lowercase  # the parent's vocabulary, so its setting
