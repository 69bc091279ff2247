"""Control interest graphs (cikgwb.knowledge.controls, issue 33): the degree-preserving rewiring
(graph (e)) and the co-occurrence clusters of items (graph (f)), their files, and a CIKGRec run
on each through ``--interests PATH``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from cikgwb.knowledge.controls import ITEMS_FILE, changed_fraction, cooccurrence_interests, rewire
from cikgwb.knowledge.interest_graph import EDGES_FILE, LABELS_FILE, PROVENANCE_FILE, load_interest_graph


def skewed_graph(n_users: int = 300, n_interests: int = 40, seed: int = 0) -> np.ndarray:
    """A bipartite graph with skewed degrees on both sides, plus one duplicate row."""
    rng = np.random.default_rng(seed)
    pop = rng.pareto(1.2, n_interests) + 1
    rows = []
    for u in range(n_users):
        k = int(rng.integers(1, 8))
        rows += [(u, int(j)) for j in rng.choice(n_interests, size=k, replace=False, p=pop / pop.sum())]
    rows.append(rows[0])
    return np.asarray(rows, dtype=np.int64)


def degrees(e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.bincount(e[:, 0], minlength=1000), np.bincount(e[:, 1], minlength=1000)


# ------------------------------------------------------------------------------ (e) rewiring
def test_rewire_keeps_degrees_exactly_and_moves_most_edges():
    raw = skewed_graph()
    uniq = np.unique(raw, axis=0)
    out, rep = rewire(raw, seed=0)
    assert rep["duplicates_merged"] == 1 and rep["edges"] == len(uniq) == len(out)
    assert len(np.unique(out, axis=0)) == len(out)  # no duplicate edge
    for before, after in zip(degrees(uniq), degrees(out)):
        assert np.array_equal(before, after)  # every user and every interest keeps its degree
    assert rep["attempted"] == 10 * len(uniq) and 0 < rep["accepted"] <= rep["attempted"]
    assert rep["changed_fraction"] == pytest.approx(changed_fraction(uniq, out)) and rep["changed_fraction"] > 0.6


def test_rewire_is_seeded():
    raw = skewed_graph()
    a, _ = rewire(raw, seed=3)
    b, _ = rewire(raw, seed=3)
    c, _ = rewire(raw, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert changed_fraction(a, c) > 0.5


def test_rewire_cannot_swap_a_complete_graph_and_checks_input():
    full = np.array([(u, j) for u in range(4) for j in range(3)])
    out, rep = rewire(full, seed=0)  # every swap would duplicate an edge
    assert rep["accepted"] == 0 and rep["changed_fraction"] == 0.0
    assert np.array_equal(out, np.unique(full, axis=0))
    assert rewire(np.zeros((0, 2), np.int64), seed=0)[1]["edges"] == 0
    with pytest.raises(ValueError, match="user_interest: expected an integer array of shape"):
        rewire(np.ones((3, 3), np.int64), seed=0)
    with pytest.raises(ValueError, match="negative id -1"):
        rewire(np.array([[0, -1]]), seed=0)


# ------------------------------------------------------------------- (f) co-occurrence clusters
def blocks(n_users: int = 120, n_groups: int = 4, per_group: int = 15, seed: int = 0) -> sp.csr_matrix:
    """Users read 6 items of their group and one of another group; item ``g*per_group + k``
    belongs to group ``g``; the last item is read by nobody."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for u in range(n_users):
        g = u % n_groups
        for i in rng.choice(per_group, 6, replace=False):
            rows.append(u), cols.append(g * per_group + int(i))
        rows.append(u), cols.append(((g + 1) % n_groups) * per_group + int(rng.integers(per_group)))
    n_items = n_groups * per_group + 1
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_users, n_items))


