"""Steered script writing (scriptgen/writer.py, scriptgen/cues.py): whole lines, cast, turns, top-p, repetition penalty,
the cast of a corpus.

Two tiny checkpoints (word and char level) are trained once on the test
corpus of conftest.py; the line accounting is also checked with a scripted
sampler whose every draw is fixed, so cut-backs and blank lines are exact.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import math
from types import SimpleNamespace

import pytest
import torch

from scriptgen import Config, ScriptgenError, load_checkpoint, prepare, train, write_script
from scriptgen.cli import main
from scriptgen.config import REGULARIZERS_OFF
from scriptgen.data.script import Cast, parse_script
from scriptgen.data.tokens import Vocab, word_tokenize
from scriptgen.writing.cues import ScriptTokens
from scriptgen.writing.draw import make_generator, nucleus, sample_next
from scriptgen.writing.interactive import chat
from scriptgen.writing.sampler import Sampler
from scriptgen.writing.writer import FINISH_BUDGET, PENALTY_WINDOW, ScriptWriter, WriteOptions

writer_module = importlib.import_module("scriptgen.writing.writer")

CAST = ["jerry", "george", "elaine", "kramer"]


def _train(corpus_dir, root, level: str):
    cfg = Config(
        **REGULARIZERS_OFF,
        level=level, embedding_dim=16, hidden_dim=32, n_layers=1, dropout=0.0, seq_len=16, batch_size=8, lr=0.01,
        epochs=2 if level == "word" else 1,
        output="softmax",
    )  # fmt: skip
    train(cfg, data=corpus_dir, name=level, out_dir=root, data_dir=root / "data", progress=False, log=lambda m: None)
    return load_checkpoint(root / level)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, corpus_dir):
    root = tmp_path_factory.mktemp("writer")
    return {level: _train(corpus_dir, root, level) for level in ("word", "char")}


def _writer(ckpt, precision="fp32"):
    return ScriptWriter(Sampler(ckpt.build_model(), precision), ckpt.vocab, ckpt.cast)


def _write(ckpt, prime: str, seed: int, precision="fp32", **options):
    """The new text after ``prime`` and the Written record."""
    writer = _writer(ckpt, precision)
    ids = ckpt.vocab.encode(prime)
    writer.sampler.feed(ids)
    written = writer.write(ids, WriteOptions(**options), make_generator(seed))
    return ckpt.vocab.decode(written.ids), written


def _non_blank(text: str) -> list:
    return [line for line in parse_script(text) if line.kind != "blank"]


# --------------------------------------------------------------------------
# sampling: top-p by hand
# --------------------------------------------------------------------------
def test_top_p_keeps_the_hand_computed_nucleus():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    logits = probs.log()
    for top_p, kept in ((0.4, [0]), (0.75, [0, 1]), (0.85, [0, 1, 2]), (0.99, [0, 1, 2, 3]), (1.0, [0, 1, 2, 3])):
        filtered = nucleus(logits, top_p)
        assert torch.isfinite(filtered[0]).nonzero().flatten().tolist() == kept, top_p
        expected = torch.zeros(4)
        expected[kept] = probs[0, kept] / probs[0, kept].sum()  # the nucleus, renormalised
        assert torch.allclose(torch.softmax(filtered, dim=-1)[0], expected, atol=1e-6)
    # the draws: 20,000 rows at once, only the nucleus {0, 1} with 0.625 / 0.375
    draws = sample_next(logits.expand(20_000, 4), 1.0, 0, make_generator(0), top_p=0.75).flatten()
    assert set(draws.tolist()) <= {0, 1}
    share = (draws == 0).float().mean().item()
    assert abs(share - 0.625) < 4 * math.sqrt(0.625 * 0.375 / 20_000)


def test_top_p_one_is_the_plain_draw_and_the_fast_path_matches_the_reference(checkpoints):
    from scriptgen.writing.generate import generate, generate_reference

    logits = torch.randn(3, 50)
    a = sample_next(logits, 0.9, 0, make_generator(1))
    b = sample_next(logits, 0.9, 0, make_generator(1), top_p=1.0)
    assert torch.equal(a, b)
    model, prime = checkpoints["word"].build_model(), checkpoints["word"].vocab.encode("jerry:")
    fast = generate(model, prime, 60, temperature=1.2, seed=3, top_p=0.8)
    assert fast == generate_reference(model, prime, 60, temperature=1.2, seed=3, top_p=0.8)
    assert fast != generate(model, prime, 60, temperature=1.2, seed=3)  # the nucleus changed the draws


# --------------------------------------------------------------------------
# whole lines
# --------------------------------------------------------------------------
@pytest.mark.parametrize("level", ["word", "char"])
def test_lines_gives_exactly_n_non_blank_lines(checkpoints, level):
    ckpt = checkpoints[level]
    for seed, n in ((1, 1), (2, 5), (3, 12)):
        # the prime's unfinished line, completed by the model, is the first line
        text, written = _write(ckpt, "jerry: you know", seed, lines=n)
        full = "jerry: you know" + (" " if level == "word" else "") + text
        assert written.ended == "lines" and written.lines == n
        assert text.endswith("\n") and len(_non_blank(full)) == n, full
        # a prime that ends with a line break: its complete line is not counted
        text, _ = _write(ckpt, "george: hey.\n", seed, lines=n)
        assert text.endswith("\n") and len(_non_blank(text)) == n


def _one_cue_draws(ckpt, prime: str, n: int, temperature: float, seed: int, precision="fp32", mask=True) -> list:
    """Reference: ``n`` draws of the plain sampler's loop (Sampler.stepping, one sample_next per token), with every cue
    token at -inf except at a line start when ``mask`` (word level: cues open lines)."""
    tokens, ids = ScriptTokens(ckpt.vocab), ckpt.vocab.encode(prime)
    sampler = Sampler(ckpt.build_model(), precision)
    sampler.feed(ids)
    generator, logits, new = make_generator(seed), sampler.logits.unsqueeze(0), []
    at_start = ids[-1] == tokens.newline
    with sampler.stepping() as step:
        for _ in range(n):
            scores = logits.masked_fill(tokens.is_cue, float("-inf")) if mask and not at_start else logits
            token = sample_next(scores, temperature, 0, generator).view(1)
            new.append(int(token))
            logits = step(token)
            at_start = new[-1] == tokens.newline
    return new


def _mid_line_cues(ckpt, prime: str, new: list) -> int:
    """Cue tokens in ``new`` that do not open a line (``newman: george: hi.``, ``i gotta george: ...``)."""
    tokens, ids = ScriptTokens(ckpt.vocab), ckpt.vocab.encode(prime) + new
    first = len(ids) - len(new)
    return sum(ids[k] in tokens.cues and ids[k - 1] != tokens.newline for k in range(max(first, 1), len(ids)))


@pytest.mark.parametrize("level", ["word", "char"])
def test_plain_output_ends_at_a_line_end_and_keeps_the_plain_draws(checkpoints, level):
    """Char level: the plain sampler's draws; word level: those of the plain loop with one speaker per line."""
    ckpt = checkpoints[level]
    for seed, length in ((4, 7), (5, 33)):
        text, written = _write(ckpt, "jerry:", seed, length=length)
        assert text.endswith("\n") and written.ended in ("line end", "length")
        if level == "word":
            drawn = _one_cue_draws(ckpt, "jerry:", len(written.ids), 0.8, seed)
        else:
            plain = Sampler(ckpt.build_model(), "fp32")
            plain.feed(ckpt.vocab.encode("jerry:"))
            drawn = plain.sample(len(written.ids), 0.8, 0, make_generator(seed))
        if written.ended == "line end":  # the cap's tokens, then the line finished: all the plain sampler's draws
            assert written.ids == drawn and len(written.ids) > length - 1
        else:
            assert written.ids == drawn[: len(written.ids)]


