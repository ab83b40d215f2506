"""A corpus folder mixing transcripts and screenplays: prepare reads each by its format and says what it read."""

import pytest
from screenplays import mixed_folder

from scriptgen.data.corpus import load_documents
from scriptgen.data.prepare import prepare
from scriptgen.data.screenplay.elements import from_canonical, to_canonical
from scriptgen.data.tokens import Vocab, word_tokenize
from scriptgen.errors import ScriptgenError


@pytest.fixture
def mixed(tmp_path):
    root = tmp_path / "mixed"
    plays = mixed_folder(root, 2)
    return root, plays


def test_a_mixed_folder_is_read_by_format_and_reported(mixed, tmp_path):
    root, plays = mixed
    lines = []
    prepared = prepare(root, data_dir=tmp_path / "data", log=lines.append, roles="off")  # the names as written
    read = prepared.meta["read"]
    assert read["formats"] == {"fdx": 2, "fountain": 2, "screenplay": 2, "transcript": 1}
    assert read["scenes"] == sum(1 for e in sum(plays.values(), []) if e.kind == "scene_heading")
    assert read["poorly_recognised"] == [] and set(read["kinds"]) >= {"scene_heading", "character", "dialogue"}
    assert any(line.startswith("read 2 fdx, 2 fountain, 2 screenplay, 1 transcript;") for line in lines)
    vocab: Vocab = prepared.vocab
    for doc in prepared.documents:
        text = vocab.decode(prepared.ids[doc["start"] : doc["end"]].tolist())
        if doc["name"] in plays:  # each screenplay's ids are its canonical text, element for element
            want = plays[doc["name"]]
            assert [e.kind for e in from_canonical(text)] == [e.kind for e in want]
            assert word_tokenize(text) == word_tokenize(to_canonical(want))
    assert {"jerry", "elaine", "kramer"} <= set(prepared.cast.speakers)  # cues of screenplays and transcripts
    assert "cut to" not in prepared.cast.speakers  # a transition is no speaker
    again = prepare(root, data_dir=tmp_path / "data", log=lines.append, roles="off")  # cached: nothing read again
    assert again.meta == prepared.meta


def test_format_override_and_poorly_recognised_warning(mixed, tmp_path):
    root, _ = mixed
    (root / "prose.fountain").write_text("Just some prose.\n\nAnd more prose, no scenes, no one speaks.\n")
    lines = []
    prepare(root, data_dir=tmp_path / "data", log=lines.append)
    assert any(line.startswith("warning: little screenplay structure") and "'prose.fountain'" in line for line in lines)
    flat = prepare(root, data_dir=tmp_path / "data2", log=lines.append, fmt="transcript")
    assert "read" not in flat.meta and flat.meta["settings"].get("input_format") is None


def test_a_transcript_folder_reads_as_before(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "one.txt").write_text("INT. KITCHEN\njerry: hi.\nelaine: no.\n")
    prepared = prepare(tmp_path / "s", data_dir=tmp_path / "data", log=lambda *_: None)
    assert "read" not in prepared.meta and "input_format" not in prepared.meta["settings"]
    assert [d.text for d in load_documents(tmp_path / "s")] == ["INT. KITCHEN\njerry: hi.\nelaine: no.\n"]


def test_bad_format_is_one_line(tmp_path):
    with pytest.raises(ScriptgenError, match="--format 'word' is unknown"):
        prepare(tmp_path, data_dir=tmp_path / "data", fmt="word")


def test_the_default_corpus_is_read_as_transcripts():
    """The default corpus keeps its readers and so its ids and cache key: no screenplay settings join it."""
    from scriptgen.data.prepare import _sources

    sources, docs = _sources(None, "utf-8")
    assert docs and {src.format for src in sources} == {"transcript"} and all(src.cast is None for src in sources)


def test_per_script_casts_are_bounded_and_say_how_many_did_not_fit():
    """cast.json keeps each screenplay's first speakers while they fit its budget, far below the loader's 1 MiB cap,
    and counts the screenplays left out; a transcript corpus's cast has no per-script part at all."""
    import json
    from collections import Counter

    from scriptgen.data.cache import SCRIPT_SPEAKERS, SCRIPTS_BYTES, stored_cast
    from scriptgen.data.script import Cast

    cast = Cast(Counter({"jerry": 3}))
    cast.scripts = {f"{'long-folder-name/' * 8}{i}.fountain": Counter({f"NAME {k} " * 3: k + 1 for k in range(20)})
                    for i in range(5000)}  # fmt: skip
    data = stored_cast(cast)
    size = len(json.dumps(data, ensure_ascii=False).encode())
    kept = len(data["scripts"])
    assert SCRIPTS_BYTES * 0.9 < size < 2**20 and 0 < kept < 5000 and data["scripts_left_out"] == 5000 - kept
    assert all(len(speakers) == SCRIPT_SPEAKERS for speakers in data["scripts"].values())
    back = Cast.from_json(data)
    assert back.scripts_left_out == 5000 - kept and len(back.scripts) == kept
    assert "scripts" not in Cast.of(["jerry: hi.\n"]).to_json()
