"""Grid files: read and check a TOML grid, expand it into rows, write a config back as a grid.

A grid is a base row plus named axes (see the package docstring for the file
format).  Every value is checked against the type of its :class:`Config`
field (``scriptgen.config.field_kind``) and every row's config is validated
before anything trains, so a bad file is one clear sentence naming the file.

    grid = load_grid("experiments/seed_study.toml")
    rows = grid.rows(budget_minutes=2.5)          # benchmark first, then one axis value at a time
    text = config_toml(rows[0].config)            # a one-row grid file of that config
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config, field_kind
from ..errors import ScriptgenError

MODES = ("one-at-a-time", "product")
MAX_ROWS = 1000
BENCHMARK = "benchmark"
FIELD_NAMES = tuple(f.name for f in dataclasses.fields(Config))


@dataclass
class Row:
    """One configuration of a grid."""

    name: str  # "benchmark", "lr=0.01", "seq_len=40,batch_size=128", "trial-003"
    axis: str  # the changed field ("" for the benchmark, "product" or "search" rows)
    changes: dict[str, Any]  # field -> value, relative to the base
    config: Config
    benchmark: bool = False

    @property
    def folder_name(self) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.name.replace("=", "-").replace(",", "_"))


@dataclass
class Grid:
    """A validated grid file."""

    base: Config
    axes: dict[str, list]  # field -> values (as in the file, duplicates removed)
    mode: str = "one-at-a-time"
    epochs: int | None = None  # [run] epochs
    budget_minutes: float | None = None  # [run] budget_minutes
    eval_tokens: int | None = None  # [run] eval_tokens
    description: str = ""
    path: Path | None = None
    text: str = ""
    settings: dict[str, Any] | None = None  # the [base] table as written (None: a grid built in Python)

    @property
    def name(self) -> str:
        return self.path.stem if self.path else "experiment"

    def base_config(self, epochs: int | None = None, budget_minutes: float | None = None) -> Config:
        """The base row with the run limits: arguments over [run] over [base]."""
        changes: dict[str, Any] = {}
        epochs = epochs if epochs is not None else self.epochs
        budget = budget_minutes if budget_minutes is not None else self.budget_minutes
        if epochs is not None:
            changes["epochs"] = epochs
        if budget is not None:
            changes["max_minutes"] = float(budget)
        return self.base.replace(**changes).validate()

    def rows(
        self, epochs: int | None = None, budget_minutes: float | None = None, eval_tokens: int | None = None
    ) -> list[Row]:
        """The rows to train, benchmark first (one-at-a-time) or every combination (product)."""
        base = self.base_config(epochs, budget_minutes)
        eval_tokens = eval_tokens if eval_tokens is not None else self.eval_tokens
        rows: list[Row] = []
        if self.mode == "one-at-a-time":
            rows.append(Row(BENCHMARK, "", {}, row_config(base, {}, self, eval_tokens), benchmark=True))
            for name, values in self.axes.items():
                for value in values:
                    if same(value, getattr(base, name)):
                        continue  # the benchmark row already has it
                    rows.append(
                        Row(
                            f"{name}={fmt(value)}",
                            name,
                            {name: value},
                            row_config(base, {name: value}, self, eval_tokens),
                        )
                    )
        else:
            names = list(self.axes)
            for combo in itertools.product(*(self.axes[n] for n in names)):
                changes = dict(zip(names, combo))
                is_base = all(same(v, getattr(base, n)) for n, v in changes.items())
                label = ",".join(f"{n}={fmt(v)}" for n, v in changes.items()) or BENCHMARK
                rows.append(
                    Row(label, "product", changes, row_config(base, changes, self, eval_tokens), benchmark=is_base)
                )
        folders = [r.folder_name for r in rows]
        if len(set(folders)) != len(folders):
            dup = next(f for f in folders if folders.count(f) > 1)
            raise ScriptgenError(
                f"{self.where()}two rows would share the folder name {dup!r}; make the axis values distinct"
            )
        return rows

    def where(self) -> str:
        """The prefix of an error about this grid: its file name, or nothing for a grid built in Python."""
        return f"{self.path.name}: " if self.path else ""


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def same(a: Any, b: Any) -> bool:
    """Equal values of the same kind (1 and 1.0 are the same number; True is not 1)."""
    return type(a) is type(b) and a == b or (_number(a) and _number(b) and a == b)


def fmt(value: Any) -> str:
    """A value as a row name or a table cell shows it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "-".join(fmt(v) for v in value) or "none"
    return str(value)


