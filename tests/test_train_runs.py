"""A finished run is never lost to a new attempt; per-user test metrics are saved and can be
rebuilt from the checkpoint; checkpoints live outside the run folder and an old run folder
(``<run>/checkpoints/last.pt``) is still resumed."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest


@pytest.fixture
def cli_env(tmp_path, monkeypatch, synthetic_dir):
    monkeypatch.setenv("CIKGWB_DATA_DIR", str(synthetic_dir))
    monkeypatch.setenv("CIKGWB_CHECKPOINT_DIR", str(tmp_path / "ck"))
    monkeypatch.setenv("CIKGWB_REPORTS_DIR", str(tmp_path))  # the one reports root (cikgwb.paths)
    from cikgwb.cli import main

    return main


def _snapshot(run):
    return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}


def test_failed_new_attempt_leaves_the_finished_run_intact(cli_env, tmp_path, capsys, one_thread):
    main = cli_env
    base = ["train", "--dataset", "synthetic", "--quiet", "--device", "cpu", "--name", "t"]
    assert main([*base, "--set", "max_epochs=1"]) == 0
    run = tmp_path / "runs" / "t-s0"
    before = _snapshot(run)
    assert {"metrics.json", "history.jsonl", "config.yaml", "checkpoints.json", "test_per_user.npz"} <= set(before)
    capsys.readouterr()
    # the same run again with a bad setting (once failing only after an epoch): nothing changed
    assert main([*base, "--set", "max_epochs=1", "--set", "ks=10,20"]) == 2
    assert _snapshot(run) == before
    capsys.readouterr()
    # a valid new attempt in the finished run's folder: refused before any work, saying what to do
    assert main([*base, "--set", "max_epochs=2"]) == 2
    err = capsys.readouterr().err
    assert "holds a finished run" in err and "--overwrite" in err and "--resume" in err
    assert _snapshot(run) == before
    # --resume with other settings: refused, nothing changed
    assert main([*base, "--set", "max_epochs=2", "--set", "gcl_weight=0.5", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "other settings" in err and "gcl_weight" in err
    assert _snapshot(run) == before
    # --overwrite with a run that fails before training (a missing interest graph): intact too
    assert main([*base, "--set", "max_epochs=1", "--overwrite", "--interests", str(tmp_path / "nope")]) == 2
    assert _snapshot(run) == before
    # `cikgwb results` still shows the run
    assert main(["results", "--dataset", "synthetic", "--runs", str(tmp_path / "runs")]) == 0
    assert "| synthetic | cikgrec" in capsys.readouterr().out
    # --resume where the checkpoints are gone: refused (the results are kept), --overwrite retrains
    shutil.rmtree(tmp_path / "ck")
    assert main([*base, "--set", "max_epochs=1", "--resume"]) == 2
    assert "no checkpoint of it is on this machine" in capsys.readouterr().err
    assert _snapshot(run) == before
    assert main([*base, "--set", "max_epochs=1", "--overwrite"]) == 0
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 1


def test_per_user_metrics_saved_and_rebuilt_from_the_checkpoint(synthetic_ds, tmp_path, one_thread):
    from cikgwb.models import default_config
    from cikgwb.run_folder import PER_USER_FILE, load_per_user
    from cikgwb.runs import write_per_user
    from cikgwb.train import Trainer

    cfg = default_config("synthetic")
    cfg.train.max_epochs, cfg.train.device = 3, "cpu"
    res = Trainer(cfg, ds=synthetic_ds, run_dir=tmp_path / "r", progress=False).fit()
    pu = load_per_user(tmp_path / "r")
    test_users = np.flatnonzero(synthetic_ds.matrix("test").getnnz(axis=1))
    assert np.array_equal(pu["users"], test_users) and int(pu["epoch"]) == res.metrics["selected_epoch"]
    for k, v in res.metrics["test"].items():
        assert pu[k].dtype == np.float32 and len(pu[k]) == len(test_users)
        assert float(pu[k].astype(np.float64).mean()) == pytest.approx(v, abs=1e-6), k
    assert (tmp_path / "r" / PER_USER_FILE).stat().st_size < 200_000
    saved = dict(pu)
    (tmp_path / "r" / PER_USER_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="cikgwb per-user"):
        load_per_user(tmp_path / "r")
    out = write_per_user(tmp_path / "r", ds=synthetic_ds)
    assert out["max_abs_diff"] < 1e-6 and out["epoch"] == res.metrics["selected_epoch"]
    again = load_per_user(tmp_path / "r")
    for k in saved:
        assert np.array_equal(again[k], saved[k]), k


def test_old_run_folder_with_checkpoints_inside_still_resumes(synthetic_ds, tmp_path, one_thread):
    from cikgwb.models import default_config
    from cikgwb.train import Trainer, find_checkpoint

    def cfg(n):
        c = default_config("synthetic")
        c.train.max_epochs, c.train.device = n, "cpu"
        return c

    t = Trainer(cfg(4), ds=synthetic_ds, run_dir=tmp_path / "old", progress=False)
    t.fit(stop_after_epochs=2)
    assert not (tmp_path / "old" / "checkpoints").exists() and (t.ckpt_dir / "last.pt").exists()
    # make it look like a run from before the move: checkpoints inside, no checkpoints.json
    shutil.move(str(t.ckpt_dir), str(tmp_path / "old" / "checkpoints"))
    (tmp_path / "old" / "checkpoints.json").unlink()
    assert find_checkpoint(tmp_path / "old", "last.pt") == tmp_path / "old" / "checkpoints" / "last.pt"
    resumed = Trainer(cfg(4), ds=synthetic_ds, run_dir=tmp_path / "old", progress=False).fit(resume=True)
    full = Trainer(cfg(4), ds=synthetic_ds, run_dir=tmp_path / "new", progress=False).fit()

    def strip(h):
        return [{k: v for k, v in r.items() if "seconds" not in k} for r in h]

    assert strip(resumed.history) == strip(full.history) and resumed.metrics["test"] == full.metrics["test"]
    assert resumed.metrics["checkpoints"] == str((tmp_path / "old" / "checkpoints").resolve())


def test_plateau_epochs_holds_early_stop_only_while_the_first_evaluation_is_best(synthetic_ds, tmp_path, one_thread):
    from cikgwb.config import TrainConfig
    from cikgwb.models import default_config
    from cikgwb.train import Trainer

    tc = TrainConfig(min_epochs=30, plateau_epochs=100)
    assert tc.floor_epochs(best_epoch=0) == 100  # still on the first evaluation: hold
    assert tc.floor_epochs(best_epoch=5) == 30  # left the plateau: min_epochs as before
    assert TrainConfig(min_epochs=30).floor_epochs(best_epoch=0) == 30  # off by default

    def epochs(tag, **over):
        cfg = default_config("synthetic", "lightgcn", device="cpu", max_epochs=12, patience=2, **over)
        res = Trainer(cfg, ds=synthetic_ds, run_dir=tmp_path / tag, progress=False).fit()
        return [h["score"] for h in res.history], res.metrics

    # an lr too small to move a float32 weight: the valid score never improves on epoch 0's
    flat, m = epochs("flat", lr=1e-12)
    assert len(flat) == 3 and len(set(flat)) == 1 and m["selected_epoch"] == 0
    held, m = epochs("held", lr=1e-12, plateau_epochs=7)
    assert len(held) == 7 and set(held) == set(flat)
    assert m["selected_epoch"] == 0 and m["stop_reason"].startswith("early stop")
    # a run that learns is not held: the same history with or without the guard
    learn, _ = epochs("learn", lr=5e-3)
    guarded, _ = epochs("guarded", lr=5e-3, plateau_epochs=12)
    assert guarded == learn and max(range(len(learn)), key=learn.__getitem__) > 0
