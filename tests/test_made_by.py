"""Figures that never go stale (issue 36 item 8): each paper notebook records in MADE_BY.json a
fingerprint of every run or sweep it reads; a committed figure older than a committed run it reads
fails here, with the command that redraws it (``make reports``). Notebooks on real data leave the
checkout clean (item 7): what is not a committed product is ignored by git."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cikgwb import made_by

REPO = Path(__file__).resolve().parents[1]


def _run(root: Path, name: str, value: float) -> None:
    d = root / "runs" / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "metrics.json").write_text(json.dumps({"name": name, "test": {"recall@50": value}}))


def _record(reports: Path, name: str = "06_results") -> None:
    rec = {"notebook": name, "parameters": {"dataset": "mini", "quick": False}, "status": "ok", "seconds": 1.0}
    made_by.record(reports, "mini", rec, 0.0, quick=False, dataset="mini")


def test_a_changed_new_or_uncommitted_run_makes_a_figure_stale(tmp_path):
    _run(tmp_path, "a", 0.1)
    _run(tmp_path, "b", 0.2)
    _record(tmp_path)
    entry = json.loads((tmp_path / "figures" / "mini" / "MADE_BY.json").read_text())["06_results"]
    assert sorted(entry["inputs"]) == ["runs/a", "runs/b"] and entry["parameters"]["dataset"] == "mini"
    assert "- reads: 2 folders" in (tmp_path / "figures" / "mini" / "MADE_BY.md").read_text()
    assert made_by.stale(tmp_path, "mini") == []
    _run(tmp_path, "a", 0.3)  # a run re-made after the figure
    _run(tmp_path, "c", 0.4)  # a run landed after the figure
    (line,) = made_by.stale(tmp_path, "mini")
    assert "06_results is older than what it reads (changed: runs/a; new: runs/c)" in line and "make reports" in line
    # only committed files count: a figure drawn before c and a landed (uncommitted) is not stale
    _record(tmp_path)
    committed = {"runs/a/metrics.json", "runs/b/metrics.json"}
    assert made_by.stale(tmp_path, "mini", committed) == [
        "mini/06_results is older than what it reads (gone: runs/c); run `make reports` and commit it"
    ]


def test_a_sweep_figure_reads_its_results_and_old_records_are_stale(tmp_path):
    sweep = tmp_path / "sweeps" / "mini-figure5"
    sweep.mkdir(parents=True)
    (sweep / "results.csv").write_text("run,status\nx,ok\n")
    _record(tmp_path, "09_sensitivity")
    assert made_by.stale(tmp_path, "mini") == []
    (sweep / "results.csv").write_text("run,status\nx,ok\ny,ok\n")
    assert "changed: sweeps/mini-figure5" in made_by.stale(tmp_path, "mini")[0]
    path = tmp_path / "figures" / "mini" / "MADE_BY.json"
    made = json.loads(path.read_text())
    del made["09_sensitivity"]["inputs"]
    path.write_text(json.dumps(made))
    assert "records no inputs" in made_by.stale(tmp_path, "mini")[0]


def test_committed_figures_are_not_older_than_the_committed_runs_they_read():
    """Deterministic on a clean clone: the recorded fingerprints against the committed files only."""
    reports = REPO / "reports"
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--", "."], cwd=reports, capture_output=True, text=True, check=True
        )
        committed = {p for p in out.stdout.split("\0") if p}
    except (OSError, subprocess.SubprocessError):
        committed = None
    if not committed:
        pytest.skip("no git here: the committed files cannot be listed")
    stale = [line for tag in ("book-crossing", "dbbook2014") for line in made_by.stale(reports, tag, committed)]
    assert stale == [], "\n".join(stale)


# ----------------------------------------------------------------------------- item 7: a clean checkout
def _ignored(paths: list[str]) -> set[str]:
    out = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=REPO,
        input="\n".join(paths),
        capture_output=True,
        text=True,
    )
    return set(out.stdout.split())


def test_what_git_ignores_is_what_is_not_a_committed_product():
    """reports/figures and reports/tables: the paper's notebooks (06-09) on a real dataset and every notebook on
    synthetic are committed products; the rest (01-05 on real data, a -quick look) is ignored by .gitignore."""
    from cikgwb.notebooks import NOTEBOOKS, committed_product

    if subprocess.run(["git", "rev-parse"], cwd=REPO, capture_output=True).returncode:
        pytest.skip("no git here")
    cases = {
        f"reports/{sub}/{tag}/{name}_x.{ext}": committed_product(name, tag)
        for sub, ext in (("figures", "html"), ("figures", "png"), ("tables", "csv"))
        for tag in ("synthetic", "book-crossing", "dbbook2014", "book-crossing-quick", "synthetic-full")
        for name in NOTEBOOKS
    }
    ignored = _ignored(list(cases))
    wrong = [p for p, product in cases.items() if (p in ignored) == product]
    assert wrong == [], f"ignored although committed, or the reverse: {wrong}"


def test_notebook_03_writes_its_graph_where_the_cli_does(tmp_path, monkeypatch):
    from cikgwb.paths import REPORTS_ENV, interest_graph_dir

    monkeypatch.setenv(REPORTS_ENV, str(tmp_path))
    answers = tmp_path / "interests" / "d" / "kg-summary" / "answers.jsonl"
    cli = interest_graph_dir("d", answers, "tfidf", "kmeans", 350, 0)  # what `interests cluster` writes to
    assert cli == tmp_path / "interests" / "d" / "graphs" / "kg-summary-tfidf-kmeans-k350-s0"
    assert interest_graph_dir("d", "planted", "tfidf", "kmeans", 40, 0).name == "planted-tfidf-kmeans-k40-s0"
    from cikgwb.views import save_interest_graph

    class Graph:  # records where it is saved
        def save(self, out):
            self.out = Path(out)
            self.out.mkdir(parents=True)

    g = Graph()
    assert "interest graph written to" in save_interest_graph(g, "d", answers, "tfidf", "kmeans", 350, 0)
    assert g.out == cli
    again = Graph()  # a graph already there (a committed one) is kept, not overwritten
    assert "exists: kept" in save_interest_graph(again, "d", answers, "tfidf", "kmeans", 350, 0)
    assert not hasattr(again, "out")
    source = (REPO / "notebooks" / "03_interest_clustering.py").read_text()
    assert "save_interest_graph(" in source and "graph-" not in source
