"""Samples while training: drawn from the model as it is, never changing the run, kept across a resume."""

from __future__ import annotations

import re

import pytest

from scriptgen import Config, ScriptgenError, load_checkpoint, train, write_script
from scriptgen.data.rundata import load_run_data
from scriptgen.model.checkpoint import read_tensors
from scriptgen.training.history import read_history
from scriptgen.training.plots import CurvesView, LiveCurves
from scriptgen.training.progress import SAMPLE_TEMPERATURE

# dropout draws from the training RNG at every step: a sample that touched it would change the weights;
# no averaged weights, so the sampled model is the one trainer.safetensors holds as "last"
CFG = Config(
    embedding_dim=16, hidden_dim=24, n_layers=2, dropout=0.3, seq_len=8, batch_size=32, lr=0.01, epochs=1,
    eval_interval=8, output="softmax", sample_length=12, seed=5, ema_decay=0.0,
)  # fmt: skip
HEADER = re.compile(r"^=== step (\d+)  epoch ([\d.]+)  val ([\d.]+)$")


def run(cfg, corpus_dir, tmp_path, name, **kwargs):
    return train(
        cfg,
        data=corpus_dir,
        name=name,
        out_dir=tmp_path / "ck",
        data_dir=tmp_path / "data",
        progress=False,
        log=lambda m: None,
        **kwargs,
    )


def entries(text: str) -> list[tuple[str, str]]:
    """(header, sample) pairs of a samples.txt."""
    out: list[tuple[str, str]] = []
    for line in text.split("\n"):
        if HEADER.match(line):
            out.append((line, ""))
        else:
            out[-1] = (out[-1][0], out[-1][1] + line + "\n")
    return [(header, body.rstrip("\n")) for header, body in out]  # each entry ends with an empty line


def reference_sample(ckpt, model, corpus_dir, tmp_path) -> str:
    """What ``scriptgen generate`` writes in fp32 with ``model`` after the run's sample prime (the training split's
    first token)."""
    data = load_run_data(ckpt.config, corpus_dir, tmp_path / "data", log=lambda m: None)
    prime = [int(data.train_batches.ids[data.split.train[0][0]])]
    length, seed = CFG.sample_length, CFG.seed
    new = write_script(model, ckpt.vocab, prime, length=length, temperature=SAMPLE_TEMPERATURE, seed=seed)
    return ckpt.vocab.decode(prime + new).rstrip()


def test_samples_leave_the_weights_bitwise_unchanged_and_come_from_the_current_model(corpus_dir, tmp_path):
    seen = []
    with_samples = run(
        CFG, corpus_dir, tmp_path, "on", on_validation=lambda history, sample: seen.append((len(history), sample))
    )
    without = run(CFG.replace(sample_every=0), corpus_dir, tmp_path, "off")
    assert with_samples.steps == without.steps and len(with_samples.history) >= 3
    on, off = tmp_path / "ck" / "on", tmp_path / "ck" / "off"
    for name in ("model.safetensors", "trainer.safetensors"):  # weights, Adam moments, hidden state, RNG state
        a, b = read_tensors(on / name), read_tensors(off / name)
        assert a.keys() == b.keys()
        assert all(a[k].equal(b[k]) for k in a), name
    assert not (off / "samples.txt").exists()

    # one sample per validation, its header made of that validation's row
    history = read_history(on / "history.csv")
    samples = entries((on / "samples.txt").read_text())
    assert len(samples) == len(history)
    for (header, _), row in zip(samples, history):
        step, epoch, val = HEADER.match(header).groups()
        assert int(step) == row["step"] and float(val) == pytest.approx(row["val_loss"], abs=1e-4)
    # the callback saw every validation, with the same samples
    assert [n for n, _ in seen] == list(range(1, len(history) + 1))
    assert [s.rstrip() for _, s in seen] == [body for _, body in samples]

    # reference: the last sample is the fp32 generator's output for the weights of that step (trainer.safetensors),
    # primed with the first token of the training split
    ckpt = load_checkpoint(on)
    assert samples[-1][1] == reference_sample(ckpt, ckpt.build_model("cpu", which="last"), corpus_dir, tmp_path)


def test_samples_are_appended_across_a_resume_and_every_n_validations(corpus_dir, tmp_path):
    cfg = CFG.replace(sample_every=2, sample_prime="jerry: you know")
    run(cfg, corpus_dir, tmp_path, "r")
    folder = tmp_path / "ck" / "r"
    first = (folder / "samples.txt").read_text()
    n_first = len(read_history(folder / "history.csv"))
    assert len(entries(first)) == n_first // 2
    assert all(body.startswith("jerry: you know") for _, body in entries(first))

    ck, data = tmp_path / "ck", tmp_path / "data"
    train(
        cfg.replace(epochs=2),
        name="r",
        out_dir=ck,
        data_dir=data,
        resume=True,
        explicit={"epochs"},
        progress=False,
        log=lambda m: None,
    )
    after = (folder / "samples.txt").read_text()
    history = read_history(folder / "history.csv")
    assert after.startswith(first), "the samples before the resume are kept"
    # validations are counted across the resume: every second one of the whole run has a sample
    steps = [int(HEADER.match(h).group(1)) for h, _ in entries(after)]
    assert steps == [row["step"] for i, row in enumerate(history, 1) if i % 2 == 0]
    assert load_checkpoint(folder)  # samples.txt is in the verified manifest


def test_an_unknown_sample_prime_is_refused_before_training(corpus_dir, tmp_path):
    with pytest.raises(ScriptgenError, match="--sample-prime 'zyzzyva:'.*not in the vocabulary"):
        run(CFG.replace(sample_prime="zyzzyva:"), corpus_dir, tmp_path, "bad")
    assert not (tmp_path / "ck" / "bad").exists()


def test_live_curves_redraw_with_the_latest_sample():
    shown = []
    live = LiveCurves(shown.append, title="t")
    rows = [{"step": 10, "elapsed_s": 1.0, "train_loss": 2.0, "val_loss": 2.5}]
    live(rows, "jerry: hello")
    live(
        rows + [{"step": 20, "elapsed_s": 2.0, "train_loss": 1.5, "val_loss": 2.0}], None
    )  # no new sample: the last stays
    assert len(shown) == 2 and all(isinstance(v, CurvesView) for v in shown)
    bundle = shown[-1]._repr_mimebundle_()
    assert bundle["text/plain"] == "jerry: hello" and "<pre>jerry: hello</pre>" in bundle["text/html"]
    assert bundle["image/png"] and shown[0].png != shown[1].png


def test_with_averaged_weights_the_samples_come_from_the_average(corpus_dir, tmp_path):
    from scriptgen.training.averaging import load_average, make_average

    run(CFG.replace(ema_decay=0.9), corpus_dir, tmp_path, "avg")
    folder = tmp_path / "ck" / "avg"
    ckpt = load_checkpoint(folder)
    last = ckpt.build_model("cpu", which="last")
    average = make_average(ckpt.build_model("cpu", which="last"), ckpt.config.ema_decay)
    load_average(average, read_tensors(folder / "trainer.safetensors"))  # the average as the trainer saved it
    from_average = reference_sample(ckpt, average.module.eval(), corpus_dir, tmp_path)
    assert from_average != reference_sample(ckpt, last, corpus_dir, tmp_path)  # the two models write different samples
    assert entries((folder / "samples.txt").read_text())[-1][1] == from_average
