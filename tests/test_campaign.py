"""scripts/campaign.py (queues of runs inside a budget) and scripts/gpu_campaign.sh (the GPU job),
on the synthetic data with a tiny configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
QUEUE = """# two tiny runs
syn-cikgrec-valid 0 --dataset synthetic --set max_epochs=2
syn-lightgcn-valid 1 --dataset synthetic --model lightgcn --set max_epochs=2
"""


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "CIKGWB_CHECKPOINT_DIR": str(tmp_path / "ckpt"), "OMP_NUM_THREADS": "1"}


def _campaign(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "campaign.py"), *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=600,
    )


def test_campaign_runs_skips_finished_and_respects_budget(tmp_path):
    q = tmp_path / "q.txt"
    q.write_text(QUEUE)
    out = tmp_path / "out"
    r = _campaign(tmp_path, str(q), "--slots", "2", "--reports-dir", str(out), "--done", str(tmp_path / "none"))
    assert r.returncode == 0, r.stdout + r.stderr
    for run, seed in (("syn-cikgrec-valid-s0", 0), ("syn-lightgcn-valid-s1", 1)):
        m = json.loads((out / "runs" / run / "metrics.json").read_text())
        assert m["seed"] == seed and m["epochs_run"] == 2 and "test" in m
    assert "syn-lightgcn-valid-s1" in r.stdout and "stop / R@50" in r.stdout
    # a second call finds both finished and runs nothing
    r2 = _campaign(tmp_path, str(q), "--reports-dir", str(out), "--done", str(tmp_path / "none"))
    assert r2.returncode == 0 and "0 of 2 runs to do" in r2.stdout and r2.stdout.count("[done]") == 2
    # a budget too small for any run starts none
    q2 = tmp_path / "q2.txt"
    q2.write_text("syn-cikgrec-valid 5 --dataset synthetic --set max_epochs=2\n")
    r3 = _campaign(
        tmp_path, str(q2), "--reports-dir", str(out), "--budget-s", "30", "--reserve-s", "0", "--min-minutes", "1"
    )
    assert r3.returncode == 0 and "[skip] syn-cikgrec-valid-s5" in r3.stdout
    assert not (out / "runs" / "syn-cikgrec-valid-s5" / "metrics.json").exists()


def test_finished_runs_land_in_the_runs_folder_given(tmp_path):
    q = tmp_path / "q.txt"
    q.write_text("syn-lightgcn-valid 1 --dataset synthetic --model lightgcn --set max_epochs=2\n")
    out, landed = tmp_path / "out", tmp_path / "reports" / "runs"
    args = (str(q), "--reports-dir", str(out), "--done", str(tmp_path / "none"), "--land", str(landed))
    r = _campaign(tmp_path, *args)
    assert r.returncode == 0 and "[landed] syn-lightgcn-valid-s1" in r.stdout, r.stdout + r.stderr
    run = landed / "syn-lightgcn-valid-s1"
    names = {p.name for p in run.iterdir()}
    assert {"metrics.json", "history.jsonl", "config.yaml"} <= names and "campaign.log" not in names
    assert "campaign.config.yaml" not in names  # what the worker trained from: the validated config
    worker = out / "runs" / run.name
    assert "train --config" in (worker / "campaign.log").read_text()
    assert yaml.safe_load((worker / "campaign.config.yaml").read_text())["model"]["model"] == "lightgcn"
    assert (run / "metrics.json").read_bytes() == (out / "runs" / run.name / "metrics.json").read_bytes()
    # landed with its explorer artefact, made from the checkpoint before landing (issue 36)
    from cikgwb.run_artefact import load_artefact

    art = load_artefact(run)
    metrics = json.loads((run / "metrics.json").read_text())
    assert art.meta["run"] == run.name and art.meta["selected_epoch"] == metrics["selected_epoch"]
    assert art.meta["per_user_max_abs_diff"] < 1e-6 and "[artefact FAILED]" not in r.stdout
    # a fresh training folder: the run is found finished where it landed and is not trained again
    r2 = _campaign(tmp_path, *args[:2], str(tmp_path / "out2"), *args[3:])
    assert r2.returncode == 0 and "0 of 1 runs to do" in r2.stdout, r2.stdout + r2.stderr
    # a run cut by its time limit does not land
    q.write_text(
        "syn-lightgcn-valid 2 --dataset synthetic --model lightgcn --set max_epochs=50 --set max_minutes=0.0001\n"
    )
    r3 = _campaign(tmp_path, *args)
    assert r3.returncode == 0 and "[landed]" not in r3.stdout, r3.stdout + r3.stderr
    cut = json.loads((out / "runs" / "syn-lightgcn-valid-s2" / "metrics.json").read_text())
    assert cut["stop_reason"].startswith("time limit")
    assert not (landed / "syn-lightgcn-valid-s2").exists()


def test_a_line_that_raises_min_epochs_continues_an_early_stopped_run(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from campaign import finished, int_setting
    finally:
        sys.path.pop(0)
    run = tmp_path / "out" / "runs" / "plateau-s0"
    run.mkdir(parents=True)
    stop = "early stop: no improvement of recall@50+ndcg@50 on valid for 10 evaluations"
    (run / "metrics.json").write_text(json.dumps({"test": {}, "stop_reason": stop, "epochs_run": 31}))
    assert finished(run) and finished(run, 30) and not finished(run, 100)
    assert int_setting(["--set", "min_epochs=30", "--set", "x=1", "--set", "min_epochs=100"], "min_epochs") == 100
    assert int_setting(["--dataset", "synthetic"], "min_epochs") is None
    # plateau_epochs asks for more only while the first evaluation is still the selected one
    for selected, done in ((0, False), (21, True)):
        m = {"test": {}, "stop_reason": stop, "epochs_run": 31, "selected_epoch": selected}
        (run / "metrics.json").write_text(json.dumps(m))
        assert finished(run, 30, plateau=100) is done and finished(run, 30, plateau=31)
    (run / "metrics.json").write_text(json.dumps({"test": {}, "stop_reason": "max_epochs=31", "epochs_run": 31}))
    assert finished(run, 100)  # it ran to its max_epochs: min_epochs does not ask for more
    (run / "metrics.json").write_text(json.dumps({"test": {}, "stop_reason": stop, "epochs_run": 31}))
    q = tmp_path / "q.txt"
    for floor, todo in ((30, "0 of 1"), (100, "1 of 1")):
        q.write_text(f"plateau 0 --dataset synthetic --set min_epochs={floor}\n")
        r = _campaign(tmp_path, str(q), "--reports-dir", str(tmp_path / "out"), "--dry-run")
        assert r.returncode == 0 and f"{todo} runs to do" in r.stdout, r.stdout + r.stderr


def test_campaign_rejects_a_malformed_queue_line(tmp_path):
    q = tmp_path / "q.txt"
    q.write_text("ok-run 0 --dataset synthetic\nbroken-run zero --dataset synthetic\n")
    r = _campaign(tmp_path, str(q), "--dry-run")
    assert r.returncode != 0 and f"{q}:2" in r.stderr and "SEED" in r.stderr
    # a bad setting is refused before any run starts, naming the queue and the run
    q.write_text("ok-run 0 --dataset synthetic --set max_epochs=1\nbad-run 0 --dataset synthetic --set no_such=1\n")
    out = tmp_path / "out"
    r = _campaign(tmp_path, str(q), "--reports-dir", str(out), "--done", str(tmp_path / "none"))
    assert r.returncode != 0 and f"{q}: run bad-run-s0: unknown setting 'no_such'" in r.stderr, r.stderr
    assert not (out / "runs").exists()


def test_campaign_queues_of_the_paper_parse():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from campaign import read_queue
    finally:
        sys.path.pop(0)
    runs = {f"{n}-s{s}": a for f in sorted((ROOT / "scripts" / "campaign").glob("*.txt")) for n, s, a in read_queue(f)}
    assert "book-crossing-cikgrec-wo-uir-valid-s0" in runs and "ml1m-cikgrec-users-s0" in runs
    assert sum(1 for r in runs if r.startswith("book-crossing-cikgrec-valid-s")) == 4  # seeds 1-4
    # w/o UIK is truthful about its interest source: no interest graph is loaded at all
    assert "--interests" in runs["dbbook2014-cikgrec-wo-uik-valid-s0"]


@pytest.mark.skipif(not Path("/bin/bash").exists(), reason="needs bash")
def test_gpu_campaign_script_on_cpu_cut_then_resumed(tmp_path):
    """The GPU job's script end to end on the CPU: a run cut by the budget brings its checkpoints
    back; a second call given RESUME continues it to the end, and then no checkpoint travels."""
    q = tmp_path / "q.txt"
    q.write_text("syn-cikgrec-valid 0 --dataset synthetic --set patience=1000\n")
    env = {
        **_env(tmp_path),
        "CIKGWB_DATA_DIR": str(tmp_path),
        "QUEUES": str(q),
        "SLOTS": "1",
        "THREADS": "1",
        "DEVICE": "cpu",
        "PY": sys.executable,
        "CIKGWB_CHECKPOINT_DIR": str(tmp_path / "device-ckpt"),
    }
    out1, out2 = tmp_path / "call1", tmp_path / "call2"
    r = subprocess.run(
        # 150 s: the script's and the campaign's imports and the queue's validation (up to a minute on a
        # loaded 2-core machine, all counted in the budget) leave the run at least 45 s before its reserve
        ["bash", str(ROOT / "scripts" / "gpu_campaign.sh"), str(out1), "150"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "RESERVE_S": "45", "EXTRA": "--min-minutes 0.1 --set max_epochs=100000"},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    run1 = out1 / "runs" / "syn-cikgrec-valid-s0"
    m1 = json.loads((run1 / "metrics.json").read_text())
    assert m1["stop_reason"].startswith("time limit") and (run1 / "checkpoints" / "last.pt").is_file()
    assert "budget 150s" in (out1 / "machine.txt").read_text() and not (tmp_path / "device-ckpt").exists()
    n1 = m1["epochs_run"]
    r = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_campaign.sh"), str(out2), "300"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "RESUME": str(out1), "EXTRA": f"--set max_epochs={n1 + 2}"},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    run2 = out2 / "runs" / "syn-cikgrec-valid-s0"
    m2 = json.loads((run2 / "metrics.json").read_text())
    hist = [json.loads(x) for x in (run2 / "history.jsonl").read_text().splitlines()]
    assert m2["stop_reason"].startswith("max_epochs") and m2["epochs_run"] == n1 + 2
    assert [h["epoch"] for h in hist] == list(range(n1 + 2))  # continued, not restarted
    assert not (run2 / "checkpoints").exists()  # finished: no checkpoint travels
