"""The default corpus: the Seinfeld transcripts of the PyPI package ``seinfeld-laugh-corpus`` as script text.

The package's episodes are subtitles: timestamps, ``# SPEAKER`` tags and
``**LOL**`` laugh marks, some lines UTF-8 once decoded as Hebrew cp1255 and a
few Latin-1 words.  Each episode becomes script text, one utterance a line,
``name: words`` with a lowercase speaker name; timestamps are dropped and every
laugh becomes a line ``[laughter]`` that the model can learn.

:mod:`scriptgen.data.corpus` makes documents of these (``load_documents(None)``);
``python -m scriptgen prepare`` (no ``--data``) caches their tokens.  To look
at one episode::

    from scriptgen.data.seinfeld import read_episodes
    name, script = read_episodes()[0]
    print(name, script[:200])
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from ..errors import ScriptgenError

LAUGH_CUE = "[laughter]"

_TIMESTAMP = re.compile(r"^-?\d+(?:\.\d+)?$")
_HEBREW = re.compile("[\u0590-\u05ff\u2122\u00d7]")  # signs of UTF-8 read as cp1255


def seinfeld_files() -> list[Path]:
    """The episode files of the installed ``seinfeld-laugh-corpus`` package."""
    try:
        import seinfeld_laugh_corpus  # noqa: PLC0415 - optional at import time
    except ImportError:
        raise ScriptgenError(
            "the default corpus needs the package seinfeld-laugh-corpus: "
            "run 'pip install seinfeld-laugh-corpus' or pass --data PATH"
        ) from None
    folder = Path(seinfeld_laugh_corpus.__file__).parent / "the_corpus"
    files = sorted(folder.glob("*.merged"))
    if not files:
        raise ScriptgenError(f"no episodes found in {folder}; reinstall seinfeld-laugh-corpus or pass --data PATH")
    return files


def _cp1252_fallback(err: UnicodeDecodeError) -> tuple[str, int]:
    # bytes that are not UTF-8 were Latin-1/cp1252 text: decode just those
    return err.object[err.start : err.end].decode("cp1252", errors="replace"), err.end


codecs.register_error("scriptgen-cp1252", _cp1252_fallback)


def _fix_mojibake(line: str) -> str:
    """Undo UTF-8 (or Latin-1) text that was once decoded as Hebrew cp1255."""
    if not _HEBREW.search(line):
        return line
    try:
        raw = line.encode("cp1255")
    except UnicodeError:
        return line
    return raw.decode("utf-8", errors="scriptgen-cp1252")


def _decode_episode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="scriptgen-cp1252")  # a few episodes have Latin-1 words


def episode_to_script(raw: str) -> str:
    """Turn one episode of the laugh corpus into ``name: words`` lines."""
    lines: list[str] = []
    speaker = ""
    words: list[str] = []

    def flush() -> None:
        if words:
            text = " ".join(words)
            lines.append(f"{speaker}: {text}" if speaker else text)
            words.clear()

    for line in raw.splitlines():
        line = _fix_mojibake(line).replace("\u266a", " ").replace("\xa0", " ").strip()
        if not line:
            continue
        if line.startswith("#"):
            flush()
            speaker = "".join(line.lstrip("#").split()).lower()
        elif _TIMESTAMP.match(line):
            flush()  # every utterance ends with its end time
        elif line == "**LOL**":
            flush()
            if not lines or lines[-1] != LAUGH_CUE:
                lines.append(LAUGH_CUE)
        else:
            words.append(line)
    flush()
    return "\n".join(lines) + "\n"


def episode_name(path: Path) -> str:
    """The title in an episode's file name (``Seinfeld.S07E06.The.Soup.Nazi.merged``: ``S07E06 The Soup Nazi``)."""
    parts = path.stem.split(".")
    if parts and parts[0].lower() == "seinfeld":
        parts = parts[1:]
    return " ".join(parts)


def read_episodes() -> list[tuple[str, str]]:
    """``(episode name, script text)`` of every episode, in file order."""
    return [(episode_name(p), episode_to_script(_decode_episode(p.read_bytes()))) for p in seinfeld_files()]
