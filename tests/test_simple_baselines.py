"""The simple baselines (issue 32 item 3): EASE, ItemKNN, GF-CF and MostPop each equal a
brute-force reference on a small matrix; a closed-form run trains through ``cikgwb train`` (fitted
once, one history line, counted as converged); a grid sweep chooses each seed's point on the
selection split, never on test, and lands it as the model's ordinary run."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
import torch

from cikgwb.models import build_model, make_config

CPU = torch.device("cpu")
pytestmark = pytest.mark.usefixtures("one_thread")


def _matrix(n_users=40, n_items=15, density=0.25, seed=0) -> np.ndarray:
    """A random binary matrix with one user and one item without any interaction."""
    x = (np.random.default_rng(seed).random((n_users, n_items)) < density).astype(float)
    x[3, :] = 0.0
    x[:, 5] = 0.0
    return x


def _model(name: str, x: np.ndarray, *values, **settings):
    """``name`` on the matrix ``x``; ``values``: its grid's settings in order (e.g. gfcf's weight, rank)."""
    from cikgwb.models import model_entry

    settings.update(zip(model_entry(name).config.GRID, values))
    ds = types.SimpleNamespace(n_users=x.shape[0], n_items=x.shape[1])
    cfg = make_config(name, "synthetic", settings).model
    pairs = np.argwhere(x > 0)
    return build_model(name, ds, cfg, np.concatenate([pairs, pairs[:5]]), CPU)  # duplicates count once


def _scores(model, n_users: int) -> np.ndarray:
    model.eval()
    fn = model.score_fn()
    return np.concatenate([fn(torch.arange(a, min(a + 7, n_users))).numpy() for a in range(0, n_users, 7)])


# ----------------------------------------------------------------------------- brute-force references
def test_ease_is_the_zero_diagonal_ridge_regression_solved_column_by_column():
    x, lam = _matrix(), 3.0
    n = x.shape[1]
    want = np.zeros((n, n))
    for j in range(n):  # min |x_j - X_{-j} b|^2 + lam |b|^2 over the other items' weights
        others = [i for i in range(n) if i != j]
        a = x[:, others]
        want[others, j] = np.linalg.solve(a.T @ a + lam * np.eye(n - 1), a.T @ x[:, j])
    model = _model("ease", x, l2_reg=lam)
    got = _scores(model, x.shape[0])
    assert np.allclose(model.B, want, atol=1e-5) and np.all(np.diag(model.B) == 0)
    assert np.allclose(got, x @ want, atol=1e-4)


def _knn_reference(x: np.ndarray, k: int, shrink: float) -> np.ndarray:
    n = x.shape[1]
    norm = np.sqrt((x**2).sum(axis=0))
    s = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            den = norm[i] * norm[j] + shrink
            if i != j and den > 0:
                s[i, j] = x[:, i] @ x[:, j] / den
    w = np.zeros((n, n))
    for j in range(n):
        ranked = sorted((i for i in range(n) if s[i, j] != 0), key=lambda i: (-s[i, j], i))
        for i in ranked[:k]:
            w[i, j] = s[i, j]
    return w


@pytest.mark.parametrize("k,shrink", [(3, 0.0), (3, 2.0), (1, 10.0), (100, 0.0)])
def test_itemknn_is_shrunk_cosine_with_the_k_nearest_neighbours_of_each_item(k, shrink):
    x = _matrix(seed=1)
    want = _knn_reference(x, k, shrink)
    model = _model("itemknn", x, k=k, shrink=shrink)
    got = _scores(model, x.shape[0])
    assert np.allclose(model.W.toarray(), want, atol=1e-6)
    assert (model.W.toarray() != 0).sum(axis=0).max() <= k
    assert np.allclose(got, x @ want, atol=1e-5)


@pytest.mark.parametrize("weight,rank", [(0.5, 4), (0.3, 13), (1.0, 20), (0.0, 4)])
def test_gfcf_is_the_normalised_item_filter_plus_the_ideal_low_pass_of_a_full_svd(weight, rank):
    x = _matrix(seed=2)
    du, di = x.sum(axis=1), x.sum(axis=0)
    inv = lambda d: np.where(d > 0, 1 / np.sqrt(np.where(d > 0, d, 1)), 0.0)  # noqa: E731
    r = inv(du)[:, None] * x * inv(di)[None, :]
    _, sv, vt = np.linalg.svd(r)
    if rank < len(sv):
        assert sv[rank - 1] - sv[rank] > 1e-6  # the top-rank subspace is well defined
    v = vt[:rank].T
    want = x @ (r.T @ r) + weight * x @ (inv(di)[:, None] * v @ v.T * np.sqrt(di)[None, :])
    model = _model("gfcf", x, ideal_weight=weight, ideal_rank=rank)
    assert np.allclose(_scores(model, x.shape[0]), want, atol=1e-5)
    assert (model.left is None) == (weight == 0)  # no SVD for the linear filter alone


def test_runs_sharing_a_fit_part_give_what_a_fresh_fit_gives():
    from cikgwb.models import simple

    x = _matrix(seed=4)
    first = [_scores(_model(*m), x.shape[0]) for m in [("gfcf", x, 0.3, 4), ("itemknn", x, 5, 2.0)]]
    again = [_scores(_model(*m), x.shape[0]) for m in [("gfcf", x, 0.5, 4), ("itemknn", x, 3, 2.0)]]  # hits
    assert simple._SHARED["gfcf-V"] and simple._SHARED["itemknn"]
    simple._SHARED.clear()
    fresh = [_scores(_model(*m), x.shape[0]) for m in [("gfcf", x, 0.5, 4), ("itemknn", x, 3, 2.0)]]
    assert all(np.array_equal(a, b) for a, b in zip(again, fresh)) and not np.array_equal(first[0], again[0])


def test_ease_fits_once_per_training_matrix_and_l2_reg():
    # the users protocol's seeds all train on train.txt: one EASE fit per grid point serves them
    from cikgwb.models import simple

    simple._SHARED.clear()
    x = _matrix(seed=5)
    a, b = _model("ease", x, 3.0), _model("ease", x, 3.0)
    a.fit(), b.fit()
    assert b.B is a.B and len(simple._SHARED["ease"]) == 1
    other = _model("ease", x, 30.0)
    other.fit()
    assert other.B is not a.B and not np.array_equal(other.B, a.B)
    simple._SHARED.clear()
    fresh = _model("ease", x, 3.0)
    fresh.fit()
    assert fresh.B is not a.B and np.array_equal(fresh.B, a.B)


def test_dense_item_operators_are_c_ordered_so_scoring_never_copies_them():
    # sparse rows @ a Fortran-ordered dense matrix copies the whole matrix at every batch
    # (GF-CF's P was: 313 MB per scored batch on book-crossing); the copy equals the C-ordered
    # operator, so the scores are the same, only the time differs
    x = _matrix(seed=6)
    ease, gfcf = _model("ease", x, 30.0), _model("gfcf", x, 0.3, 4)
    ease.fit(), gfcf.fit()
    assert ease.B.flags["C_CONTIGUOUS"] and gfcf.P.flags["C_CONTIGUOUS"]
    assert gfcf.P.dtype == np.float32


def test_mostpop_scores_every_item_by_its_training_users():
    x = _matrix(seed=3)
    got = _scores(_model("mostpop", x), x.shape[0])
    assert np.array_equal(got, np.repeat(x.sum(axis=0)[None, :], x.shape[0], axis=0))


def test_settings_are_checked_before_any_data():
    from cikgwb.config import ConfigError

    with pytest.raises(ConfigError, match=r"setting l2_reg=0.0: expected a value > 0"):
        make_config("ease", "synthetic", {"l2_reg": 0.0})
    with pytest.raises(ConfigError, match=r"setting k=0: expected an integer >= 1"):
        make_config("itemknn", "synthetic", ["k=0"])


# ----------------------------------------------------------------------------- through the trainer
@pytest.fixture
def cli_env(tmp_path, monkeypatch, synthetic_dir, synthetic_ds):
    monkeypatch.setenv("CIKGWB_DATA_DIR", str(synthetic_dir))
    monkeypatch.setenv("CIKGWB_REPORTS_DIR", str(tmp_path))
    from cikgwb.cli import main

    return main


def test_a_closed_form_run_is_fitted_once_and_counts_as_converged(cli_env, tmp_path, synthetic_ds):
    from cikgwb.evaluate import evaluate, split_masks
    from cikgwb.run_folder import CLOSED_FORM_STOP
    from cikgwb.runs import load_run, run_index

    argv = ["train", "--dataset", "synthetic", "--model", "ease", "--set", "l2_reg=50", "--quiet", "--device", "cpu"]
    assert cli_env(argv) == 0
    run = tmp_path / "runs" / "synthetic-ease-valid-s0"
    m = json.loads((run / "metrics.json").read_text())
    hist = [json.loads(ln) for ln in (run / "history.jsonl").read_text().splitlines()]
    assert m["stop_reason"] == CLOSED_FORM_STOP and m["selected_epoch"] == 0 and m["epochs_run"] == 1
    assert len(hist) == 1 and hist[0]["valid_recall@50"] == m["valid"]["recall@50"] and "loss" not in hist[0]
    assert (run / "test_per_user.npz").exists()
    # the reloaded run refits the same operator: the same test metrics
    _, ds, model = load_run(run, ds=synthetic_ds)
    res = evaluate(model.score_fn(), *split_masks(ds, "test"), ks=(20, 50, 100))
    assert res.metrics["recall@50"] == pytest.approx(m["test"]["recall@50"], abs=1e-12)
    row = run_index(tmp_path / "runs").iloc[0]
    assert bool(row["converged"]) and row["variant"] == "l2_reg=50"  # not the model's row: a hand-set setting
    # a second call with --resume fits again (nothing to resume) to the same figures
    assert cli_env([*argv, "--resume"]) == 0
    assert json.loads((run / "metrics.json").read_text())["test"] == m["test"]


# ----------------------------------------------------------------------------- the grid and the choice
def _fake_run(folder, split: str, sel: float, test: float):
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("train:\n  selection: [recall@50, ndcg@50]\n")
    metrics = {split: {"recall@50": sel, "ndcg@50": sel / 2}, "test": {"recall@50": test, "ndcg@50": test / 2}}
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_the_choice_reads_the_selection_split_only(tmp_path):
    from cikgwb.sweep import SweepSpec, choose_point, selection_split

    spec = SweepSpec(name="s", grid={"l2_reg": [10.0, 100.0, 1000.0]}, model="ease", protocol="users", seeds=[0, 1])
    # seed 0: the best on the selection half (100) is not the best on test (1000); seed 1: a tie
    for l2, sel0, test0, sel1 in [(10.0, 0.1, 0.1, 0.3), (100.0, 0.3, 0.2, 0.3), (1000.0, 0.2, 0.9, 0.1)]:
        _fake_run(tmp_path / "runs" / f"l2_reg{l2:g}-s0", "sel_half", sel0, test0)
        _fake_run(tmp_path / "runs" / f"l2_reg{l2:g}-s1", "sel_half", sel1, 0.5)
    best, scored = choose_point(spec, tmp_path, 0)
    assert best["point"] == {"l2_reg": 100.0} and [s["score"] for s in scored] == pytest.approx([0.15, 0.45, 0.3])
    assert choose_point(spec, tmp_path, 1)[0]["point"] == {"l2_reg": 10.0}  # ties: the first in grid order
    assert selection_split("valid") == "valid"
    with pytest.raises(ValueError, match="selects on its test split"):
        selection_split("authors")


def test_split_seed_follows_the_seed_and_model_grids_are_declared():
    from cikgwb.sweep import SweepSpec, _train_args, model_grid, queue_lines

    assert model_grid("ease")["l2_reg"][0] == 10.0 and set(model_grid("gfcf")) == {"ideal_weight", "ideal_rank"}
    with pytest.raises(ValueError, match="mostpop declares no grid"):
        model_grid("mostpop")
    spec = SweepSpec(name="s", grid={"k": [5]}, model="itemknn", protocol="users", seeds=[3], split_seed_is_seed=True)
    assert _train_args(spec, {"k": 5}, 3)[-2:] == ["--set", "split_seed=3"]
    assert queue_lines(spec) == ["k5 3 " + " ".join(_train_args(spec, {"k": 5}, 3))]
    with pytest.raises(ValueError, match="do not also give split_seed"):
        SweepSpec(name="s", grid={"k": [5]}, model="itemknn", base={"split_seed": 1}, split_seed_is_seed=True)


def test_a_grid_sweep_lands_the_point_chosen_on_the_selection_half(cli_env, tmp_path, monkeypatch):
    from cikgwb.results import table1
    from cikgwb.run_folder import GRID_SELECTION_FILE
    from cikgwb.runs import run_index

    monkeypatch.chdir(tmp_path)

    def sweep_argv(ks: str) -> list[str]:
        argv = ["sweep", "--dataset", "synthetic", "--model", "itemknn", "--preset", "grid", "--grid", f"k={ks}"]
        return argv + ["--grid", "shrink=0", "--protocol", "users", "--seeds", "1", "--split-seed-is-seed", "--select"]

    argv = sweep_argv("5,50")
    assert cli_env([*argv, "--executor", "batch", "--threads", "1"]) == 0  # every run in one process
    sweep = tmp_path / "sweeps" / "synthetic-itemknn-users"
    scores = {
        k: sum(
            json.loads((sweep / "runs" / f"k{k}-shrink0-s1" / "metrics.json").read_text())["sel_half"][m]
            for m in ("recall@50", "ndcg@50")
        )
        for k in (5, 50)
    }
    chosen = max(scores, key=scores.get)
    run = tmp_path / "runs" / "synthetic-itemknn-users-s1"
    sel = json.loads((run / GRID_SELECTION_FILE).read_text())
    cfg = (run / "config.yaml").read_text()
    assert sel["chosen"] == {"k": chosen, "shrink": 0} and sel["selected_on"] == "sel_half"
    assert f"k: {chosen}" in cfg and "split_seed: 1" in cfg and sel["landed_score"] == pytest.approx(sel["score"])
    index = run_index(tmp_path / "runs")
    assert list(index["variant"]) == ["-"] and bool(index["converged"].iloc[0])  # the model's row
    t1 = table1(index, datasets=("synthetic",), models=["itemknn"], protocols=("users",))
    assert t1["n"].tolist() == [1] and t1["status"].tolist() == ["done"]
    assert "(in one process" in (sweep / "logs" / "k5-shrink0-s1.log").read_text()
    # a second call (the local executor) reuses the runs and the landed choice
    assert cli_env([*argv, "--jobs", "1", "--threads", "1"]) == 0
    assert "reused" in (sweep / "selection.csv").read_text()
    # the same sweep with another grid: its own earlier choice is replaced by the new one
    other = 5 if chosen == 50 else 50
    assert cli_env([*sweep_argv(str(other)), "--jobs", "1", "--threads", "1"]) == 0
    assert json.loads((run / GRID_SELECTION_FILE).read_text())["chosen"] == {"k": other, "shrink": 0}
