"""pyproject.toml builds without deprecation warnings: the license is an SPDX string, with a setuptools floor that reads
it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_license_is_an_spdx_string_and_setuptools_floor_supports_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    floor = next(r for r in project["build-system"]["requires"] if r.startswith("setuptools"))
    assert floor.startswith("setuptools>=") and int(floor.split(">=")[1].split(".")[0]) >= 77  # PEP 639 came in 77


def test_the_metadata_builds_without_a_deprecation_warning(tmp_path):
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} here predates the floor pyproject.toml asks for")
    for name in ("pyproject.toml", "README.md", "LICENSE.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "scriptgen", tmp_path / "scriptgen", ignore=shutil.ignore_patterns("__pycache__"))
    code = "from setuptools import build_meta; print(build_meta.prepare_metadata_for_build_wheel('meta'))"
    (tmp_path / "meta").mkdir()
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Deprecat" not in done.stderr, done.stderr
    metadata = (tmp_path / "meta" / done.stdout.strip().splitlines()[-1] / "METADATA").read_text(encoding="utf-8")
    assert "License-Expression: MIT" in metadata
