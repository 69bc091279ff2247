"""The ``users`` protocol: trained on all of train.txt, the test users drawn into a selection half
and a report half; the epoch is selected on the first, the second is the only test result."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cikgwb.data.split import split_test_users
from cikgwb.evaluate import split_masks


def test_the_half_draw_is_seeded_and_splits_the_test_users_in_two():
    test = np.array([[u, i] for u in (0, 2, 3, 5, 6, 9, 11) for i in (1, 4)])
    a = split_test_users(test, 12, seed=0)
    assert a.dtype == bool and a.shape == (12,)
    assert np.array_equal(a, split_test_users(test, 12, seed=0))  # same seed, same halves
    assert a.sum() == 4  # ceil(7 / 2)
    assert not a[[1, 4, 7, 8, 10]].any()  # users without test items are in neither half
    draws = {tuple(np.flatnonzero(split_test_users(test, 12, seed=s))) for s in range(10)}
    assert len(draws) > 3  # the seed moves the draw


def test_the_halves_partition_the_test_items_and_mask_all_of_train_txt(synthetic_ds):
    ds = synthetic_ds
    sel, rep = ds.pairs("sel_half"), ds.pairs("report_half")
    assert len(sel) + len(rep) == len(ds.test)
    assert not set(sel[:, 0]) & set(rep[:, 0])  # no user on both sides
    assert abs(len(set(sel[:, 0])) - len(set(rep[:, 0]))) <= 1
    for split in ("sel_half", "report_half"):
        heldout, exclude = split_masks(ds, split)
        assert heldout.nnz == len(ds.pairs(split))
        assert (exclude != ds.matrix("train_full")).nnz == 0
    with pytest.raises(ValueError, match="sel_half"):
        ds.pairs("selection")


def test_a_users_run_selects_on_one_half_and_reports_the_other(tmp_path, monkeypatch, synthetic_dir, one_thread):
    monkeypatch.setenv("CIKGWB_DATA_DIR", str(synthetic_dir))
    monkeypatch.setenv("CIKGWB_REPORTS_DIR", str(tmp_path))
    from cikgwb.cli import main
    from cikgwb.data import load_dataset
    from cikgwb.run_folder import load_per_user

    args = ["train", "--dataset", "synthetic", "--quiet", "--device", "cpu", "--protocol", "users"]
    assert main([*args, "--name", "u", "--set", "max_epochs=2", "--set", "split_seed=3"]) == 0
    run = tmp_path / "runs" / "u-s0"
    m = json.loads((run / "metrics.json").read_text())
    assert m["protocol"] == "users" and m["split_seed"] == 3
    assert "valid" not in m and set(m["sel_half"]) == set(m["test"])  # selection under its own key
    assert "report half" in m["test_users"]
    hist = [json.loads(ln) for ln in (run / "history.jsonl").read_text().splitlines()]
    assert all("sel_half_recall@50" in h for h in hist) and not any("test_recall@50" in h for h in hist)
    # the per-user file holds the report half only, and its means are the reported metrics
    ds = load_dataset("synthetic", split_seed=3)
    report = set(ds.pairs("report_half")[:, 0].tolist())
    per_user = load_per_user(run)
    assert set(per_user["users"].tolist()) == report
    assert float(np.mean(per_user["recall@50"], dtype=np.float64)) == pytest.approx(m["test"]["recall@50"], abs=1e-6)
    # the split seed moves the halves, so another split seed reports on other users
    other = set(load_dataset("synthetic", split_seed=4).pairs("report_half")[:, 0].tolist())
    assert other != report


def test_a_users_run_trains_on_all_of_train_txt(synthetic_ds):
    from cikgwb.models import make_config
    from cikgwb.train import Trainer

    cfg = make_config("lightgcn", "synthetic", {"protocol": "users", "device": "cpu"})
    t = Trainer(cfg, synthetic_ds, progress=False)
    assert len(t.train_pairs) == len(synthetic_ds.train_full)
    assert t.sel_heldout.nnz + t.test_heldout.nnz == len(synthetic_ds.test)


def test_over_users_under_the_users_protocol_pairs_within_each_seeds_half():
    from cikgwb.compare import _users_protocol_over_users

    def side(seed, users, vals):
        return ({"seed": seed}, {"users": np.asarray(users), "recall@50": np.asarray(vals, dtype=np.float32)})

    # seed 0 reports users 0-3, seed 1 users 4-7 (disjoint halves); B has a seed 2 that A lacks
    a = [side(0, [0, 1, 2, 3], [0.5, 0.5, 0.5, 0.5]), side(1, [4, 5, 6, 7], [1.0, 1.0, 1.0, 1.0])]
    b = [side(0, [0, 1, 2, 3], [0.25] * 4), side(1, [4, 5, 6, 7], [0.5] * 4), side(2, [0, 4], [0.0, 0.0])]
    notes: list[str] = []
    (row,) = _users_protocol_over_users(a, b, ["recall@50"], notes)
    assert row["n"] == 8  # every user of either half once (an intersection over seeds would keep none)
    assert row["mean_a"] == pytest.approx(0.75) and row["mean_b"] == pytest.approx(0.375)
    assert "seeds [0, 1]" in notes[-1]  # seed 2 (B only) is not paired
    assert _users_protocol_over_users(a[:1], b[1:2], ["recall@50"], notes) == []
