"""Characters as roles at prepare time (scriptgen.data.roles): who gets which role, what is replaced, and that the
names come back exactly; checked on hand-made elements, on the generators' known casts and through prepare."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from screenplays import MINOR, cast_for, ensemble, fountain, screenplay

from scriptgen import Config
from scriptgen.data.prepare import prepare
from scriptgen.data.roles import (
    MAX_ROLES,
    assign_roles,
    replace_roles,
    restore_elements,
    restore_roles,
    use_roles,
)
from scriptgen.data.screenplay.elements import Element, cue, to_canonical
from scriptgen.data.script import speaker_name
from scriptgen.errors import ScriptgenError


def _blocks(*speakers: str) -> list[Element]:
    out = []
    for name in speakers:
        out += [cue(name), Element("dialogue", "Hello.")]
    return out


def test_roles_go_by_cues_ties_by_first_appearance():
    play = _blocks("RUIZ", "MAYA", "MAYA", "JOHN", "RUIZ", "ZED")
    assert assign_roles(play) == {"ROLE1": "RUIZ", "ROLE2": "MAYA", "ROLE3": "JOHN", "ROLE4": "ZED"}


def test_the_cut_keeps_the_minor_speakers_names():
    names = [f"NAME{chr(65 + k)}" for k in range(12)]
    play = _blocks(*[n for k, n in enumerate(names) for _ in range(20 - k)])
    roles = assign_roles(play)
    assert list(roles.values()) == names[:MAX_ROLES]
    replaced = replace_roles(play, roles)
    cues = [e.name for e in replaced if e.kind == "character"]
    assert set(cues) == {f"ROLE{k}" for k in range(1, MAX_ROLES + 1)} | set(names[MAX_ROLES:])


def test_a_name_spelled_in_mixed_case_keeps_it():
    roles = assign_roles(_blocks("McDONALD", "McDONALD", "MAYA"))
    assert roles == {"ROLE1": "MAYA"}
    # the same speaker in capitals and in title case is one role, named by the spelling it uses most
    assert assign_roles(_blocks("MAYA", "Maya", "MAYA")) == {"ROLE1": "MAYA"}


def test_what_is_replaced_and_what_is_not():
    play = [
        Element("scene_heading", "INT. MAYA'S APARTMENT - NIGHT"),
        Element("action", "MAYA enters. Maya's coat drips. A Mayan mask. DETECTIVE RUIZ waits; Ruiz sighs."),
        cue("MAYA", "CONT'D"),
        Element("parenthetical", "(to Detective Ruiz)"),
        Element("dialogue", "Detective Ruiz, maya is not a word. mAYA neither."),
        cue("DETECTIVE RUIZ", "V.O."),
        Element("dialogue", "The man said so. Maya knows."),
        cue("MAN"),
        Element("dialogue", "I did."),
        cue("I"),
        Element("dialogue", "Me?"),
        Element("transition", "CUT TO:"),
    ]
    roles = assign_roles(play)
    assert roles == {"ROLE1": "MAYA", "ROLE2": "DETECTIVE RUIZ", "ROLE3": "MAN", "ROLE4": "I"}
    got = replace_roles(play, roles)
    # "maya" in lower case is a word of this script, so Maya's mentions stay (her cues become her role)
    assert got[1].text == "MAYA enters. Maya's coat drips. A Mayan mask. ROLE2 waits; Ruiz sighs."
    assert got[2] == cue("ROLE1", "CONT'D") and got[5] == cue("ROLE2", "V.O.")
    assert got[3].text == "(to Role2)" and got[4].text == "Role2, maya is not a word. mAYA neither."
    assert got[6].text == "The man said so. Maya knows."  # "the man" is no mention of MAN
    assert got[7] == cue("ROLE3") and got[9] == cue("ROLE4") and got[10].text == "Me?"  # "I" is never replaced
    assert restore_elements(got, roles) == play


def test_possessives_capitals_and_whole_words():
    play = [cue("MAYA"), Element("dialogue", "Hi."), Element("action", "MAYA'S bag. Maya's hat. Mayan art. Mayas.")]
    got = replace_roles(play, assign_roles(play))
    assert got[2].text == "ROLE1'S bag. Role1's hat. Mayan art. Mayas."
    assert restore_roles(to_canonical(got), {"ROLE1": "MAYA"}) == to_canonical(play)


def test_a_script_spelling_a_role_token_gets_no_roles():
    play = _blocks("MAYA") + [Element("action", "She reads role2 of the play.")]
    assert assign_roles(play) == {} and replace_roles(play, {}) == play


@pytest.mark.parametrize("seed", range(12))
def test_the_generators_casts_get_their_roles_and_come_back(seed):
    for play in (screenplay(seed, 8), ensemble(seed, 8)):
        roles = assign_roles(play)
        cues = Counter(speaker_name(e.name) for e in play if e.kind == "character")
        first = {}
        for i, e in enumerate(play):
            if e.kind == "character":
                first.setdefault(speaker_name(e.name), i)
        want = sorted(cues, key=lambda n: (-cues[n], first[n]))[:MAX_ROLES]
        assert [speaker_name(n) for n in roles.values()] == want
        replaced = replace_roles(play, roles)
        assert restore_elements(replaced, roles) == play
        assert restore_roles(to_canonical(replaced), roles) == to_canonical(play)
        text = " ".join(e.text for e in replaced if e.kind != "character")
        for name in roles.values():  # every mention of a role's name (not a word of the script) is gone
            if name.lower() not in text and name not in MINOR:
                assert name not in text and name.title() not in text


def test_an_ensemble_mentions_its_roles_in_action_and_dialogue():
    play = ensemble(3, 8)
    roles = assign_roles(play)
    text = to_canonical(replace_roles(play, roles))
    assert "Role1" in text and "ROLE1:" in text
    assert not any(name in text for name in cast_for(3) if name in roles.values())


def test_use_roles():
    assert use_roles("auto", 3) and not use_roles("auto", 0) and use_roles("on", 1) and not use_roles("off", 5)
    with pytest.raises(ScriptgenError, match="no screenplay"):
        use_roles("on", 0)
    with pytest.raises(ScriptgenError, match="invalid"):
        use_roles("maybe", 1)


def test_old_configs_have_no_roles_and_bad_values_are_one_line():
    assert Config.from_dict({"level": "word"}).roles == "off" and Config().roles == "auto"
    with pytest.raises(ScriptgenError, match="--roles 'yes' is invalid"):
        Config(roles="yes").validate()


# --------------------------------------------------------------------------
# Through prepare
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def plays(tmp_path_factory):
    root = tmp_path_factory.mktemp("plays")
    corpus = root / "plays"
    corpus.mkdir()
    for seed in range(4):
        (corpus / f"s{seed}.fountain").write_text(fountain(ensemble(seed, 4)), encoding="utf-8")
    (corpus / "talk.txt").write_text("jerry: hello maya.\nelaine: hi.\n", encoding="utf-8")
    return root


def test_prepare_replaces_each_screenplays_cast_and_stores_the_mapping(plays):
    lines = []
    prepared = prepare(plays / "plays", "word", data_dir=plays / "data", log=lines.append)
    assert prepared.folder.name == "plays-word-roles" and prepared.meta["settings"]["roles"] is True
    named = sum(len(assign_roles(ensemble(seed, 4))) for seed in range(4))
    assert any(
        line.startswith(f"roles: the principal characters of 4 of 4 screenplays ({named} in all)") for line in lines
    )
    docs = {d["name"]: d for d in prepared.documents}
    assert "roles" not in docs["talk.txt"]  # a transcript is never rewritten
    for seed in range(4):
        want = assign_roles(ensemble(seed, 4))
        assert docs[f"s{seed}.fountain"]["roles"] == want
    assert "role1:" in prepared.vocab.stoi and "jerry:" in prepared.vocab.stoi
    minor = {  # a name may play a role in one script and a small part in another
        speaker_name(e.name)
        for seed in range(4)
        for e in replace_roles(ensemble(seed, 4), docs[f"s{seed}.fountain"]["roles"])
        if e.kind == "character"
    }
    for seed in range(4):  # the principal characters' names are gone from the vocabulary
        for name in docs[f"s{seed}.fountain"]["roles"].values():
            assert name.lower() + ":" not in prepared.vocab.stoi or name.lower() in minor
    cast = json.loads((prepared.folder / "cast.json").read_text(encoding="utf-8"))
    assert cast["script_roles"] == {f"s{seed}.fountain": docs[f"s{seed}.fountain"]["roles"] for seed in range(4)}
    role1 = Counter(docs[f"s{seed}.fountain"]["roles"]["ROLE1"] for seed in range(4))
    assert cast["roles"]["role1"] == dict(sorted(role1.items(), key=lambda kv: (-kv[1], kv[0])))
    assert "role1" in cast["speakers"] and "role1" in cast["scripts"]["s0.fountain"]


def test_roles_off_and_transcripts_keep_their_caches_as_they_were(plays, corpus_dir):
    off = prepare(plays / "plays", "word", data_dir=plays / "data", log=lambda m: None, roles="off")
    assert off.folder.name == "plays-word" and "roles" not in off.meta["settings"]
    assert "role1:" not in off.vocab.stoi and all("roles" not in d for d in off.documents)
    assert "roles" not in json.loads((off.folder / "cast.json").read_text(encoding="utf-8"))
    talk = prepare(corpus_dir, "word", data_dir=plays / "data", log=lambda m: None)
    assert "roles" not in talk.meta["settings"] and talk.folder.name.endswith("-word")
    with pytest.raises(ScriptgenError, match="--roles on .* no screenplay"):
        prepare(corpus_dir, "word", data_dir=plays / "data", log=lambda m: None, roles="on")