# --------------------------------------------------------------------------
# the line accounting, exactly: a sampler whose every draw is fixed
# --------------------------------------------------------------------------
class ScriptedSampler:
    """Draws ``script``'s tokens in order (all other scores -inf), with the Sampler's interface."""

    def __init__(self, vocab: Vocab, script: list[int]):
        self.vocab, self.script, self.position = vocab, script, 0
        self.model = SimpleNamespace(device=torch.device("cpu"))
        self.logits = self._scores()
        self.fed: list[int] = []

    def _scores(self) -> torch.Tensor:
        scores = torch.full((len(self.vocab),), float("-inf"))
        scores[self.script[min(self.position, len(self.script) - 1)]] = 0.0
        return scores

    def _step(self, token):
        self.position += 1
        return self._scores().unsqueeze(0)

    @contextlib.contextmanager
    def stepping(self):
        yield self._step

    def sample(self, length, temperature, top_k, generator, top_p=1.0):
        ids = self.script[self.position : self.position + length]
        self.position += length
        self.logits = self._scores()
        return ids

    def snapshot(self):
        return self.position

    def restore(self, snapshot):
        self.position = snapshot

    def feed(self, ids):
        self.fed += ids
        self.position += len(ids)
        self.logits = self._scores()

    def hidden(self):
        return None


