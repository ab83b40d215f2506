"""Each reader against the generator's known elements: >= 98% of headings, cues and dialogue blocks found exactly."""

import pytest
from screenplays import fdx, fountain, pdf, plain, recovery, screenplay

from scriptgen.data.screenplay.elements import Element, cue
from scriptgen.data.screenplay.formats import format_of, looks_like_screenplay, read_screenplay

N = 60


def _read(data: bytes, fmt: str):
    return read_screenplay(data, fmt, "'x'", lambda b: b.decode("utf-8"))


def _mean_recovery(render, fmt, scenes=8, n=N):
    totals = {"scene_heading": 0.0, "character": 0.0, "dialogue_block": 0.0}
    for seed in range(n):
        want = screenplay(seed, scenes)
        got = _read(render(want, seed), fmt).elements
        for kind, share in recovery(want, got).items():
            totals[kind] += share / n
    return totals


@pytest.mark.parametrize(
    "fmt, render, floor",
    [
        ("fountain", lambda e, s: fountain(e).encode(), 0.98),
        ("fdx", lambda e, s: fdx(e).encode(), 0.98),
        ("screenplay", lambda e, s: plain(e, s).encode(), 0.98),
        ("screenplay", lambda e, s: plain(e, s, noise=True).encode(), 0.95),
        ("screenplay", lambda e, s: plain(e, s, flat=True).encode(), 0.95),
    ],
    ids=["fountain", "fdx", "plain", "plain-noisy", "plain-flat"],
)
def test_readers_recover_the_known_elements(fmt, render, floor):
    rates = _mean_recovery(render, fmt)
    assert min(rates.values()) >= floor, rates


@pytest.mark.slow
def test_pdf_reader_recovers_the_known_elements():
    rates = _mean_recovery(lambda e, s: pdf(e), "pdf", scenes=4)
    assert min(rates.values()) >= 0.98, rates


def test_fountain_forced_elements_title_page_boneyard_and_notes():
    text = (
        "Title: The Cup\nAuthor: someone\n\n/* cut\n\nBOB\nGone. */\n\n.FLASHBACK\n\n!INT. NOT A HEADING\n\n"
        "@McCLANE (V.O.)\n(beat)\nYippee. [[a note]]\n\n> FADE OUT.\n\nBOB ^\nToo.\n"
    )
    play = _read(text.encode(), "fountain")
    assert play.meta == {"Title": "The Cup", "Author": "someone"}
    assert play.elements == [
        Element("scene_heading", "FLASHBACK"),
        Element("action", "INT. NOT A HEADING"),
        cue("McCLANE", "V.O."),
        Element("parenthetical", "(beat)"),
        Element("dialogue", "Yippee."),
        Element("transition", "FADE OUT."),
        cue("BOB"),
        Element("dialogue", "Too."),
    ]


def test_the_format_comes_from_the_extension_then_the_content():
    assert format_of(".fdx", b"junk") == "fdx" and format_of(".PDF", b"") == "pdf"
    assert format_of(".fountain", b"") == "fountain"
    assert format_of(".txt", b"%PDF-1.4 ...") == "pdf"
    assert format_of(".txt", b'<?xml version="1.0"?>\n<FinalDraft>') == "fdx"
    assert format_of(".txt", plain(screenplay(1), 1).encode()) == "screenplay"
    assert format_of(".txt", b"jerry: hello.\nelaine: hi.\n[laughter]\n") == "transcript"
    assert format_of(".txt", plain(screenplay(1), 1).encode(), "transcript") == "transcript"
    assert not looks_like_screenplay(
        "INT. KITCHEN\njerry: hi.\nelaine: no.\ngeorge: yes.\n"
    )  # a transcript with a heading
