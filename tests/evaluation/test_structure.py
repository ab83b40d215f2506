"""scriptgen evaluate on a screenplay model: structure fidelity (element shares, scene and dialogue-block lengths and
their distances from the training split's) against plain computations, and end to end on generated screenplays with
a genres.csv (the per-label held-out loss shown beside it); a transcript model's report has none of it."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from screenplays import fountain, screenplay

from scriptgen import Config, evaluate_checkpoint, train
from scriptgen.cli import main
from scriptgen.config import REGULARIZERS_OFF
from scriptgen.data.screenplay.elements import KINDS, to_canonical
from scriptgen.data.tokens import detokenize, word_tokenize
from scriptgen.evaluation.structure import LENGTHS, Structure, StructureScores, relative_w1

TINY = dict(
    **REGULARIZERS_OFF,
    embedding_dim=16, hidden_dim=32, n_layers=1, dropout=0.0, seq_len=16, batch_size=16, lr=0.01, epochs=2,
    output="softmax", precision="fp32",
)  # fmt: skip
QUIET = dict(progress=False, log=lambda message: None)

# Rain falls before the first heading (in no scene); scene 1 has 5 lines and 4+2+5+4+2 = 17 words, scene 2 has 3
# lines and 4+3+5 = 12 words; the dialogue blocks say 2, 3 and 2 words.
TEXT = (
    "Rain falls.\n"
    "\n"
    "INT. DINER - DAY\n"
    "Jerry sits.\n"
    "JERRY: [V.O.] (quietly) Not again.\n"
    "GEORGE: What? Why not?\n"
    "CUT TO:\n"
    "\n"
    "EXT. STREET - NIGHT\n"
    "ELAINE: Get out!\n"
    "~ CLOSE ON THE CUP\n"
)
KIND_COUNTS = {"action": 2, "scene_heading": 2, "character": 3, "parenthetical": 1, "dialogue": 3, "transition": 1,
               "shot": 1}  # fmt: skip


def test_a_hand_made_text_gives_its_known_figures():
    s = Structure.of([TEXT])
    assert dict(s.kinds) == KIND_COUNTS and s.elements == 13
    assert s.shares() == {k: KIND_COUNTS.get(k, 0) / 13 for k in KINDS}
    assert (s.scene_lines, s.scene_words, s.block_words) == (Counter([5, 3]), Counter([17, 12]), Counter([2, 3, 2]))
    assert (s.scenes, s.blocks, s.mean("scene_lines"), s.mean("scene_words")) == (2, 3, 4.0, 14.5)
    assert s.mean("block_words") == pytest.approx(7 / 3)
    # as a sample, the last scene is cut off by the length: only the one between two headings counts
    cut = Structure.of([TEXT], whole_end=False)
    assert (cut.scene_lines, cut.scene_words, cut.kinds, cut.block_words) == ({5: 1}, {17: 1}, s.kinds, s.block_words)
    # decoded word-level samples are lowercase and spaced by the detokenizer: read the same way
    lower = Structure.of([detokenize(word_tokenize(TEXT), "word")])
    assert (lower.kinds, lower.scene_lines, lower.block_words) == (s.kinds, s.scene_lines, s.block_words)


def test_a_generated_screenplay_against_its_elements():
    """Kinds, scenes and dialogue blocks of the canonical text, against the elements it was written from."""
    plays = [screenplay(seed, 5) for seed in range(3)]
    s = Structure.of(to_canonical(p) for p in plays)
    assert s.kinds == sum((Counter(e.kind for e in p) for p in plays), Counter())
    scenes = [chunk for p in plays for chunk in to_canonical(p).split("\n\n")]  # a blank line opens each scene
    assert s.scene_lines == Counter(len(c.strip("\n").split("\n")) for c in scenes)
    assert s.scene_words == Counter(len(c.split()) for c in scenes)
    blocks: list[int] = []
    for e in (e for p in plays for e in p):
        if e.kind == "character":
            blocks.append(0)
        elif e.kind == "dialogue":
            blocks[-1] += len(e.text.split())
    assert s.block_words == Counter(blocks)


def test_relative_w1_is_the_mean_gap_of_sorted_lengths_over_the_reference_mean():
    rng = random.Random(0)
    for n, m in ((7, 7), (5, 9), (1, 4)):
        a, b = [rng.randint(1, 30) for _ in range(n)], [rng.randint(5, 40) for _ in range(m)]
        # the same distributions as n*m values each: W1 of equal-sized samples pairs them in sorted order
        wide_a, wide_b = sorted(a * m), sorted(b * n)
        plain = sum(abs(x - y) for x, y in zip(wide_a, wide_b)) / len(wide_a) / (sum(b) / m)
        assert relative_w1(Counter(a), Counter(b)) == pytest.approx(plain)
    assert relative_w1(Counter([3, 3, 4]), Counter([4, 3, 3])) == 0.0
    assert relative_w1(Counter([20]), Counter([10])) == pytest.approx(1.0)  # twice as long: a whole mean away
    assert relative_w1(Counter(), Counter([10])) != relative_w1(Counter(), Counter([10]))  # NaN: nothing measured


def test_distances_are_zero_for_the_same_text_and_positive_for_another():
    same = StructureScores.against(Structure.of([TEXT]), Structure.of([TEXT]))
    assert same.element_tvd == 0.0 and same.distances == {k: 0.0 for k in LENGTHS}
    other = "INT. CAR - DAY\nGeorge drives and drives.\nGEORGE: No.\nKRAMER: Yes.\nSUSAN: Maybe.\n"
    differ = StructureScores.against(Structure.of([other]), Structure.of([TEXT]))
    assert 0 < differ.element_tvd <= 1 and all(d > 0 for d in differ.distances.values())
    figures = differ.to_json()
    assert figures["scenes"] == 1 and set(figures["distance"]) == {"element_shares", *LENGTHS}
    # the samples' scores drop a sample's cut-off last scene
    assert StructureScores.of([other], Structure.of([TEXT])).samples.scenes == 0


# --------------------------------------------------------------------------
# End to end: a screenplay model with genres
# --------------------------------------------------------------------------
GENRES = {0: "comedy", 1: "crime;thriller", 2: "comedy", 3: "crime;thriller", 4: "comedy", 5: "crime;thriller"}


@pytest.fixture(scope="module")
def plays_ckpt(tmp_path_factory, one_thread) -> Path:
    folder = tmp_path_factory.mktemp("screenplays")
    corpus = folder / "corpus"
    corpus.mkdir()
    for seed in GENRES:
        (corpus / f"play{seed}.fountain").write_text(fountain(screenplay(seed, 4)))
    (corpus / "genres.csv").write_text("file,genres\n" + "".join(f"play{s}.fountain,{g}\n" for s, g in GENRES.items()))
    train(Config(**TINY, labels=True), data=corpus, name="plays", out_dir=folder, data_dir=folder / "data", **QUIET)
    return folder / "plays"


def _evaluate(ckpt: Path, **kwargs):
    settings = {"samples": 3, "length": 300, "temperatures": [0.8, 1.0], **kwargs}
    return evaluate_checkpoint(ckpt, data_dir=ckpt.parent / "data", log=lambda m: None, **settings)


def test_a_screenplay_model_reports_structure_and_heldout_per_label(plays_ckpt):
    report = _evaluate(plays_ckpt)
    figures = report.to_json()
    json.dumps(figures, allow_nan=False)
    val = set(json.loads((plays_ckpt / "config.json").read_text())["data"]["split"]["val_documents"])
    trained = [screenplay(s, 4) for s in GENRES if f"play{s}.fountain" not in val]
    corpus = figures["training_split"]["structure"]
    kinds = sum((Counter(e.kind for e in p) for p in trained), Counter())
    assert corpus["elements"] == sum(kinds.values()) and corpus["scenes"] == kinds["scene_heading"] == 4 * len(trained)
    assert corpus["element_shares"] == pytest.approx({k: kinds[k] / sum(kinds.values()) for k in KINDS})
    assert corpus["dialogue_blocks"] == kinds["character"] and corpus["block_words"] > 1
    for row in figures["temperatures"]:
        s = row["structure"]
        assert s["elements"] > 0 and sum(s["element_shares"].values()) == pytest.approx(1.0)
        assert 0 <= s["distance"]["element_shares"] <= 1
        assert all(s["distance"][k] is None or s["distance"][k] >= 0 for k in LENGTHS)
    # a document of several labels counts for each: crime and thriller hold the same documents
    assert set(report.heldout_by_label) == {"comedy", "crime", "thriller"}
    assert report.heldout_by_label["crime"].nats == report.heldout_by_label["thriller"].nats
    table = report.markdown()
    assert "structure against the training split" in table and table.count("| training split |") == 2
    assert all(f"held-out, validation documents of label {name} " in table for name in report.heldout_by_label)
    assert sum(line.startswith(("| 0.8 |", "| 1 |")) for line in table.splitlines()) == 3 * 2  # 3 tables, 2 rows


def test_cli_json_has_the_structure(plays_ckpt, capsys):
    code = main(["evaluate", "--checkpoint", str(plays_ckpt), "--data-dir", str(plays_ckpt.parent / "data"),
                 "--samples", "2", "--length", "200", "--temperature", "0.9", "--json"])  # fmt: skip
    out, err = capsys.readouterr()
    figures = json.loads(out)
    assert code == 0 and err == "" and set(figures["training_split"]["structure"]["element_shares"]) == set(KINDS)
    assert set(figures["temperatures"][0]["structure"]["distance"]) == {"element_shares", *LENGTHS}
    assert set(figures["heldout_by_label"]) <= {"comedy", "crime", "thriller"}


def test_a_transcript_model_has_no_structure(corpus_dir, tmp_path, one_thread):
    train(Config(**{**TINY, "epochs": 1}), data=corpus_dir, name="talk", out_dir=tmp_path, data_dir=tmp_path / "data",
          **QUIET)  # fmt: skip
    report = _evaluate(tmp_path / "talk", samples=1, length=40, temperatures=[0.8])
    figures = report.to_json()
    assert report.structure is None and "structure" not in figures["training_split"]
    assert "structure" not in figures["temperatures"][0] and "structure against" not in report.markdown()
