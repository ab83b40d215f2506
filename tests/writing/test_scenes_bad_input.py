"""Bad input to the scene and page flags of ``scriptgen generate``: one clear line, exit status 2, no traceback.

Each case runs ``python -m scriptgen generate ...`` in a child process (tests/forkrun.py, as tests/test_bad_input.py
does) against the tiny screenplay models and the tiny transcript model of scene_models.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from forkrun import Runner

ERROR = "scriptgen: error: "


def the_error(stderr: str) -> str:
    """The one error line of stderr (nothing else, no traceback)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(ERROR), f"want one '{ERROR}' line, got:\n{stderr}"
    return lines[0]


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    made = Runner(tmp_path_factory.mktemp("scene_runner"))
    yield made
    made.close()


def _files(work: Path) -> dict[str, Path]:
    """The outline files the cases pass, written into ``work``."""
    files = {
        "good": "INT. DINER - NIGHT\n    Maya waits.\n",
        "empty": "# nothing but a comment\n\n",
        "unknown-word": "INT. DINER - NIGHT\nEXT. ZEBRA - DAY\n",
        "unknown-char": "INT. DINER - NIGHT\n    Maya waits Ж.\n",
    }
    paths = {name: work / f"{name}.txt" for name in files}
    for name, text in files.items():
        paths[name].write_text(text, encoding="utf-8")
    paths["binary"] = work / "binary.txt"
    paths["binary"].write_bytes(bytes(range(256)) * 8)
    paths["huge"] = work / "huge.txt"
    paths["huge"].write_text("INT. DINER - NIGHT\n" * 60_000, encoding="utf-8")
    return paths


CASES = [
    # (id, which checkpoint, flags, words the line must hold); {name} is the outline file of that name
    ("outline-empty", "word", ["--outline", "{empty}"], ["has no scene headings", "one heading per line"]),
    ("outline-unknown-word", "word", ["--outline", "{unknown-word}"], ["line 2", "'zebra'", "not in this model"]),
    ("outline-unknown-char", "char", ["--outline", "{unknown-char}"], ["line 2", "'Ж'", "not in this model"]),
    ("outline-binary", "word", ["--outline", "{binary}"], ["looks binary", "plain text"]),
    ("outline-huge", "word", ["--outline", "{huge}"], ["more than 1,048,576 characters", "smaller file"]),
    ("outline-missing", "word", ["--outline", "{missing}"], ["cannot read", "missing.txt"]),
    ("outline-on-transcript", "transcript", ["--outline", "{good}"], ["learned transcripts", "trained on screenplays"]),
    ("scenes-on-transcript", "transcript", ["--scenes", "2"], ["--scenes writes screenplay scenes"]),
    ("pages-0", "word", ["--pages", "0"], ["--pages 0 is invalid", "1 to 500"]),
    ("pages-huge", "word", ["--pages", "100000"], ["--pages 100000 is invalid"]),
    ("scenes-negative", "word", ["--scenes", "-1"], ["--scenes -1 is invalid", "1 or more"]),
    ("scenes-0", "word", ["--scenes", "0"], ["--scenes 0 is invalid"]),
    ("outline-and-scene", "word", ["--outline", "{good}", "--scene", "INT. X"], ["drop --scene"]),
    ("lines-and-pages", "word", ["--pages", "2", "--lines", "5"], ["--lines and --pages", "use one"]),
    ("turns-and-scenes", "word", ["--scenes", "2", "--turns", "maya,ruiz"], ["--turns and --scenes"]),
    ("prime-and-outline", "word", ["--outline", "{good}", "--prime", "maya:"], ["drop --prime"]),
    ("scene-empty", "word", ["--scene", "  "], ["--scene is empty"]),
    ("scene-unknown-word", "word", ["--scene", "INT. ZEBRA - DAY"], ["--scene", "'zebra'"]),
    ("interactive-and-scenes", "word", ["--interactive", "--scenes", "2"], ["type a scene heading"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_scene_input_is_one_line(case, runner, word_films, char_films, talk_model, tmp_path):
    _, which, flags, words = case
    checkpoint = {"word": word_films, "char": char_films, "transcript": talk_model}[which]
    paths = _files(tmp_path) | {"missing": tmp_path / "missing.txt"}
    argv = ["generate", "--checkpoint", checkpoint, "--seed", "1"] + [
        str(paths[f[1:-1]]) if f.startswith("{") else f for f in flags
    ]
    result = runner.run(argv, tmp_path)
    assert result.returncode == 2, (result.returncode, result.stderr)
    line = the_error(result.stderr)
    for word in words:
        assert word in line, line
    assert not (tmp_path / "draft.pdf").exists() and not result.stdout
