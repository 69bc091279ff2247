"""The leak diagnostic (cikgwb.knowledge.leak, `cikgwb graph leak|screen`, the check of `cikgwb train`).

A leak is planted in the synthetic data: one interest node per item, whose members are the users
holding the item in all of train.txt (train + the validation carve-out), the way a graph built from
train.txt groups users. The same construction from the train window only is the clean control.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cikgwb.cli import main
from cikgwb.knowledge.interest_graph import apply_interest_graph
from cikgwb.knowledge.leak import LEAK_LIFT, leak_diagnostic
from cikgwb.run_spec import PROTOCOLS


def item_nodes(ds, split: str) -> np.ndarray:
    """(user, interest) rows: interest i = the users holding item i in ``split`` (items held by 2+)."""
    pairs = np.unique(getattr(ds, split), axis=0)
    held = np.bincount(pairs[:, 1], minlength=ds.n_items)
    return pairs[held[pairs[:, 1]] >= 2]


def diagnose(ds, edges, protocol="valid"):
    s = PROTOCOLS[protocol]
    g = apply_interest_graph(ds, edges, source=f"test graph ({protocol})")
    return leak_diagnostic(g, protocol=protocol, train=s.train, selection=s.select, reference=s.test)


@pytest.fixture(scope="module")
def graphs(synthetic_ds):
    return {"leaky": item_nodes(synthetic_ds, "train_full"), "clean": item_nodes(synthetic_ds, "train")}


def test_planted_leak_is_caught_and_clean_graphs_pass(synthetic_ds, graphs, one_thread):
    leaky = diagnose(synthetic_ds, graphs["leaky"])
    clean = diagnose(synthetic_ds, graphs["clean"])
    oracle = diagnose(synthetic_ds, synthetic_ds.user_interest)  # planted topics: never saw a split
    assert leaky.verdict == "leak" and leaky.lift > LEAK_LIFT + 0.3, leaky.line("leaky")
    assert clean.verdict == "clean", clean.line("clean")
    assert oracle.verdict == "clean", oracle.line("oracle")
    # the same controls for every graph of one protocol
    assert leaky.control_ratio == clean.control_ratio == oracle.control_ratio and leaky.pop_ratio == clean.pop_ratio
    assert leaky.selection == "valid" and leaky.reference == "test" and leaky.users_sel > 100


def test_under_users_graphs_built_from_train_txt_pass(synthetic_ds, graphs, one_thread):
    """Under `users` nothing a graph built from train.txt saw is held out: the leaky graph of the
    valid carve-out passes, as does the clean one; both halves are the test users' items."""
    leaky = diagnose(synthetic_ds, graphs["leaky"], "users")
    clean = diagnose(synthetic_ds, graphs["clean"], "users")
    assert (leaky.selection, leaky.reference, leaky.train) == ("sel_half", "report_half", "train_full")
    assert leaky.verdict == "clean" and clean.verdict == "clean", (leaky.line("leaky"), clean.line("clean"))
    assert abs(leaky.lift - 1) < 0.1 and leaky.users_sel + leaky.users_ref <= synthetic_ds.n_users


def test_neighbour_ranking_counts_shared_interests_not_the_user(synthetic_ds):
    """Users sharing a node score each other's training items, by one over the node's size; a
    user's own items count nothing."""
    import scipy.sparse as sp
    import torch

    from cikgwb.knowledge.leak import interest_matrix, neighbour_scores

    R = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1]], dtype=np.float32))
    U = interest_matrix(np.array([[0, 0], [1, 0], [1, 1], [2, 1], [1, 1]]), 3, 2)
    s = neighbour_scores(U, R)(torch.tensor([0, 1, 2])).numpy()
    np.testing.assert_allclose(s, [[0, 0.5, 0, 0], [0.5, 0, 0.5, 0.5], [0, 0.5, 0, 0]])


def test_no_graph_and_authors_protocol_are_refused_or_marked(synthetic_ds):
    none = diagnose(synthetic_ds, np.zeros((0, 2), np.int64))
    assert none.verdict == "no graph"
    with pytest.raises(ValueError, match="selection and reference are both 'test'"):
        diagnose(synthetic_ds, synthetic_ds.user_interest, protocol="authors")


