"""A model that learned screenplays writes screenplays: its canonical text exported as scene headings, action, cues
with extensions, parentheticals, dialogue and transitions, checked against the generator's known elements and end to
end through prepare, train --labels, cast, evaluate and generate --label on a mixed folder with a genres.csv."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from screenplain.types import Action, Dialog, Slug, Transition
from screenplays import fdx, fountain, plain, recovery, screenplay

from scriptgen import Config, load_checkpoint, train
from scriptgen.cli import main
from scriptgen.config import REGULARIZERS_OFF
from scriptgen.data.roles import assign_roles, replace_roles
from scriptgen.data.screenplay.elements import Element, to_canonical
from scriptgen.data.screenplay.fdx import read_fdx
from scriptgen.data.screenplay.fountain import read_fountain
from scriptgen.data.tokens import Vocab, word_tokenize
from scriptgen.errors import ScriptgenError
from scriptgen.writing.fountain import TitlePage, scene_heading, screenplay_cue, to_fountain, transition
from scriptgen.writing.screenplay import export, parse_fountain

pytestmark = pytest.mark.usefixtures("one_thread")
SEEDS = range(8)


def _word_level(text: str) -> str:
    """``text`` as a word-level model writes it back: lower case, dashes and brackets as the detokenizer joins them."""
    vocab = Vocab.build([word_tokenize(text)], level="word")
    return vocab.decode(vocab.encode(text))


def _casefold(elements: list[Element]) -> list[tuple]:
    return [(e.kind, e.text.casefold(), (e.name or "").casefold(), e.extensions) for e in elements]


@pytest.mark.parametrize("seed", SEEDS)
def test_elements_come_back_from_the_fountain_and_fdx_export(seed):
    play = screenplay(seed, 8)
    canonical = to_canonical(play)
    assert read_fountain(export(canonical, "fountain", TitlePage("T"), "screenplay").decode()).elements == play
    assert read_fdx(export(canonical, "fdx", TitlePage("T"), "screenplay"), "draft.fdx").elements == play


@pytest.mark.parametrize("seed", SEEDS)
def test_screenplain_reads_each_element_as_its_kind(seed):
    play = screenplay(seed, 8)
    fountain = to_fountain(to_canonical(play), TitlePage("T"), "screenplay")
    kinds = Counter(type(p).__name__ for p in parse_fountain(fountain))
    want = Counter(e.kind for e in play)
    assert kinds[Slug.__name__] == want["scene_heading"] and kinds[Dialog.__name__] == want["character"]
    assert kinds[Transition.__name__] == want["transition"] and kinds[Action.__name__] == want["action"]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_word_level_sample_gets_back_the_capitals_of_the_form(seed):
    """Lower-cased and re-joined by the word level, the headings, cues, extensions and transitions come back exactly
    (the generator's headings hyphenate no word), everything else up to case."""
    play = screenplay(seed, 8)
    got = read_fountain(export(_word_level(to_canonical(play)), "fountain", form="screenplay").decode()).elements
    assert recovery(play, got)["scene_heading"] == 1.0 and recovery(play, got)["character"] == 1.0
    assert [e for e in got if e.kind in ("scene_heading", "character", "transition")] == [
        e for e in play if e.kind in ("scene_heading", "character", "transition")
    ]
    assert _casefold(got) == _casefold(play)


def test_the_form_rules_one_by_one():
    assert scene_heading("int. monk's cafe-day") == "INT. MONK'S CAFE - DAY"  # word level: dashes spaced
    assert scene_heading("int. /ext. car-night") == "INT./EXT. CAR - NIGHT"
    assert scene_heading("INT. X-RAY ROOM - DAY") == "INT. X-RAY ROOM - DAY"  # a spaced dash: kept as written
    assert scene_heading("flashback") == ".FLASHBACK"  # no INT./EXT.: forced
    assert screenplay_cue("mrs. ross", ("v. o.",)) == "MRS. ROSS (V.O.)"
    assert screenplay_cue("jerry&george", ("cont'd",)) == "@JERRY&GEORGE (CONT'D)"
    assert transition("cut to:") == "CUT TO:" and transition("fade out.") == "> FADE OUT."
    # a cue with nothing said keeps Fountain's empty line, so it stays a cue
    written = to_fountain("JERRY:\nINT. DINER - NIGHT\n", TitlePage("T"), "screenplay")
    assert written.endswith("JERRY\n  \n\nINT. DINER - NIGHT\n")
    with pytest.raises(ScriptgenError, match="unknown script form"):
        to_fountain("x", TitlePage("T"), "novel")


def test_a_transcript_exports_as_it_always_did():
    script = "jerry: int. of all things.\n[laughter]\nelaine: cut to: the chase.\n"
    assert export(script, "fountain", TitlePage("T")) == export(script, "fountain", TitlePage("T"), "transcript")
    paragraphs = parse_fountain(to_fountain(script, TitlePage("T")))
    assert [type(p).__name__ for p in paragraphs] == ["Dialog", "Action", "Dialog"]


# --------------------------------------------------------------------------
# End to end: a mixed folder with a genres.csv
# --------------------------------------------------------------------------
TINY = dict(
    **REGULARIZERS_OFF, embedding_dim=24, hidden_dim=64, n_layers=1, dropout=0.0, seq_len=32, batch_size=8, lr=0.01,
    output="softmax", precision="fp32", epochs=6, labels=True, device="cpu",
)  # fmt: skip


@pytest.fixture(scope="module")
def films(tmp_path_factory):
    """Twelve screenplays as Fountain, FDX and plain text, two genres in a genres.csv, and a model trained on them."""
    root = tmp_path_factory.mktemp("films")
    corpus = root / "films"
    corpus.mkdir()
    rows = ["file,genres"]
    for seed in range(12):
        play = screenplay(seed, 6)
        name, data = [
            (f"f{seed}.fountain", fountain(play)),
            (f"d{seed}.fdx", fdx(play)),
            (f"p{seed}.txt", plain(play, seed)),
        ][seed % 3]
        (corpus / name).write_text(data, encoding="utf-8")
        rows.append(f"{name},{'Comedy' if seed % 2 else ' Horror; Mystery'}")
    (corpus / "genres.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = root / "checkpoints"
    train(Config(**TINY), data=corpus, name="films", out_dir=out, data_dir=root / "data", progress=False, log=print)
    return {"corpus": corpus, "checkpoint": out / "films", "data": root / "data", "root": root}


def test_the_model_knows_it_learned_screenplays_and_their_cast(films, capsys):
    ckpt = load_checkpoint(films["checkpoint"])
    assert ckpt.form == "screenplay" and ckpt.labels == {"comedy": 6, "horror": 6, "mystery": 6}
    assert main(["cast", "--checkpoint", str(films["checkpoint"]), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    speakers = summary["speakers"]
    # roles (on by default for screenplays): each script's principal characters are ROLE1 ..., the rest keep names
    assert ckpt.roles and {"role1", "role2", "role3"} <= set(speakers)
    assert not {"cut to", "continued", "int"} & set(speakers)
    # per script: each screenplay's own cue names with their dialogue blocks, most first
    assert set(summary["scripts"]) == {p.name for p in films["corpus"].iterdir() if p.name != "genres.csv"}
    for seed in range(12):
        name = [f"f{seed}.fountain", f"d{seed}.fdx", f"p{seed}.txt"][seed % 3]
        play = screenplay(seed, 6)
        roles = assign_roles(play)
        assert ckpt.cast.script_roles[name] == roles  # who played each role, read back exactly by every reader
        want = Counter(e.name.lower() for e in replace_roles(play, roles) if e.kind == "character")
        assert summary["scripts"][name] == dict(sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))[:12])
    assert sum(Counter(s).total() for s in summary["scripts"].values()) <= sum(speakers.values())
    assert main(["cast", "--checkpoint", str(films["checkpoint"])]) == 0
    table = capsys.readouterr().out
    assert "  script " in table and any(row.lstrip().startswith("f0.fountain ") for row in table.splitlines())


@pytest.mark.parametrize("label", ["comedy", "horror,mystery"])
def test_generate_label_writes_a_screenplay_screenplain_reads(films, tmp_path, capsys, label):
    out = tmp_path / "draft.fountain"
    args = ["generate", "--checkpoint", str(films["checkpoint"]), "--label", label, "--length", "400", "--seed", "2"]
    assert main(args + ["--out", str(out)]) == 0, capsys.readouterr().err
    kinds = Counter(type(p).__name__ for p in parse_fountain(out.read_text(encoding="utf-8")).paragraphs)
    assert kinds["Slug"] >= 1 and kinds["Action"] >= 1 and kinds["Dialog"] >= 3, kinds  # the model wrote them all
    dialogs = [p for p in parse_fountain(out.read_text(encoding="utf-8")).paragraphs if isinstance(p, Dialog)]
    assert all(str(d.character).isupper() for d in dialogs)  # cues in capitals, from a lower-case word model
    draft = tmp_path / "draft.fdx"
    assert main(args + ["--out", str(draft)]) == 0
    kinds = Counter(e.kind for e in read_fdx(draft.read_bytes(), "draft.fdx").elements)
    assert kinds["scene_heading"] >= 1 and kinds["character"] >= 3 and kinds["dialogue"] >= 1, kinds


def test_evaluate_runs_on_the_mixed_folder(films, capsys):
    args = ["evaluate", "--checkpoint", str(films["checkpoint"]), "--data-dir", str(films["data"]), "--json"]
    assert main(args + ["--samples", "2", "--length", "60"]) == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert report["heldout"]["tokens"] > 0
    assert set(report["heldout_by_label"]) <= {"comedy", "horror", "mystery"} and report["heldout_by_label"]
