"""Results files: the rows of ``results.csv`` (or ``search.csv``), their curves, the best row and the winning config.

    rows = load_results("experiments/results/seed_study_cpu")   # dicts, numbers parsed, with "history"
    best_row(rows)["row"]                                        # the lowest best validation loss
    cfg = winning_config(rows)                                   # each axis's best value together

:class:`Recorder` is the writer a run uses: after every row it rewrites the
curves (``histories.csv``: ``row`` + the columns of ``scriptgen.training.history``)
and then the results CSV atomically, so a reader never sees half a file and a
row counts as finished once its line is in the results CSV.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ScriptgenError
from ..files.fsutil import write_bytes
from ..training.history import history_csv, read_csv, read_history

RESULT_FIELDS = (
    "row", "axis", "value", "benchmark",
    "train_loss", "last_val_loss", "best_val_loss", "steps", "epochs", "stop_reason",
    "novelty", "distinct_2", "repetition",
    "train_s", "wall_s", "tokens_per_s", "peak_rss_mb", "cpu_util_pct", "process_cpu_pct",
    "gpu_util_pct", "gpu_mem_mb", "cuda_peak_mb",
    "device", "seed", "changes", "config", "data", "data_fingerprint",
    "git_commit", "scriptgen", "torch", "python", "platform", "cpu_count", "finished_at",
)  # fmt: skip
_FLOAT_FIELDS = (
    "train_loss", "last_val_loss", "best_val_loss", "epochs", "novelty", "distinct_2", "repetition",
    "train_s", "wall_s", "tokens_per_s",
    "peak_rss_mb", "cpu_util_pct", "process_cpu_pct", "gpu_util_pct", "gpu_mem_mb", "cuda_peak_mb",
)  # fmt: skip
_INT_FIELDS = ("steps", "seed", "cpu_count")
ROW = ("row",)  # the leading column of histories.csv
WRITE_ADVICE = "free space or choose another --out-dir"  # the end of the error line of a failed write


def write_file(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` atomically; a failure is one ScriptgenError line."""
    write_bytes(path, data, advice=WRITE_ADVICE)


def _csv_bytes(fields, rows: list[dict]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(row.get(k)) for k in fields})
    return buf.getvalue().encode("utf-8")


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def _stringify(line: dict) -> dict:
    return {k: _csv_cell(v) if not isinstance(v, (int, float)) or isinstance(v, bool) else v for k, v in line.items()}


def _parse_row(raw: dict, path: Path) -> dict:
    row: dict[str, Any] = {}
    try:
        for key in RESULT_FIELDS:
            value = raw.get(key)
            value = "" if value is None else value
            if key in _FLOAT_FIELDS:
                row[key] = float(value) if value != "" else None
            elif key in _INT_FIELDS:
                row[key] = int(value) if value != "" else None
            elif key == "benchmark":
                row[key] = value == "true"
            elif key in ("changes", "config"):
                row[key] = json.loads(value) if value else {}
            elif key == "value":
                row[key] = (json.loads(value) if value else None) if isinstance(value, str) else value
            else:
                row[key] = value
    except (ValueError, TypeError):
        raise ScriptgenError(
            f"{str(path)!r} is damaged (row {raw.get('row')!r}); delete the line or the file and rerun the experiment"
        ) from None
    if not row["row"] or not isinstance(row["config"], dict):
        raise ScriptgenError(f"{str(path)!r} is damaged; delete it and rerun the experiment")
    return row


def _read_rows(path: Path) -> list[dict]:
    return [_parse_row(raw, path) for raw in read_csv(path, "delete it and rerun the experiment")]


def _histories(path: Path) -> dict[str, list[dict]]:
    """Each row's curve from a histories CSV: row name -> its points (without the ``row`` column)."""
    out: dict[str, list[dict]] = {}
    for point in read_history(path, ROW):
        out.setdefault(point.pop("row"), []).append(point)
    return out


def _histories_path(folder: Path, stem: str) -> Path:
    return folder / ("histories.csv" if stem == "results" else f"{stem}_histories.csv")