def test_cli_prints_one_line_and_records_provenance(synthetic_dir, graphs, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CIKGWB_DATA_DIR", str(synthetic_dir))
    monkeypatch.setenv("CIKGWB_REPORTS_DIR", str(tmp_path))  # a run that was not refused lands here
    monkeypatch.setenv("CIKGWB_STRICT_DATA", "")  # `train --strict` sets it; restored after the test
    folder = tmp_path / "leaky"
    folder.mkdir()
    (folder / "user_interest_clustered.txt").write_text("".join(f"{u} {j}\n" for u, j in graphs["leaky"]))
    (folder / "provenance.json").write_text(json.dumps({"interests_source": "planted leak"}))
    rc = main(["graph", "leak", str(folder), "--dataset", "synthetic", "--data-dir", str(synthetic_dir), "--record"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    line = [ln for ln in out if "leak ratio" in ln]
    assert len(line) == 1 and "-> LEAK" in line[0] and "popularity" in line[0], out
    prov = json.loads((folder / "provenance.json").read_text())
    rec = prov["leak"]["valid"]
    assert prov["interests_source"] == "planted leak" and rec["verdict"] == "leak" and rec["ratio"] > 1
    assert len(rec["graph_sha256"]) == 64 and rec["selection"] == "valid"

    # cikgwb train --strict refuses a run on it before any training; the message names the verdict
    rc = main(
        ["train", "--dataset", "synthetic", "--interests", str(folder), "--strict", "--name", "t-leak"]
        + ["--set", "max_epochs=1"]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "LEAK" in err and "refused (--strict)" in err, err
    assert not (tmp_path / "runs" / "t-leak-s0").exists()


def test_cli_refuses_authors_protocol_in_one_line(synthetic_dir, capsys):
    rc = main(
        ["graph", "leak", "paper", "--dataset", "synthetic", "--data-dir", str(synthetic_dir)]
        + ["--protocol", "authors"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "needs valid or users" in err[0]


def test_screen_joins_trained_gains_and_says_what_is_not_trained(synthetic_dir, tmp_path, capsys):
    import pandas as pd

    from cikgwb.cli.graph import graph_key, run_gains
    from cikgwb.knowledge.leak import screen_table

    g = tmp_path / "g"
    g.mkdir()
    (g / "user_interest_clustered.txt").write_text("0 0\n1 0\n")
    rows = []
    for name, variant, r50, interests in (
        ("a-wo-uik-s0", "w/o UIK", 0.10, "none"),
        ("a-wo-uik-s1", "w/o UIK", 0.12, "none"),
        ("a-s0", "full", 0.13, "paper"),
        ("a-g-s0", "interests g", 0.15, str(g)),
        ("quick-a-g-s0", "interests g", 0.90, str(g)),  # quick runs never count
        ("a-wo-cl-s0", "w/o CL", 0.50, "paper"),  # nor ablations of other modules
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.yaml").write_text(f"interests: {interests}\n")
        rows.append(
            dict(dataset="synthetic", model="cikgrec", protocol="valid", views="paper", name=name, variant=variant)
            | {"path": str(tmp_path / name), "test recall@50": r50}
        )
    gains = run_gains(pd.DataFrame(rows), "synthetic", "valid")
    assert gains["none"]["seeds"] == 2 and gains["none"]["gain"] == pytest.approx(0)
    assert gains["paper"]["gain"] == pytest.approx(0.02) and gains[graph_key(str(g))]["gain"] == pytest.approx(0.04)
    screen_rows = [
        {"graph": "paper", "key": "paper", "x": 2.0},
        {"graph": "g", "key": graph_key(str(g)), "x": 3.0},
        {"graph": "none", "key": "none", "x": 1.0},
        {"graph": "h", "key": "/nowhere/h", "x": 9.0},
    ]
    df, rho = screen_table(screen_rows, gains)
    assert np.isnan(df.loc[3, "gain"]) and rho["x"] == pytest.approx(1.0)

    rc = main(
        ["graph", "screen", str(g), "none", "--dataset", "synthetic", "--data-dir", str(synthetic_dir)]
        + ["--runs", str(tmp_path / "empty")]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "gain not trained yet: " in out and "leak_ratio" in out


def test_interests_name_keeps_the_leak_figures_of_the_same_file(synthetic_dir, tmp_path):
    out = tmp_path / "names"
    args = ["interests", "name", "--dataset", "synthetic", "--data-dir", str(synthetic_dir), "--out", str(out)]
    assert main(args) == 0
    prov = json.loads((out / "provenance.json").read_text())
    prov["leak"] = {"valid": {"graph_sha256": prov["graph"]["sha256"]}, "users": {"graph_sha256": "another file"}}
    (out / "provenance.json").write_text(json.dumps(prov))
    assert main(args) == 0
    assert set(json.loads((out / "provenance.json").read_text())["leak"]) == {"valid"}
