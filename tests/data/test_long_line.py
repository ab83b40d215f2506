"""The text reader cuts text in linear time: a 50 MB line without a blank is read in one pass
(scriptgen.data.text)."""

from __future__ import annotations

import random
import time

from scriptgen.data import text as text_mod


def test_a_50_mb_line_without_whitespace_is_read_within_a_time_bound(tmp_path):
    line = "x" * (50 << 20)
    path = tmp_path / "long.txt"
    path.write_text("jerry: hello.\n" + line + "\nelaine: hi there.\n", encoding="utf-8")
    start = time.monotonic()
    pieces = list(text_mod.iter_text(path))
    seconds = time.monotonic() - start
    assert "".join(pieces) == "jerry: hello.\n" + line + "\nelaine: hi there.\n"
    assert any(len(p) > len(line) for p in pieces)  # the line is one piece: a token is never cut
    assert seconds < 20, f"{seconds:.1f} s to read a 50 MB line"


def test_streamed_pieces_are_the_pieces_of_the_whole_text(tmp_path):
    # the linear reader cuts exactly where cutting the whole text at once does, blanks rare or frequent
    rng = random.Random(0)
    for trial in range(30):
        words = ["a" * rng.choice([1, 3, 40, 200, 900]) for _ in range(rng.randrange(1, 60))]
        text = "".join(w + rng.choice([" ", "\n", "\t", "", ""]) for w in words)
        path = tmp_path / f"t{trial}.txt"
        path.write_bytes(text.encode("utf-8"))
        size = rng.choice([16, 64, 256])
        streamed = list(text_mod.iter_text(path, size=size))
        assert "".join(streamed) == text
        whole = list(text_mod.text_blocks(text, size))
        assert streamed == whole, (trial, size)
