"""The notebook's generate panel (scriptgen/panel.py), driven without a browser.

A tiny word-level checkpoint is trained once on the test corpus of
conftest.py.  The panel's script is compared with :func:`write_script` given
the same settings, its saved files are read back (Fountain by screenplain's
own parser, PDF by pypdf), and every bad input must leave one line in the
panel and nothing on disk.
"""

from __future__ import annotations

import html
import io
import subprocess
import sys
from collections import Counter

import ipywidgets
import pypdf
import pytest
from screenplain.parsers import fountain as fountain_parser
from screenplain.types import Action, Dialog

from scriptgen import Config, ScriptgenError, load_checkpoint, train, write_script
from scriptgen.config import REGULARIZERS_OFF
from scriptgen.data.script import parse_script
from scriptgen.panel import CAST_CHOICES, GeneratePanel, PanelState, generate_panel, parse_seed, save_script

SETTINGS = dict(prime="jerry:", temperature=0.7, top_p=0.9, lines=12, cast=("jerry", "elaine"), seed=5)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, corpus_dir):
    root = tmp_path_factory.mktemp("panel")
    cfg = Config(
        **REGULARIZERS_OFF,
        min_count=2, embedding_dim=16, hidden_dim=32, n_layers=1, dropout=0.0, seq_len=16, batch_size=8, lr=0.01,
        epochs=1, output="softmax",
    )  # fmt: skip
    train(
        cfg, data=corpus_dir, name="tiny_show", out_dir=root, data_dir=root / "data", progress=False, log=lambda m: None
    )
    return load_checkpoint(root / "tiny_show")


def reference(ckpt, prime, temperature, top_p, lines, cast, seed) -> str:
    """The script the package's own API writes with these settings."""
    prime_ids = ckpt.vocab.encode(prime)
    ids = write_script(
        ckpt.build_model(),
        ckpt.vocab,
        prime_ids,
        lines=lines,
        temperature=temperature,
        top_p=top_p,
        cast=list(cast),
        seed=seed,
        known_cast=ckpt.cast,
    )
    return ckpt.vocab.decode(prime_ids + ids)


def non_blank(text: str):
    return [line for line in parse_script(text) if line.kind != "blank"]


def one_line(value: str) -> str:
    """The text of a panel message: a single line saying what went wrong."""
    assert "\n" not in value and "Traceback" not in value
    return html.unescape(value)


def test_the_panel_writes_what_write_script_writes_with_its_settings(checkpoint, tmp_path):
    state = PanelState(checkpoint, tmp_path / "outputs")
    script = state.generate(**SETTINGS)
    assert script.text == reference(checkpoint, **SETTINGS)
    lines = non_blank(script.text)
    assert script.ended == "lines" and script.lines == len(lines) == 12
    assert {line.speaker for line in lines if line.kind == "dialogue"} <= {"jerry", "elaine"}
    assert all(line.kind in ("dialogue", "action") for line in lines)
    # the model is built once and reset between scripts: another seed differs, the same seed gives the same script again
    other = state.generate(**{**SETTINGS, "seed": 6})
    assert other.text != script.text
    assert state.generate(**SETTINGS).text == script.text


def test_blank_seed_draws_one_and_records_it_blank_prime_starts_a_fresh_line(checkpoint, tmp_path):
    state = PanelState(checkpoint, tmp_path / "outputs")
    first = state.generate(prime="", lines=6, cast=("george",), seed="  ")
    assert first.seed is not None and 0 <= first.seed < 2**32
    again = state.generate(prime="", lines=6, cast=("george",), seed=str(first.seed))
    assert again.text == first.text
    lines = non_blank(first.text)
    assert not first.text.startswith("\n") and len(lines) == 6
    assert {line.speaker for line in lines if line.kind == "dialogue"} == {"george"}


