"""Hyperparameter experiments: one command trains a grid of configurations and tabulates them.

    scriptgen experiment --grid experiments/seed_study.toml --name seed_study_cpu --budget-minutes 2.5 --eval-tokens 100000
    scriptgen experiment --grid experiments/seed_study.toml --search optuna --trials 20 --budget-minutes 2.5

or, from Python::

    from scriptgen.experiment import load_grid, run_experiment, load_results
    result = run_experiment(load_grid("experiments/seed_study.toml"), budget_minutes=2.5)
    rows = load_results(result.folder)

A grid file is TOML::

    mode = "one-at-a-time"          # or "product" (every combination of the axes)
    [base]                          # the benchmark row: any Config fields
    seq_len = 10
    hidden_dim = 256
    [axes]                          # one axis per Config field, a list of values
    seq_len = [10, 40]
    hidden_dim = [256, 512]
    [run]                           # optional: a limit for every row
    epochs = 2
    budget_minutes = 2.5            # Config.max_minutes of each row
    eval_tokens = 100000            # validate every ~100k training tokens (sets each row's eval_interval)

"one-at-a-time" trains the base row (the benchmark) and then each axis value
changed alone, as in a classic hyperparameter study; a value equal to the
base is the benchmark row and is trained once.  ``--epochs`` and
``--budget-minutes`` override ``[run]``, which overrides ``[base]``.
``eval_tokens`` (or ``--eval-tokens``) validates every row after the same
number of training tokens whatever its batch size and sequence length, so
the curves of a time-limited row have several points.  Every row
uses the same data, the same train/validation split and the same seed.

The results go to ``experiments/results/NAME/`` (NAME = the grid file's stem):

* ``results.csv`` - one line per finished row: final train loss, last and best
  validation loss, time, tokens/s, peak memory, CPU (and GPU) utilisation,
  the config, seed, git commit, torch version and machine; rewritten
  atomically after every row;
* ``histories.csv`` - every row's validation curve (for ``curves.png``);
* ``results.md`` - one markdown table per axis, the benchmark row in each;
* ``curves.png`` - validation loss against seconds, one panel per axis;
* ``combined.toml`` - each axis's best value together (a grid of one row);
* ``grid.toml`` - a copy of the grid file;
* ``rows/ROW/`` - each row's checkpoint folder (not meant to be committed).

Rerunning the same command skips the rows already in ``results.csv``; a row
that was interrupted is trained again from scratch.  ``--search optuna``
instead lets Optuna pick ``--trials`` configurations from the same space
(each axis's values, combined freely) at a fixed per-trial budget; it writes
``search.csv``, ``search.md``, ``search.png`` and ``best.toml`` (the best trial as
a ready-to-use grid file) beside them, and resumes the same way.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import itertools
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .config import DATA_FIELDS, Config
from .errors import ScriptgenError

MODES = ("one-at-a-time", "product")
DEFAULT_OUT_DIR = "experiments/results"
DEFAULT_TRIALS = 20
MAX_ROWS = 1000
BENCHMARK = "benchmark"

RESULT_FIELDS = (
    "row", "axis", "value", "benchmark",
    "train_loss", "last_val_loss", "best_val_loss", "steps", "epochs", "train_s", "wall_s", "tokens_per_s",
    "peak_rss_mb", "cpu_util_pct", "process_cpu_pct", "gpu_util_pct", "gpu_mem_mb", "cuda_peak_mb",
    "device", "seed", "changes", "config", "data", "data_fingerprint",
    "git_commit", "scriptgen", "torch", "python", "platform", "cpu_count", "finished_at",
)  # fmt: skip
_FLOAT_FIELDS = (
    "train_loss", "last_val_loss", "best_val_loss", "epochs", "train_s", "wall_s", "tokens_per_s",
    "peak_rss_mb", "cpu_util_pct", "process_cpu_pct", "gpu_util_pct", "gpu_mem_mb", "cuda_peak_mb",
)  # fmt: skip
_INT_FIELDS = ("steps", "seed", "cpu_count")
HISTORY_FIELDS = ("row", "step", "epoch", "elapsed_s", "train_loss", "val_loss", "tokens_per_s", "lr")
AXIS_LABELS = {
    "seq_len": "sequence length",
    "batch_size": "batch size",
    "lr": "learning rate",
    "embedding_dim": "embedding",
    "hidden_dim": "hidden",
    "n_layers": "layers",
}
_FIELD_KINDS = {f.name: type(getattr(Config(), f.name)) for f in dataclasses.fields(Config)}


# --------------------------------------------------------------------------
# Grid files
# --------------------------------------------------------------------------
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

    def rows(self, epochs: int | None = None, budget_minutes: float | None = None, eval_tokens: int | None = None) -> list[Row]:
        """The rows to train, benchmark first (one-at-a-time) or every combination (product)."""
        base = self.base_config(epochs, budget_minutes)
        eval_tokens = eval_tokens if eval_tokens is not None else self.eval_tokens
        rows: list[Row] = []
        if self.mode == "one-at-a-time":
            rows.append(Row(BENCHMARK, "", {}, _row_config(base, {}, self, eval_tokens), benchmark=True))
            for name, values in self.axes.items():
                for value in values:
                    if _same(value, getattr(base, name)):
                        continue  # the benchmark row already has it
                    rows.append(Row(f"{name}={_fmt(value)}", name, {name: value}, _row_config(base, {name: value}, self, eval_tokens)))
        else:
            names = list(self.axes)
            for combo in itertools.product(*(self.axes[n] for n in names)):
                changes = dict(zip(names, combo))
                is_base = all(_same(v, getattr(base, n)) for n, v in changes.items())
                label = ",".join(f"{n}={_fmt(v)}" for n, v in changes.items()) or BENCHMARK
                rows.append(Row(label, "product", changes, _row_config(base, changes, self, eval_tokens), benchmark=is_base))
        folders = [r.folder_name for r in rows]
        if len(set(folders)) != len(folders):
            dup = next(f for f in folders if folders.count(f) > 1)
            raise ScriptgenError(f"{self._where()}two rows would share the folder name {dup!r}; make the axis values distinct")
        return rows

    def _where(self) -> str:
        return f"{self.path.name}: " if self.path else ""


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "-".join(_fmt(v) for v in value) or "none"
    return str(value)


def _row_config(base: Config, changes: dict[str, Any], grid: Grid, eval_tokens: int | None = None) -> Config:
    try:
        cfg = base.replace(**changes).validate()
        if eval_tokens and "eval_interval" not in changes:
            cfg = cfg.replace(eval_interval=max(1, round(eval_tokens / (cfg.batch_size * cfg.seq_len))))
        return cfg
    except ScriptgenError as exc:
        where = ", ".join(f"{k} = {_toml_value(v)}" for k, v in changes.items())
        raise ScriptgenError(f"{grid._where()}the row {where} is invalid: {_field_names(str(exc))}") from None


def _field_names(message: str) -> str:
    """Config messages name command-line flags; a grid file names fields."""
    return re.sub(r"--([a-z][a-z-]*)", lambda m: m.group(1).replace("-", "_") if m.group(1).replace("-", "_") in _FIELD_KINDS else m.group(0), message)


def _read_toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise ScriptgenError("reading grid files on Python 3.10 needs the tomli package; pip install tomli") from None
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScriptgenError(f"grid file {str(path)!r} does not exist; pass an existing TOML file with --grid") from None
    except OSError as exc:
        raise ScriptgenError(f"cannot read grid file {str(path)!r}: {exc.strerror}") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ScriptgenError(f"grid file {str(path)!r} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScriptgenError(f"grid file {str(path)!r} is not valid TOML ({exc})") from None


def _check_value(where: str, name: str, value: Any) -> Any:
    """``value`` as the type of Config field ``name``, or a ScriptgenError."""
    kind = _FIELD_KINDS[name]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ScriptgenError(f"{where}{name} = {_toml_value(value)} is not a whole number")
    if kind is float and not isinstance(value, float):
        raise ScriptgenError(f"{where}{name} = {_toml_value(value)} is not a number")
    if kind is bool and not isinstance(value, bool):
        raise ScriptgenError(f"{where}{name} = {_toml_value(value)} is not true or false")
    if kind is str and not isinstance(value, str):
        raise ScriptgenError(f"{where}{name} = {_toml_value(value)} is not a string")
    if kind is list and not isinstance(value, list):
        raise ScriptgenError(f"{where}{name} = {_toml_value(value)} is not a list")
    if kind is dict and not isinstance(value, dict):
        raise ScriptgenError(f"{where}{name} = {_toml_value(value)} is not a table")
    return value


def _unknown(where: str, keys, known, what: str) -> None:
    unknown = sorted(set(keys) - set(known))
    if unknown:
        hint = ", ".join(sorted(known)) if len(known) < 12 else "the fields of scriptgen.Config"
        raise ScriptgenError(f"{where}unknown {what} {', '.join(map(repr, unknown))}; use {hint}")


def parse_grid(data: dict, path: Path | None = None, text: str = "") -> Grid:
    """Validate a parsed grid file; every problem is a ScriptgenError of one sentence."""
    where = f"{path.name}: " if path else ""
    if not isinstance(data, dict):
        raise ScriptgenError(f"{where}a grid file is a TOML document with [base] and [axes] tables")
    _unknown(where, data, ("base", "axes", "mode", "run", "description"), "top-level key")
    mode = data.get("mode", "one-at-a-time")
    if mode not in MODES:
        raise ScriptgenError(f"{where}mode = {_toml_value(mode)} is unknown; choose \"one-at-a-time\" or \"product\"")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ScriptgenError(f"{where}description must be a string")
    for table in ("base", "axes", "run"):
        if table in data and not isinstance(data[table], dict):
            raise ScriptgenError(f"{where}{table} must be a table, written [{table}]")
    base_raw = data.get("base", {})
    _unknown(f"{where}[base]: ", base_raw, _FIELD_KINDS, "field")
    base_values = {k: _check_value(f"{where}[base] ", k, v) for k, v in base_raw.items()}
    try:
        base = Config(**base_values).validate()
    except ScriptgenError as exc:
        raise ScriptgenError(f"{where}[base] is invalid: {_field_names(str(exc))}") from None

    axes_raw = data.get("axes", {})
    _unknown(f"{where}[axes]: ", axes_raw, _FIELD_KINDS, "field")
    axes: dict[str, list] = {}
    for name, values in axes_raw.items():
        if not isinstance(values, list) or not values:
            raise ScriptgenError(f"{where}[axes] {name} must be a non-empty list of values, e.g. {name} = [{_toml_value(getattr(base, name))}]")
        checked: list = []
        for value in values:
            value = _check_value(f"{where}[axes] ", name, value)
            if any(_same(value, v) for v in checked):
                raise ScriptgenError(f"{where}[axes] {name} lists {_toml_value(value)} twice")
            checked.append(value)
        axes[name] = checked
        if name in DATA_FIELDS:
            pass  # allowed, but the rows then see other data: see results.md's note

    run_raw = data.get("run", {})
    _unknown(f"{where}[run]: ", run_raw, ("epochs", "budget_minutes", "eval_tokens"), "key")
    epochs = run_raw.get("epochs")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise ScriptgenError(f"{where}[run] epochs = {_toml_value(epochs)} must be a whole number of at least 1")
    budget = run_raw.get("budget_minutes")
    if budget is not None:
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not math.isfinite(budget) or budget < 0:
            raise ScriptgenError(f"{where}[run] budget_minutes = {_toml_value(budget)} must be 0 (no limit) or a positive number of minutes")
        budget = float(budget)
    eval_tokens = run_raw.get("eval_tokens")
    if eval_tokens is not None and (isinstance(eval_tokens, bool) or not isinstance(eval_tokens, int) or eval_tokens < 1):
        raise ScriptgenError(f"{where}[run] eval_tokens = {_toml_value(eval_tokens)} must be a whole number of training tokens of at least 1")

    grid = Grid(base, axes, mode, epochs, budget, eval_tokens, description, path, text)
    n_rows = math.prod(len(v) for v in axes.values()) if mode == "product" else 1 + sum(len(v) for v in axes.values())
    if n_rows > MAX_ROWS:
        raise ScriptgenError(f"{where}the grid has {n_rows:,} rows, more than {MAX_ROWS}; use fewer values or mode = \"one-at-a-time\"")
    grid.rows()  # every row's config must be valid
    return grid


def load_grid(path: str | Path) -> Grid:
    """Read and validate a grid file (see the module docstring)."""
    path = Path(path)
    data = _read_toml(path)
    return parse_grid(data, path, path.read_text(encoding="utf-8"))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))


def config_toml(cfg: Config, comment: str = "", budget_minutes: float | None = None) -> str:
    """A grid file of one row (``cfg``): ready for ``scriptgen experiment --grid``; the train flags in a comment."""
    defaults = Config()
    flags = []
    for f in dataclasses.fields(Config):
        value = getattr(cfg, f.name)
        if f.name in ("extra", "cutoffs") or value == getattr(defaults, f.name):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "")
        else:
            flags.append(f"{flag} {_fmt(value)}")
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
        lines.append(f"{f.name} = {_toml_value(value)}")
    lines += ["", "[axes]"]
    if budget_minutes is not None:
        lines += ["", "[run]", f"budget_minutes = {_toml_value(float(budget_minutes))}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Measuring a row
# --------------------------------------------------------------------------
class ResourceMonitor:
    """Peak RSS, mean CPU (and GPU) utilisation of this process while a row trains.

    A background thread samples every ``interval`` seconds; psutil and pynvml
    (nvidia-ml-py) are used when importable, else those columns stay blank.
    """

    def __init__(self, device: str = "cpu", interval: float = 0.5):
        self.device = device
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cpu: list[float] = []
        self._gpu: list[float] = []
        self._gpu_mem: list[float] = []
        self._rss: list[float] = []
        self._psutil = None
        self._proc = None
        self._nvml = None
        self._handle = None

    def __enter__(self) -> "ResourceMonitor":
        try:
            import psutil

            self._psutil = psutil
            self._proc = psutil.Process()
            psutil.cpu_percent(interval=None)  # start the system-wide counter
        except ImportError:
            pass
        self._hwm_reset = _reset_peak_rss()
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
            self._open_nvml()
        self._t0 = time.perf_counter()
        self._cpu0 = _cpu_seconds()
        self._thread = threading.Thread(target=self._loop, name="scriptgen-monitor", daemon=True)
        self._thread.start()
        return self

    def _open_nvml(self) -> None:
        try:
            import pynvml
            import torch

            pynvml.nvmlInit()
            index = torch.cuda.current_device()
            uuid = getattr(torch.cuda.get_device_properties(index), "uuid", None)
            try:
                self._handle = pynvml.nvmlDeviceGetHandleByUUID(f"GPU-{uuid}") if uuid else pynvml.nvmlDeviceGetHandleByIndex(index)
            except Exception:
                self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            self._nvml = pynvml
        except Exception:  # not installed, no driver access: leave the columns blank
            self._nvml = None

    def _sample(self) -> None:
        if self._psutil is not None:
            self._cpu.append(self._psutil.cpu_percent(interval=None))
            try:
                self._rss.append(self._proc.memory_info().rss / 2**20)
            except Exception:
                pass
        if self._nvml is not None:
            try:
                self._gpu.append(float(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu))
                self._gpu_mem.append(self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used / 2**20)
            except Exception:
                pass

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.wall = time.perf_counter() - self._t0
        self.cpu_seconds = _cpu_seconds() - self._cpu0
        if not self._cpu:
            self._sample()  # a row shorter than one interval still gets one sample
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass

    def summary(self) -> dict[str, float | None]:
        peak = max(self._rss, default=0.0)
        hwm = _peak_rss_mb(self._hwm_reset)
        peak = max(peak, hwm or 0.0) or None
        cuda_peak = None
        if self.device == "cuda":
            import torch

            cuda_peak = torch.cuda.max_memory_allocated() / 2**20
        return {
            "peak_rss_mb": _round(peak, 1),
            "cpu_util_pct": _round(sum(self._cpu) / len(self._cpu), 1) if self._cpu else None,
            "process_cpu_pct": _round(100.0 * self.cpu_seconds / self.wall, 1) if self.wall > 0 else None,
            "gpu_util_pct": _round(sum(self._gpu) / len(self._gpu), 1) if self._gpu else None,
            "gpu_mem_mb": _round(max(self._gpu_mem), 1) if self._gpu_mem else None,
            "cuda_peak_mb": _round(cuda_peak, 1),
        }


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def _reset_peak_rss() -> bool:
    """Linux: reset this process's high-water mark (VmHWM) so the next read is this row's peak."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb(was_reset: bool) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    if was_reset:
        return None
    try:  # the whole process's peak: an upper bound for this row
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024
    except (ImportError, OSError):
        return None