def _scripted(text: str, prime: str, **options):
    vocab = Vocab.build([word_tokenize(text + " " + prime + "\n")], "word")
    writer = ScriptWriter(ScriptedSampler(vocab, vocab.encode(text)), vocab)
    written = writer.write(vocab.encode(prime), WriteOptions(**options), make_generator(0))
    return vocab.decode(written.ids), written, writer.sampler


def test_blank_lines_do_not_count_and_the_prime_line_does():
    script = " a.\n\ngeorge: b.\n\n\nelaine: c.\n\nkramer: d.\n"
    text, written, _ = _scripted(script, "jerry:", lines=2)
    assert text == "a.\n\ngeorge: b.\n" and written.lines == 2
    text, written, _ = _scripted(script, "jerry:", lines=3)
    assert text == "a.\n\ngeorge: b.\n\n\nelaine: c.\n" and written.ended == "lines"


def test_the_cap_finishes_the_line_or_cuts_back_to_the_last_line_end():
    words = " ".join(["word"] * (FINISH_BUDGET["word"] + 10))
    # the cap falls inside "b b b": the line is finished within the budget
    text, written, _ = _scripted("a.\njerry: b b b b.\nmore words\n", "jerry:", length=5)
    assert text == "a.\njerry: b b b b.\n" and written.ended == "line end"
    # the second line never ends within the budget: cut back to the first line's end, and the state with it
    text, written, sampler = _scripted(f"a.\njerry: {words}\n", "jerry:", length=5)
    assert text == "a.\n" and written.ended == "length" and written.lines == 1
    assert (
        sampler.fed == sampler.vocab.encode("a.\n") and sampler.position == 3
    )  # restored to the start, then fed the kept tokens
    # with --lines the cap is a cap: the lines done so far, ending at a line end
    text, written, _ = _scripted(f"a.\njerry: {words}\n", "jerry:", lines=3, length=20)
    assert text == "a.\n" and written.ended == "length" and written.lines == 1
    # no line end at all after an unfinished prime: the line is ended with a line break
    text, written, _ = _scripted(words, "jerry:", length=5)
    assert text.endswith("\n") and text.count("\n") == 1 and written.lines == 1


# --------------------------------------------------------------------------
# cast and turns
# --------------------------------------------------------------------------
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_a_cast_of_everyone_draws_exactly_the_plain_loops_tokens(checkpoints, precision):
    """Nothing to mask but mid-line cues: the steered loop must make the reference loop's float operations and draws."""
    ckpt = checkpoints["word"]
    everyone = ScriptTokens(ckpt.vocab, ckpt.cast).names
    assert sorted(everyone) == sorted(CAST)
    for seed in (1, 2, 3):
        _, written = _write(ckpt, "jerry:", seed, precision=precision, cast=tuple(everyone), lines=12, temperature=1.0)
        assert written.ids == _one_cue_draws(ckpt, "jerry:", len(written.ids), 1.0, seed, precision)


def test_a_line_has_one_speaker_though_the_plain_sampler_writes_cues_mid_line(checkpoints):
    ckpt = checkpoints["word"]
    plain = steered = 0
    for seed in range(1, 6):
        _, written = _write(ckpt, "jerry:", seed, length=200, temperature=2.0)
        steered += _mid_line_cues(ckpt, "jerry:", written.ids)
        plain += _mid_line_cues(ckpt, "jerry:", _one_cue_draws(ckpt, "jerry:", 200, 2.0, seed, mask=False))
    assert plain > 0 and steered == 0, (plain, steered)  # the hot plain sampler does write them; the writer never


