"""The notebooks' orchestration (issue 35 move 4): :func:`cikgwb.views.require` finds a run, an
artefact or a sweep, makes it where asked, or returns (and prints) one MISSING line with the command
that makes it; each notebook holds at most 25 lines of logic (the rest is in the library)."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cikgwb import views
from cikgwb.sweep import SweepSpec

REPO = Path(__file__).resolve().parents[1]
RUNS = REPO / "reports" / "runs"


def _copy_run(name: str, root: Path) -> Path:
    return Path(shutil.copytree(RUNS / name, root / name))


def test_require_runs_finds_them_or_says_which_command_makes_them(tmp_path, capsys, monkeypatch):
    found = views.require("runs", dataset="dbbook2014", root=tmp_path, protocol="valid")
    assert not found and found.value is None
    assert found.missing == (
        f"MISSING: no finished valid-protocol run of dbbook2014 under {tmp_path}; "
        "make it with `cikgwb train --dataset dbbook2014 --protocol valid`"
    )
    assert capsys.readouterr().out.strip() == found.missing  # printed: `cikgwb notebooks` reports it as missing
    _copy_run("dbbook2014-ease-valid-s0", tmp_path)
    found = views.require("runs", dataset="dbbook2014", root=tmp_path, protocol="valid")
    assert found and list(found.value["run"]) == ["dbbook2014-ease-valid-s0"] and not found.made
    assert not views.require("runs", dataset="dbbook2014", root=tmp_path, protocol="users")
    # make=True trains quick LightGCN and CIKGRec runs where none is found
    calls = []
    monkeypatch.setattr("cikgwb.runs.train_runs", lambda ds, labels, seeds, root, **kw: calls.append(labels) or "new")
    monkeypatch.setattr("cikgwb.data.load_dataset", lambda name: name)
    made = views.require("runs", dataset="synthetic", root=tmp_path, make=True)
    assert made and made.made and made.value == "new" and calls == [["lightgcn", "cikgrec"]]


def test_require_artefact_finds_the_run_with_one_or_names_the_command(tmp_path):
    run = _copy_run("book-crossing-cikgrec-valid-s1", tmp_path)
    found = views.require("artefact", dataset="book-crossing", root=tmp_path)
    assert found and found.value == run
    bare = _copy_run("dbbook2014-cikgrec-valid-s0", tmp_path)  # no explorer.npz, no checkpoint here
    missing = views.require("artefact", dataset="dbbook2014", root=tmp_path, run=bare)
    assert not missing and missing.missing.endswith(f"make it with `cikgwb artefact {bare}` where its checkpoint is")
    none = views.require("artefact", dataset="dbbook2014", root=tmp_path)
    assert "no CIKGRec run (valid protocol) of dbbook2014 with an explorer artefact" in none.missing


def test_require_sweep_loads_it_or_names_the_command_that_makes_it(tmp_path):
    spec = SweepSpec(name="s", grid={"mask_alpha": [0.1, 0.2]}, dataset="synthetic", base={"max_epochs": 3})
    found = views.require("sweep", dataset="synthetic", sweep=tmp_path / "s", spec=spec)
    assert found.missing == (
        f"MISSING: {tmp_path / 's'} holds no sweep results; make it with "
        "`cikgwb sweep --dataset synthetic --grid mask_alpha=0.1,0.2 --set max_epochs=3 --name s`"
    )
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "sweep.json").write_text(json.dumps({"dataset": "synthetic"}))
    pd.DataFrame({"run": ["a", "b"], "status": ["missing", "missing"]}).to_csv(tmp_path / "s" / "results.csv")
    assert "no run of" in views.require("sweep", dataset="synthetic", sweep=tmp_path / "s").missing
    pd.DataFrame({"run": ["a", "b"], "status": ["failed", "missing"]}).to_csv(tmp_path / "s" / "results.csv")
    with pytest.raises(RuntimeError, match="every run of the sweep s failed"):
        views.require("sweep", dataset="synthetic", sweep=tmp_path / "s")
    pd.DataFrame({"run": ["a", "b"], "status": ["ok", "missing"]}).to_csv(tmp_path / "s" / "results.csv")
    results, info = views.require("sweep", dataset="synthetic", sweep=tmp_path / "s").value
    assert list(results["status"]) == ["ok", "missing"] and info == {"dataset": "synthetic"}
    with pytest.raises(ValueError, match="kind 'model' is not one of runs, artefact, sweep"):
        views.require("model", dataset="synthetic")


def test_require_answers_reads_makes_kg_summary_or_names_the_command(tmp_path, monkeypatch, synthetic_dir):
    monkeypatch.setenv("CIKGWB_REPORTS_DIR", str(tmp_path))
    monkeypatch.setenv("CIKGWB_DATA_DIR", str(synthetic_dir))
    table, path = views.require("answers", dataset="synthetic", run="planted").value
    assert path is None and len(table) and {"user", "phrases"} <= set(table.columns)
    chat = views.require("answers", dataset="synthetic", run="chat", make=True)  # an LLM is never called here
    assert chat.missing == (
        f"MISSING: no answers for synthetic at {tmp_path}/interests/synthetic/chat/answers.jsonl; "
        "make it with `cikgwb interests infer --dataset synthetic --backend chat`"
    )
    assert not views.require("answers", dataset="synthetic", make=False)  # kg-summary: not made unless asked
    made = views.require("answers", dataset="synthetic", make=True)
    assert made.made and made.value[1] == tmp_path / "interests" / "synthetic" / "kg-summary" / "answers.jsonl"
    again = views.require("answers", dataset="synthetic", run=str(made.value[1]))
    assert not again.made and len(again.value[0]) == len(made.value[0])


def logic_lines(path: Path) -> int:
    """Lines of code in a notebook's code cells (jupytext percent source) other than the parameters
    cell, imports, blank lines and comments."""
    cells = path.read_text().split("\n# %%")
    n = 0
    for cell in cells[1:]:
        head, _, body = cell.partition("\n")
        if "[markdown]" in head or "parameters" in head:
            continue
        imports = {
            ln
            for node in ast.walk(ast.parse(body))
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for ln in range(node.lineno, node.end_lineno + 1)
        }
        n += sum(
            1
            for i, ln in enumerate(body.splitlines(), 1)
            if ln.strip() and not ln.strip().startswith("#") and i not in imports
        )
    return n


#: notebooks not yet reduced to the library's view functions (issue 35 move 4, open)
NOT_YET = {"01_data", "02_prompting", "04_cikg", "05_training"}


@pytest.mark.parametrize(
    "name", ["03_interest_clustering", "06_results", "07_sparsity", "08_case_study", "09_sensitivity"]
)
def test_notebook_holds_at_most_25_lines_of_logic(name):
    assert logic_lines(REPO / "notebooks" / f"{name}.py") <= 25


def test_the_list_of_longer_notebooks_is_current():
    from cikgwb.notebooks import NOTEBOOKS

    over = {n for n in NOTEBOOKS if logic_lines(REPO / "notebooks" / f"{n}.py") > 25}
    assert over == NOT_YET, f"over 25 lines of logic: {sorted(over)}"
