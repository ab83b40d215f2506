"""scriptgen evaluate: the held-out loss against a token-by-token loop and training's own figure, the sample figures
against reference computations, the refusals (changed data, bad settings) and the command line."""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from scriptgen import RNN, Config, ScriptgenError, evaluate_checkpoint, generate, train, write_script
from scriptgen.cli import main
from scriptgen.config import REGULARIZERS_OFF
from scriptgen.data.script import Cast, is_cue_token
from scriptgen.data.tokens import Vocab, word_tokenize
from scriptgen.evaluation.evaluate import default_prime, draw_samples, score_samples, training_text
from scriptgen.evaluation.heldout import eval_batches, heldout_nats, heldout_on_text, score_text
from scriptgen.evaluation.novelty import NgramIndex
from scriptgen.evaluation.textstats import CastProfile, chosen_lines, distinct_n, repetition_rate, total_variation
from scriptgen.model.checkpoint import Checkpoint, load_checkpoint
from scriptgen.writing.sampler import Sampler

TINY = dict(
    **REGULARIZERS_OFF,
    embedding_dim=16, hidden_dim=32, n_layers=1, dropout=0.0, seq_len=16, batch_size=16, lr=0.01, epochs=1,
    output="softmax", precision="fp32",
)  # fmt: skip
QUIET = dict(progress=False, log=lambda message: None)


def _train(cfg: Config, corpus: Path, folder: Path, name: str) -> Path:
    train(cfg, data=corpus, name=name, out_dir=folder, data_dir=folder / "data", **QUIET)
    return folder / name


@pytest.fixture(scope="module")
def word_ckpt(corpus_dir, tmp_path_factory) -> Path:
    return _train(Config(**TINY), corpus_dir, tmp_path_factory.mktemp("word"), "word")


@pytest.fixture(scope="module")
def char_ckpt(corpus_dir, tmp_path_factory) -> Path:
    cfg = Config(**{**TINY, "level": "char", "seq_len": 32, "batch_size": 16, "hidden_dim": 24})
    return _train(cfg, corpus_dir, tmp_path_factory.mktemp("char"), "char")


def _evaluate(ckpt: Path, **kwargs):
    return evaluate_checkpoint(
        ckpt,
        data_dir=ckpt.parent / "data",
        log=lambda m: None,
        **{"samples": 3, "length": 60, "temperatures": [0.8], **kwargs},
    )


