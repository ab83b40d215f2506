"""The walkthrough notebook runs top to bottom on the tiny setting (SCRIPTGEN_SMOKE=1)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow  # a kernel start and a tiny training run: tens of seconds

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "tv_script_generation.ipynb"


class CountingClient(NotebookClient):
    """Counts the kernel's display updates (a live plot redrawn in place)."""

    updates = 0

    def process_message(self, msg, cell, cell_index):
        if msg.get("msg_type") == "update_display_data":
            self.updates += 1
        return super().process_message(msg, cell, cell_index)


def test_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRIPTGEN_SMOKE", "1")
    monkeypatch.setenv("SCRIPTGEN_WORKDIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = CountingClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute()  # raises CellExecutionError on any failing cell
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert text.count("Tests Passed") == 5
    assert any("image/png" in o.get("data", {}) for o in outputs), "the loss plot is shown inline"
    assert (tmp_path / "checkpoints" / "notebook" / "model.safetensors").exists()
    assert "jerry:" in text
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs), (
        "the generate panel is shown"
    )
    saved = list((tmp_path / "outputs").glob("script-*.txt"))  # the "save your favourite script" cell
    assert len(saved) == 1 and saved[0].read_text(encoding="utf-8") in text
    # the training cell's plot was redrawn in place at each validation while it trained, with a sample under it
    validations = (tmp_path / "checkpoints" / "notebook" / "history.csv").read_text().count("\n") - 1
    assert client.updates == validations >= 1
    assert any("<pre>" in o.get("data", {}).get("text/html", "") and "image/png" in o.get("data", {}) for o in outputs)


def test_notebook_defines_no_library_code():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code_cells, f"{NOTEBOOK.name} has no code cells"
    for cell in code_cells:
        assert "def " not in cell.source and "class " not in cell.source, cell.source[:80]
