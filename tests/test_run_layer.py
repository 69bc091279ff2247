"""The run layer split by direction (issue 35 move 1): ``runs.run(cfg)`` makes a run, the run
folder (``run_folder``) writes a ``status`` beside the stop reason, and the trainer reads
``checkpoint_every``."""

from __future__ import annotations

import json

import pytest

from cikgwb.models import make_config
from cikgwb.run_folder import RunExistsError, converged, run_status


def _cfg(**train):
    cfg = make_config("lightgcn", "synthetic", {"device": "cpu", **train})
    cfg.name = "layer-s0"
    return cfg


def test_run_status_is_written_and_read_from_old_stop_reasons():
    assert run_status({"status": "time-limit", "stop_reason": "early stop: ..."}) == "time-limit"
    old = {
        "early stop: no improvement of recall@50+ndcg@50 on valid for 10 evaluations": "early-stopped",
        "closed form: fitted once from the training pairs (no epochs to select)": "closed-form",
        "max_epochs=20 reached (not early-stopped)": "max-epochs",
        "time limit: max_minutes=4 reached (not converged)": "time-limit",
    }
    for stop, status in old.items():
        assert run_status({"stop_reason": stop}) == status
    assert run_status({"stop_reason": "something else"}) is None and run_status({}) is None
    assert [s for s in ("early-stopped", "closed-form", "max-epochs", "time-limit", None) if converged(s)] == [
        "early-stopped",
        "closed-form",
    ]


def test_run_trains_checkpoints_every_n_epochs_and_refuses_a_finished_folder(
    synthetic_ds, tmp_path, one_thread, monkeypatch
):
    import cikgwb.data
    from cikgwb.runs import run
    from cikgwb.train import Trainer

    saved = []
    real = Trainer._checkpoint

    def spy(self, path, model, opt, gen, epoch, *rest):
        saved.append((path.name, epoch))
        return real(self, path, model, opt, gen, epoch, *rest)

    monkeypatch.setattr(Trainer, "_checkpoint", spy)
    cfg = _cfg(max_epochs=5, patience=100, checkpoint_every=2)
    before = cfg.to_dict()
    res = run(cfg, synthetic_ds, run_dir=tmp_path / "r", progress=False)
    assert cfg.to_dict() == before  # the caller's config is not changed
    assert [e for name, e in saved if name == "last.pt"] == [1, 3, 4]  # every 2 epochs, and the last
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert m == res.metrics and m["status"] == "max-epochs" and m["stop_reason"].startswith("max_epochs")
    assert len(res.history) == 5 and not converged(run_status(m))

    def no_data(*a, **k):
        raise AssertionError("data loaded before the run folder was checked")

    monkeypatch.setattr(cikgwb.data, "load_dataset", no_data)
    with pytest.raises(RunExistsError, match="holds a finished run"):
        run(cfg, run_dir=tmp_path / "r", progress=False)