@pytest.mark.parametrize("level", ["word", "char"])
def test_cast_restricted_output_has_only_the_chosen_speakers(checkpoints, level):
    ckpt = checkpoints[level]
    newline = ScriptTokens(ckpt.vocab).newline
    seen, actions = set(), 0
    for seed in range(4):
        ids = write_script(
            ckpt.build_model(),
            ckpt.vocab,
            [newline],
            lines=25,
            cast=["Jerry", "ELAINE"],
            seed=seed,
            temperature=1.2,
            known_cast=ckpt.cast,
        )
        lines = parse_script(ckpt.vocab.decode(ids))
        speakers = {line.speaker for line in lines if line.kind == "dialogue"}
        assert speakers <= {"jerry", "elaine"}, ckpt.vocab.decode(ids)
        seen |= speakers
        actions += sum(line.kind == "action" for line in lines)
        quiet = write_script(
            ckpt.build_model(),
            ckpt.vocab,
            [newline],
            lines=15,
            cast=["kramer"],
            actions=False,
            seed=seed,
            known_cast=ckpt.cast,
        )
        lines = parse_script(ckpt.vocab.decode(quiet))
        assert all(line.speaker == "kramer" for line in lines if line.kind == "dialogue")
        assert not [line for line in lines if line.kind == "action"]
    assert seen == {"jerry", "elaine"} and actions > 0  # both spoke, and action lines were still allowed


@pytest.mark.parametrize("level", ["word", "char"])
def test_turns_fix_the_order_of_the_speakers(checkpoints, level):
    ckpt = checkpoints[level]
    turns = ("jerry", "george", "jerry", "kramer")
    for seed in range(3):
        text, written = _write(ckpt, "[laughter]\n", seed, turns=turns, temperature=1.2)
        lines = _non_blank(text)
        assert tuple(line.speaker for line in lines if line.kind == "dialogue") == turns, text
        assert written.ended == "turns" and lines[-1].kind == "dialogue" and text.endswith("\n")
    # the prime's unfinished line is the first turn when its speaker comes first
    text, _ = _write(ckpt, "jerry: you know", 0, turns=("jerry", "elaine"))
    assert [line.speaker for line in _non_blank("jerry: you know " + text) if line.kind == "dialogue"] == [
        "jerry",
        "elaine",
    ]
    # --lines smaller than the turns ends first
    text, written = _write(ckpt, "[laughter]\n", 0, turns=turns, lines=2)
    assert written.ended == "lines" and len(_non_blank(text)) == 2


def test_char_level_speakers_follow_the_models_renormalised_probabilities(checkpoints, monkeypatch):
    """The chooser's look-ahead against each option's probability computed independently from the prime, then its draws'
    frequencies."""
    ckpt = checkpoints["char"]
    model, vocab = ckpt.build_model(), ckpt.vocab
    writer = ScriptWriter(Sampler(model, "fp32"), vocab, ckpt.cast)
    prime = vocab.encode("jerry: i can't believe the soup.\n")
    writer.sampler.feed(prime)
    options = writer.chooser.options(tuple(CAST), True)
    assert {o.label for o in options} == {*CAST, "action", "blank"}
    temperature = 1.3
    reference = []
    with torch.no_grad():  # log P(option | prime) from the whole sequence, one plain forward pass each
        for option in options:
            ids = prime + list(option.ids)
            logits, _ = model.forward_all(torch.tensor([ids]))
            lp = torch.log_softmax(logits[0].float() / temperature, dim=-1)
            reference.append(sum(lp[len(prime) - 1 + k, i].item() for k, i in enumerate(option.ids)))
    logits, hidden = writer.sampler.logits.unsqueeze(0), writer.sampler.hidden()
    scores = writer.chooser.log_probs(logits, hidden, options, temperature)  # the batched look-ahead
    assert torch.allclose(scores, torch.tensor(reference), atol=1e-4)
    expected = torch.softmax(torch.tensor(reference), dim=0)
    assert (expected > 0.05).sum() >= 3, expected  # a spread distribution, or the test says little
    monkeypatch.setattr(
        writer.chooser, "log_probs", lambda *args: scores
    )  # the same scores each time: only the draws repeat
    generator, n = make_generator(11), 5000
    counts = torch.zeros(len(options))
    for _ in range(n):
        counts[options.index(writer.chooser.choose(logits, hidden, options, temperature, generator))] += 1
    for k, p in enumerate(expected.tolist()):
        assert abs(counts[k].item() / n - p) <= 4.5 * math.sqrt(p * (1 - p) / n) + 1e-3, (
            options[k],
            counts / n,
            expected,
        )
    speakers = {name: counts[[k for k, o in enumerate(options) if o.label == name]].sum().item() / n for name in CAST}
    assert (
        max(
            abs(speakers[name] - expected[[k for k, o in enumerate(options) if o.label == name]].sum().item())
            for name in CAST
        )
        < 0.03
    )


