"""`cikgwb sweep --executor ray`: the same results table as the local executor, a killed worker's
run finishes on retry from its checkpoint, bad input rejected before any run starts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

COLS = [
    "gcl_weight",
    "seed",
    "status",
    "selected_epoch",
    "test recall@50",
    "test ndcg@50",
    "test recall@100",
    "valid recall@50",
]


def test_bad_grid_rejected_before_any_run(tmp_path, capsys):
    from cikgwb.cli import main
    from cikgwb.sweep import SweepSpec

    for grid, msg in (
        ({"alpha": ["abc"]}, "mask_alpha takes a number"),
        ({"layers": [1.5]}, "n_layers takes an integer"),
        ({"no_cl": ["maybe"]}, "no_cl takes true or false"),
        ({"learning_speed": [1]}, "not a setting"),
    ):
        with pytest.raises(ValueError, match=msg):
            SweepSpec(name="s", grid=grid)
    for args in (["--grid", "alpha=0.1,abc"], ["--grid", "lambda3=0.1", "--set", "no_cl=maybe"], ["--grid", "speed=1"]):
        assert main(["sweep", "--out", str(tmp_path), "--name", "bad", "--executor", "ray", *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ("alpha" in err or "no_cl" in err or "speed" in err), err
    assert not (tmp_path / "bad").exists()


def test_unreachable_address_is_one_clear_line(tmp_path):
    pytest.importorskip("ray")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    t0 = time.time()
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "cikgwb",
            "sweep",
            "--grid",
            "lambda3=0.01",
            "--executor",
            "ray",
            "--address",
            f"127.0.0.1:{port}",
            "--out",
            str(tmp_path),
            "--name",
            "x",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert time.time() - t0 < 30
    assert p.returncode != 0 and p.stderr.strip().count("\n") == 0, p.stderr
    assert f"127.0.0.1:{port}" in p.stderr and "no Ray cluster reachable" in p.stderr
    assert not (tmp_path / "x").exists()


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    from cikgwb.sweep import ray_connect

    ray_connect(None, num_cpus=2)  # ray.init(num_cpus=2, include_dashboard=False) on 127.0.0.1
    yield ray
    ray.shutdown()


def test_ray_sweep_equals_local_sweep(tmp_path, monkeypatch, synthetic_dir, local_ray):
    from cikgwb.sweep import SweepSpec, load_sweep, run_sweep

    monkeypatch.setenv("CIKGWB_DATA_DIR", str(synthetic_dir))
    spec = SweepSpec(name="fig5", grid={"lambda3": [0.01, 0.5]}, seeds=[0, 1], base={"max_epochs": 2})
    local = run_sweep(spec, out_root=tmp_path / "local", jobs=2, threads=1, log=lambda *_: None)
    remote = run_sweep(spec, out_root=tmp_path / "ray", threads=1, executor="ray", log=lambda *_: None)
    assert list(local["status"]) == ["ok"] * 4, local.to_string()
    assert local[COLS].to_dict("records") == remote[COLS].to_dict("records")
    from cikgwb.train import find_checkpoint

    for where in ("local", "ray"):  # a finished sweep run's checkpoints are deleted (only metrics needed)
        for run in local["run"]:
            run_dir = tmp_path / where / "fig5" / "runs" / run
            assert (run_dir / "checkpoints.json").exists() and find_checkpoint(run_dir, "last.pt") is None
    res, meta = load_sweep(tmp_path / "ray" / "fig5")
    assert meta["executor"] == "ray" and len(res) == 4 and meta["failed"] == 0
    again = run_sweep(spec, out_root=tmp_path / "ray", threads=1, executor="ray", log=lambda *_: None)
    assert set(again["status"]) == {"reused"}  # the resume rule: finished runs reused


def _train_procs(name: str):
    import psutil

    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        # the worker's command names the run in its config file (logs/<run>.config.yaml)
        if "cikgwb" in cmd and "train" in cmd and any(name in a for a in cmd):
            yield p


def test_killed_worker_run_completes_on_retry_from_its_checkpoint(tmp_path, monkeypatch, synthetic_dir, local_ray):
    import psutil

    from cikgwb.sweep import SweepSpec, run_sweep

    monkeypatch.setenv("CIKGWB_DATA_DIR", str(synthetic_dir))
    spec = SweepSpec(name="kill", grid={"lambda3": [0.01]}, seeds=[0], base={"max_epochs": 8, "patience": 100})
    run = tmp_path / "kill" / "runs" / spec.run_name({"gcl_weight": 0.01}, 0)
    out: dict = {}
    th = threading.Thread(
        target=lambda: out.setdefault(
            "df", run_sweep(spec, out_root=tmp_path, threads=1, executor="ray", log=lambda *_: None)
        )
    )
    th.start()
    killed = None
    deadline = time.time() + 300
    while time.time() < deadline and killed is None:
        hist = run / "history.jsonl"
        if hist.exists() and len(hist.read_text().splitlines()) >= 2:
            for p in _train_procs(run.name.rsplit("-s", 1)[0]):
                worker = psutil.Process(p.ppid())  # the Ray worker running the task
                killed = (worker.pid, p.pid)
                worker.kill()
                # the run dies with its worker (PR_SET_PDEATHSIG), so the retry alone writes it
                assert psutil.wait_procs([p], timeout=20)[0], "the run outlived its killed worker"
                break
        time.sleep(0.2)
    assert killed is not None, "the run was not seen running"
    th.join(timeout=600)
    df = out["df"]
    assert len(df) == 1 and df["status"].iloc[0] == "ok", df.to_string()
    epochs = [json.loads(ln)["epoch"] for ln in (run / "history.jsonl").read_text().splitlines()]
    assert epochs == list(range(8))  # no epoch lost or written twice
    metrics = json.loads((run / "metrics.json").read_text())
    starts = [c["start_epoch"] for c in metrics["calls"]]
    # resumed, not restarted: from the last checkpoint, which may be one epoch behind the history
    # line the kill was triggered by (the history is truncated to it: no epoch written twice, above)
    assert len(starts) == 2 and starts[0] == 0 and starts[1] >= 1, metrics["calls"]
    log = (tmp_path / "kill" / "logs" / f"{run.name}.log").read_text()
    assert log.count("=== attempt") == 2
    # the same run uninterrupted: the same history
    ref = run_sweep(
        SweepSpec(name="ref", grid={"lambda3": [0.01]}, seeds=[0], base={"max_epochs": 8, "patience": 100}),
        out_root=tmp_path,
        threads=1,
        executor="ray",
        log=lambda *_: None,
    )

    def strip(p):
        return [{k: v for k, v in json.loads(ln).items() if "seconds" not in k} for ln in p.read_text().splitlines()]

    assert strip(run / "history.jsonl") == strip(tmp_path / "ref" / "runs" / run.name / "history.jsonl")
    assert ref["test recall@50"].iloc[0] == df["test recall@50"].iloc[0]
    assert os.environ.get("CIKGWB_CHECKPOINT_DIR")  # (checkpoints were kept out of ~/.cache)


def test_local_cluster_listens_on_loopback_only(local_ray):
    import psutil

    ray_pids = {
        p.pid
        for p in psutil.process_iter(["name", "cmdline"])
        if "ray" in (p.info["name"] or "") or "ray" in " ".join(p.info["cmdline"] or [])[:200]
    }
    ray_pids -= {os.getpid()}
    listening = {
        (c.laddr.ip, c.pid)
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.pid in ray_pids
    }
    assert listening, "no listening socket of the Ray cluster found"
    assert {ip for ip, _ in listening} <= {"127.0.0.1", "::ffff:127.0.0.1", "::1"}, listening
