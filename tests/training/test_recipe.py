"""The regularized recipe as the default (issue #17): old checkpoints keep training as they did,
``--level char`` starts from its own recipe, and every on-by-default switch can be turned off."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scriptgen import Config
from scriptgen.config import CHAR_RECIPE, REGULARIZERS_OFF, with_absent_fields
from scriptgen.experiment.grid import config_toml, parse_grid
from scriptgen.model.rnn import RNN


def test_the_default_is_regularized_and_old_configs_load_with_the_regularizers_off():
    assert RNN.from_config(Config(), 40).regularized  # today's default trains with the recipe
    old = Config().to_dict()
    for name in REGULARIZERS_OFF:
        old.pop(name)
    cfg = Config.from_dict(old)  # a config.json written before these fields existed
    assert {name: getattr(cfg, name) for name in REGULARIZERS_OFF} == REGULARIZERS_OFF
    assert not RNN.from_config(cfg, 40).regularized
    kept = Config.from_dict({**old, "weight_drop": 0.25})  # a field that is present is never overridden
    assert kept.weight_drop == 0.25 and kept.dropout_input == 0.0
    assert with_absent_fields({})["hidden_dim"] == Config().hidden_dim  # other absent fields: today's default


def test_for_level_starts_char_runs_from_the_char_recipe():
    assert CHAR_RECIPE, "the char recipe is empty"
    char = Config.for_level(level="char")
    word = Config.for_level()
    assert word == Config()
    for name, value in CHAR_RECIPE.items():
        assert getattr(char, name) == value
    assert any(getattr(word, name) != value for name, value in CHAR_RECIPE.items())
    name = next(iter(CHAR_RECIPE))
    other = 7 if isinstance(CHAR_RECIPE[name], int) and not isinstance(CHAR_RECIPE[name], bool) else CHAR_RECIPE[name]
    assert getattr(Config.for_level(level="char", **{name: other}), name) == other  # a setting given wins


def test_grid_rows_at_char_level_start_from_the_char_recipe(tmp_path):
    grid = parse_grid({"mode": "one-at-a-time", "base": {"level": "char"}, "axes": {}}, tmp_path / "g.toml", "")
    assert grid.base == Config.for_level(level="char")


def test_a_one_row_grid_names_switched_off_defaults_with_no_flags():
    on = [name for name, value in vars(Config()).items() if value is True]
    assert on, "no switch is on by default"
    text = config_toml(Config().replace(**{name: False for name in on}))
    for name in on:
        assert f"--no-{name.replace('_', '-')}" in text


def test_the_train_help_shows_both_levels_defaults_and_the_no_flags():
    out = subprocess.run(
        [sys.executable, "-m", "scriptgen", "train", "--help"], capture_output=True, text=True, check=True
    ).stdout
    out = " ".join(out.split())
    assert CHAR_RECIPE
    defaults = Config()
    for name, value in CHAR_RECIPE.items():
        flag = "--" + name.replace("_", "-")
        assert flag in out
        # the char value is named where it differs from the word-level default, and only there
        assert (f"; {value} with --level char" in out) == (value != getattr(defaults, name)), name
    switches = [name for name, value in vars(Config()).items() if value is True]
    assert switches  # the on-by-default switches, each with a --no- flag
    for name in switches:
        assert f"--no-{name.replace('_', '-')}" in out


@pytest.mark.slow
def test_train_at_char_level_records_the_char_recipe_and_a_switch_turned_off(corpus_dir, tmp_path):
    on = [name for name, value in vars(Config()).items() if value is True]
    assert on
    cmd = [
        sys.executable, "-m", "scriptgen", "train", "--data", str(corpus_dir), "--data-dir", str(tmp_path / "data"),
        "--out-dir", str(tmp_path / "ck"), "--name", "c", "--level", "char", "--embedding-dim", "8", "--hidden-dim",
        "16",
        "--seq-len", "8", "--batch-size", "4", "--epochs", "1", "--eval-interval", "1000", "--sample-every", "0",
        "--no-progress",
        *[f"--no-{name.replace('_', '-')}" for name in on],
    ]  # fmt: skip
    subprocess.run(cmd, capture_output=True, text=True, check=True)
    saved = json.loads((tmp_path / "ck" / "c" / "config.json").read_text())
    saved = saved["config"]
    for name, value in CHAR_RECIPE.items():
        if name not in ("embedding_dim", "hidden_dim", "seq_len", "batch_size", *on):
            assert saved[name] == value, name
    assert all(saved[name] is False for name in on)