# --------------------------------------------------------------------------
# repetition penalty
# --------------------------------------------------------------------------
def test_repetition_penalty_applies_ctrl_to_recent_words_and_spares_structural_tokens(checkpoints, monkeypatch):
    ckpt = checkpoints["word"]
    tokens = ScriptTokens(ckpt.vocab)
    structural = {
        i for i, t in enumerate(ckpt.vocab.itos) if t.startswith(("||", "[")) or t.endswith(":") or t.endswith("]")
    }
    assert structural == tokens.structure and tokens.newline in structural and tokens.cues <= structural
    calls, drawn = [], []
    original = ScriptWriter._scores

    def recording(self, logits, line, o, restricted, window):
        scores = original(self, logits, line, o, restricted, window)
        calls.append((logits.clone(), scores.clone(), list(window)))
        return scores

    def draw(*args, **kwargs):
        token = sample_next(*args, **kwargs)
        drawn.append(int(token))
        return token

    monkeypatch.setattr(ScriptWriter, "_scores", recording)
    monkeypatch.setattr(writer_module, "sample_next", draw)
    r = 3.0
    _write(ckpt, "jerry:", 2, repetition_penalty=r, length=400, temperature=1.0)  # long enough to slide the window
    words = []  # the generated non-structural ids so far
    assert len(calls) == len(drawn) >= 400
    for (raw, scores, window), token in zip(calls, drawn):
        assert window == words[-PENALTY_WINDOW:]
        barred = set((torch.isinf(scores) & torch.isfinite(raw)).nonzero()[:, 1].tolist())
        assert barred <= tokens.cues  # cue tokens inside a line: masked, not penalised
        changed = set(((raw != scores) & torch.isfinite(scores)).nonzero()[:, 1].tolist())
        assert changed == {i for i in window if raw[0, i] != 0} and not changed & structural
        for i in changed:
            v = raw[0, i].item()
            assert scores[0, i].item() == pytest.approx(v / r if v > 0 else v * r)
        if token not in structural:
            words.append(token)
    assert len(words) > PENALTY_WINDOW  # the window filled and slid
    with pytest.raises(ScriptgenError, match="works on words"):
        _write(checkpoints["char"], "jerry:", 0, repetition_penalty=1.2)


# --------------------------------------------------------------------------
# the cast of a corpus: prepare, checkpoint, `scriptgen cast`
# --------------------------------------------------------------------------
def test_prepare_and_checkpoint_carry_the_corpus_cast(checkpoints, corpus_dir, tmp_path, capsys):
    expected = Cast.of(p.read_text() for p in sorted(corpus_dir.glob("*.txt")))
    prepared = prepare(corpus_dir, data_dir=tmp_path / "data", log=lambda m: None)
    assert (
        prepared.cast.to_json() == expected.to_json()
        and json.loads((prepared.folder / "cast.json").read_text()) == expected.to_json()
    )
    ckpt = checkpoints["word"]
    assert ckpt.cast.to_json() == expected.to_json()
    assert "cast.json" in json.loads((ckpt.folder / "manifest.json").read_text())["files"]
    code, out, _ = _main(capsys, ["cast", "--checkpoint", ckpt.folder, "--json"])
    shown = json.loads(out)
    assert code == 0 and list(shown["speakers"].items()) == sorted(
        expected.speakers.items(), key=lambda kv: (-kv[1], kv[0])
    )
    assert (
        shown["dialogue_lines"] == sum(expected.speakers.values())
        and shown["action_lines"] == expected.actions["[laughter]"]
    )
    table = _main(capsys, ["cast", "--checkpoint", ckpt.folder])[1].splitlines()
    assert [row.split()[0] for row in table[2:6]] == expected.names()


def test_a_checkpoint_without_cast_json_still_loads_and_lists_its_cue_tokens(checkpoints, tmp_path, capsys):
    import shutil

    folder = tmp_path / "old"
    shutil.copytree(checkpoints["word"].folder, folder)
    (folder / "cast.json").unlink()
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"]["cast.json"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    ckpt = load_checkpoint(folder)
    assert ckpt.cast is None
    shown = json.loads(_main(capsys, ["cast", "--checkpoint", folder, "--json"])[1])
    cue_order = [t[:-1] for t in ckpt.vocab.itos if t[:-1] in CAST and t.endswith(":")]
    assert not shown["recorded"] and list(shown["speakers"]) == cue_order
    code, out, _ = _cli(capsys, "--checkpoint", folder, "--cast", "george", "--lines", "3", "--seed", "1")
    assert code == 0 and {line.speaker for line in parse_script(out) if line.kind == "dialogue"} <= {"george"}