def _level_row(base: Config, changes: dict[str, Any], grid: Grid) -> Config:
    """A row that sets ``level``: built as the command line builds it, ``Config.for_level``, so a char row starts
    from the char recipe (and a word row of a char base from the word defaults); what [base] and [run] set stays."""
    if grid.settings is not None:
        explicit = dict(grid.settings)
    else:  # a grid built in Python: what differs from its level's defaults is what was set
        defaults = Config.for_level(level=grid.base.level)
        explicit = {k: v for k, v in grid.base.to_dict().items() if v != getattr(defaults, k)}
    limits = {k: v for k, v in base.to_dict().items() if v != getattr(grid.base, k)}  # epochs, budget of the run
    return Config.for_level(**{**explicit, **limits, **changes})


def row_config(base: Config, changes: dict[str, Any], grid: Grid, eval_tokens: int | None = None) -> Config:
    """``base`` with ``changes`` (and the eval interval of ``eval_tokens``), validated; errors name the row."""
    try:
        cfg = _level_row(base, changes, grid) if "level" in changes else base.replace(**changes)
        cfg = cfg.validate()
        if eval_tokens and "eval_interval" not in changes:
            cfg = cfg.replace(eval_interval=max(1, round(eval_tokens / (cfg.batch_size * cfg.seq_len))))
        return cfg
    except ScriptgenError as exc:
        where = ", ".join(f"{k} = {toml_value(v)}" for k, v in changes.items())
        raise ScriptgenError(f"{grid.where()}the row {where} is invalid: {_field_names(str(exc))}") from None


def _field_names(message: str) -> str:
    """Config messages name command-line flags; a grid file names fields."""
    return re.sub(
        r"--([a-z][a-z-]*)",
        lambda m: m.group(1).replace("-", "_") if m.group(1).replace("-", "_") in FIELD_NAMES else m.group(0),
        message,
    )