def git_commit() -> str:
    """The repository's HEAD commit, or "" when git or the repository is not there."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def machine_info() -> dict[str, Any]:
    import torch

    from . import __version__

    return {
        "git_commit": git_commit(),
        "scriptgen": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }


# --------------------------------------------------------------------------
# Results files
# --------------------------------------------------------------------------
def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        what = "the disk is full" if exc.errno == 28 else (exc.strerror or str(exc))
        raise ScriptgenError(f"could not write {str(path)!r}: {what}; free space or choose another --out-dir") from None
    finally:
        if tmp.exists():
            tmp.unlink()


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
        raise ScriptgenError(f"{str(path)!r} is damaged (row {raw.get('row')!r}); delete the line or the file and rerun the experiment") from None
    if not row["row"] or not isinstance(row["config"], dict):
        raise ScriptgenError(f"{str(path)!r} is damaged; delete it and rerun the experiment")
    return row


def _read_csv(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, csv.Error):
        raise ScriptgenError(f"{str(path)!r} cannot be read; delete it and rerun the experiment") from None


def _read_rows(path: Path) -> list[dict]:
    return [_parse_row(raw, path) for raw in _read_csv(path)]


def _read_histories(path: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for raw in _read_csv(path):
        row = {}
        for key in HISTORY_FIELDS[1:]:
            value = raw.get(key) or ""
            try:
                row[key] = "" if value == "" else (int(value) if key == "step" else float(value))
            except ValueError:
                row[key] = ""
        out.setdefault(raw.get("row", ""), []).append(row)
    return out


def load_results(folder: str | Path, search: bool = False) -> list[dict]:
    """The finished rows of an experiment folder (``results.csv``; ``search.csv`` with ``search=True``).

    Each row is a dict of the CSV's columns with numbers parsed (blank -> None),
    ``config`` and ``changes`` as dicts, and ``history``: the row's validation
    curve (dicts of step, epoch, elapsed_s, train_loss, val_loss, ...).
    """
    folder = Path(folder)
    path = folder / ("search.csv" if search else "results.csv")
    if not path.exists():
        raise ScriptgenError(
            f"{str(folder)!r} has no {path.name}; run 'scriptgen experiment --grid GRID.toml --name {folder.name}' "
            f"{'--search optuna ' if search else ''}first"
        )
    rows = _read_rows(path)
    histories = _read_histories(folder / ("search_histories.csv" if search else "histories.csv"))
    for row in rows:
        row["history"] = histories.get(row["row"], [])
    return rows


def best_row(rows: list[dict]) -> dict:
    """The finished row with the lowest best validation loss."""
    done = [r for r in rows if r.get("best_val_loss") is not None and math.isfinite(r["best_val_loss"])]
    if not done:
        raise ScriptgenError("no finished row has a validation loss yet; run the experiment first")
    return min(done, key=lambda r: r["best_val_loss"])


def winning_config(rows: list[dict], how: str = "combine") -> Config:
    """The configuration the results point to.

    ``how="combine"``: the benchmark with each axis's best value (lowest best
    validation loss among that axis's rows and the benchmark), like the
    study's final choice; this combination itself may not have been trained.
    ``how="best"``: the single row with the lowest best validation loss.
    """
    done = [r for r in rows if r.get("best_val_loss") is not None and math.isfinite(r["best_val_loss"])]
    if not done:
        raise ScriptgenError("no finished row has a validation loss yet; run the experiment first")
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
        raise ScriptgenError(f"the axes' best values do not combine into a valid config ({exc}); use how='best'") from None


# -- report -------------------------------------------------------------------
def _mmss(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return ""
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _num(x: float | None, fmt: str) -> str:
    return "" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def _label(axis: str) -> str:
    return AXIS_LABELS.get(axis, axis.replace("_", " "))


def _metric_cells(row: dict, gpu: bool) -> list[str]:
    cells = [
        _num(row["best_val_loss"], ".3f"),
        _num(row["last_val_loss"], ".3f"),
        _num(row["train_loss"], ".3f"),
        _num(row["epochs"], ".2f"),
        _mmss(row["train_s"]),
        _num(row["tokens_per_s"], ",.0f"),
        _num(row["cpu_util_pct"], ".0f"),
        _num(row["peak_rss_mb"], ",.0f"),
    ]
    if gpu:
        cells += [_num(row["gpu_util_pct"], ".0f"), _num(row["gpu_mem_mb"] or row["cuda_peak_mb"], ",.0f")]
    return cells


def _metric_header(gpu: bool) -> list[str]:
    cols = ["best val loss", "last val loss", "train loss", "epochs", "time", "tokens/s", "CPU %", "peak RSS MB"]
    return cols + (["GPU %", "GPU MB"] if gpu else [])


def _table(header: list[str], lines: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cells) + " |" for cells in lines]
    return out


def _bold_min(lines: list[list[str]], rows: list[dict], col: int) -> None:
    losses = [r["best_val_loss"] for r in rows]
    finite = [x for x in losses if x is not None and math.isfinite(x)]
    if len(finite) > 1:
        i = losses.index(min(finite))
        lines[i][col] = f"**{lines[i][col]}**"


def results_markdown(rows: list[dict], title: str, header: list[str], axes: list[str] | None = None, total: int | None = None) -> str:
    """results.md: one table per axis with the benchmark row in each (product/search rows: one table)."""
    gpu = any(r.get("gpu_util_pct") is not None or r.get("cuda_peak_mb") is not None for r in rows)
    out = [f"# {title}", ""] + header
    if total is not None:
        out += [f"Finished rows: {len(rows)} of {total}.", ""]
    out += [
        "Losses are cross-entropy in nats/token on the held-out episodes (best = lowest of the run, last = at its end); "
        "train loss is the mean of the last stretch of training; time is the training loop's, validation included; "
        "CPU % is the machine's mean utilisation (all cores = 100); the best row of each table is bold.",
        "",
    ]
    bench = next((r for r in rows if r.get("benchmark")), None)
    axis_rows = [r for r in rows if r.get("axis") not in ("", None, "product", "search")]
    axes = axes if axes is not None else list(dict.fromkeys(r["axis"] for r in axis_rows))
    for axis in axes:
        members = ([bench] if bench else []) + [r for r in axis_rows if r["axis"] == axis]
        if not members:
            continue
        lines = []
        for r in members:
            value = _fmt(r["config"].get(axis))
            lines.append([value + (" (benchmark)" if r is bench else "")] + _metric_cells(r, gpu))
        _bold_min(lines, members, 1)
        out += [f"## {_label(axis)} (`{axis}`)", ""] + _table([axis] + _metric_header(gpu), lines) + [""]
    others = [r for r in rows if r.get("axis") in ("product", "search")]
    if others or (bench and not axes):
        members = sorted(others or [bench], key=lambda r: (r["best_val_loss"] if r["best_val_loss"] is not None else math.inf))
        fields = sorted({k for r in members for k in r["changes"]}) if others else []
        lines = [[r["row"] + (" (benchmark)" if r.get("benchmark") else "")] + [_fmt(r["config"].get(f)) for f in fields] + _metric_cells(r, gpu) for r in members]
        _bold_min(lines, members, 1 + len(fields))
        out += ["## All rows, best first", ""] + _table(["row"] + fields + _metric_header(gpu), lines) + [""]
    if bench and axis_rows and any(r["best_val_loss"] is not None for r in rows):
        try:
            combined = winning_config(rows, "combine")
            best = min((r for r in rows if r["best_val_loss"] is not None), key=lambda r: r["best_val_loss"])
            chosen = ", ".join(f"{a} {_fmt(getattr(combined, a))}" for a in axes)
            out += [
                "## Choice",
                "",
                f"Best single row: `{best['row']}` (best validation loss {best['best_val_loss']:.3f}).",
                "",
                f"Each axis's best value together (not itself trained; written to `combined.toml`): {chosen}.",
                "",
            ]
        except ScriptgenError:
            pass
    return "\n".join(out).rstrip() + "\n"


def curves_figure(rows: list[dict], axes: list[str] | None = None, title: str = ""):
    """Validation loss against seconds for every row, one panel per axis (matplotlib Figure, no pyplot)."""
    from matplotlib.figure import Figure

    bench = next((r for r in rows if r.get("benchmark")), None)
    axis_rows = [r for r in rows if r.get("axis") not in ("", None, "product", "search")]
    axes = axes if axes is not None else list(dict.fromkeys(r["axis"] for r in axis_rows))
    panels: list[tuple[str, list[tuple[str, dict]]]] = []
    for axis in axes:
        members = [r for r in axis_rows if r["axis"] == axis]
        if bench is None and not members:
            continue
        items = ([(f"{_fmt(bench['config'].get(axis))} (benchmark)", bench)] if bench else [])
        items += [(_fmt(r["config"].get(axis)), r) for r in members]
        panels.append((f"{_label(axis)} ({axis})", items))
    others = [r for r in rows if r.get("axis") in ("product", "search")]
    if others or not panels:
        panels.append(("all rows", [(r["row"], r) for r in (others or rows)]))
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(5.0 * ncols, 3.6 * nrows + (0.4 if title else 0.0)), dpi=100)
    grid = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
    for i, ax in enumerate(grid.flat):
        if i >= len(panels):
            ax.set_visible(False)
            continue
        name, items = panels[i]
        for label, row in items:
            pts = [(float(h["elapsed_s"]), float(h["val_loss"])) for h in row.get("history", []) if h.get("val_loss") not in ("", None)]
            if pts:
                ax.plot(*zip(*pts), "o-" if "(benchmark)" not in label else "s--", markersize=3, label=label)
        ax.set_title(name)
        ax.set_xlabel("seconds")
        if i % ncols == 0:
            ax.set_ylabel("validation loss (nats/token)")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8 if len(items) < 8 else 6)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------
@dataclass
class ExperimentResult:
    folder: Path
    rows: list[dict]  # every finished row, as load_results returns them
    trained: list[str] = field(default_factory=list)  # rows trained by this call
    skipped: list[str] = field(default_factory=list)  # rows already finished before it
    pending: list[str] = field(default_factory=list)  # rows still to train (after an interruption or a limit)
    interrupted: bool = False


class _Lock:
    """One process at a time per results folder."""

    def __init__(self, folder: Path):
        self.path = folder / ".lock"

    def __enter__(self) -> "_Lock":
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    pid = int(self.path.read_text().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid and pid != os.getpid() and _pid_running(pid):
                    raise ScriptgenError(f"another scriptgen process (pid {pid}) is running the experiment in {str(self.path.parent)!r}; wait for it or stop it") from None
                self.path.unlink(missing_ok=True)  # left by a killed run
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(str(os.getpid()))
            return self
        raise ScriptgenError(f"cannot lock {str(self.path.parent)!r}; delete {str(self.path)!r} and rerun")

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to someone else
        return True
    return True


def _results_folder(out_dir: str | Path, name: str) -> Path:
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ScriptgenError(f"--name {name!r} must be a plain folder name such as seed_study")
    folder = Path(out_dir) / name
    try:
        (folder / "rows").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScriptgenError(f"cannot create {str(folder)!r}: {exc.strerror}; choose a writable --out-dir") from None
    return folder


def _data_fingerprints(rows: list[Row], data, data_dir, encoding, log) -> dict[tuple, dict]:
    """Prepare the data once per tokenizer setting (a clear error before any training)."""
    from .prepare import prepare

    out = {}
    for row in rows:
        key = (row.config.level, row.config.min_count)
        if key not in out:
            meta = prepare(data, row.config.level, row.config.min_count, data_dir, encoding=encoding, log=log).meta
            out[key] = {"data": meta["source"], "data_fingerprint": meta["fingerprint"]}
    return out


def _check_consistent(recorded: dict, row: Row, data: dict, path: Path) -> None:
    old_cfg, new_cfg = recorded["config"], json.loads(json.dumps(row.config.to_dict()))
    diff = [k for k in sorted(set(old_cfg) | set(new_cfg)) if old_cfg.get(k) != new_cfg.get(k)]
    if diff:
        k = diff[0]
        raise ScriptgenError(
            f"{str(path)!r} has row {row.name!r} with {k} {old_cfg.get(k)!r}, but this run asks for {new_cfg.get(k)!r}; "
            f"rerun with the same grid and flags to continue, or choose another --name"
        )
    if recorded["data_fingerprint"] and recorded["data_fingerprint"] != data["data_fingerprint"]:
        raise ScriptgenError(
            f"{str(path)!r} was made with other data (row {row.name!r}); rerun with the same --data, or choose another --name"
        )


def _train_row(row: Row, folder: Path, data, data_dir, encoding, progress, log, data_meta: dict, machine: dict) -> tuple[dict | None, list[dict]]:
    """Train one row into ``folder``; (its result line, its history), or (None, history) if interrupted."""
    from .train import resolve_device, train

    if folder.exists():
        shutil.rmtree(folder)  # a row that was interrupted restarts cleanly
    device = resolve_device(row.config.device).type
    t0 = time.perf_counter()
    with ResourceMonitor(device) as monitor:
        result = train(
            row.config, data=data, name=folder.name, out_dir=folder.parent, data_dir=data_dir,
            encoding=encoding, progress=progress, log=log, overwrite=True,
        )  # fmt: skip
    wall = time.perf_counter() - t0
    if result.interrupted:
        return None, result.history
    line = {
        "row": row.name,
        "axis": row.axis,
        "value": json.dumps(row.changes[row.axis]) if row.axis in row.changes else "",
        "benchmark": row.benchmark,
        "train_loss": _round(result.train_loss, 5),
        "last_val_loss": _round(result.last_val_loss, 5),
        "best_val_loss": _round(result.best_val_loss, 5),
        "steps": result.steps,
        "epochs": round(result.epochs, 4),
        "train_s": round(result.elapsed_s, 2),
        "wall_s": round(wall, 2),
        "tokens_per_s": round(result.tokens_per_s, 1),
        **monitor.summary(),
        "device": device,
        "seed": row.config.seed,
        "changes": row.changes,
        "config": row.config.to_dict(),
        **data_meta,
        **machine,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return json.loads(json.dumps(line, default=str)), result.history


def warm_up(cfg: Config) -> None:
    """Pay the one-time costs (lazy imports of torch's optimizer machinery and
    matplotlib, first kernels) before the first row, so they do not eat into its
    time budget and the rows are timed alike."""
    import torch

    from .model import RNN
    from .plots import figure_png, plot_history
    from .train import resolve_device

    figure_png(plot_history([{"step": 0, "elapsed_s": 0.0, "train_loss": 1.0, "val_loss": 1.0}]))
    device = resolve_device(cfg.device)
    tiny = cfg.replace(embedding_dim=8, hidden_dim=8, n_layers=1, tie_weights=False, output="softmax", cutoffs=[], dropout=0.0)
    model = RNN.from_config(tiny, 16).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randint(0, 16, (2, 4), device=device)
    for _ in range(2):
        loss, _hidden = model.loss(x, x, None)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    with torch.no_grad():
        model.eval()
        model.loss(x, x, None)


def _history_lines(name: str, history: list[dict]) -> list[dict]:
    return [{"row": name, **h} for h in history]


class _Recorder:
    """results.csv + histories.csv of one folder, rewritten atomically after each row."""

    def __init__(self, folder: Path, stem: str):
        self.folder = folder
        self.csv = folder / f"{stem}.csv"
        self.hist = folder / ("histories.csv" if stem == "results" else f"{stem}_histories.csv")
        raw = _read_csv(self.csv)
        self.lines = [_parse_row(r, self.csv) for r in raw]
        known = {r["row"] for r in self.lines}
        self.history_lines = [h for h in _read_csv(self.hist) if h.get("row") in known]

    def done(self) -> dict[str, dict]:
        return {r["row"]: r for r in self.lines}

    def add(self, line: dict, history: list[dict]) -> None:
        self.lines = [r for r in self.lines if r["row"] != line["row"]] + [_parse_row(_stringify(line), self.csv)]
        self.history_lines = [h for h in self.history_lines if h.get("row") != line["row"]] + _history_lines(line["row"], history)
        _write_atomic(self.hist, _csv_bytes(HISTORY_FIELDS, self.history_lines))
        _write_atomic(self.csv, _csv_bytes(RESULT_FIELDS, self.lines))  # the commit point of a row

    def rows(self, order: list[str]) -> list[dict]:
        rank = {name: i for i, name in enumerate(order)}
        rows = sorted(self.lines, key=lambda r: rank.get(r["row"], len(rank)))
        hist = _read_histories(self.hist)
        for r in rows:
            r["history"] = hist.get(r["row"], [])
        return rows


def _stringify(line: dict) -> dict:
    return {k: _csv_cell(v) if not isinstance(v, (int, float)) or isinstance(v, bool) else v for k, v in line.items()}


def _header(grid: Grid, rows: list[dict], base: Config, mode: str) -> list[str]:
    first = rows[0] if rows else {}
    limits = []
    if base.epochs:
        limits.append(_count(base.epochs, "epoch"))
    if base.max_minutes:
        limits.append(f"{base.max_minutes:g} minutes")
    shown = list(grid.axes) or ["seq_len", "batch_size", "lr", "embedding_dim", "hidden_dim", "n_layers"]
    lines = []
    if grid.description:
        lines += [grid.description.strip(), ""]
    lines += [
        f"- grid: `{grid.path.name if grid.path else 'API'}`, mode {mode}; each row stops at {' or '.join(limits) or 'its epochs'}, whichever comes first",
        "- benchmark: " + ", ".join(f"{k} {_fmt(getattr(base, k))}" for k in shown)
        + f"; cell {base.cell}, output {base.output}, dropout {base.dropout:g}, seed {base.seed}",
    ]
    if first:
        cfg = first["config"]
        if cfg.get("eval_interval"):
            every = cfg["eval_interval"] * cfg["batch_size"] * cfg["seq_len"]
            lines.append(f"- validation: every {cfg['eval_interval']} steps (about {every:,} training tokens; see each row's eval_interval) and at the end")
        else:
            lines.append("- validation: twice per epoch and at the end")
    if first:
        lines += [
            f"- data: {first.get('data') or 'default corpus'} (sha256 {str(first.get('data_fingerprint'))[:12]}), device {first.get('device')}",
            f"- machine: {first.get('platform')}, {first.get('cpu_count')} CPUs; torch {first.get('torch')}, "
            f"scriptgen {first.get('scriptgen')}, commit {str(first.get('git_commit'))[:10] or 'unknown'}",
        ]
    if any(a in DATA_FIELDS for a in grid.axes):
        lines.append("- note: an axis changes the data or its split, so those rows' losses are not comparable with the others")
    return lines + [""]


def _write_reports(folder: Path, grid: Grid, recorder: _Recorder, order: list[str], base: Config, stem: str, title: str) -> list[dict]:
    rows = recorder.rows(order)
    axes = list(grid.axes) if stem == "results" and grid.mode == "one-at-a-time" else []
    mode = grid.mode if stem == "results" else "optuna search"
    md = results_markdown(rows, title, _header(grid, rows, base, mode), axes=axes, total=len(order) if stem == "results" else None)
    _write_atomic(folder / f"{stem}.md", md.encode("utf-8"))
    if rows:
        from .plots import figure_png

        png = "curves.png" if stem == "results" else f"{stem}.png"
        _write_atomic(folder / png, figure_png(curves_figure(rows, axes=axes, title=title)))
    if stem == "results" and axes and any(r.get("benchmark") for r in rows) and len(rows) > 1:
        try:
            cfg = winning_config(rows, "combine")
            _write_atomic(
                folder / "combined.toml",
                config_toml(cfg, f"{title}: each axis's best value together (scriptgen experiment).\nNot itself trained in the grid.").encode("utf-8"),
            )
        except ScriptgenError:
            pass
    return rows


def _bar(total: int, initial: int, progress: bool | None, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="row", desc=desc, disable=None if progress is None else not progress, dynamic_ncols=True, file=sys.stderr)


def run_experiment(
    grid: Grid | str | Path,
    name: str | None = None,
    out_dir: str | Path = DEFAULT_OUT_DIR,
    data: str | Path | None = None,
    data_dir: str | Path = "data",
    encoding: str = "utf-8",
    epochs: int | None = None,
    budget_minutes: float | None = None,
    eval_tokens: int | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
    limit: int | None = None,
) -> ExperimentResult:
    """Train every row of ``grid`` not yet in ``out_dir/name/results.csv``; see the module docstring.

    ``limit`` trains at most that many rows in this call.  Ctrl-C stops after
    saving the current row's state; the row is not recorded and is trained
    again (from scratch) by the next call.
    """
    grid = grid if isinstance(grid, Grid) else load_grid(grid)
    _check_limits(epochs, budget_minutes, eval_tokens)
    rows = grid.rows(epochs, budget_minutes, eval_tokens)
    base = grid.base_config(epochs, budget_minutes)
    folder = _results_folder(out_dir, name or grid.name)
    title = f"Experiment {folder.name}"
    data = str(Path(data).resolve()) if data is not None else None
    with _Lock(folder):
        recorder = _Recorder(folder, "results")
        metas = _data_fingerprints(rows, data, data_dir, encoding, log)
        done = recorder.done()
        for row in rows:
            if row.name in done:
                _check_consistent(done[row.name], row, metas[(row.config.level, row.config.min_count)], recorder.csv)
        if grid.text:
            _write_atomic(folder / "grid.toml", grid.text.encode("utf-8"))
        order = [r.name for r in rows]
        todo = [r for r in rows if r.name not in done]
        result = ExperimentResult(folder, [], skipped=[r.name for r in rows if r.name in done])
        machine = machine_info()
        if todo and limit != 0:
            warm_up(todo[0].config)
        bar = _bar(len(rows), len(rows) - len(todo), progress, folder.name)
        say = bar.write if not bar.disable else log
        try:
            for i, row in enumerate(todo):
                if limit is not None and i >= limit:
                    break
                bar.set_postfix_str(row.name)
                say(f"row {row.name}: training into {folder / 'rows' / row.folder_name}")
                line, history = _train_row(
                    row, folder / "rows" / row.folder_name, data, data_dir, encoding, progress, log,
                    metas[(row.config.level, row.config.min_count)], machine,
                )  # fmt: skip
                if line is None:
                    result.interrupted = True
                    say(f"row {row.name}: interrupted; it is trained again from scratch when you rerun")
                    break
                recorder.add(line, history)
                result.trained.append(row.name)
                say(f"row {row.name}: best val {line['best_val_loss']:.4f}, {_mmss(line['train_s'])}, {line['tokens_per_s']:,.0f} tokens/s")
                _write_reports(folder, grid, recorder, order, base, "results", title)
                bar.update(1)
        finally:
            bar.close()
        result.rows = _write_reports(folder, grid, recorder, order, base, "results", title)
        finished = {r["row"] for r in result.rows}
        result.pending = [n for n in order if n not in finished]
    return result


def _check_limits(epochs: int | None, budget_minutes: float | None, eval_tokens: int | None = None) -> None:
    if eval_tokens is not None and (isinstance(eval_tokens, bool) or not isinstance(eval_tokens, int) or eval_tokens < 1):
        raise ScriptgenError(f"--eval-tokens {eval_tokens!r} is invalid: it must be a whole number of training tokens of at least 1")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise ScriptgenError(f"--epochs {epochs!r} is invalid: it must be a whole number of at least 1")
    if budget_minutes is not None and (not isinstance(budget_minutes, (int, float)) or not math.isfinite(budget_minutes) or budget_minutes < 0):
        raise ScriptgenError(f"--budget-minutes {budget_minutes!r} is invalid: it must be 0 (no limit) or a positive number of minutes")


# --------------------------------------------------------------------------
# Optuna search
# --------------------------------------------------------------------------
def run_search(
    grid: Grid | str | Path,
    trials: int = DEFAULT_TRIALS,
    name: str | None = None,
    out_dir: str | Path = DEFAULT_OUT_DIR,
    data: str | Path | None = None,
    data_dir: str | Path = "data",
    encoding: str = "utf-8",
    epochs: int | None = None,
    budget_minutes: float | None = None,
    eval_tokens: int | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] = print,
    limit: int | None = None,
) -> ExperimentResult:
    """Optuna (TPE, seeded) minimises the best validation loss over the grid's space at a fixed per-trial budget.

    The space is every combination of the axes' values (the base fills the
    other fields).  Finished trials are kept in ``search.csv`` and fed back to
    the sampler on a rerun, which then trains only the missing trials; a
    configuration already trained is not trained twice.  ``best.toml`` holds
    the best trial as a one-row grid file.
    """
    try:
        import optuna
    except ImportError:
        raise ScriptgenError("--search optuna needs the optuna package; pip install optuna") from None
    grid = grid if isinstance(grid, Grid) else load_grid(grid)
    _check_limits(epochs, budget_minutes, eval_tokens)
    eval_tokens = eval_tokens if eval_tokens is not None else grid.eval_tokens
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ScriptgenError(f"--trials {trials!r} is invalid: it must be a whole number of at least 1")
    base = grid.base_config(epochs, budget_minutes)
    if not base.max_minutes:
        raise ScriptgenError("--search needs a fixed budget per trial; pass --budget-minutes or set budget_minutes in the grid's [run]")
    if not grid.axes:
        raise ScriptgenError(f"{grid._where()}[axes] is empty, so there is nothing to search")
    bad = [n for n, vs in grid.axes.items() if not all(v is None or isinstance(v, (bool, int, float, str)) for v in vs)]
    if bad:
        raise ScriptgenError(f"{grid._where()}the axis {bad[0]} has list or table values, which the search cannot sample; drop it for --search")
    folder = _results_folder(out_dir, name or grid.name)
    title = f"Search {folder.name}"
    data = str(Path(data).resolve()) if data is not None else None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {n: optuna.distributions.CategoricalDistribution(vs) for n, vs in grid.axes.items()}

    def make_row(index: int, params: dict) -> Row:
        changes = {n: params[n] for n in grid.axes}
        return Row(f"trial-{index:03d}", "search", changes, _row_config(base, changes, grid, eval_tokens), benchmark=all(_same(v, getattr(base, n)) for n, v in changes.items()))

    with _Lock(folder):
        recorder = _Recorder(folder, "search")
        sampler = optuna.samplers.TPESampler(seed=base.seed, n_startup_trials=min(10, max(2, trials // 3)))
        study = optuna.create_study(direction="minimize", sampler=sampler)
        metas = _data_fingerprints([Row("base", "", {}, base)], data, data_dir, encoding, log)
        meta = metas[(base.level, base.min_count)]
        seen: dict[str, float] = {}
        for line in recorder.lines:
            if set(line["changes"]) != set(grid.axes):
                raise ScriptgenError(
                    f"{str(recorder.csv)!r} has trial {line['row']!r} over other axes than this grid's; rerun with the same grid, or choose another --name"
                )
            row = make_row(0, line["changes"])
            row.name = line["row"]
            _check_consistent(line, row, meta, recorder.csv)
            try:
                study.add_trial(optuna.trial.create_trial(params=line["changes"], distributions=dists, value=line["best_val_loss"]))
            except ValueError:
                raise ScriptgenError(
                    f"{str(recorder.csv)!r} has trial {line['row']!r} outside this grid's axes; rerun with the same grid, or choose another --name"
                ) from None
            seen[json.dumps(line["changes"], sort_keys=True)] = line["best_val_loss"]
        if grid.text:
            _write_atomic(folder / "grid.toml", grid.text.encode("utf-8"))
        start = len(recorder.lines)
        result = ExperimentResult(folder, [], skipped=[r["row"] for r in recorder.lines])
        machine = machine_info()
        if start < trials and limit != 0:
            warm_up(base)
        bar = _bar(trials, min(start, trials), progress, f"{folder.name} search")
        say = bar.write if not bar.disable else log
        order = [f"trial-{i:03d}" for i in range(max(trials, start))]
        try:
            for index in range(start, trials):
                if limit is not None and index - start >= limit:
                    break
                trial = study.ask(dists)
                row = make_row(index, trial.params)
                key = json.dumps(row.changes, sort_keys=True)
                bar.set_postfix_str(row.name)
                if key in seen:  # TPE proposed a configuration it already has: reuse its loss
                    say(f"{row.name}: {key} was already trained (best val {seen[key]:.4f}); not training it again")
                    study.tell(trial, seen[key])
                    line = dict(next(r for r in recorder.lines if json.dumps(r["changes"], sort_keys=True) == key))
                    line.update(row=row.name, finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
                    line.pop("history", None)
                    old = next(r for r in recorder.lines if json.dumps(r["changes"], sort_keys=True) == key)["row"]
                    history = [{k: v for k, v in h.items() if k != "row"} for h in recorder.history_lines if h.get("row") == old]
                    recorder.add(line, history)
                else:
                    say(f"{row.name}: {', '.join(f'{k} {_fmt(v)}' for k, v in row.changes.items())}")
                    line, history = _train_row(row, folder / "rows" / row.folder_name, data, data_dir, encoding, progress, log, meta, machine)
                    if line is None:
                        study.tell(trial, state=optuna.trial.TrialState.FAIL)
                        result.interrupted = True
                        say(f"{row.name}: interrupted; it is trained again when you rerun")
                        break
                    study.tell(trial, line["best_val_loss"])
                    seen[key] = line["best_val_loss"]
                    recorder.add(line, history)
                    say(f"{row.name}: best val {line['best_val_loss']:.4f}")
                result.trained.append(row.name)
                _write_search_outputs(folder, grid, recorder, order, base, title)
                bar.update(1)
        finally:
            bar.close()
        result.rows = _write_search_outputs(folder, grid, recorder, order, base, title)
        finished = {r["row"] for r in result.rows}
        result.pending = [n for n in order[:trials] if n not in finished]
    return result


def _write_search_outputs(folder: Path, grid: Grid, recorder: _Recorder, order: list[str], base: Config, title: str) -> list[dict]:
    rows = _write_reports(folder, grid, recorder, order, base, "search", title)
    done = [r for r in rows if r["best_val_loss"] is not None and math.isfinite(r["best_val_loss"])]
    if done:
        best = min(done, key=lambda r: r["best_val_loss"])
        cfg = Config.from_dict(best["config"])
        comment = (
            f"{title}: best of {len(done)} trials, {best['row']} "
            f"(best validation loss {best['best_val_loss']:.4f} in {base.max_minutes:g} minutes per trial)."
        )
        _write_atomic(folder / "best.toml", config_toml(cfg, comment).encode("utf-8"))
    return rows


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------
def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``scriptgen experiment`` on the subparsers of the main parser."""
    p = subparsers.add_parser(
        "experiment",
        help="train a grid of configurations and tabulate them",
        description="Train every row of a TOML grid (one value changed at a time, or every combination) and write "
        "results.csv, results.md and curves.png to OUT_DIR/NAME; rerunning skips finished rows.",
    )
    p.add_argument("--grid", required=True, metavar="FILE", help="TOML grid file with [base], [axes], mode and optional [run] (required)")
    p.add_argument("--name", default=None, help="results go to OUT_DIR/NAME (default: the grid file's name without .toml)")
    p.add_argument("--out-dir", default=DEFAULT_OUT_DIR, help=f"folder of experiment results (default: {DEFAULT_OUT_DIR})")
    p.add_argument("--data", default=None, metavar="PATH", help="a UTF-8 text file or a folder of .txt files (default: the Seinfeld corpus of seinfeld-laugh-corpus)")
    p.add_argument("--data-dir", default="data", help="where prepared data is cached (default: data)")
    p.add_argument("--encoding", default="utf-8", help="text encoding of --data files (default: utf-8)")
    p.add_argument("--epochs", type=int, default=None, metavar="N", help="epochs per row (default: the grid's [run] epochs, else its [base] epochs, else 10)")
    p.add_argument(
        "--budget-minutes", type=float, default=None, metavar="M",
        help="minutes of training per row; a row stops at its epochs or this, whichever comes first (default: the grid's [run] budget_minutes, else no limit)",
    )  # fmt: skip
    p.add_argument(
        "--eval-tokens", type=int, default=None, metavar="N",
        help="validate every row after about N training tokens (sets each row's eval_interval from its batch size and sequence length) "
        "(default: the grid's [run] eval_tokens, else each row's eval_interval: twice per epoch)",
    )  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bars (default: shown on a terminal)")
    p.add_argument("--search", choices=["optuna"], default=None, help="instead of the grid, let Optuna choose --trials configurations from the axes' values at a fixed --budget-minutes each (default: off, train the grid)")
    p.add_argument("--trials", type=int, default=None, metavar="N", help=f"number of --search trials (default: {DEFAULT_TRIALS})")
    return p


