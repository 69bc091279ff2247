"""The notebooks: stored as jupytext pairs without outputs, one papermill ``parameters`` cell
each defaulting to the synthetic dataset in quick mode, executed by ``pytest --nbval-lax``
(every cell must run; the notebooks assert their own invariants) and by the papermill runner.

Editing a notebook: change ``notebooks/NN_name.py`` (or the .ipynb in JupyterLab, whose jupytext
extension saves both), then ``jupytext --sync notebooks/*.py``; never commit outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NB_DIR = REPO / "notebooks"
IPYNBS = sorted(NB_DIR.glob("*.ipynb"))

# figures each notebook must leave under reports/figures/synthetic/ in quick mode
EXPECTED_FIGURES = [
    "01_data_sparsity_groups",
    "01_data_degrees",
    "02_prompting_top_phrases",
    "03_interest_clustering_interest_sizes_tfidf_kmeans",
    "03_interest_clustering_phrase_map_tfidf_kmeans",
    "04_cikg_user_neighbourhood",
    "04_cikg_interest_neighbourhood",
    "05_training_training_curves",
    "05_training_mask_rate",
    "06_results_table1_recall50_valid",
    "07_sparsity_figure3_ndcg50",
    "08_case_study_figure4",
    "09_sensitivity_figure5_valid",
    "09_sensitivity_figure5",
]


def test_every_numbered_notebook_exists():
    from cikgwb.notebooks import EXPLORER, NOTEBOOKS

    names = {p.stem for p in IPYNBS}
    assert set(NOTEBOOKS) | {EXPLORER} == names, f"notebooks/ holds {sorted(names)}"


@pytest.mark.parametrize("path", IPYNBS, ids=[p.stem for p in IPYNBS])
def test_notebook_is_stripped_and_paired(path):
    import jupytext

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for n, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {n}: outputs are committed (strip them)"
            assert cell.execution_count is None, f"{path.name} cell {n}: execution count is committed"
        run_state = set(cell.metadata) & {"execution", "ExecuteTime", "papermill", "collapsed", "scrolled"}
        assert not run_state, f"{path.name} cell {n}: execution metadata {sorted(run_state)} is committed"
    assert nb.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent", f"{path.name}: not a jupytext pair"
    assert "papermill" not in nb.metadata and "widgets" not in nb.metadata, f"{path.name}: run metadata committed"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    py = path.with_suffix(".py")
    assert py.exists(), f"{py.name} missing: run `jupytext --sync {path}`"
    text = jupytext.read(py)
    a = [(c.cell_type, c.source.strip()) for c in nb.cells]
    b = [(c.cell_type, c.source.strip()) for c in text.cells]
    assert a == b, f"{path.name} and {py.name} differ: run `jupytext --sync notebooks/*.py`"


@pytest.mark.parametrize("path", IPYNBS, ids=[p.stem for p in IPYNBS])
def test_one_parameters_cell_with_quick_synthetic_defaults(path):
    import papermill as pm

    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters', expected 1"
    params = pm.inspect_notebook(str(path))
    # the explorer reads committed runs, never trains: without a dataset it opens the best real run (issue 36)
    assert params["dataset"]["default"] == ("None" if path.stem == "explorer" else '"synthetic"')
    assert params["quick"]["default"] == "True"
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code is tagged[0], f"{path.name}: the parameters cell must be the first code cell"


def _tiny_notebook(path: Path, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell('dataset = "synthetic"\nquick = True\nextra = 1')
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_run_all_does_not_call_a_notebook_that_draws_nothing_ok(tmp_path, monkeypatch):
    """A notebook that prints a MISSING line (e.g. 08 without a run artefact) is reported as
    'missing' with that line, not '[ok]'; the summary lists it."""
    from cikgwb import notebooks as nbmod

    (tmp_path / "notebooks").mkdir()
    _tiny_notebook(
        tmp_path / "notebooks" / "08_case_study.ipynb",
        "print('MISSING: Figure 4 is not drawn: no run (cikgwb artefact RUN makes one)')",
    )
    figs = tmp_path / "reports" / "figures" / "mini"
    _tiny_notebook(
        tmp_path / "notebooks" / "09_sensitivity.ipynb",
        f"import pathlib; p = pathlib.Path({str(figs)!r}); p.mkdir(parents=True, exist_ok=True)\n"
        "(p / '09_sensitivity_figure5.html').write_text('x'); print('Figure 5 drawn')",
    )
    (figs).mkdir(parents=True)
    (figs / "09_sensitivity_old.html").write_text("made before this run")
    import os

    os.utime(figs / "09_sensitivity_old.html", (1, 1))
    monkeypatch.setenv("CIKGWB_ROOT", str(tmp_path))
    monkeypatch.delenv("CIKGWB_REPORTS_DIR", raising=False)
    lines: list[str] = []
    res = nbmod.run_all(quick=False, dataset="mini", only="08,09", html=False, log=lines.append)
    assert [r["status"] for r in res] == ["missing", "ok"]
    # what made each figure: the command that remakes it, and only the files this run wrote
    made = json.loads((figs / "MADE_BY.json").read_text())
    assert made["09_sensitivity"]["command"] == "cikgwb notebooks --dataset mini --only 09 --full"
    assert made["09_sensitivity"]["files"] == ["figures/mini/09_sensitivity_figure5.html"]
    assert made["08_case_study"]["status"] == "missing" and made["08_case_study"]["files"] == []
    assert "cikgwb notebooks --dataset mini --only 09 --full" in (figs / "MADE_BY.md").read_text()
    assert res[0]["missing"] == ["MISSING: Figure 4 is not drawn: no run (cikgwb artefact RUN makes one)"]
    assert lines[0].startswith("[missing] 08_case_study") and "Figure 4 is not drawn" in lines[0]
    assert any("drawn incompletely" in ln and "08_case_study" in ln for ln in lines)


def test_run_all_executes_in_order_passes_parameters_and_reports_failures(tmp_path, monkeypatch):
    from cikgwb import notebooks as nbmod

    (tmp_path / "notebooks").mkdir()
    log = tmp_path / "order.txt"
    _tiny_notebook(
        tmp_path / "notebooks" / "01_data.ipynb",
        f"open({str(log)!r}, 'a').write(f'01 {{dataset}} {{quick}} {{extra}}\\n')",
    )
    _tiny_notebook(
        tmp_path / "notebooks" / "02_prompting.ipynb",
        f"open({str(log)!r}, 'a').write('02\\n')\nraise ValueError('planted failure')",
    )
    monkeypatch.setenv("CIKGWB_ROOT", str(tmp_path))
    monkeypatch.delenv("CIKGWB_REPORTS_DIR", raising=False)
    with pytest.raises(RuntimeError, match="02_prompting"):
        nbmod.run_all(
            quick=False, dataset="mini", only="01,02", parameters={"extra": 7, "unknown": 3}, log=lambda *_: None
        )
    assert log.read_text().splitlines() == ["01 mini False 7", "02"]
    out = tmp_path / "reports" / "notebooks" / "mini"  # full mode is the usual one off synthetic
    summary = json.loads((out / "run_all.json").read_text())
    assert [r["status"] for r in summary["notebooks"]] == ["ok", "failed"]
    assert "planted failure" in summary["notebooks"][1]["error"]
    assert summary["notebooks"][0]["parameters"] == {"dataset": "mini", "quick": False, "extra": 7}
    assert "<title>01_data</title>" in (out / "01_data.html").read_text()
    injected = [
        c
        for c in nbformat.read(out / "01_data.ipynb", as_version=4).cells
        if "injected-parameters" in c.metadata.get("tags", [])
    ]
    assert len(injected) == 1 and "extra = 7" in injected[0].source and "unknown" not in injected[0].source
    assert (out / "02_prompting.ipynb").exists()  # the failing copy is kept for reading


def test_figures_tag_and_selection():
    from cikgwb.notebooks import _select, figures_tag

    assert figures_tag("synthetic", True) == "synthetic"
    assert figures_tag("synthetic", False) == "synthetic-full"
    assert figures_tag("book-crossing", False) == "book-crossing"
    assert figures_tag("book-crossing", True) == "book-crossing-quick"
    assert _select("01,5") == ["01_data", "05_training"]
    with pytest.raises(ValueError, match="notebook '42'"):
        _select("42")


def test_nbval_lax_runs_every_notebook_in_quick_mode(tmp_path):
    """``pytest --nbval-lax notebooks/`` in a child pytest, reports and data in a temporary folder;
    then the figures every notebook promises must be there (HTML, and PNG where Chromium is)."""
    from cikgwb.plots import png_available

    env = {
        **os.environ,
        "CIKGWB_REPORTS_DIR": str(tmp_path / "reports"),
        "CIKGWB_DATA_DIR": str(tmp_path / "data"),
        "CIKGWB_ROOT": str(REPO),
        "OMP_NUM_THREADS": "1",
        "PYTHONWARNINGS": "ignore",
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-p",
            "no:cacheprovider",
            "-q",
            "--nbval-cell-timeout=600",
            str(NB_DIR),
        ],
        cwd=str(REPO),
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    figs = tmp_path / "reports" / "figures" / "synthetic"
    for stem in EXPECTED_FIGURES:
        assert (figs / f"{stem}.html").exists(), f"{stem}.html missing in {sorted(p.name for p in figs.iterdir())}"
        if png_available():
            png = figs / f"{stem}.png"
            assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{stem}.png missing or not a PNG"
    assert (tmp_path / "reports" / "sweeps" / "synthetic-sensitivity-quick" / "results.csv").exists()
    assert (tmp_path / "reports" / "tables" / "synthetic" / "06_results_table1.csv").exists()
