"""The subword level's data side: a byte-level BPE vocabulary trained at prepare time (scriptgen.data.bpe)."""

from __future__ import annotations

import json
import string

import numpy as np
import pytest
from conftest import make_script

from scriptgen import Config, ScriptgenError
from scriptgen.data.bpe import MIN_CUE_LINES, BpeVocab, find_cues
from scriptgen.data.prepare import prepare

QUIET = dict(log=lambda message: None)


def write_corpus(folder, n_docs: int = 4, upper: bool = False):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_docs):
        text = make_script(120, seed=i)
        if upper:  # cues as many screenplays and transcripts spell them, and a name with an accent
            text = text.replace("jerry:", "JERRY:").replace("kramer:", "JOSÉ:")
        (folder / f"ep{i}.txt").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("bpe")
    return prepare(write_corpus(root / "corpus", upper=True), "bpe", data_dir=root / "data", bpe_vocab=600, **QUIET)


def test_round_trip_of_transcripts_unicode_and_line_breaks(prepared):
    vocab = prepared.vocab
    assert isinstance(vocab, BpeVocab) and vocab.level == "bpe" and vocab.unk is None
    doc = prepared.documents[0]
    text = (prepared.folder.parent.parent / "corpus" / "ep0.txt").read_text(encoding="utf-8")
    assert vocab.decode(np.asarray(prepared.ids[doc["start"] : doc["end"]]).tolist()) == text  # case kept
    for sample in ("JERRY: naïve café 東京 😀\r\nJOSÉ:... ok\n\n\n  \tindent", "", "\n", "zzzz qqq: 10:30 http://x"):
        assert vocab.decode(vocab.encode(sample)) == sample


def test_no_unk_ever_every_byte_is_a_token(prepared):
    vocab = prepared.vocab
    assert "<unk>" not in vocab.stoi and len(vocab) <= 600
    ids = vocab.encode("\x00\x7f ÿ \U0010ffff never seen words: Zyzzyva!")
    assert all(0 <= i < len(vocab) for i in ids)


def test_cues_and_the_line_break_are_single_tokens(prepared):
    vocab = prepared.vocab
    assert set(vocab.cue_tokens()) == {"JERRY:", "george:", "elaine:", "JOSÉ:"}
    ids = vocab.encode("JOSÉ: hi\nJERRY: no\n")
    assert [vocab.itos[i] for i in ids].count("\n") == 2
    assert vocab.itos[ids[0]] == "JOSÉ:" and vocab.itos[ids[ids.index(vocab.stoi["\n"]) + 1]] == "JERRY:"
    assert vocab.itos[vocab.encode("JERRY:x")[0]] != "JERRY:"  # a letter after the colon makes no cue


def test_find_cues_rule():
    doc = ["a: one\na: two\nb: once\n10:30 is a time\n", "c: x\n", "c: y"]
    assert find_cues([doc], 800) == ["a:", "c:"]  # b opens one line, fewer than MIN_CUE_LINES
    assert MIN_CUE_LINES == 2 and find_cues([doc], 8) == ["a:"]  # at most bpe_vocab // 8


def test_ids_are_frequency_ordered(prepared):
    counts = np.bincount(np.asarray(prepared.ids), minlength=len(prepared.vocab))
    assert (np.diff(counts) <= 0).all()  # the adaptive softmax's head holds the frequent tokens


def test_tokenizer_json_is_the_ecosystems_format_with_the_models_ids(prepared):
    from tokenizers import Tokenizer

    text = (prepared.folder / "tokenizer.json").read_text(encoding="utf-8")
    tokenizer = Tokenizer.from_str(text)
    sample = "JERRY: what is the deal with the soup?\n"
    assert tokenizer.encode(sample, add_special_tokens=False).ids == prepared.vocab.encode(sample)
    assert json.loads((prepared.folder / "vocab.json").read_text())["level"] == "bpe"


