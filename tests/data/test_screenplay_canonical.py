"""The canonical training text of a screenplay: elements -> text -> elements is the identity on normal elements."""

from hypothesis import given, settings
from hypothesis import strategies as st

from scriptgen.data.screenplay.elements import (
    KINDS,
    Element,
    cue,
    from_canonical,
    line_kind,
    normalise,
    to_canonical,
)
from scriptgen.data.tokens import word_tokenize

_PIECES = [
    "INT. ",
    "EXT.",
    "I/E ",
    ": ",
    ":",
    "(",
    ")",
    "[",
    "]",
    "!",
    ".",
    "..",
    "> ",
    "~ ",
    " TO:",
    "CUT",
    "^",
    " ",
    "\n",
    "a",
    "B",
]
_TEXT = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30),
    st.lists(st.sampled_from(_PIECES), max_size=8).map("".join),
)
_ELEMENT = st.one_of(
    st.builds(Element, st.sampled_from(KINDS), _TEXT),
    st.builds(lambda n, x: Element("character", n, n, tuple(x)), _TEXT, st.lists(_TEXT, max_size=2)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ELEMENT, max_size=12))
def test_normal_elements_survive_the_canonical_text(elements):
    normal = normalise(elements)
    assert normalise(normal) == normal
    assert from_canonical(to_canonical(normal)) == normal


def test_the_canonical_text_of_a_scene():
    scene = [
        Element("scene_heading", "INT. DINER - NIGHT"),
        Element("action", "Jerry slides into the booth."),
        cue("JERRY", "V.O."),
        Element("parenthetical", "(quietly)"),
        Element("dialogue", "Not again."),
        Element("action", "Sign reads: OPEN"),
        Element("transition", "CUT TO:"),
        Element("scene_heading", "FLASHBACK"),
        Element("shot", "CLOSE ON THE CUP"),
        Element("transition", "FADE OUT."),
    ]
    text = to_canonical(scene)
    assert text == (
        "INT. DINER - NIGHT\nJerry slides into the booth.\nJERRY: [V.O.] (quietly) Not again.\n!Sign reads: OPEN\n"
        "CUT TO:\n\n.FLASHBACK\n~ CLOSE ON THE CUP\n> FADE OUT.\n"
    )
    assert from_canonical(text) == scene
    assert "jerry:" in word_tokenize(text)  # the cue is one token at word level, as in name: words transcripts
    # decoded word-level text is lower case: it still reads as the same kinds
    assert [line_kind(line) for line in text.lower().split("\n")[:5]] == [
        "scene_heading", "action", "dialogue", "action", "transition"
    ]  # fmt: skip


def test_a_cue_written_with_a_space_before_its_colon_names_the_same_speaker():
    # A model (or a hand) may write "RUIZ :" for "RUIZ:"; the name is RUIZ either way, not "RUIZ ".
    for line in ("RUIZ : Over here.", "RUIZ  :Over here.", "RUIZ\t: Over here."):
        assert from_canonical(line) == [cue("RUIZ"), Element("dialogue", "Over here.")], line
    dr_ruiz = [cue("DR. RUIZ", "V.O."), Element("dialogue", "Over here.")]
    assert from_canonical("DR. RUIZ : [V.O.] Over here.") == dr_ruiz
    assert line_kind("RUIZ :") == "dialogue"