def load_results(folder: str | Path, search: bool = False) -> list[dict]:
    """The finished rows of an experiment folder (``results.csv``; ``search.csv`` with ``search=True``).

    Each row is a dict of the CSV's columns with numbers parsed (blank -> None),
    ``config`` and ``changes`` as dicts, and ``history``: the row's validation
    curve (dicts of step, epoch, elapsed_s, train_loss, val_loss, ...).
    """
    folder = Path(folder)
    stem = "search" if search else "results"
    path = folder / f"{stem}.csv"
    if not path.exists():
        raise ScriptgenError(
            f"{str(folder)!r} has no {path.name}; run 'scriptgen experiment --grid GRID.toml --name {folder.name}' "
            f"{'--search optuna ' if search else ''}first"
        )
    rows = _read_rows(path)
    histories = _histories(_histories_path(folder, stem))
    for row in rows:
        row["history"] = histories.get(row["row"], [])
    return rows


def _finished(rows: list[dict]) -> list[dict]:
    done = [r for r in rows if r.get("best_val_loss") is not None and math.isfinite(r["best_val_loss"])]
    if not done:
        raise ScriptgenError("no finished row has a validation loss yet; run the experiment first")
    return done


def best_row(rows: list[dict]) -> dict:
    """The finished row with the lowest best validation loss."""
    return min(_finished(rows), key=lambda r: r["best_val_loss"])


def winning_config(rows: list[dict], how: str = "combine") -> Config:
    """The configuration the results point to.

    ``how="combine"``: the benchmark with each axis's best value (lowest best
    validation loss among that axis's rows and the benchmark), like the
    study's final choice; this combination itself may not have been trained.
    ``how="best"``: the single row with the lowest best validation loss.
    """
    done = _finished(rows)
    if how not in ("combine", "best"):
        raise ScriptgenError(f"how={how!r} is unknown; choose 'combine' or 'best'")
    bench = next((r for r in done if r.get("benchmark")), None)
    axis_rows = [r for r in done if r.get("axis") not in ("", None, "product", "search")]
    if how == "best" or bench is None or not axis_rows:
        best = min(done, key=lambda r: r["best_val_loss"])
        return Config.from_dict(best["config"]).validate()
    choice: dict[str, Any] = {}
    for axis in dict.fromkeys(r["axis"] for r in axis_rows):
        candidates = [bench] + [r for r in axis_rows if r["axis"] == axis]
        winner = min(candidates, key=lambda r: r["best_val_loss"])
        choice[axis] = winner["config"][axis]
    cfg = Config.from_dict(bench["config"]).replace(**choice)
    try:
        return cfg.validate()
    except ScriptgenError as exc:
        raise ScriptgenError(
            f"the axes' best values do not combine into a valid config ({exc}); use how='best'"
        ) from None


class Recorder:
    """``STEM.csv`` + its histories CSV in one folder, rewritten atomically after each row."""

    def __init__(self, folder: Path, stem: str):
        self.folder = folder
        self.csv = folder / f"{stem}.csv"
        self.hist = _histories_path(folder, stem)
        self.lines = _read_rows(self.csv)
        known = {r["row"] for r in self.lines}
        self.history_lines = [h for h in read_history(self.hist, ROW) if h["row"] in known]

    def done(self) -> dict[str, dict]:
        return {r["row"]: r for r in self.lines}

    def history_of(self, row: str) -> list[dict]:
        """The recorded curve of ``row`` (its points without the ``row`` column)."""
        return [{k: v for k, v in h.items() if k != "row"} for h in self.history_lines if h["row"] == row]

    def add(self, line: dict, history: list[dict]) -> None:
        self.lines = [r for r in self.lines if r["row"] != line["row"]] + [_parse_row(_stringify(line), self.csv)]
        self.history_lines = [h for h in self.history_lines if h["row"] != line["row"]] + [
            {"row": line["row"], **h} for h in history
        ]
        write_file(self.hist, history_csv(self.history_lines, ROW))
        write_file(self.csv, _csv_bytes(RESULT_FIELDS, self.lines))  # the commit point of a row

    def rows(self, order: list[str]) -> list[dict]:
        rank = {name: i for i, name in enumerate(order)}
        rows = sorted(self.lines, key=lambda r: rank.get(r["row"], len(rank)))
        hist = _histories(self.hist)
        for r in rows:
            r["history"] = hist.get(r["row"], [])
        return rows
