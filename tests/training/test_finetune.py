"""Fine-tuning (--init-from): a new run from a trained checkpoint's weights and vocabulary, on another text."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from conftest import NOUNS, OPENERS, SPEAKERS

from scriptgen import Config, ScriptgenError, load_checkpoint, train
from scriptgen.config import REGULARIZERS_OFF
from scriptgen.data.tokens import word_tokenize
from scriptgen.model.checkpoint import read_tensors
from scriptgen.training.train import Trainer

ARCH = dict(**REGULARIZERS_OFF, embedding_dim=24, hidden_dim=48, n_layers=1, output="softmax")
# text A: the shared corpus (conftest); min_count 2 gives its vocabulary an <unk> token
PARENT = Config(**ARCH, min_count=2, dropout=0.0, seq_len=16, batch_size=16, lr=0.01, epochs=3, sample_every=0, seed=1)
# the child runs on text B: a few steps, a validation every 4
CHILD = Config(
    **ARCH, min_count=2, dropout=0.0, seq_len=16, batch_size=8, lr=0.005, epochs=1, eval_interval=4, sample_every=0,
    seed=2,
)  # fmt: skip


def text_b(n_lines: int, seed: int, extra: tuple[str, ...] = ()) -> str:
    """Text B: A's words in another pattern (each speaker keeps to one opener and one noun), plus ``extra`` new
    words."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n_lines):
        k = rng.randrange(len(SPEAKERS))
        words = f"{SPEAKERS[k]}: {OPENERS[k]} {NOUNS[k]}"
        if extra and rng.random() < 0.2:
            words += " " + rng.choice(extra)
        lines.append(words + rng.choice([".", "!", "?"]))
        if rng.random() < 0.3:
            lines.append("[laughter]")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def parent(corpus_dir, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("parent")
    train(PARENT, data=corpus_dir, name="a", out_dir=root, data_dir=root / "data", progress=False, log=lambda m: None)
    return root / "a"


def make_corpus(folder: Path, n_docs: int, extra: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True)
    for i in range(n_docs):
        (folder / f"b{i}.txt").write_text(text_b(70, seed=100 + i, extra=extra), encoding="utf-8")
    return folder


def run(cfg, data, root, name, **kwargs):
    return train(
        cfg,
        data=data,
        name=name,
        out_dir=root / "ck",
        data_dir=root / "data",
        progress=False,
        log=lambda m: None,
        **kwargs,
    )


def test_fine_tuning_beats_training_from_scratch_in_the_same_steps(parent, tmp_path):
    corpus_b = make_corpus(tmp_path / "b", 4)
    tuned = run(CHILD, corpus_b, tmp_path, "tuned", init_from=parent)
    scratch = run(CHILD, corpus_b, tmp_path, "scratch")
    assert tuned.steps == scratch.steps >= 8
    # the same held-out documents of B, the same steps; the tuned model starts from what A taught it
    assert (
        load_checkpoint(tmp_path / "ck" / "tuned").info["data"]["split"]
        == load_checkpoint(tmp_path / "ck" / "scratch").info["data"]["split"]
    )
    print(
        f"B after {tuned.steps} steps: fine-tuned {tuned.best_val_loss:.3f}, "
        f"from scratch {scratch.best_val_loss:.3f} nats/token"
    )
    assert tuned.best_val_loss < scratch.best_val_loss - 0.3, (tuned.history, scratch.history)
    # at every validation, not just the best; and the tuned run learns B's pattern as it goes
    assert all(t["val_loss"] < s["val_loss"] for t, s in zip(tuned.history, scratch.history))
    assert tuned.history[-1]["val_loss"] < tuned.history[0]["val_loss"] - 0.05


def test_the_run_starts_from_the_parents_weights_and_records_it(parent, tmp_path):
    corpus_b = make_corpus(tmp_path / "b", 3)
    trainer = Trainer(
        CHILD,
        tmp_path / "ck" / "child",
        corpus_b,
        tmp_path / "data",
        progress=False,
        log=lambda m: None,
        init_from=parent,
    )
    weights = read_tensors(parent / "model.safetensors")
    assert all(torch.equal(trainer.model.state_dict()[k], weights[k]) for k in weights)
    assert trainer.vocab.itos == load_checkpoint(parent).vocab.itos
    assert not trainer.optimizer.state, "a fresh optimizer"
    assert trainer.cfg.lr == CHILD.lr and trainer.cfg.seq_len == CHILD.seq_len  # this run's training settings
    trainer.run()
    info = load_checkpoint(tmp_path / "ck" / "child").info
    assert info["init_from"] == {
        "checkpoint": str(parent.absolute()),
        "model_sha256": hashlib.sha256((parent / "model.safetensors").read_bytes()).hexdigest(),
    }

    # resuming the fine-tuned run prepares its text with the same (the parent's) vocabulary
    more = run(CHILD.replace(epochs=2), None, tmp_path, "child", resume=True, explicit={"epochs"})
    assert more.stop_reason == "epochs" and more.epochs == 2
    assert load_checkpoint(tmp_path / "ck" / "child").info["init_from"] == info["init_from"]


def test_words_the_parent_lacks_map_to_unk_and_are_counted_or_refused(parent, tmp_path):
    corpus_b = make_corpus(tmp_path / "b", 3, extra=("newman", "festivus", "yada"))
    known = set(load_checkpoint(parent).vocab.itos)
    counts = Counter(t for f in sorted(corpus_b.glob("*.txt")) for t in word_tokenize(f.read_text()) if t not in known)
    assert set(counts) == {"newman", "festivus", "yada"}

    lines = []
    train(
        CHILD,
        data=corpus_b,
        name="unk",
        out_dir=tmp_path / "ck",
        data_dir=tmp_path / "data",
        progress=False,
        log=lines.append,
        init_from=parent,
    )
    unknown = load_checkpoint(tmp_path / "ck" / "unk").info["data"]["unknown"]
    assert unknown["mode"] == "unk" and unknown["tokens"] == sum(counts.values()) and unknown["types"] == 3
    assert dict((w, n) for w, n in unknown["most_common"]) == dict(counts)
    assert any("3 distinct words" in line and "<unk>" in line for line in lines), lines

    with pytest.raises(ScriptgenError, match=r"3 distinct words .*'newman'.*--unknown unk"):
        run(CHILD, corpus_b, tmp_path, "strict", init_from=parent, unknown="error")
    assert not (tmp_path / "ck" / "strict").exists()


def test_a_parent_without_unk_refuses_unknown_words_with_the_list(corpus_dir, tmp_path):
    plain = PARENT.replace(min_count=1, epochs=1)
    train(
        plain,
        data=corpus_dir,
        name="plain",
        out_dir=tmp_path,
        data_dir=tmp_path / "data",
        progress=False,
        log=lambda m: None,
    )
    corpus_b = make_corpus(tmp_path / "b", 3, extra=("newman",))
    with pytest.raises(ScriptgenError, match=r"'newman' \(\d+\).*no <unk> token.*--min-count 2"):
        run(CHILD.replace(min_count=1), corpus_b, tmp_path, "child", init_from=tmp_path / "plain")


def test_another_architecture_and_resume_are_refused(parent, corpus_dir, tmp_path):
    with pytest.raises(ScriptgenError, match=r"cannot change --hidden-dim 64 \(checkpoint: 48\)"):
        run(CHILD.replace(hidden_dim=64), corpus_dir, tmp_path, "x", init_from=parent, explicit={"hidden_dim"})
    cli = subprocess.run(
        [sys.executable, "-m", "scriptgen", "train", "--init-from", str(parent), "--resume", str(parent)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 2 and cli.stderr.count("\n") == 1 and "pass only one of them" in cli.stderr, cli.stderr
