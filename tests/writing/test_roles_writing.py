"""Naming the roles of a model trained with roles (scriptgen.writing.roles): the fill-in rules, --cast mapping the
roles, only the named speaking, a drawn cast without --cast, --extras, --show-roles and one-line errors, at word and
char level end to end; and a transcript model's --cast as it always was."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from screenplays import POOL, ensemble, fountain

from scriptgen import Config, load_checkpoint, train
from scriptgen.cli import main
from scriptgen.config import REGULARIZERS_OFF
from scriptgen.data.roles import ROLE_TOKEN, is_role
from scriptgen.data.screenplay.elements import from_canonical
from scriptgen.data.script import parse_script
from scriptgen.errors import ScriptgenError
from scriptgen.writing.roles import build_role_cast, mention_form, role_cast

pytestmark = pytest.mark.usefixtures("one_thread")

POOLS = {"role1": Counter({"LOLA": 3, "KIYA": 1}), "role2": Counter({"BERON": 2}), "role3": Counter()}


def test_fill_writes_cues_as_given_and_mentions_as_written():
    cast = build_role_cast(["role1", "role2", "role3"], POOLS, ["MAYA", "Detective Ruiz"], False, seed=1)
    assert cast.names["role1"] == "MAYA" and cast.names["role2"] == "Detective Ruiz"
    assert cast.names["role3"] in ("LOLA", "KIYA")  # its own pool is empty: another role's names
    text = "role1: [V.O.] hi role2.\nROLE2: Role1's car.\nROLE1 enters. role2's hat. role19 waits.\n"
    assert cast.fill(text).splitlines() == [
        "MAYA: [V.O.] hi Detective Ruiz.",
        "Detective Ruiz: Maya's car.",
        "MAYA enters. Detective Ruiz's hat. role19 waits.",  # capitals stay capitals; a role it lacks is left
    ]
    assert mention_form("DR. HALE") == "Dr. Hale" and mention_form("McKay") == "McKay"
    assert cast.to_tokens("Maya and DETECTIVE RUIZ: maya's.") == "Role1 and ROLE2: role1's."
    assert cast.speak == ("role1", "role2") and cast.turn("maya") == "role1" and cast.turn("WAITER") == "WAITER"
    extras = build_role_cast(["role1", "role2"], POOLS, ["MAYA"], True, seed=1)
    assert extras.speak is None and extras.names == {"role1": "MAYA", "role2": "BERON"}  # the others speak too


def test_drawn_names_are_seeded_weighted_and_never_repeated():
    pools = {"role1": Counter({"LOLA": 1}), "role2": Counter({"LOLA": 5}), "role3": Counter({"KIYA": 1})}
    for seed in range(5):  # role1 takes LOLA, role2 then KIYA from role3's pool, role3 has none left: its token
        drawn = build_role_cast(["role1", "role2", "role3"], pools, None, False, seed=seed)
        assert drawn.names == {"role1": "LOLA", "role2": "KIYA", "role3": "ROLE3"} and drawn.speak is None
    wide = {"role1": Counter({f"NAME{chr(65 + k)}": k + 1 for k in range(20)})}
    draws = [build_role_cast(["role1"], wide, None, False, seed=s).names["role1"] for s in range(200)]
    assert draws[:10] == [build_role_cast(["role1"], wide, None, False, seed=s).names["role1"] for s in range(10)]
    counts = Counter(draws)
    assert len(counts) > 5 and counts["NAMET"] > counts["NAMEA"]  # weighted by the scripts that gave the name
    surname = {"role2": Counter({"RUIZ": 50, "LOLA": 1})}
    for seed in range(5):  # no RUIZ beside the DETECTIVE RUIZ given
        assert build_role_cast(["role1", "role2"], surname, ["Detective Ruiz"], False, seed).names["role2"] == "LOLA"


def test_too_many_names_a_repeat_or_a_bad_name_is_one_line():
    with pytest.raises(ScriptgenError, match="--cast names 4 characters, and this model knows 3 roles"):
        build_role_cast(["role1", "role2", "role3"], POOLS, ["A1", "B1", "C1", "D1"], False, None)
    with pytest.raises(ScriptgenError, match="twice"):
        build_role_cast(["role1", "role2"], POOLS, ["Maya", "MAYA"], False, None)
    with pytest.raises(ScriptgenError, match="cannot be a character's name"):
        build_role_cast(["role1", "role2"], POOLS, ["MAYA: HI"], False, None)


# --------------------------------------------------------------------------
# End to end
# --------------------------------------------------------------------------
TINY = dict(
    **REGULARIZERS_OFF, embedding_dim=16, hidden_dim=32, n_layers=1, dropout=0.0, seq_len=32, batch_size=8, lr=0.01,
    output="softmax", precision="fp32", device="cpu",
    tie_weights=False,  # the tiny untied models these tests were written against (what they write is the model's doing)
)  # fmt: skip


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Ten screenplays with casts of their own, and a tiny word-, char- and bpe-level model trained on them with roles
    (on by default for screenplays)."""
    root = tmp_path_factory.mktemp("roles")
    corpus = root / "plays"
    corpus.mkdir()
    for seed in range(10):
        (corpus / f"p{seed}.fountain").write_text(fountain(ensemble(seed, 6)), encoding="utf-8")
    out = {}
    for level, epochs in (("word", 4), ("char", 1), ("bpe", 2)):
        cfg = Config.for_level(level=level, **TINY, epochs=epochs, bpe_vocab=512)
        train(cfg, data=corpus, name=level, out_dir=root / "ck", data_dir=root / "data", progress=False, log=print)
        out[level] = root / "ck" / level
    return out


