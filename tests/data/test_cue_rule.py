"""Where a speaker cue ends (scriptgen.data.script.split_cue), the one rule of the decoder, the parser, the writer and
evaluate.

A cue followed by punctuation (``george:... and maybe``, ``elaine:-have``, ``kramer:(laughs) hey``) keeps its speaker
at both token levels, in Fountain, in evaluate's speaker statistics and in ``--turns``.
"""

from __future__ import annotations

import pytest

from scriptgen.data.script import Cast, is_cue_token, parse_line, parse_script, speaker_name, split_cue
from scriptgen.data.tokens import word_detokenize, word_tokenize
from scriptgen.evaluation.textstats import CastProfile

# (line, speaker, what is said, parenthetical): every shape a cue takes in the default corpus, and more
CUES = [
    ("george: and maybe", "george", "and maybe", None),
    ("george:... and maybe", "george", "... and maybe", None),
    ("george: ... and maybe", "george", "... and maybe", None),
    ("jerry:\u2026 so", "jerry", "\u2026 so", None),
    ("elaine:-have been talking.", "elaine", "-have been talking.", None),
    ("elaine:--have been", "elaine", "--have been", None),
    ("elaine:\u2014have been", "elaine", "\u2014have been", None),
    ("kramer:(laughs) hey!", "kramer", "hey!", "(laughs)"),
    ("kramer: (to jerry) hey!", "kramer", "hey!", "(to jerry)"),
    ("jerry:, so", "jerry", ", so", None),
    ("jerry:!", "jerry", "!", None),
    ("jerry:?", "jerry", "?", None),
    ('jerry:"hello," he said', "jerry", '"hello," he said', None),
    ("jerry:'cause", "jerry", "'cause", None),
    ("jerry:[laughter] what", "jerry", "[laughter] what", None),
    ("JERRY::  hi", "jerry", "hi", None),
    ("jerry:", "jerry", "", None),
    ("mr. pitt:... yes", "mr. pitt", "... yes", None),
    ("jerry, george: hey", "jerry, george", "hey", None),
]
NOT_CUES = ["10:30 in the morning", "http://example.com", "re:think it", "[laughter]", "(he leaves)", ": nothing", " "]


@pytest.mark.parametrize("line,speaker,said,paren", CUES, ids=[c[0] for c in CUES])
def test_a_cue_followed_by_punctuation_keeps_its_speaker(line, speaker, said, paren):
    parsed = parse_line(line)
    assert (parsed.kind, parsed.speaker, parsed.text, parsed.parenthetical) == ("dialogue", speaker, said, paren)


@pytest.mark.parametrize("line", NOT_CUES)
def test_a_colon_followed_by_a_letter_digit_or_slash_is_no_cue(line):
    assert parse_line(line).kind != "dialogue"


@pytest.mark.parametrize("line,speaker,said,paren", CUES, ids=[c[0] for c in CUES])
def test_word_level_decoding_keeps_every_cue_shape_a_cue(line, speaker, said, paren):
    decoded = word_detokenize(word_tokenize(line))
    parsed = parse_line(decoded)
    assert parsed.kind == "dialogue" and parsed.speaker == speaker_name(word_detokenize(word_tokenize(speaker))), (
        decoded
    )
    if is_cue_token(word_tokenize(line)[0]):  # the cue is a token of its own: a blank after it, whatever follows
        rest = split_cue(decoded)[1]
        assert rest == "" or rest[0] == " ", decoded


def test_the_decoder_writes_a_blank_after_a_cue_token_whatever_follows():
    assert word_detokenize(word_tokenize("george:... and maybe")) == "george: ... and maybe"
    assert word_detokenize(word_tokenize("elaine:-have\njerry:, so")) == "elaine: -have\njerry: , so"
    assert word_detokenize(word_tokenize("the time: . ok")) == "the time:. ok"  # mid-line: the old spacing rules
    assert word_detokenize(["jerry:", "||return||"]) == "jerry:\n"


def test_cue_tokens_are_the_rule_applied_to_one_token():
    for token in ("jerry:", "jerry::", "mr.pitt:"):
        assert is_cue_token(token) and split_cue(token) == (token, "")
    for token in (":", "||period||", "[laughter]:", "(jerry:", "a:b:", "x" * 41 + ":", "jerry"):
        assert not is_cue_token(token), token


def test_evaluates_speaker_statistics_count_cues_followed_by_punctuation():
    text = "george:... and maybe\nelaine:-have been\nkramer:(laughs) hey\ngeorge: fine.\n[laughter]\n"
    profile = CastProfile(Cast.of([text]))
    assert dict(profile.cast.speakers) == {"george": 2, "elaine": 1, "kramer": 1}
    assert profile.cast.actions == {"[laughter]": 1}


def test_fountain_keeps_the_speaker_of_a_cue_followed_by_punctuation():
    from scriptgen.writing.fountain import TitlePage, to_fountain

    fountain = to_fountain("george:... and maybe\nelaine:-have been\n", TitlePage("T"))
    assert "\n\nGEORGE\n... and maybe\n" in fountain and "\n\nELAINE\n-have been\n" in fountain
    assert [line.kind for line in parse_script("george:... and maybe\n")] == ["dialogue"]


def test_every_cue_line_of_the_default_corpus_survives_word_decoding():
    seinfeld = pytest.importorskip("scriptgen.data.seinfeld")
    try:
        episodes = seinfeld.read_episodes()
    except Exception as exc:  # the corpus package is not installed here
        pytest.skip(f"the default corpus is not installed: {exc}")
    seen = 0
    for _, text in episodes:
        for line in text.splitlines():
            if split_cue(line) is None:
                continue
            seen += 1
            speaker = parse_line(line).speaker
            decoded = parse_line(word_detokenize(word_tokenize(line)))
            # the word tokenizer spaces out punctuation in names ("mr.pitt" -> "mr. pitt"); the speaker stays theirs
            assert decoded.kind == "dialogue", line
            assert decoded.speaker == speaker_name(word_detokenize(word_tokenize(speaker + ":"))), line
    assert seen > 40_000