def test_cooccurrence_recovers_item_groups_and_links_users_to_their_items():
    from sklearn.metrics import adjusted_rand_score

    m = blocks()
    edges, assign, info = cooccurrence_interests(m, 4, target_edges=150, seed=0)
    assert assign[-1] == -1 and info["items_without_training_user"] == 1
    assert adjusted_rand_score(np.arange(60) // 15, assign[:60]) == pytest.approx(1.0)
    assert len(edges) == 150 == info["edges"] and len(np.unique(edges, axis=0)) == 150
    assert set(edges[:, 1].tolist()) <= set(range(4))
    mc = m.tocsr()
    for u, c in edges.tolist():  # a user is linked only to clusters that hold one of its items
        assert c in set(assign[mc[u].indices].tolist())
    # rank by rank: every user first gets the cluster holding most of its items
    assert len(np.unique(edges[:, 0])) == 120
    first = {u: np.bincount(assign[mc[u].indices], minlength=4).argmax() for u in range(120)}
    assert all((u, first[u]) in set(map(tuple, edges.tolist())) for u in range(120))


def test_every_cluster_keeps_two_devoted_users():
    """Cluster 3 (item 30, read by users 0 and 3 beside 7 items of other clusters) is nobody's
    first cluster and holds a smaller share of its readers' items (1/8) than the second clusters
    of everyone else (1/7): rank by rank alone leaves it empty; its two devoted users keep it."""
    from cikgwb.knowledge.controls import cooccurrence_edges

    m = blocks(n_groups=3, per_group=10).tolil()
    m.resize(m.shape[0], 31)
    m[0, 30] = m[3, 30] = 1
    assign = np.repeat([0, 1, 2, 3], [10, 10, 10, 1])
    edges, info = cooccurrence_edges(m.tocsr(), assign, target_edges=122, seed=0)
    assert set(edges[edges[:, 1] == 3, 0].tolist()) == {0, 3} and info["first_rank_edges"] == 122
    assert len(edges) == 122 and len(np.unique(edges[:, 0])) == 120
    plain, _ = cooccurrence_edges(m.tocsr(), assign, target_edges=122, seed=0, min_users=0)
    assert not (plain[:, 1] == 3).any() and len(plain) == 122


def test_cooccurrence_is_seeded_and_meets_the_edge_target():
    m = blocks(n_groups=6, per_group=10, seed=1)
    a = cooccurrence_interests(m, 8, target_edges=200, seed=0)
    b = cooccurrence_interests(m, 8, target_edges=200, seed=0)
    c = cooccurrence_interests(m, 8, target_edges=200, seed=1)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not (np.array_equal(a[0], c[0]) and np.array_equal(a[1], c[1]))
    assert len(a[0]) == 200 and len(np.unique(a[1][a[1] >= 0])) == 8
    all_edges, _, info = cooccurrence_interests(m, 8, target_edges=None, seed=0)
    assert len(all_edges) == info["candidate_edges"] > 200
    with pytest.raises(ValueError, match=r"n_interests=61: expected 1\.\.60"):
        cooccurrence_interests(m, 61, target_edges=10, seed=0)


# ------------------------------------------------------------------------- files, CLI, a run
def _control(kind: str, synthetic_dir, out, seed: int = 0) -> int:
    from cikgwb.cli import main

    args = ["interests", "control", "--dataset", "synthetic", "--data-dir", str(synthetic_dir)]
    return main([*args, "--kind", kind, "--seed", str(seed), "--out", str(out)])


def test_cli_writes_both_graphs_that_load_and_train(synthetic_dir, synthetic_ds, tmp_path, capsys, one_thread):
    from cikgwb.models import default_config
    from cikgwb.run_spec import dataset_with_interests
    from cikgwb.train import Trainer

    ds = synthetic_ds
    released = np.unique(load_interest_graph("synthetic", data_dir=synthetic_dir).edges, axis=0)
    rew, cooc = tmp_path / "rewired", tmp_path / "cooc"
    assert _control("rewire", synthetic_dir, rew) == 0 and _control("cooc", synthetic_dir, cooc) == 0
    assert "NOT an LLM graph" in capsys.readouterr().out
    for folder in (rew, cooc):
        assert {EDGES_FILE, LABELS_FILE, PROVENANCE_FILE} <= {p.name for p in folder.iterdir()}
        prov = json.loads((folder / PROVENANCE_FILE).read_text())
        assert prov["seed"] == 0 and prov["dataset"] == "synthetic" and prov["code"]["commit"]
        assert len(prov["built_from"]["train_txt_sha256"]) == 64
    assert (cooc / ITEMS_FILE).is_file()
    assert "train.txt" in json.loads((cooc / PROVENANCE_FILE).read_text())["built_from"]["interactions"]

    d_rew = dataset_with_interests(ds, str(rew))
    ids, inv = np.unique(released[:, 1], return_inverse=True)
    for before, after in zip(degrees(np.column_stack([released[:, 0], inv])), degrees(d_rew.user_interest)):
        assert np.array_equal(before, after)
    assert all(lab.startswith("rewired: released node") for lab in d_rew.interest_labels)
    counts = json.loads((rew / PROVENANCE_FILE).read_text())["counts"]
    assert counts["edges"] == len(released) and counts["min_users_per_interest"] == np.bincount(inv).min() > 0
    assert "rewiring (seed 0)" in d_rew.meta["interests_source"]

    d_cooc = dataset_with_interests(ds, str(cooc))
    assert d_cooc.n_interests == len(ids) and len(d_cooc.user_interest) == len(released)
    held = ds.matrix("train_full").tocsr()
    items = __import__("pandas").read_csv(cooc / ITEMS_FILE, sep="\t")
    for u, j in d_cooc.user_interest[:200].tolist():
        assert j in set(items["interest_id"].to_numpy()[held[u].indices].tolist())
    assert all(lab.startswith("items: ") for lab in d_cooc.interest_labels)

    for folder in (rew, cooc):
        cfg = default_config("synthetic", "cikgrec", device="cpu", max_epochs=1)
        cfg.interests, cfg.name = str(folder), f"t-{folder.name}"
        res = Trainer(cfg, ds=ds, run_dir=tmp_path / "runs" / folder.name, progress=False).fit()
        assert len(res.history) == 1 and np.isfinite(res.history[0]["loss_uir"])
        assert "NOT an LLM graph" in res.metrics["interests"]
