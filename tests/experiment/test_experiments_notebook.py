"""The experiments notebook runs top to bottom on a tiny results folder (SCRIPTGEN_SMOKE=1)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import tiny_grid_base
from nbclient import NotebookClient

from scriptgen.experiment import ExperimentOptions, load_grid, run_experiment

pytestmark = pytest.mark.slow  # a kernel start and a tiny experiment: tens of seconds

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "experiments.ipynb"

TINY_GRID = tiny_grid_base(32) + "\n[axes]\nhidden_dim = [32, 48]\nn_layers = [1, 2]\n\n[run]\nepochs = 1\n"


def test_experiments_notebook_runs_top_to_bottom(corpus_dir, tmp_path, monkeypatch):
    grid_file = tmp_path / "tiny_study.toml"
    grid_file.write_text(TINY_GRID, encoding="utf-8")
    options = ExperimentOptions(
        data=corpus_dir,
        data_dir=tmp_path / "data",
        out_dir=tmp_path / "results",
        budget_minutes=0.01,
        progress=False,
        log=lambda m: None,
    )
    result = run_experiment(load_grid(grid_file), options)
    assert result.pending == []
    monkeypatch.setenv("SCRIPTGEN_SMOKE", "1")
    monkeypatch.setenv("SCRIPTGEN_WORKDIR", str(tmp_path))
    monkeypatch.setenv("SCRIPTGEN_RESULTS", str(result.folder))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute()  # raises CellExecutionError on any failing cell
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert f"3 finished rows in {result.folder}" in text
    assert any(
        "text/markdown" in o.get("data", {}) and "## hidden (`hidden_dim`)" in o["data"]["text/markdown"]
        for o in outputs
    ), "results.md is shown"
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2, (
        "curves.png and the winner's loss plot are shown inline"
    )
    assert "combined choice:" in text and "jerry:" in text
    assert (tmp_path / "checkpoints" / "experiment_winner" / "model.safetensors").exists()


def test_experiments_notebook_defines_no_library_code():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code_cells, f"{NOTEBOOK.name} has no code cells"
    for cell in code_cells:
        assert "def " not in cell.source and "class " not in cell.source and "lambda" not in cell.source, cell.source[
            :80
        ]
