"""The data folder has one rule (cikgwb.paths.data_dir): ``$CIKGWB_DATA_DIR``, else
``<project>/data`` from any folder of the project; every caller asks it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _source_scan import lines_matching

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder (it holds notebooks/01_data.ipynb) with a sub-folder, no env override."""
    proj = tmp_path.resolve() / "proj"
    (proj / "notebooks").mkdir(parents=True)
    (proj / "notebooks" / "01_data.ipynb").write_text("{}")
    (proj / "reports" / "deep").mkdir(parents=True)
    for v in ("CIKGWB_DATA_DIR", "CIKGWB_ROOT"):
        monkeypatch.delenv(v, raising=False)
    return proj


def test_data_dir_from_a_sub_folder_is_the_projects(project, monkeypatch):
    from cikgwb import notebooks, paths
    from cikgwb.data import registry

    monkeypatch.chdir(project / "reports" / "deep")
    want = project / "data"
    assert paths.data_dir() == registry.data_root() == notebooks.data_dir() == want
    assert registry.dataset_dir("ml1m") == want / "ml1m"
    monkeypatch.chdir(project)
    assert paths.data_dir() == want
    # the environment variable wins, read at call time
    monkeypatch.setenv("CIKGWB_DATA_DIR", str(project.parent / "elsewhere"))
    assert paths.data_dir() == registry.data_root() == project.parent / "elsewhere"
    monkeypatch.setenv("CIKGWB_DATA_DIR", "  ")  # blank: not set
    assert paths.data_dir() == want


def test_missing_dataset_error_names_the_folder_looked_in(project, monkeypatch):
    from cikgwb.data import load_dataset
    from cikgwb.data.loader import DataFormatError

    monkeypatch.chdir(project / "reports" / "deep")
    with pytest.raises(DataFormatError, match=re.escape(str(project / "data" / "ml1m"))):
        load_dataset("ml1m")


def test_notebook_start_exports_the_one_rule(project, monkeypatch):
    import os

    from cikgwb import notebooks

    monkeypatch.chdir(project / "reports" / "deep")
    monkeypatch.setenv("CIKGWB_DATA_DIR", "")
    monkeypatch.setenv("CIKGWB_REPORTS_DIR", str(project / "reports"))
    notebooks.start("t", "synthetic")
    assert os.environ["CIKGWB_DATA_DIR"] == str(project / "data")


def test_no_other_definition_of_the_data_folder():
    """Only cikgwb/paths.py reads CIKGWB_DATA_DIR or builds a default ``data`` folder."""
    offenders = lines_matching(
        r"""(environ\.get|getenv)\(\s*["']CIKGWB_DATA_DIR|/\s*["']data["']|Path\(\s*["']data["']\s*\)"""
    )
    assert not offenders, "data folder defined outside cikgwb.paths:\n" + "\n".join(offenders)
