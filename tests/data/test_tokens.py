"""Tokenization: course punctuation tokens, round trips, vocabulary, unknown words."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scriptgen import ScriptgenError, Vocab
from scriptgen.data.corpus import LAUGH_CUE, episode_to_script
from scriptgen.data.tokens import UNK, word_detokenize, word_tokenize


def test_word_tokens_follow_the_course():
    assert word_tokenize('Jerry: Hello, "Newman"!\n') == [
        "jerry:",
        "hello",
        "||comma||",
        "||quotation_mark||",
        "newman",
        "||quotation_mark||",
        "||exclamation_mark||",
        "||return||",
    ]


def test_detokenize_reads_like_a_script():
    text = 'jerry: hello, newman. (laughs) what\'s the deal - with "soup"?\ngeorge: non-fat!\n'
    assert (
        word_detokenize(word_tokenize(text))
        == 'jerry: hello, newman. (laughs) what\'s the deal-with "soup"?\ngeorge: non-fat!\n'
    )


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_word_round_trip_is_stable(text):
    # decoding normalizes case and spacing; the tokens survive exactly
    tokens = word_tokenize(text)
    assert word_tokenize(word_detokenize(tokens)) == tokens


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1))
def test_char_round_trip_is_exact(text):
    vocab = Vocab.build([list(text)], level="char")
    assert vocab.decode(vocab.encode(text)) == text


def test_vocab_orders_by_frequency_and_maps_rare_words_to_unk():
    tokens = "a a a b b c".split()
    assert Vocab.build([tokens], "word").itos == ["a", "b", "c"]
    vocab = Vocab.build([tokens], "word", min_count=2)
    assert vocab.itos == ["a", "b", UNK]
    assert vocab.encode_tokens(["c", "a"], unknown="unk") == [2, 0]


def test_unknown_prime_word_names_it_and_suggests_close_words():
    vocab = Vocab.build([word_tokenize("jerry: hello newman. george: hello jerry.")], "word")
    with pytest.raises(ScriptgenError) as err:
        vocab.encode("jerry: helo")
    message = str(err.value)
    assert "'helo'" in message and "hello" in message and "\n" not in message


def test_unknown_character_is_named():
    vocab = Vocab.build([list("abc ")], "char")
    with pytest.raises(ScriptgenError, match="'z'"):
        vocab.encode("abz")


def test_vocab_json_round_trip_and_malformed_json():
    vocab = Vocab.build([word_tokenize("a b b")], "word", min_count=2)
    assert Vocab.from_json(vocab.to_json()).itos == vocab.itos
    for bad in ({}, {"itos": []}, {"itos": [1, 2]}, {"level": "word", "itos": ["a", "a"]}, [1]):
        with pytest.raises(ScriptgenError):
            Vocab.from_json(bad)


def test_episode_to_script_drops_timestamps_and_keeps_laughs():
    raw = (
        "# JERRY\r\n1.640\r\nYes, I'm a very\r\nlazy eater.\r\n3.935\r\n8.000\r\n**LOL**\r\n"
        "# UNCLE LEO\r\n9.1\r\nJerry! Hello!\r\n10.2\r\n"
    )
    assert episode_to_script(raw) == f"jerry: Yes, I'm a very lazy eater.\n{LAUGH_CUE}\nuncleleo: Jerry! Hello!\n"


def test_episode_to_script_repairs_cp1255_mojibake():
    raw = "# JERRY\n1.0\nConsomm\u05b3\u00a9 please, se\u05e1or.\n2.0\n"
    assert episode_to_script(raw) == "jerry: Consommé please, señor.\n"