# --------------------------------------------------------------------------
# Held-out loss
# --------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("output", ["softmax", "adaptive"])
def test_heldout_loss_is_the_mean_over_positions_of_a_token_by_token_loop(cell, output):
    torch.manual_seed(0)
    model = RNN(
        300, 300, 12, 20, 2, dropout=0.3, cell=cell, output=output, cutoffs=[50, 150]
    ).eval()  # eval: no dropout
    ids = np.random.default_rng(0).integers(0, 300, size=160).astype(np.uint16)
    ranges = [(0, 60), (80, 160)]  # two documents, a gap between them
    batches = eval_batches(ids, ranges, batch_size=4, seq_len=7, what="test")
    total, count = heldout_nats(model, batches)

    stream = np.concatenate([ids[0:60], ids[80:160]]).astype(np.int64)
    rows, row_len = batches.batch_size, batches.row_len
    expected, scored = 0.0, 0
    with torch.no_grad():
        for r in range(rows):  # each row a contiguous stretch of the stream, its state carried token by token
            hidden = None
            for t in range(r * row_len, (r + 1) * row_len):
                out, hidden = model.features(torch.tensor([[stream[t]]]), hidden)
                log_p = torch.log_softmax(model.logits(out[:, -1]).double(), dim=-1)
                expected -= float(log_p[0, stream[t + 1]])
                scored += 1
    assert rows == 4 and count == scored == 4 * (139 // 4)
    assert total == pytest.approx(expected, rel=1e-5)


def test_char_level_bits_per_char_is_nats_per_token_in_bits():
    torch.manual_seed(1)
    vocab = Vocab("char", list("ab :\nxyz"))
    model = RNN(len(vocab), len(vocab), 8, 8, 1).eval()
    ids = np.asarray(vocab.encode("ab: xyz\nza: bay\n" * 20), dtype=np.int64)
    heldout = score_text(model, vocab, eval_batches(ids, [(0, len(ids))], 4, 8, "test"), "text")
    assert heldout.chars == heldout.tokens
    assert heldout.bits_per_char == pytest.approx(heldout.nats_per_token / math.log(2))
    scored = vocab.decode(ids[1 : 1 + heldout.tokens].tolist())
    assert heldout.words == len(scored.split())


def test_checkpoint_heldout_equals_the_validation_loss_training_recorded(word_ckpt):
    report = _evaluate(word_ckpt)
    info = json.loads((word_ckpt / "config.json").read_text())
    assert report.heldout.nats_per_token == pytest.approx(info["metrics"]["best_val_loss"], rel=1e-5)
    assert report.heldout.text == f"validation split ({len(info['data']['split']['val_documents'])} document)"
    assert report.train_tokens == info["data"]["n_train_tokens"]


def test_char_checkpoint_checks_40_character_spans(char_ckpt):
    report = _evaluate(char_ckpt)
    info = json.loads((char_ckpt / "config.json").read_text())
    assert report.heldout.nats_per_token == pytest.approx(info["metrics"]["best_val_loss"], rel=1e-5)
    assert report.heldout.bits_per_char == pytest.approx(report.heldout.nats_per_token / math.log(2))
    assert report.rows[0].copy_span == 40 and report.level == "char"


def _with_vocab(ckpt: Checkpoint, vocab: Vocab) -> tuple[Checkpoint, RNN]:
    torch.manual_seed(2)
    return Checkpoint(ckpt.folder, ckpt.config, vocab, ckpt.info), RNN.from_config(ckpt.config, len(vocab)).eval()


def test_unknown_words_are_left_out_or_mapped_to_unk_and_counted(word_ckpt, tmp_path):
    ckpt = load_checkpoint(word_ckpt)
    text = "jerry: what is the deal with the zorblax?\nkramer: zorblax, zorblax! glorp.\n" * 5
    (tmp_path / "mine.txt").write_text(text)
    unknown = [t for t in word_tokenize(text) if t not in ckpt.vocab.stoi]
    assert len(unknown) == 20  # "zorblax" x3 and "glorp" per line pair

    # no <unk> in the vocabulary: the words are left out, so the text scores as the text without them
    plain, model = _with_vocab(ckpt, ckpt.vocab)
    heldout = heldout_on_text(model, plain, tmp_path / "mine.txt", "utf-8")
    (tmp_path / "without.txt").write_text(" ".join(t for t in word_tokenize(text) if t in ckpt.vocab.stoi))
    without = heldout_on_text(model, plain, tmp_path / "without.txt", "utf-8")
    assert (heldout.unknown, heldout.unknown_as, without.unknown) == (20, "left out", 0)
    assert heldout.tokens == without.tokens and heldout.nats == pytest.approx(without.nats, rel=1e-9)

    # with <unk>: they become <unk>, as if the text said "<unk>"
    with_unk, model = _with_vocab(ckpt, Vocab("word", ckpt.vocab.itos + ["<unk>"], unk="<unk>"))
    heldout = heldout_on_text(model, with_unk, tmp_path / "mine.txt", "utf-8")
    (tmp_path / "unk.txt").write_text(text.replace("zorblax", "<unk>").replace("glorp", "<unk>"))
    as_unk = heldout_on_text(model, with_unk, tmp_path / "unk.txt", "utf-8")
    assert (heldout.unknown, heldout.unknown_as, as_unk.unknown) == (20, "<unk>", 0)
    rows = min(
        ckpt.config.batch_size, (len(word_tokenize(text)) - 1) // ckpt.config.seq_len
    )  # the stream cut as validation cuts it
    assert heldout.tokens == as_unk.tokens == rows * ((len(word_tokenize(text)) - 1) // rows)
    assert heldout.nats == pytest.approx(as_unk.nats, rel=1e-9)


def test_data_without_known_words_is_refused(word_ckpt, tmp_path):
    (tmp_path / "nothing.txt").write_text("zorblax glorp quux\n")
    with pytest.raises(ScriptgenError, match="no words the checkpoint's vocabulary knows"):
        _evaluate(word_ckpt, data=tmp_path / "nothing.txt")


def test_changed_training_text_is_refused_and_a_moved_copy_is_accepted(corpus_dir, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(corpus_dir, corpus)
    ckpt = _train(Config(**TINY), corpus, tmp_path, "moved")
    expected = _evaluate(ckpt).heldout.nats
    moved = tmp_path / "elsewhere"
    corpus.rename(moved)
    with pytest.raises(ScriptgenError, match="is not at .*--train-data PATH"):
        _evaluate(ckpt)
    assert _evaluate(ckpt, train_data=moved).heldout.nats == pytest.approx(expected, rel=1e-9)
    (moved / "episode0.txt").write_text((moved / "episode0.txt").read_text() + "jerry: one more line.\n")
    with pytest.raises(ScriptgenError, match="changed since the model was trained"):
        _evaluate(ckpt, train_data=moved)


# --------------------------------------------------------------------------
# Samples
# --------------------------------------------------------------------------
def test_text_figures_match_plain_reference_loops():
    samples = [["a", "b", "a", "b", "a", "b", "c"], ["a", "b", "c", "d", "a", "b", "c", "d", "a"]]
    for n in (1, 2, 3):
        grams = [tuple(s[i : i + n]) for s in samples for i in range(len(s) - n + 1)]
        assert distinct_n(samples, n) == len(set(grams)) / len(grams)
    repeats = total = 0
    for s in samples:
        seen = set()
        for i in range(len(s) - 3):
            gram = tuple(s[i : i + 4])
            repeats, total = repeats + (gram in seen), total + 1
            seen.add(gram)
    assert repetition_rate(samples, 4) == repeats / total == 3 / 10
    assert total_variation(Counter(a=3, b=1), Counter(a=1, c=1)) == pytest.approx(0.5 * (abs(0.75 - 0.5) + 0.25 + 0.5))
    assert total_variation(Counter(a=2), Counter(a=5)) == 0.0
    assert chosen_lines("jerry: hi.\n[laughter]\ngeorge: so\nkramer: cut") == "[laughter]\ngeorge: so"
    assert chosen_lines("jerry: hi.\ngeorge: yes.\n") == "george: yes."


def test_default_prime_is_the_most_common_cue_as_spelled():
    texts = ["JERRY: hi.\nGEORGE: so.\n", "George: yes?\nGEORGE: no.\n[laughter]\n"]
    vocab = Vocab("char", sorted(set("".join(texts))))
    assert (
        default_prime(iter(texts), CastProfile(Cast.of(texts)), vocab, "J") == "GEORGE:"
    )  # george speaks 3 lines, jerry 1
    no_cast = ["just some prose.\n"]
    assert default_prime(iter(no_cast), CastProfile(Cast.of(no_cast)), vocab, "j") == "j"


def test_draw_samples_is_generate_with_seed_plus_k(word_ckpt):
    ckpt = load_checkpoint(word_ckpt)
    model = ckpt.build_model()
    prime = ckpt.vocab.encode("george:")
    drawn = draw_samples(Sampler(model, "fp32"), prime, 3, 25, 0.9, seed=41)
    assert drawn == [generate(model, prime, 25, 0.9, seed=41 + k) for k in range(3)]
    assert draw_samples(Sampler(model, "fp32"), prime, 3, 25, 0.9, seed=41) == drawn


def test_draw_samples_with_the_vocabulary_are_what_generate_writes(word_ckpt):
    """evaluate's samples: the script writer's (whole lines, a cue token only at a line start), seed + k."""
    ckpt = load_checkpoint(word_ckpt)
    model, vocab = ckpt.build_model(), ckpt.vocab
    prime = vocab.encode("george:")
    drawn = draw_samples(Sampler(model, "fp32"), prime, 3, 25, 1.5, seed=41, vocab=vocab)
    assert drawn == [write_script(model, vocab, prime, length=25, temperature=1.5, seed=41 + k) for k in range(3)]
    newline = vocab.stoi["||return||"]
    for ids in drawn:
        assert ids[-1] == newline
        assert not [i for k, i in enumerate(ids) if k and ids[k - 1] != newline and is_cue_token(vocab.itos[i])]


def test_sample_scores_match_brute_force(word_ckpt):
    ckpt = load_checkpoint(word_ckpt)
    vocab = ckpt.vocab
    text = training_text(ckpt, word_ckpt.parent / "data", log=lambda m: None)
    ids = text.prepared.ids
    index = NgramIndex(ids, text.train, 8, len(vocab))
    prime = vocab.encode("jerry:")
    pasted = ids[text.train[0][0] + 10 : text.train[0][0] + 70].tolist()
    samples = draw_samples(Sampler(ckpt.build_model(), "fp32"), prime, 4, 60, 1.0, seed=5) + [pasted]
    corpus = CastProfile(Cast.of(text.texts()))
    row = score_samples(samples, prime, 1.0, vocab, index, text, corpus)

    train_grams = {tuple(ids[i : i + 8].tolist()) for s, e in text.train for i in range(s, e - 7)}
    spans = [tuple(s[i : i + 8]) for s in samples for i in range(len(s) - 7)]
    assert row.novelty == pytest.approx(sum(g not in train_grams for g in spans) / len(spans))
    assert row.longest == 60 and row.longest_text == vocab.decode(pasted)  # the pasted piece is the longest copy
    assert row.longest_document == text.prepared.documents[0]["name"]
    words = [word_tokenize(vocab.decode(s)) for s in samples]
    assert row.distinct[1] == distinct_n(words, 2) and row.repetition == repetition_rate(words, 4)
    lines = [line for s in samples for line in chosen_lines(vocab.decode(prime + s)).split("\n") if line.strip()]
    assert row.cast.lines == len(lines)
    assert row.cast.action_share == pytest.approx(sum(line.strip() == "[laughter]" for line in lines) / len(lines))
    speakers = Counter(line.split(":")[0] for line in lines if line.split(":")[0] in corpus.cast.speakers)
    assert row.speaker_tvd == pytest.approx(total_variation(speakers, corpus.cast.speakers))


def test_report_is_reproducible_json_and_a_table(word_ckpt):
    report = _evaluate(word_ckpt, temperatures=[0.5, 1.0], seed=3)
    figures = report.to_json()
    json.dumps(figures, allow_nan=False)  # valid JSON: no NaN
    again = _evaluate(word_ckpt, temperatures=[0.5, 1.0], seed=3).to_json()
    assert {k: v for k, v in again.items() if k != "seconds"} == {k: v for k, v in figures.items() if k != "seconds"}
    assert [row["temperature"] for row in figures["temperatures"]] == [0.5, 1.0]
    # the prime is the training split's most common speaker cue
    texts = training_text(load_checkpoint(word_ckpt), word_ckpt.parent / "data", log=lambda m: None).texts()
    cues = Counter(line.split(":")[0] for t in texts for line in t.split("\n") if ":" in line)
    assert report.prime == cues.most_common(1)[0][0] + ":"
    table = report.markdown().splitlines()
    rows = [line for line in table if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 2 and rows[0].startswith("| 0.5 |") and rows[1].startswith("| 1 |")
    assert any("nats/token" in line and "bits/char" in line for line in table)


# --------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------
def _cli(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_json(word_ckpt, capsys):
    code, out, err = _cli(["evaluate", "--checkpoint", str(word_ckpt), "--data-dir", str(word_ckpt.parent / "data"),
                           "--samples", "2", "--length", "30", "--temperature", "0.7,1.0",
                           "--json"], capsys)  # fmt: skip
    assert code == 0 and err == ""
    figures = json.loads(out)
    assert [row["samples"] for row in figures["temperatures"]] == [2, 2] and figures["sampling"]["length"] == 30


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--samples", "0"], "--samples 0 is invalid"),
        (["--temperature", "0"], "--temperature 0.0 is invalid"),
        (["--temperature", "0.5,-1"], "--temperature -1.0 is invalid"),
        (["--temperature", "warm"], "argument --temperature"),
        (["--length", "0"], "--length 0 is invalid"),
        (["--prime", "zorblax:"], "not in the vocabulary"),
        (["--data", "NOWORDS"], "no words the checkpoint's vocabulary knows"),
        (["--checkpoint", "MISSING"], "does not exist"),
    ],
)
def test_cli_bad_input_is_one_line(word_ckpt, tmp_path, capsys, extra, expected):
    (tmp_path / "nowords.txt").write_text("zorblax glorp\n")
    extra = [
        str(tmp_path / "nowords.txt") if a == "NOWORDS" else str(tmp_path / "missing") if a == "MISSING" else a
        for a in extra
    ]
    code, out, err = _cli(
        ["evaluate", "--checkpoint", str(word_ckpt), "--data-dir", str(word_ckpt.parent / "data"), *extra], capsys
    )
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("scriptgen: error: ") and expected in err


def test_lines_samples_are_whole_lines_as_generate_writes_them(word_ckpt):
    """evaluate --lines: each sample is that many non-blank lines, the same ids as the writer's for the same seed."""
    from scriptgen.writing.draw import make_generator
    from scriptgen.writing.writer import ScriptWriter, WriteOptions

    ckpt = load_checkpoint(word_ckpt)
    sampler = Sampler(ckpt.build_model("cpu"), "fp32")
    prime = ckpt.vocab.encode("jerry:")
    drawn = draw_samples(sampler, prime, 3, 400, 0.8, 11, lines=4, vocab=ckpt.vocab)
    for k, ids in enumerate(drawn):
        text = ckpt.vocab.decode(prime + ids)
        assert text.endswith("\n") and len([line for line in text.splitlines() if line.strip()]) == 4
        sampler.reset()
        sampler.feed(prime)
        expected = ScriptWriter(sampler, ckpt.vocab).write(
            prime, WriteOptions(length=400, lines=4, temperature=0.8), make_generator(11 + k)
        )
        assert ids == expected.ids
    result = _evaluate(word_ckpt, samples=2, lines=3)
    assert result.to_json()["sampling"]["lines"] == 3 and "3 lines each" in result.markdown()