def run_cli(args: argparse.Namespace) -> int:
    """``scriptgen experiment``: 0 when every row is done, 130 when interrupted; ScriptgenError on bad input."""
    if args.trials is not None and not args.search:
        raise ScriptgenError("--trials needs --search optuna")
    if args.budget_minutes is not None and not math.isfinite(args.budget_minutes):
        raise ScriptgenError(f"--budget-minutes {args.budget_minutes!r} is invalid: it must be a finite number of minutes")
    grid = load_grid(args.grid)
    common = dict(
        name=args.name, out_dir=args.out_dir, data=args.data, data_dir=args.data_dir, encoding=args.encoding,
        epochs=args.epochs, budget_minutes=args.budget_minutes, eval_tokens=args.eval_tokens, progress=False if args.no_progress else None,
        log=lambda msg: print(msg, file=sys.stderr),
    )  # fmt: skip
    if args.search:
        result = run_search(grid, trials=args.trials if args.trials is not None else DEFAULT_TRIALS, **common)
    else:
        result = run_experiment(grid, **common)
    folder = result.folder
    unit = "trial" if args.search else "row"
    if result.interrupted:
        print(
            f"scriptgen: interrupted; {_count(len(result.rows), unit)} finished in {folder}. Rerun the same command to train "
            f"the other {len(result.pending)} (finished {unit}s are skipped).",
            file=sys.stderr,
        )
        return 130
    what = "search.md, search.png, best.toml" if args.search else "results.md, curves.png"
    print(
        f"{_count(len(result.rows), unit)} finished ({len(result.trained)} trained now, {len(result.skipped)} already done); "
        f"results in {folder} ({'search.csv' if args.search else 'results.csv'}, {what})"
    )
    return 0


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" + ("" if n == 1 else "s")
