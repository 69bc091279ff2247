"""The graph screen (issue 33): its figures on planted cases, its report's pieces, and the committed
users-protocol screen reports (reports/interests/<dataset>/screen-users.{md,json}) against their
inputs: the graphs' edge files they were measured on, and the committed runs.

Planted case: on the synthetic data, a graph whose interests are clusters of items by co-occurrence
in all of train.txt groups users who read alike, so the interest-neighbour ranking recommends their
items; a degree-preserving rewiring of the same graph keeps every figure of specificity exactly
(each user's and each interest's degree) and loses that meaning, so its neighbour recall falls.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from cikgwb.knowledge.controls import cooccurrence_interests, rewire
from cikgwb.knowledge.interest_graph import apply_interest_graph
from cikgwb.knowledge.leak import leak_diagnostic, screen, specificity
from cikgwb.knowledge.screen import correlations, paired_gains, stale_graphs
from cikgwb.run_spec import PROTOCOLS

REPO = Path(__file__).resolve().parents[1]


def _screen(ds, edges, name):
    s = PROTOCOLS["users"]
    g = apply_interest_graph(ds, edges, source=f"test graph {name}")
    leak = leak_diagnostic(g, protocol="users", train=s.train, selection=s.select, reference=s.test)
    return screen(g, leak)


def test_cooccurrence_clusters_beat_their_rewiring_with_the_same_specificity(synthetic_ds, one_thread):
    ds = synthetic_ds
    edges, _, _ = cooccurrence_interests(ds.matrix("train_full"), ds.n_interests, len(ds.user_interest), seed=0)
    rewired, info = rewire(edges, seed=0)
    assert info["changed_fraction"] > 0.5
    cooc, rand = _screen(ds, edges, "cooc"), _screen(ds, rewired, "rewired")
    nb = "neighbour_R@50_sel_half"
    assert cooc[nb] > 1.25 * rand[nb], (cooc[nb], rand[nb])  # 0.70 against 0.49
    for k in ("interests", "edges", "users_per_interest", "top10_share", "interest_entropy", "users_covered"):
        assert cooc[k] == pytest.approx(rand[k]), k
    # both built from train.txt only: neither favours the selection half of the test users
    assert cooc["verdict"] == rand["verdict"] == "clean" and math.isnan(cooc["phrase_entropy"])


def test_specificity_by_hand():
    # interest 0 held by users 0, 1, 2; interest 1 by user 3; user 4 has none
    s = specificity(np.array([[0, 0], [1, 0], [2, 0], [3, 1]]), n_users=5, n_interests=2)
    h = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    assert s["interests"] == 2 and s["edges"] == 4 and s["users_covered"] == pytest.approx(0.8)
    assert s["users_per_interest"] == 2 and s["top10_share"] == 1.0
    assert s["interest_entropy"] == pytest.approx(h) and s["interest_entropy_norm"] == pytest.approx(h)


def _side(label, seeds, values):
    return {"label": label, "seeds": seeds, "recall@50": {"values": values}}


def test_gains_are_paired_by_seed_and_correlations_need_three_graphs():
    sides = [
        _side("(d) none", [1, 2, 3], [0.10, 0.20, 0.30]),
        _side("x", [0, 1, 2], [0.90, 0.15, 0.20]),  # seed 0 has no partner: left out
        _side("y", [3], [0.50]),
        _side("z", [0], [0.40]),  # no seed in common with (d): no gain
    ]
    g = paired_gains(sides, "(d) none", "recall@50")
    assert set(g) == {"(d) none", "x", "y"} and g["(d) none"]["gain"] == 0
    assert g["x"]["seeds"] == [1, 2] and g["x"]["gain"] == pytest.approx(0.025)
    assert g["x"]["trained"] == pytest.approx(0.175) and g["y"]["gain"] == pytest.approx(0.2)
    rows = [{"label": "(d) none", "f": 0.0}, {"label": "x", "f": 1.0}, {"label": "y", "f": 2.0}]
    rho = correlations(rows, g, ["f"])
    assert rho["f"] == {"rho": 1.0, "graphs": 3}
    assert correlations(rows[:2], g, ["f"])["f"] == {"rho": None, "graphs": 2}
    rows[2]["f"] = None  # a figure a graph does not have (phrase entropy of the released graph)
    assert correlations(rows, g, ["f"])["f"]["graphs"] == 2


def test_stale_graphs():
    measured = {"graphs": [{"spec": "paper", "sha256": "aa"}, {"spec": "none", "sha256": None}]}
    assert stale_graphs(measured, {"paper": "aa", "none": None}) == []
    assert stale_graphs(measured, {"paper": "bb", "none": None, "g": "cc"}) == ["paper", "g"]
    assert stale_graphs(None, {"none": None}) == ["none"]


def _script():
    spec = importlib.util.spec_from_file_location("interest_comparison", REPO / "scripts" / "interest_comparison.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_screen_reports_match_their_graphs_and_runs():
    mod = _script()
    for ds in mod.SIDES_USERS:
        folder = REPO / "reports" / "interests" / ds
        measured = json.loads((folder / mod.SCREEN_MEASURED).read_text())
        built = {s: h for _, s, h in mod.screen_graphs(ds) if h != "absent"}
        assert not stale_graphs(measured, built), (
            f"{ds}: the screen was measured on other graph files than the committed ones; run "
            f"`python scripts/interest_comparison.py --dataset {ds} --screen` and commit it"
        )
        md, js = mod.build_screen(ds, mod.result(ds, REPO / "reports" / "runs", "users"))
        fix = "stale: run `python scripts/interest_comparison.py --dataset all` (make reports) and commit it"
        assert (folder / f"{mod.SCREEN}.md").read_text() == md, f"{ds} {fix}"
        assert (folder / f"{mod.SCREEN}.json").read_text() == js, f"{ds} {fix}"
