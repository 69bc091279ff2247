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


def test_every_notebook_holds_at_most_25_lines_of_logic():
    from cikgwb.notebooks import NOTEBOOKS

    over = {n: logic_lines(REPO / "notebooks" / f"{n}.py") for n in NOTEBOOKS}
    assert all(n <= 25 for n in over.values()), f"over 25 lines of logic: {over}"


def test_logic_lines_count_code_only(tmp_path):
    nb = (
        '# %% [markdown]\n# # T\n\n# %% tags=["parameters"]\nx = 1\n\n# %%\nimport os\n\n# a comment\ny = 2\nprint(y)\n'
    )
    (tmp_path / "nb.py").write_text(nb)
    assert logic_lines(tmp_path / "nb.py") == 2


def test_data_views_table2_split_and_groups_agree_with_the_dataset(synthetic_ds):
    ds = synthetic_ds
    t2, lines = views.data_table2(ds)
    assert t2.index.name == "synthetic" and t2.loc["users", "value"] == ds.n_users
    assert t2.loc["interactions", "value"] == len(ds.train) + len(ds.valid) + len(ds.test)
    assert lines[0].startswith("interest graph: synthetic oracle") and lines[1].startswith("KG: ")
    split, lines = views.split_table(ds)
    assert list(split.index) == ["train", "valid", "test"] and split.loc["valid", "pairs"] == len(ds.valid)
    assert lines[1] == f"valid share of train.txt: {len(ds.valid) / (len(ds.train) + len(ds.valid)):.3f} (1/8 = 0.125)"
    groups, fig = views.sparsity_groups_view(ds, 4)
    assert len(groups) == 4 and groups.index.name == "group" and fig.data
    assert len(views.degrees_figure(ds).data) >= 5


def test_cikg_views_edge_sets_and_neighbourhoods(synthetic_ds):
    from cikgwb.run_spec import dataset_with_interests

    ds = synthetic_ds
    sizes = views.edge_sets(ds)["undirected edges"]
    assert sizes["interactions (G_R)"] == len(ds.train) and sizes["user-interest (G_J)"] == len(ds.user_interest)
    u = views.user_neighbourhood(ds, None, max_users=3, max_items=3)
    n_int = pd.Series(ds.user_interest[:, 0]).value_counts()
    assert u["user"] == n_int[n_int == n_int.max()].index.min()  # the first with most interests
    assert set(u["interests"]["interest"]) == set(ds.user_interest[ds.user_interest[:, 0] == u["user"], 1])
    assert len(u["nodes"]) and len(u["edges"]) and u["fig"].data
    assert views.interest_neighbourhood(ds, None, max_users=3).data
    assert views.interest_neighbourhood(dataset_with_interests(ds, "none")) is None


def test_prompting_views_on_the_offline_backend(synthetic_ds, tmp_path):
    from cikgwb.knowledge import infer_interests, load_template

    ds = synthetic_ds
    hists, lines = views.histories(ds, n_show=2)
    assert len(lines) == 3 and all(h.titles for h in hists)
    tpl = load_template(None)
    text = views.prompt_text(ds, tpl, hists)
    assert text.startswith(f"template {tpl.id}: ") and hists[0].titles[-1] in text
    assert len(views.cost_table(ds, tpl, hists, 1000))
    answers = infer_interests(ds, backend="kg-summary", limit=40, run_dir=tmp_path, progress=False)
    lines = views.answers_report(answers, tmp_path / "answers.jsonl")
    assert "'backend': 'kg-summary'" in lines[0] and lines[2] == f"answers written to {tmp_path / 'answers.jsonl'}"
    assert views.phrases_per_user(answers)["phrases per user"].sum() == len(answers)
    assert views.top_phrases_figure(answers, "synthetic").data
    assert views.planted_recall(ds, answers).startswith("planted topics named in the answers: {")


def _fake_run(root: Path, name: str, model: str, variant: str, seed: int, recall: float) -> dict:
    d = root / name
    d.mkdir(parents=True)
    rows = [
        {"epoch": e, "loss": 1 / (e + 1), "valid_recall@50": recall * e / 3, "mask_rate": 0.1 * e} for e in range(4)
    ]
    (d / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {
        "run": name,
        "path": str(d),
        "model": model,
        "variant": variant,
        "seed": seed,
        "device": "cpu",
        "test recall@50": recall,
        "test ndcg@50": recall / 2,
    }


def test_training_views_draw_every_run_and_record_the_full_model(tmp_path):
    runs = pd.DataFrame(
        [
            _fake_run(tmp_path, "l0", "lightgcn", "-", 0, 0.1),
            _fake_run(tmp_path, "c0", "cikgrec", "full", 0, 0.2),
            _fake_run(tmp_path, "c1", "cikgrec", "full", 1, 0.3),
            _fake_run(tmp_path, "d0", "cikgrec", "w/o DMR", 0, 0.15),
        ]
    )
    note = views.runs_note(runs, quick=True, quick_epochs=3)
    assert note == "device: cpu; quick: at most 3 epochs"
    fig = views.training_curves_figure(runs, "synthetic", "valid", [0, 1], note)
    assert {t.name.split(":")[0] for t in fig.data} == {"lightgcn s0", "cikgrec s0", "cikgrec s1"}  # main models only
    assert views.mask_rate_figure(runs, "synthetic").data
    bars = views.recall_bars(runs, "synthetic", "valid", [0, 1], note)
    assert list(bars.data[0].x) == ["lightgcn", "cikgrec", "cikgrec w/o DMR"]
    assert list(bars.data[0].y) == pytest.approx([0.1, 0.25, 0.15])
    assert views.full_model_record(runs) == {"test": {"recall@50": 0.25, "ndcg@50": 0.125}, "runs": ["c0", "c1"]}
    assert views.full_model_record(runs[runs["variant"] != "full"]) is None
