"""The import layers of docs/architecture.md, kept by an import-linter contract (pyproject.toml,
``[tool.importlinter]``): imports only go down, and no package holds an import cycle. The
contract is checked on the package as it is, and shown to fail on a copy with one planted upward
import and on one with a planted cycle inside a layer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed (pip install -e .[test])")


def lint(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the package under ``root`` with the contract of ``root/pyproject.toml``."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120)


def copy_with(tmp_path: Path, module: str, line: str) -> Path:
    """A copy of the package and its pyproject.toml with ``line`` appended to ``module``."""
    root = tmp_path / "copy"
    shutil.copytree(ROOT / "cikgwb", root / "cikgwb", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    path = root / "cikgwb" / module
    path.write_text(path.read_text() + f"\n{line}  # planted by the test\n")
    return root


def test_the_package_keeps_its_import_layers():
    res = lint(ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 kept, 0 broken" in res.stdout


def test_an_upward_import_breaks_the_layers(tmp_path):
    res = lint(copy_with(tmp_path, "paths.py", "from cikgwb import train"))
    assert res.returncode != 0
    assert "cikgwb.paths is not allowed to import cikgwb.train" in res.stdout


def test_a_cycle_inside_a_layer_breaks_the_contract(tmp_path):
    # paths and atomic share the bottom layer (they may import each other), but not both ways
    root = copy_with(tmp_path, "paths.py", "from cikgwb import atomic")
    (root / "cikgwb" / "atomic.py").write_text(
        (root / "cikgwb" / "atomic.py").read_text() + "\nfrom cikgwb import paths\n"
    )
    res = lint(root)
    assert res.returncode != 0
    assert "no import cycle among the members of any cikgwb package BROKEN" in res.stdout