def test_cast_choices_are_the_speakers_most_frequent_first(checkpoint, corpus_dir, tmp_path):
    counts = Counter(
        line.speaker
        for path in sorted(corpus_dir.glob("*.txt"))
        for line in parse_script(path.read_text())
        if line.kind == "dialogue"
    )
    by_lines = [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    state = PanelState(checkpoint, tmp_path / "outputs")
    assert state.cast_choices() == by_lines[:CAST_CHOICES] and len(by_lines) == 4
    assert state.cast_choices(2) == by_lines[:2]
    assert state.default_prime() == f"{by_lines[0]}:"


def controls(widget) -> dict[str, object]:
    """Every widget with a description under ``widget``, by description."""
    found, todo = {}, [widget]
    while todo:
        w = todo.pop()
        todo += list(getattr(w, "children", ()))
        if getattr(w, "description", ""):
            found[w.description] = w
    return found


def test_generate_panel_is_a_widget_with_every_control(checkpoint, tmp_path):
    widget = generate_panel(checkpoint.folder, outputs=tmp_path / "outputs")
    assert isinstance(widget, ipywidgets.Widget)
    found = controls(widget)
    assert set(found) == {
        "prime",
        "temperature",
        "top-p",
        "lines",
        "cast",
        "seed",
        "Generate",
        "Save as Fountain",
        "Save as PDF",
        "Save as Final Draft",
    }
    assert list(found["cast"].options) == PanelState(checkpoint).cast_choices()
    assert not (tmp_path / "outputs").exists()  # showing the panel writes nothing


def test_clicks_generate_then_save_fountain_and_pdf_that_parse(checkpoint, tmp_path):
    outputs = tmp_path / "outputs"
    panel = GeneratePanel(PanelState(checkpoint, outputs))
    panel.prime.value, panel.temperature.value, panel.top_p.value = (
        SETTINGS["prime"],
        SETTINGS["temperature"],
        SETTINGS["top_p"],
    )
    panel.lines.value, panel.cast.value, panel.seed.value = SETTINGS["lines"], SETTINGS["cast"], "5"
    panel.generate_button.click()
    expected = reference(checkpoint, **SETTINGS)
    assert html.escape(expected) in panel.output.value and "seed 5: 12 lines" in panel.status.value
    spoken = [line for line in non_blank(expected) if line.kind == "dialogue"]

    panel.fountain_button.click()
    path = outputs / "script-5-1.fountain"
    assert path.is_file() and html.escape(f"saved {path}") == panel.status.value
    screenplay = fountain_parser.parse(io.StringIO(path.read_text(encoding="utf-8")))
    assert [str(p.character) for p in screenplay.paragraphs if isinstance(p, Dialog)] == [
        line.speaker.upper() for line in spoken
    ]
    assert sum(isinstance(p, Action) for p in screenplay.paragraphs) == sum(
        line.kind == "action" for line in non_blank(expected)
    )
    assert [str(r) for r in screenplay.get_rich_attribute("Title")] == ["Tiny Show"]  # the checkpoint folder's name
    source = [str(r) for r in screenplay.get_rich_attribute("Source")]
    assert {"seed: 5", "lines: 12", "cast: jerry,elaine", "top-p: 0.9", "temperature: 0.7", 'prime: "jerry:"'} <= set(
        source
    )

    panel.pdf_button.click()
    pdf = outputs / "script-5-1.pdf"
    reader = pypdf.PdfReader(io.BytesIO(pdf.read_bytes()))
    body = "\n".join(page.extract_text() for page in reader.pages[1:])
    assert [line.strip() for line in body.splitlines() if line.strip() in ("JERRY", "ELAINE", "GEORGE", "KRAMER")] == [
        line.speaker.upper() for line in spoken
    ]

    # saving again never overwrites: the next free number
    before = path.read_bytes()
    panel.fountain_button.click()
    assert (outputs / "script-5-2.fountain").read_bytes() == before == path.read_bytes()
    assert sorted(p.name for p in outputs.iterdir()) == [
        "script-5-1.fountain",
        "script-5-1.pdf",
        "script-5-2.fountain",
    ]  # no temporaries left


def test_bad_input_is_one_line_in_the_panel_and_nothing_on_disk(checkpoint, tmp_path):
    outputs = tmp_path / "outputs"
    panel = GeneratePanel(PanelState(checkpoint, outputs))
    panel.fountain_button.click()  # nothing generated yet
    assert "scriptgen: error: there is no script to save yet" in one_line(panel.status.value)
    panel.prime.value = "jerry: zzyzx"
    panel.generate_button.click()
    message = one_line(panel.output.value)
    assert message.startswith("<span") and "scriptgen: error: prime word 'zzyzx' not in the vocabulary" in message
    assert "--unk" not in message and checkpoint.vocab.unk is not None  # a command-line flag the panel has not
    panel.prime.value, panel.seed.value = "jerry:", "twelve"
    panel.generate_button.click()
    assert "scriptgen: error: seed 'twelve' is invalid" in one_line(panel.output.value)
    assert not panel.generate_button.disabled and panel.status.value == ""
    assert not outputs.exists()


def test_pdf_without_screenplain_is_one_line_and_writes_nothing(checkpoint, tmp_path, monkeypatch):
    outputs = tmp_path / "outputs"
    panel = GeneratePanel(PanelState(checkpoint, outputs))
    panel.seed.value = "3"
    panel.generate_button.click()
    for name in [n for n in sys.modules if n.split(".")[0] in ("screenplain", "reportlab")] + [
        "screenplain",
        "reportlab",
    ]:
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: the import fails
    panel.pdf_button.click()
    assert "pdf output needs the screenplain and reportlab libraries" in one_line(panel.status.value)
    assert "pip install 'scriptgen[screenplay]'" in html.unescape(panel.status.value)
    assert not outputs.exists()
    panel.fountain_button.click()  # Fountain is scriptgen's own
    assert [p.name for p in outputs.iterdir()] == ["script-3-1.fountain"]


def test_save_script_claims_a_free_name_and_never_replaces_a_file(tmp_path):
    text = "jerry: hello.\n[laughter]\nelaine: hi.\n"
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    (outputs / "script-1.txt").write_text("mine")
    path = save_script(text, "text", outputs)
    assert (
        path == outputs / "script-2.txt"
        and path.read_text() == text
        and (outputs / "script-1.txt").read_text() == "mine"
    )
    assert save_script(text, "fountain", outputs, seed=9).name == "script-9-1.fountain"
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    with pytest.raises(ScriptgenError, match="cannot create the outputs folder") as caught:
        save_script(text, "text", blocked)
    assert "\n" not in str(caught.value) and blocked.read_text() == "x"


def test_parse_seed():
    assert (
        parse_seed(None) is None
        and parse_seed("") is None
        and parse_seed(" 7 ") == 7
        and parse_seed(2**64 - 1) == 2**64 - 1
    )
    for bad in ("-1", "1.5", "x", str(2**64), True, 2.0):
        with pytest.raises(ScriptgenError, match="leave the box blank for a random seed"):
            parse_seed(bad)


def test_missing_ipywidgets_is_one_line_and_scriptgen_imports_without_it(checkpoint, monkeypatch):
    code = "import sys, scriptgen, scriptgen.panel; print('ipywidgets' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(ScriptgenError) as caught:
        generate_panel(checkpoint)
    assert "\n" not in str(caught.value) and "pip install 'scriptgen[notebook]'" in str(caught.value)


# --------------------------------------------------------------------------
# A model that learned screenplays, with genres and roles: the panel writes what generate writes
# --------------------------------------------------------------------------
def test_a_screenplay_panel_has_a_genre_picker_an_outline_pages_and_names_for_the_cast(word_films, tmp_path):
    from scene_models import OUTLINE

    panel = GeneratePanel(PanelState(word_films, tmp_path / "outputs"))
    found = controls(panel.widget)
    assert {"genre", "outline", "pages (0 = lines)", "author", "Save as Final Draft"} <= set(found)
    assert list(found["genre"].options) == ["(none)", "comedy", "horror"]
    assert isinstance(found["cast"], ipywidgets.Text) and panel.prime.value == ""  # a roles model takes any names
    panel.cast.value, panel.genre.value, panel.outline.value, panel.seed.value = "MAYA, RUIZ", "horror", OUTLINE, "5"
    assert panel.settings() == {
        "prime": "", "temperature": 0.8, "top_p": 0.9, "lines": 20, "cast": "MAYA, RUIZ", "seed": "5",
        "label": "horror", "outline": OUTLINE, "pages": None,
    }  # fmt: skip


def test_the_panel_writes_the_outline_as_generate_does(word_films, tmp_path, capsys):
    from scene_models import HEADINGS, OUTLINE

    from scriptgen.cli import main
    from scriptgen.data.screenplay.elements import from_canonical
    from scriptgen.data.screenplay.fdx import read_fdx

    state = PanelState(word_films, tmp_path / "outputs", precision="int8")
    script = state.generate(prime="", temperature=0.8, top_p=1.0, cast="MAYA,RUIZ", seed=5, label="horror",
                            outline=OUTLINE)  # fmt: skip
    (tmp_path / "outline.txt").write_text(OUTLINE, encoding="utf-8")
    outline = str(tmp_path / "outline.txt")
    args = ["generate", "--checkpoint", str(word_films), "--label", "horror", "--outline", outline,
            "--cast", "MAYA,RUIZ", "--seed", "5", "--precision", "int8"]  # fmt: skip
    assert main(args) == 0
    assert script.text.strip("\n") == capsys.readouterr().out.strip("\n")
    elements = from_canonical(script.text)
    assert [e.text for e in elements if e.kind == "scene_heading"] == HEADINGS
    assert {e.name for e in elements if e.kind == "character"} <= {"MAYA", "RUIZ"}
    assert "role" not in script.text.lower() and script.settings["label"] == "horror"
    state.author = "Ada Writer"
    fdx = read_fdx(state.save("fdx").read_bytes(), "draft.fdx").elements
    assert [e.text for e in fdx if e.kind == "scene_heading"] == HEADINGS
    first_page = pypdf.PdfReader(state.save("pdf")).pages[0].extract_text()
    assert "Ada Writer and scriptgen" in " ".join(first_page.split()) and "genre: horror" in first_page


def test_the_panel_writes_pages_and_refuses_an_outline_for_a_transcript(word_films, checkpoint, tmp_path):
    from scriptgen.writing.pages import script_pages

    script = PanelState(word_films, tmp_path / "outputs").generate(prime="", seed=2, pages=2)
    assert script_pages(script.text) == 2 and script.ended == "pages"
    with pytest.raises(ScriptgenError, match="learned transcripts"):
        PanelState(checkpoint, tmp_path / "outputs").generate(prime="jerry:", outline="INT. DINER - NIGHT", seed=1)