def _read_toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise ScriptgenError(
                "reading grid files on Python 3.10 needs the tomli package; pip install tomli"
            ) from None
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScriptgenError(
            f"grid file {str(path)!r} does not exist; pass an existing TOML file with --grid"
        ) from None
    except OSError as exc:
        raise ScriptgenError(f"cannot read grid file {str(path)!r}: {exc.strerror}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ScriptgenError(f"grid file {str(path)!r} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScriptgenError(f"grid file {str(path)!r} is not valid TOML ({exc})") from None


# what a value of each kind of Config field must be, and how the error says it
_KIND_CHECKS = {
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    float: (lambda v: isinstance(v, float), "a number"),
    bool: (lambda v: isinstance(v, bool), "true or false"),
    str: (lambda v: isinstance(v, str), "a string"),
    list: (lambda v: isinstance(v, list), "a list"),
    dict: (lambda v: isinstance(v, dict), "a table"),
}


def _check_value(where: str, name: str, value: Any) -> Any:
    """``value`` as the type of Config field ``name``, or a ScriptgenError."""
    kind = field_kind(name)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    check, expected = _KIND_CHECKS[kind]
    if not check(value):
        raise ScriptgenError(f"{where}{name} = {toml_value(value)} is not {expected}")
    return value


def _unknown(where: str, keys, known, what: str) -> None:
    unknown = sorted(set(keys) - set(known))
    if unknown:
        hint = ", ".join(sorted(known)) if len(known) < 12 else "the fields of scriptgen.Config"
        raise ScriptgenError(f"{where}unknown {what} {', '.join(map(repr, unknown))}; use {hint}")


def _whole(value: Any, least: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= least


def _parse_axes(where: str, axes_raw: dict, base: Config) -> dict[str, list]:
    _unknown(f"{where}[axes]: ", axes_raw, FIELD_NAMES, "field")
    axes: dict[str, list] = {}
    for name, values in axes_raw.items():
        if not isinstance(values, list) or not values:
            raise ScriptgenError(
                f"{where}[axes] {name} must be a non-empty list of values, e.g. {name} = "
                f"[{toml_value(getattr(base, name))}]"
            )
        checked: list = []
        for value in values:
            value = _check_value(f"{where}[axes] ", name, value)
            if any(same(value, v) for v in checked):
                raise ScriptgenError(f"{where}[axes] {name} lists {toml_value(value)} twice")
            checked.append(value)
        axes[name] = checked  # a data field is allowed, but its rows then see other data: see results.md's note
    return axes


def _parse_run(where: str, run_raw: dict) -> tuple[int | None, float | None, int | None]:
    _unknown(f"{where}[run]: ", run_raw, ("epochs", "budget_minutes", "eval_tokens"), "key")
    epochs = run_raw.get("epochs")
    if epochs is not None and not _whole(epochs, 1):
        raise ScriptgenError(f"{where}[run] epochs = {toml_value(epochs)} must be a whole number of at least 1")
    budget = run_raw.get("budget_minutes")
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not math.isfinite(budget) or budget < 0:
            raise ScriptgenError(
                f"{where}[run] budget_minutes = {toml_value(budget)} must be 0 (no limit) or a positive number of "
                "minutes"
            )
        budget = float(budget)
    eval_tokens = run_raw.get("eval_tokens")
    if eval_tokens is not None and not _whole(eval_tokens, 1):
        raise ScriptgenError(
            f"{where}[run] eval_tokens = {toml_value(eval_tokens)} must be a whole number of training tokens of at "
            "least 1"
        )
    return epochs, budget, eval_tokens


def parse_grid(data: dict, path: Path | None = None, text: str = "") -> Grid:
    """Validate a parsed grid file; every problem is a ScriptgenError of one sentence."""
    where = f"{path.name}: " if path else ""
    if not isinstance(data, dict):
        raise ScriptgenError(f"{where}a grid file is a TOML document with [base] and [axes] tables")
    _unknown(where, data, ("base", "axes", "mode", "run", "description"), "top-level key")
    mode = data.get("mode", "one-at-a-time")
    if mode not in MODES:
        raise ScriptgenError(f'{where}mode = {toml_value(mode)} is unknown; choose "one-at-a-time" or "product"')
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ScriptgenError(f"{where}description must be a string")
    for table in ("base", "axes", "run"):
        if table in data and not isinstance(data[table], dict):
            raise ScriptgenError(f"{where}{table} must be a table, written [{table}]")
    base_raw = data.get("base", {})
    _unknown(f"{where}[base]: ", base_raw, FIELD_NAMES, "field")
    base_values = {k: _check_value(f"{where}[base] ", k, v) for k, v in base_raw.items()}
    try:
        base = Config.for_level(**base_values).validate()
    except ScriptgenError as exc:
        raise ScriptgenError(f"{where}[base] is invalid: {_field_names(str(exc))}") from None
    axes = _parse_axes(where, data.get("axes", {}), base)
    epochs, budget, eval_tokens = _parse_run(where, data.get("run", {}))

    grid = Grid(base, axes, mode, epochs, budget, eval_tokens, description, path, text, base_values)
    n_rows = math.prod(len(v) for v in axes.values()) if mode == "product" else 1 + sum(len(v) for v in axes.values())
    if n_rows > MAX_ROWS:
        raise ScriptgenError(
            f'{where}the grid has {n_rows:,} rows, more than {MAX_ROWS}; use fewer values or mode = "one-at-a-time"'
        )
    grid.rows()  # every row's config must be valid
    return grid


def load_grid(path: str | Path) -> Grid:
    """Read and validate a grid file (see the package docstring)."""
    path = Path(path)
    data = _read_toml(path)
    return parse_grid(data, path, path.read_text(encoding="utf-8"))


def toml_value(value: Any) -> str:
    """``value`` written as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))


def config_toml(cfg: Config, comment: str = "", budget_minutes: float | None = None) -> str:
    """A grid file of one row (``cfg``): ready for ``scriptgen experiment --grid``; the train flags in a comment."""
    defaults = Config.for_level(level=cfg.level)
    flags = []
    for f in dataclasses.fields(Config):
        value = getattr(cfg, f.name)
        if f.name in ("extra", "cutoffs") or value == getattr(defaults, f.name):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        else:
            flags.append(f"{flag} {fmt(value)}")
    lines = [f"# {line}" for line in comment.splitlines()] if comment else []
    lines += [
        "# Train it alone:",
        "#   scriptgen train --name NAME " + " ".join(f for f in flags if f),
        "# or as a one-row experiment:",
        "#   scriptgen experiment --grid THIS_FILE",
        'mode = "one-at-a-time"',
        "",
        "[base]",
    ]
    for f in dataclasses.fields(Config):
        value = getattr(cfg, f.name)
        if f.name == "extra" and not value:
            continue
        lines.append(f"{f.name} = {toml_value(value)}")
    lines += ["", "[axes]"]
    if budget_minutes is not None:
        lines += ["", "[run]", f"budget_minutes = {toml_value(float(budget_minutes))}"]
    return "\n".join(lines) + "\n"