# --------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------
def _main(capsys, argv: list) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own refusals (a number that is not finite)
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _cli(capsys, *args):
    return _main(capsys, ["generate", *args])


def test_cli_samples_out_file_and_overwrite(checkpoints, tmp_path, capsys):
    ck = checkpoints["word"].folder
    code, out, _ = _cli(
        capsys, "--checkpoint", ck, "--lines", "4", "--num-samples", "3", "--seed", "5", "--top-p", "0.9"
    )
    assert code == 0
    headers = [line for line in out.splitlines() if line.startswith("=== ")]
    assert headers == [f"=== sample {i + 1} of 3 (seed {5 + i}) ===" for i in range(3)]
    second = out.split(headers[1] + "\n")[1].split("\n=== ")[0]
    _, alone, _ = _cli(capsys, "--checkpoint", ck, "--lines", "4", "--seed", "6", "--top-p", "0.9")
    assert alone == second and len(_non_blank(alone)) == 4
    target = tmp_path / "scene.txt"
    code, out, err = _cli(capsys, "--checkpoint", ck, "--lines", "4", "--seed", "6", "--top-p", "0.9", "--out", target)
    assert code == 0 and out == "" and target.read_text() == alone and str(target) in err
    code, _, err = _cli(capsys, "--checkpoint", ck, "--lines", "2", "--seed", "1", "--out", target)
    assert code == 2 and "--overwrite" in err and target.read_text() == alone
    assert _cli(capsys, "--checkpoint", ck, "--lines", "2", "--seed", "1", "--out", target, "--overwrite")[0] == 0
    assert len(_non_blank(target.read_text())) == 2


@pytest.mark.parametrize(
    "args, words",
    [
        (["--lines", "0"], ["--lines", "at least 1"]),
        (["--lines", "-3"], ["--lines", "at least 1"]),
        (["--top-p", "0"], ["--top-p", "above 0"]),
        (["--top-p", "1.5"], ["--top-p", "at most 1"]),
        (["--top-p", "nan"], ["--top-p", "finite"]),
        (["--repetition-penalty", "0.5"], ["--repetition-penalty", "from 1"]),
        (["--repetition-penalty", "inf"], ["--repetition-penalty", "finite"]),
        (["--num-samples", "0"], ["--num-samples", "1 to 1000"]),
        (["--num-samples", "100000"], ["--num-samples", "1 to 1000"]),
        (["--turns", "jerry,jery,zorro"], ["--turns", "'jery'", "closest names: jerry"]),
        (["--cast", "zorro,nobody"], ["--cast", "'zorro'", "scriptgen cast"]),
        (["--cast", " , "], ["--cast", "names no one"]),
        (["--turns", "jerry,george", "--cast", "jerry"], ["--turns", "'george'", "not in --cast"]),
        (["--out", "EXISTING"], ["--out", "exists", "--overwrite"]),
        (["--out", "FOLDER"], ["--out", "is a folder"]),
        (["--out", "FOLDER/missing/x.txt"], ["--out", "does not exist"]),
    ],
)
def test_bad_input_is_one_line(checkpoints, tmp_path, capsys, args, words):
    (tmp_path / "EXISTING").write_text("keep me")
    (tmp_path / "FOLDER").mkdir()
    args = [str(tmp_path / a) if a.startswith(("EXISTING", "FOLDER")) else a for a in args]
    code, _, err = _cli(capsys, "--checkpoint", checkpoints["word"].folder, *args)
    lines = err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("scriptgen: error: ") and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], lines[0]
    assert (tmp_path / "EXISTING").read_text() == "keep me"


def test_cli_cast_without_prime_starts_a_fresh_line_for_the_cast(checkpoints, capsys):
    for level in ("word", "char"):
        code, out, _ = _cli(
            capsys, "--checkpoint", checkpoints[level].folder, "--cast", "george,kramer", "--lines", "6", "--seed", "2"
        )
        assert code == 0 and out.endswith("\n") and len(_non_blank(out)) == 6
        assert {line.speaker for line in parse_script(out) if line.kind == "dialogue"} <= {"george", "kramer"}