def _generate(capsys, *argv) -> tuple[int, str, str]:
    code = main(["generate", "--precision", "fp32", *[str(a) for a in argv]])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _cues(text: str) -> list[str]:
    return [e.name.upper() for e in from_canonical(text) if e.kind == "character"]


def test_the_checkpoint_knows_its_roles(models, capsys):
    ckpt = load_checkpoint(models["word"])
    assert ckpt.roles and ckpt.form == "screenplay" and "role1" in ckpt.cast.roles
    assert main(["cast", "--checkpoint", str(models["word"]), "--show-roles", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["script_roles"]) == {f"p{seed}.fountain" for seed in range(10)}
    assert all(name in POOL or name.split(" ")[-1] in POOL for name in summary["roles"]["role1"])
    assert main(["cast", "--checkpoint", str(models["word"]), "--show-roles"]) == 0
    assert "ROLE1 " in capsys.readouterr().out


@pytest.mark.parametrize("level", ["word", "char", "bpe"])
def test_only_the_named_speak_and_no_role_token_is_left(models, capsys, level):
    code, out, err = _generate(capsys, "--checkpoint", models[level], "--cast", "MAYA,RUIZ", "--lines", 16, "--seed", 1)
    assert code == 0, err
    cues = _cues(out)
    assert len(cues) >= 3 and set(cues) <= {"MAYA", "RUIZ"}, out
    known = len(load_checkpoint(models[level]).cast.roles)
    assert all(int(m.group(2)) > known for m in ROLE_TOKEN.finditer(out)), out  # char level could spell a ROLE9
    assert level == "char" or ROLE_TOKEN.search(out) is None, out


@pytest.mark.parametrize("level", ["word", "char"])
def test_without_cast_each_role_gets_one_drawn_name(models, capsys, level):
    ckpt = load_checkpoint(models[level])
    code, out, err = _generate(capsys, "--checkpoint", models[level], "--lines", 20, "--seed", 5)
    assert code == 0, err
    drawn = role_cast(ckpt, None, seed=5).names
    assert len(set(drawn.values())) == len(drawn)  # no name plays two roles
    assert all(int(m.group(2)) > len(drawn) for m in ROLE_TOKEN.finditer(out)), out  # (char level: ROLE9 is no role)
    if level == "word":  # a char-level model unsteered may spell any name
        minors = {n.upper() for n in ckpt.cast.speakers if not is_role(n)}
        assert set(_cues(out)) <= {n.upper() for n in drawn.values()} | minors, out
        assert ROLE_TOKEN.search(out) is None, out
    assert _generate(capsys, "--checkpoint", models[level], "--lines", 20, "--seed", 5)[1] == out  # seeded


def test_extras_let_the_others_speak_too(models, capsys):
    ckpt = load_checkpoint(models["word"])
    minors = {n.upper() for n in ckpt.cast.speakers if not is_role(n)}
    drawn = {n.upper() for n in role_cast(ckpt, ["MAYA", "RUIZ"], extras=True, seed=2).names.values()}
    args = ["--checkpoint", models["word"], "--cast", "MAYA,RUIZ", "--extras", "--lines", 40, "--seed", 2]
    code, out, err = _generate(capsys, *args)
    assert code == 0, err
    assert set(_cues(out)) <= drawn | minors and {"MAYA", "RUIZ"} <= drawn, out
    assert ROLE_TOKEN.search(out) is None, out


def test_show_roles_keeps_the_tokens_and_prints_the_table(models, capsys):
    args = ["--checkpoint", models["word"], "--cast", "MAYA", "--lines", 8, "--seed", 1, "--show-roles"]
    code, out, err = _generate(capsys, *args)
    assert code == 0 and "ROLE1  MAYA (given)" in err and "may speak: role1" in err
    assert {line.speaker for line in parse_script(out) if line.kind == "dialogue"} <= {"role1"}


def test_too_many_names_is_one_line(models, capsys):
    ckpt = load_checkpoint(models["word"])
    names = ",".join(f"NAME{chr(65 + k)}" for k in range(len(ckpt.cast.roles) + 1))
    code, out, err = _generate(capsys, "--checkpoint", models["word"], "--cast", names, "--lines", 4)
    assert code == 2 and not out and err.count("\n") == 1 and "roles" in err


def test_a_transcript_models_cast_is_as_it_was(corpus_dir, tmp_path, capsys):
    cfg = Config(**TINY, epochs=1)
    quiet = dict(progress=False, log=lambda m: None)  # (training's lines would join the captured output)
    train(cfg, data=corpus_dir, name="talk", out_dir=tmp_path, data_dir=tmp_path / "data", **quiet)
    assert not load_checkpoint(tmp_path / "talk").roles
    code, out, err = _generate(capsys, "--checkpoint", tmp_path / "talk", "--cast", "jerry,elaine", "--lines", 10)
    assert code == 0, err
    assert {line.speaker for line in parse_script(out) if line.kind == "dialogue"} <= {"jerry", "elaine"}
    code, out, err = _generate(capsys, "--checkpoint", tmp_path / "talk", "--extras", "--lines", 3)
    assert code == 2 and "--extras works with a model trained with roles" in err


def test_interactive_cast_names_the_roles(models):
    import io

    from scriptgen.writing.interactive import chat
    from scriptgen.writing.sampler import Sampler
    from scriptgen.writing.writer import WriteOptions

    ckpt = load_checkpoint(models["word"])
    out, err = io.StringIO(), io.StringIO()
    lines = ["/cast MAYA,RUIZ", "maya: wait", "/cast " + ",".join(["X1"] * 2), ""]
    roles = role_cast(ckpt, None, seed=1)
    sampler = Sampler(ckpt.build_model(), "fp32")
    options = WriteOptions(lines=4, temperature=0.8)
    chat(sampler, ckpt.vocab, lines, out, err, seed=1, options=options, known_cast=ckpt.cast, roles=roles)
    assert "(cast: MAYA (ROLE1), RUIZ (ROLE2))" in err.getvalue() and "twice" in err.getvalue()
    text = out.getvalue()
    assert text.startswith("MAYA: wait") and ROLE_TOKEN.search(text) is None, text
    assert set(_cues(text)) <= {"MAYA", "RUIZ"}, text


def test_a_prime_names_the_roles_and_the_export_shows_it_as_written(models, tmp_path, capsys):
    out = tmp_path / "draft.fountain"
    args = ["--checkpoint", models["word"], "--cast", "MAYA,RUIZ", "--prime", "MAYA: wait", "--lines", 6, "--seed", 4]
    code, _, err = _generate(capsys, *args, "--out", out)
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    assert 'prime: "MAYA: wait"' in text and ROLE_TOKEN.search(text) is None  # the prime as written, no role token
    assert "\nMAYA\n" in text  # the prime's cue, in capitals
