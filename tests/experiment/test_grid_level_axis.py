"""A grid with a ``level`` axis builds each row as the command line would (Config.for_level): char rows get the char
recipe."""

from __future__ import annotations

from scriptgen.config import CHAR_RECIPE, Config
from scriptgen.experiment.grid import Grid, parse_grid

RECIPE_FIELDS = sorted(CHAR_RECIPE)


def _rows(text_base: dict, axes: dict, mode: str = "one-at-a-time", run: dict | None = None):
    return {
        r.name: r.config for r in parse_grid({"base": text_base, "axes": axes, "mode": mode, "run": run or {}}).rows()
    }


def test_a_char_row_of_a_word_base_gets_the_char_recipe_and_keeps_what_base_sets():
    rows = _rows({"batch_size": 8, "seq_len": 16}, {"level": ["word", "char"]}, run={"epochs": 3})
    char, word = rows["level=char"], rows["benchmark"]
    expected = Config.for_level(level="char", batch_size=8, seq_len=16, epochs=3)
    assert char == expected.validate()
    for name in RECIPE_FIELDS:
        if name != "seq_len":
            assert getattr(char, name) == CHAR_RECIPE[name], name
    assert char.seq_len == 16 and char.batch_size == 8 and char.epochs == 3  # [base] and [run] win over the recipe
    assert word == Config.for_level(batch_size=8, seq_len=16, epochs=3).validate()


def test_a_word_row_of_a_char_base_gets_the_word_defaults():
    rows = _rows({"level": "char"}, {"level": ["word"]})
    assert rows["benchmark"].hidden_dim == CHAR_RECIPE["hidden_dim"]
    assert rows["level=word"] == Config.for_level(level="word").validate()


def test_product_rows_with_a_level_axis_combine_with_the_other_axes():
    rows = _rows({}, {"level": ["word", "char"], "n_layers": [1, 2]}, mode="product")
    assert rows["level=char,n_layers=2"] == Config.for_level(level="char", n_layers=2).validate()
    assert rows["level=word,n_layers=2"] == Config.for_level(level="word", n_layers=2).validate()


def test_a_grid_built_in_python_keeps_what_its_base_sets():
    base = Config.for_level(hidden_dim=64).validate()
    rows = {r.name: r.config for r in Grid(base, {"level": ["char"]}).rows()}
    assert rows["level=char"] == Config.for_level(level="char", hidden_dim=64).validate()