class _Turns(io.StringIO):
    """An output that keeps each write apart (chat prints each turn with one call)."""

    def __init__(self):
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_interactive_topp_and_cast_commands(checkpoints):
    ckpt = checkpoints["word"]
    sampler = Sampler(ckpt.build_model(), "fp32")
    out, err = _Turns(), io.StringIO()
    typed = [
        "/topp 0.9",
        "/topp 2",
        "/cast kramer,zorro",
        "/cast jerry",
        "[laughter]",
        "/cast",
        "/cast george",
        "[laughter]",
        "",
        "[laughter]",
    ]
    turns = chat(sampler, ckpt.vocab, typed, out, err, length=60, seed=1, known_cast=ckpt.cast)
    messages = err.getvalue()
    assert turns == 2 and "(top-p 0.9)" in messages and "usage: /topp" in messages
    assert (
        "'zorro'" in messages
        and "(cast: jerry)" in messages
        and "(cast cleared" in messages
        and "(cast: george)" in messages
    )
    first, second = [w for w in out.writes if w != "\n"]
    assert {line.speaker for line in parse_script(first) if line.kind == "dialogue"} == {"jerry"}
    assert {line.speaker for line in parse_script(second) if line.kind == "dialogue"} == {"george"}
    assert not first.endswith("\n") and out.getvalue().endswith("\n")  # each turn ends at a line end, printed once


def test_names_are_matched_case_insensitively_against_the_cast_the_vocabulary_can_cue():
    text = "Jerry: hi.\nMR. PITT: hello.\npitt: yes.\n[laughter]\nGeorge: so.\n"
    cast = Cast.of([text])
    assert cast.names() == ["george", "jerry", "mr. pitt", "pitt"]
    words = ScriptTokens(Vocab.build([word_tokenize(text)], "word"), cast)
    assert words.resolve(["JERRY", "jerry", " George "]) == ("jerry", "george")
    assert words.resolve(["jerry", "george", "jerry"], "--turns") == ("jerry", "george", "jerry")  # turns keep repeats
    with pytest.raises(ScriptgenError, match=r"'mr\. pitt' has no one-token cue.*closest names: .*pitt"):
        words.resolve(["Mr. Pitt"])
    with pytest.raises(ScriptgenError, match="'jery' is not in this model's cast; closest names: jerry"):
        words.resolve(["jery"], "--turns")
    chars = ScriptTokens(Vocab.build([list(text)], "char"), cast)
    # the spellings of a cue that the characters can write: no lowercase j in the text, no capital E or Y
    assert [chars.vocab.decode(ids) for ids in chars.spellings("jerry")] == ["Jerry: "]
    assert [chars.vocab.decode(ids) for ids in chars.spellings("pitt")] == ["pitt: ", "Pitt: ", "PITT: "]
    assert [chars.vocab.decode(ids) for ids in chars.spellings("mr. pitt")] == [
        "Mr. Pitt: ",
        "MR. PITT: ",
    ]  # no lowercase m
    assert chars.resolve(["MR. PITT"]) == ("mr. pitt",)


def test_under_a_cast_only_its_cues_actions_and_one_empty_line_may_open_a_line(checkpoints):
    ckpt = checkpoints["word"]
    writer = _writer(ckpt)
    itos, t = ckpt.vocab.itos, writer.tokens
    ids = {token: i for i, token in enumerate(itos)}
    for actions in (True, False):
        for blank in (True, False):
            mask = writer._start_mask(("jerry", "kramer"), actions, blank)
            may = {itos[i] for i in (~mask).nonzero().flatten().tolist()}
            expected = (
                {"jerry:", "kramer:"}
                | ({"[laughter]", "||left_parentheses||"} if actions else set())
                | ({"||return||"} if blank else set())
            )
            assert may == expected & set(ids), (actions, blank)
    assert writer._start_mask(None, True, True) is None  # no cast: nothing masked
    assert {itos[i] for i in writer._start_mask(None, False, True).nonzero().flatten().tolist()} == {
        "[laughter]",
        "||left_parentheses||",
    } & set(ids)
    chooser = _writer(checkpoints["char"]).chooser
    labels = lambda **kw: [o.label for o in chooser.options(("george",), **kw)]  # noqa: E731
    assert labels(actions=True, blank=True) == ["george", "action", "action", "blank"]
    assert labels(actions=False, blank=False) == ["george"]
    assert t.newline == ids["||return||"]
