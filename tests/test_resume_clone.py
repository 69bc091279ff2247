"""Runs that outlive their checkout: a synthetic run cut by ``max_minutes`` after 3 epochs in one
clone of the repository resumes in a second, fresh clone of the same commit (its checkpoints are
under $CIKGWB_CHECKPOINT_DIR, outside both work trees) to the same history and test metrics as an
uninterrupted run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _clone(dst: Path) -> Path:
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(dst)], check=True, timeout=120)
    return dst


def _train(clone: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "cikgwb", "train", "--dataset", "synthetic", "--device", "cpu", "--quiet", *args]
    return subprocess.run(
        cmd, cwd=clone, env={**env, "PYTHONPATH": str(clone)}, capture_output=True, text=True, timeout=600
    )


def _hist(run: Path) -> list[dict]:
    lines = (run / "history.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(ln).items() if "seconds" not in k} for ln in lines if ln.strip()]


@pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists(), reason="needs git and the repository")
def test_cut_run_resumes_in_a_fresh_clone_to_the_same_history(tmp_path, synthetic_dir):
    a, b = _clone(tmp_path / "clone-a"), _clone(tmp_path / "clone-b")
    ckdir = tmp_path / "checkpoints"
    env = {k: v for k, v in os.environ.items() if k not in ("CIKGWB_ROOT", "CIKGWB_REPORTS_DIR", "PYTHONPATH")}
    env.update(
        {
            "CIKGWB_CHECKPOINT_DIR": str(ckdir),
            "CIKGWB_DATA_DIR": str(synthetic_dir),
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
    )
    budget = ["--set", "max_epochs=6", "--name", "cut"]
    # clone A: three calls, each cut by the time budget after one epoch (a budget of 60 microseconds)
    for i in range(3):
        p = _train(a, env, *budget, "--set", "max_minutes=0.000001", *(["--resume"] if i else []))
        assert p.returncode == 0, p.stderr[-2000:]
    run_a = a / "reports" / "runs" / "cut-s0"
    m_a = json.loads((run_a / "metrics.json").read_text())
    assert m_a["stop_reason"].startswith("time limit") and m_a["cut"] and m_a["epochs_run"] == 3
    assert not (run_a / "checkpoints").exists()  # nothing heavy in the work tree
    ck = ckdir / "reports" / "runs" / "cut-s0"
    assert (ck / "last.pt").exists() and json.loads((run_a / "checkpoints.json").read_text())["dir"] == str(ck)
    # clone B knows nothing of the run: --resume finds the checkpoint and the history it carries
    assert not (b / "reports" / "runs" / "cut-s0").exists()
    p = _train(b, env, *budget, "--resume")
    assert p.returncode == 0, p.stderr[-2000:]
    p = _train(b, env, "--set", "max_epochs=6", "--name", "full")
    assert p.returncode == 0, p.stderr[-2000:]
    run_b, full = b / "reports" / "runs" / "cut-s0", b / "reports" / "runs" / "full-s0"
    assert [h["epoch"] for h in _hist(run_b)] == list(range(6))
    assert _hist(run_b) == _hist(full)  # identical, not merely close
    m_b, m_full = (json.loads((r / "metrics.json").read_text()) for r in (run_b, full))
    assert m_b["test"] == m_full["test"] and m_b["selected_epoch"] == m_full["selected_epoch"]
    # the record of the continuation: three cut calls in clone A, the last call in clone B
    calls = m_b["calls"]
    assert [c["start_epoch"] for c in calls] == [0, 1, 2, 3]
    assert [Path(c["run_dir"]).parts[-4] for c in calls] == ["clone-a"] * 3 + ["clone-b"]
    # each call says the budget it ran with: config.yaml only has the last call's
    assert [c["settings"]["max_minutes"] for c in calls] == [0.000001] * 3 + [None]
    assert m_b["stop_reason"].startswith("max_epochs") and m_b["epochs_run"] == 6