def test_cache_is_reused_and_rebuilt_when_bpe_vocab_changes(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", n_docs=3)
    said = []
    first = prepare(corpus, "bpe", data_dir=tmp_path / "data", bpe_vocab=600, log=said.append)
    again = prepare(corpus, "bpe", data_dir=tmp_path / "data", bpe_vocab=600, log=said.append)
    assert len([m for m in said if m.startswith("preparing")]) == 1 and again.vocab.to_json() == first.vocab.to_json()
    other = prepare(corpus, "bpe", data_dir=tmp_path / "data", bpe_vocab=520, log=said.append)
    assert len([m for m in said if m.startswith("preparing")]) == 2
    assert other.meta["settings"]["bpe_vocab"] == 520 and len(other.vocab) <= 520
    word = prepare(corpus, "word", data_dir=tmp_path / "data", **QUIET)
    assert "bpe_vocab" not in word.meta["settings"] and not (word.folder / "tokenizer.json").exists()


def test_a_damaged_tokenizer_json_is_rebuilt_not_loaded(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", n_docs=3)
    first = prepare(corpus, "bpe", data_dir=tmp_path / "data", bpe_vocab=600, **QUIET)
    (first.folder / "tokenizer.json").write_text('{"model": {"type": "BPE"}, "added_tokens": []}')
    said = []
    again = prepare(corpus, "bpe", data_dir=tmp_path / "data", bpe_vocab=600, log=said.append)
    assert any(m.startswith("preparing") for m in said) and again.vocab.to_json() == first.vocab.to_json()


def test_labels_are_special_tokens_and_never_text(tmp_path):
    for genre in ("comedy", "drama"):
        write_corpus(tmp_path / "lab" / genre, n_docs=2)
    prepared = prepare(tmp_path / "lab", "bpe", data_dir=tmp_path / "data", labels=True, bpe_vocab=600, **QUIET)
    vocab = prepared.vocab
    assert vocab.specials == ["<label:comedy>", "<label:drama>"]
    assert vocab.decode([vocab.stoi["<label:drama>"]] + vocab.encode("jerry: hi\n")) == "jerry: hi\n"
    with pytest.raises(ScriptgenError, match="label"):
        vocab.encode("say <label:drama> now")


def capitalised(text: str) -> str:
    """Each line's words after its cue with capitals, as most transcripts and screenplays write them."""
    out = []
    for line in text.split("\n"):
        cue, sep, words = line.partition(": ")
        out.append(f"{cue}{sep}{words.title()}" if sep else line.title())
    return "\n".join(out)


def lowered(text: str, cues: list[str]) -> str:
    """``text`` in lower case but its cues, as a --bpe-lowercase vocabulary reads it."""
    lines = []
    for line in text.split("\n"):
        cue = next((c for c in cues if line.startswith(c)), "")
        lines.append(cue + line[len(cue) :].lower())
    return "\n".join(lines)


def test_bpe_lowercase_learns_and_reads_lowercase_pieces_and_keeps_the_cues(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", upper=True)
    for file in corpus.glob("*.txt"):
        file.write_text(capitalised(file.read_text(encoding="utf-8")), encoding="utf-8")
    cased = prepare(corpus, "bpe", data_dir=tmp_path / "cased", bpe_vocab=600, **QUIET)
    said = []
    lower = prepare(corpus, "bpe", data_dir=tmp_path / "lower", bpe_vocab=600, bpe_lowercase=True, log=said.append)
    assert lower.meta["settings"]["bpe_lowercase"] is True and "bpe_lowercase" not in cased.meta["settings"]
    vocab = lower.vocab
    assert set(vocab.cue_tokens()) == {"JERRY:", "george:", "elaine:", "JOSÉ:"}  # cues as the corpus spells them

    def capital_pieces(v, longer_than=0):  # pieces (the cues aside) with an ASCII capital
        cues = v.cue_tokens()
        return [t for t in v.itos if len(t) > longer_than and t not in cues and set(t) & set(string.ascii_uppercase)]

    # cased: every byte is a piece, capitals among them, and longer pieces have capitals too; lowercase: no capital
    # at all, not even a byte, so nothing the model writes outside a cue can hold one
    assert set(string.ascii_uppercase) <= set(cased.vocab.itos) and capital_pieces(cased.vocab, longer_than=1)
    assert capital_pieces(vocab) == []
    text = (corpus / "ep0.txt").read_text(encoding="utf-8")
    doc = lower.documents[0]
    assert vocab.decode(np.asarray(lower.ids[doc["start"] : doc["end"]]).tolist()) == lowered(text, vocab.cue_tokens())
    sample = "JERRY: Hello There, NBC!\nJOSÉ: Café ÉCOLE\n"
    assert vocab.decode(vocab.encode(sample)) == "JERRY: hello there, nbc!\nJOSÉ: café école\n"
    assert json.loads((lower.folder / "tokenizer.json").read_text())["normalizer"]["type"] == "Lowercase"
    again = prepare(corpus, "bpe", data_dir=tmp_path / "lower", bpe_vocab=600, bpe_lowercase=True, log=said.append)
    assert len([m for m in said if m.startswith("preparing")]) == 1 and again.vocab.to_json() == vocab.to_json()
    # the same folder asked for cased pieces is rebuilt cased
    back = prepare(corpus, "bpe", data_dir=tmp_path / "lower", bpe_vocab=600, log=said.append)
    assert len([m for m in said if m.startswith("preparing")]) == 2 and capital_pieces(back.vocab)


def test_config_checks_the_bpe_settings():
    assert Config(level="bpe").validate().bpe_vocab == 8000
    with pytest.raises(ScriptgenError, match="--bpe-vocab"):
        Config(level="bpe", bpe_vocab=100).validate()
    with pytest.raises(ScriptgenError, match="--min-count"):
        Config(level="bpe", min_count=2).validate()
    Config(level="word", bpe_vocab=100).validate()  # it only applies at level bpe
    Config(level="bpe", bpe_lowercase=True).validate()
    for level in ("word", "char"):  # a switch that would do nothing is refused
        with pytest.raises(ScriptgenError, match="--bpe-lowercase True is invalid: it applies to --level bpe"):
            Config(level=level, bpe_lowercase=True).validate()
