"""Issue 36, reliability items 13-21: a malformed --base-url, atomic run files and an unreadable
run in a table, a full disk said in one line, one run per run folder, the answer store locked
through a symlink, a dead LLM server found in seconds, Ray's --address (tokens, not Ray), one-line
errors and no stray temporary files, and --overwrite that keeps the old run until the new one has
finished.

A full disk is a write that fails on purpose (:func:`disk_fills`: ``ENOSPC`` from the file
object :mod:`cikgwb.atomic` writes through), as the issue allows."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from fake_openai import FakeOpenAI
from llm_data import tiny_dataset

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- helpers
@pytest.fixture
def cli_env(tmp_path, monkeypatch, synthetic_dir):
    """``cikgwb.cli.main`` with the data, checkpoints and reports of this test only."""
    monkeypatch.setenv("CIKGWB_DATA_DIR", str(synthetic_dir))
    monkeypatch.setenv("CIKGWB_CHECKPOINT_DIR", str(tmp_path / "ck"))
    monkeypatch.setenv("CIKGWB_REPORTS_DIR", str(tmp_path))
    from cikgwb.cli import main

    return main


TRAIN = ["train", "--dataset", "synthetic", "--quiet", "--device", "cpu"]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _temps(*folders: Path) -> list[Path]:
    """Temporary files an atomic write (or the old per-user writer) left."""
    out = []
    for f in folders:
        if f.exists():
            out += [p for p in f.rglob("*") if p.name.endswith(".tmp") or p.name.endswith(".tmp.npz")]
    return out


class _FullFile:
    """A file whose writes fail with ENOSPC once ``room`` bytes are written."""

    def __init__(self, fh, room: int):
        self._fh, self._room = fh, room

    def write(self, data):
        if len(data) > self._room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(data)
        return self._fh.write(data)

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()


@contextlib.contextmanager
def disk_fills(monkeypatch, name: str, after_writes: int = 0, room: int = 100):
    """The disk fills while ``name`` is written: its writes through :mod:`cikgwb.atomic` after
    the first ``after_writes`` ones fail with ENOSPC once ``room`` bytes are in. Yields a dict
    whose ``"full"`` set to False frees the disk again."""
    state = {"full": True, "seen": 0}
    real = os.fdopen

    def fdopen(fd, *a, **kw):
        fh = real(fd, *a, **kw)
        if isinstance(fd, int) and state["full"]:
            target = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
            if target.startswith(f".{name}.") and target.endswith(".tmp"):
                state["seen"] += 1
                if state["seen"] > after_writes:
                    return _FullFile(fh, room)
        return fh

    monkeypatch.setattr("cikgwb.atomic.os.fdopen", fdopen)
    yield state
    state["full"] = False


# ----------------------------------------------------------------------------- item 13
@pytest.mark.parametrize(
    "url", ["127.0.0.1:8000/v1", "not-a-url", "htp://", "http://127.0.0.1:99999/v1", "http://bob:pw-X9@h:99999/v1"]
)
def test_malformed_base_url_is_one_line_before_any_request_or_store(url, tmp_path, synthetic_dir, capsys):
    from cikgwb.cli import main

    run_dir = tmp_path / "run"
    t0 = time.monotonic()
    rc = main(
        ["interests", "infer", "--dataset", "synthetic", "--data-dir", str(synthetic_dir), "--base-url", url]
        + ["--model", "m", "--limit", "4", "--run-dir", str(run_dir), "--no-progress"]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and time.monotonic() - t0 < 10
    assert len(err.splitlines()) == 1 and "--base-url" in err, err
    assert "pw-X9" not in err  # credentials never printed
    assert not run_dir.exists()  # no folder, no empty answer store


def test_malformed_base_url_from_the_environment_names_the_variable(tmp_path, monkeypatch):
    from cikgwb.knowledge.settings import check_base_url, resolve_settings

    monkeypatch.setenv("CIKGWB_SETTINGS", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("OPENAI_BASE_URL", "localhost:8000/v1")
    with pytest.raises(ValueError, match=r"^OPENAI_BASE_URL 'localhost:8000/v1': no http:// or https://"):
        resolve_settings(model="m")
    with pytest.raises(ValueError, match="port '99999' is not in 1-65535"):
        check_base_url("http://127.0.0.1:99999/v1", "--base-url")
    assert check_base_url("http://[::1]:8000/v1") == "http://[::1]:8000/v1"


# ----------------------------------------------------------------------------- items 14, 15
def test_full_disk_at_metrics_json_is_one_line_and_no_empty_file(cli_env, tmp_path, capsys, monkeypatch, one_thread):
    main = cli_env
    assert main([*TRAIN, "--name", "good", "--set", "max_epochs=1"]) == 0
    run = tmp_path / "runs" / "bad-s0"
    with disk_fills(monkeypatch, "metrics.json"):
        assert main([*TRAIN, "--name", "bad", "--set", "max_epochs=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"{run / 'metrics.json'}: the disk is full" in err and "no metrics.json was written" in err
    assert "checkpoints up to epoch 0 are kept" in err and "--resume" in err
    assert not (run / "metrics.json").exists() and _temps(run, tmp_path / "ck") == []
    # the other run's table is made; the cut run finishes on --resume
    assert main(["results", "--dataset", "synthetic", "--runs", str(tmp_path / "runs")]) == 0
    assert "| synthetic | cikgrec" in capsys.readouterr().out
    assert main([*TRAIN, "--name", "bad", "--set", "max_epochs=1", "--resume"]) == 0
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 1


def test_an_unreadable_run_is_a_row_and_can_be_run_again(cli_env, tmp_path, capsys, one_thread):
    from cikgwb.train import check_run_dir

    main = cli_env
    assert main([*TRAIN, "--name", "good", "--set", "max_epochs=1"]) == 0
    bad = tmp_path / "runs" / "bad-s0"
    bad.mkdir()
    (bad / "metrics.json").write_bytes(b"")  # what the old, non-atomic writer left on a full disk
    capsys.readouterr()
    assert main(["results", "--dataset", "synthetic", "--runs", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "| synthetic | cikgrec |" in out  # the good run
    assert "**unreadable run** `bad-s0`" in out and "empty (0 bytes)" in out
    check_run_dir(bad)  # an empty metrics.json is no finished run: a plain re-run is not refused
    assert main([*TRAIN, "--name", "bad", "--set", "max_epochs=1"]) == 0
    assert main(["results", "--dataset", "synthetic", "--runs", str(tmp_path / "runs")]) == 0
    assert "**unreadable run**" not in capsys.readouterr().out


def test_full_disk_at_a_checkpoint_keeps_the_last_one_and_resumes(cli_env, tmp_path, capsys, monkeypatch, one_thread):
    from cikgwb.train import find_checkpoint

    main = cli_env
    run = tmp_path / "runs" / "t-s0"
    with disk_fills(monkeypatch, "last.pt", after_writes=1, room=1000) as disk:  # epoch 0's is written
        assert main([*TRAIN, "--name", "t", "--set", "max_epochs=3"]) == 2
        disk["full"] = False
    err = capsys.readouterr().err.strip()
    last = find_checkpoint(run, "last.pt")
    assert len(err.splitlines()) == 1, err
    assert "unexpected pos" not in err and "Traceback" not in err
    assert f"{last}: the disk is full" in err and "the previous last.pt is kept unchanged" in err
    assert "checkpoints up to epoch 0 are kept" in err and "--resume" in err
    assert torch.load(last, weights_only=False)["epoch"] == 0
    assert _temps(run, tmp_path / "ck") == []
    assert main([*TRAIN, "--name", "t", "--set", "max_epochs=3", "--resume"]) == 0
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 3


def _can_mount_tmpfs(where: Path) -> bool:
    try:
        r = subprocess.run(
            ["unshare", "-r", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {where}"],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


@pytest.mark.timeout(300)
def test_a_really_full_disk_at_a_checkpoint(tmp_path, synthetic_ds, synthetic_dir):
    """The same on a real full disk: the checkpoints on a 3.2 MB tmpfs (room for the two of epoch
    0, 1.26 MB each, not for a third file), in a private mount namespace of the test's own user
    (``unshare -rm``; skipped where that is not allowed)."""
    ck = tmp_path / "ck"
    ck.mkdir()
    if not _can_mount_tmpfs(ck):
        pytest.skip("cannot mount a tmpfs in a user namespace here (unshare -rm)")
    train = " ".join([sys.executable, "-m", "cikgwb", *TRAIN, "--name", "t", "--set", "max_epochs=3"])
    script = f"mount -t tmpfs -o size=3200k tmpfs {ck} && {train}; echo rc=$?; find {ck} -type f"
    env = {
        **os.environ,
        "CIKGWB_REPORTS_DIR": str(tmp_path),
        "CIKGWB_CHECKPOINT_DIR": str(ck),
        "CIKGWB_DATA_DIR": str(synthetic_dir),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(REPO),
    }
    r = subprocess.run(
        ["unshare", "-r", "-m", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=280
    )
    err = r.stderr.strip()
    assert "rc=2" in r.stdout, r.stdout + r.stderr
    assert len(err.splitlines()) == 1 and "unexpected pos" not in err, err
    assert ".pt: the disk is full (no space left on device" in err and "is kept unchanged" in err
    assert "checkpoints up to epoch 0 are kept" in err and "--resume" in err
    assert ".tmp" not in r.stdout  # no temporary file left on the full disk


def test_disk_full_is_found_behind_torch_save_and_numpy(tmp_path, monkeypatch):
    import numpy as np

    from cikgwb.atomic import DiskFull, atomic_open, atomic_torch_save

    dest = tmp_path / "best.pt"
    atomic_torch_save({"epoch": 0}, dest)
    before = dest.read_bytes()
    with disk_fills(monkeypatch, "best.pt", room=500):
        with pytest.raises(DiskFull) as e:
            atomic_torch_save({"w": torch.zeros(10_000)}, dest)
    assert str(e.value).startswith(f"{dest}: the disk is full (no space left on device")
    assert "[Errno" not in str(e.value) and "\n" not in str(e.value)
    assert dest.read_bytes() == before and _temps(tmp_path) == []
    with disk_fills(monkeypatch, "test_per_user.npz"):
        with pytest.raises(DiskFull, match="no test_per_user.npz was written"):
            with atomic_open(tmp_path / "test_per_user.npz", "wb") as fh:
                np.savez_compressed(fh, a=np.arange(100_000))
    assert list(tmp_path.iterdir()) == [dest]
    mask = os.umask(0)
    os.umask(mask)
    assert dest.stat().st_mode & 0o777 == 0o666 & ~mask  # the mode open() gives, not mkstemp's 0600


# ----------------------------------------------------------------------------- item 16
def test_a_run_folder_is_locked_while_a_run_writes_it(cli_env, tmp_path, capsys, one_thread):
    from cikgwb.run_folder import run_lock_path

    main = cli_env
    run = tmp_path / "runs" / "t-s0"
    lock = run_lock_path(run)
    holder = subprocess.Popen(  # another process training the same run folder
        [
            sys.executable,
            "-c",
            "import sys, time; from cikgwb.locks import hold_lock; h = hold_lock(sys.argv[1], 'x'); "
            "print('held', flush=True); time.sleep(120)",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main([*TRAIN, "--name", "t", "--set", "max_epochs=1"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "is in use by another run (pid" in err, err
        assert str(holder.pid) in err and "--name" in err
        assert not (run / "history.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()
    assert main([*TRAIN, "--name", "t", "--set", "max_epochs=1"]) == 0  # the lock went with its process
    hist = [json.loads(x)["epoch"] for x in (run / "history.jsonl").read_text().splitlines()]
    assert hist == [0]


def test_the_same_run_twice_in_one_process_is_refused(synthetic_ds, tmp_path, one_thread):
    from cikgwb.models import default_config
    from cikgwb.run_folder import RunBusy, run_lock
    from cikgwb.train import Trainer

    cfg = default_config("synthetic")
    cfg.train.max_epochs, cfg.train.device = 1, "cpu"
    held = run_lock(tmp_path / "r")
    try:
        with pytest.raises(RunBusy, match="in use by another run"):
            Trainer(cfg, ds=synthetic_ds, run_dir=tmp_path / "r", progress=False).fit()
    finally:
        held.close()
    assert Trainer(cfg, ds=synthetic_ds, run_dir=tmp_path / "r", progress=False).fit().metrics["epochs_run"] == 1


# ----------------------------------------------------------------------------- item 17
def test_a_store_given_through_a_symlink_takes_the_same_lock(tmp_path):
    from cikgwb.knowledge.backends.chat import ChatBackend
    from cikgwb.knowledge.infer import infer_interests
    from cikgwb.knowledge.settings import resolve_settings
    from cikgwb.knowledge.store import AnswerStore, StoreBusy

    real = tmp_path / "a" / "answers.sqlite"
    link = tmp_path / "b" / "answers.sqlite"
    real.parent.mkdir()
    link.parent.mkdir()
    holder = AnswerStore(real, exclusive=True)
    link.symlink_to(real)
    (tmp_path / "c").symlink_to(tmp_path / "a")  # a symlinked folder too
    try:
        for via in (link, tmp_path / "c" / "answers.sqlite", Path(os.path.relpath(real))):
            with pytest.raises(StoreBusy, match=r"in use by another run \(pid \d+"):
                AnswerStore(via, exclusive=True)
        with FakeOpenAI() as fake:
            be = ChatBackend(resolve_settings(base_url=fake.base_url, model="m", api_key="k"), progress=False)
            with pytest.raises(StoreBusy):
                infer_interests(tiny_dataset(), be, run_dir=tmp_path / "run", store=link)
            assert fake.chat_bodies == []  # refused before any request: nobody paid twice
    finally:
        holder.close()


def test_an_answer_another_process_stored_meanwhile_is_counted(tmp_path):
    from cikgwb.knowledge.backends.chat import DUPLICATES, ChatBackend
    from cikgwb.knowledge.infer import build_requests
    from cikgwb.knowledge.settings import resolve_settings
    from cikgwb.knowledge.store import AnswerStore, StoredAnswer

    ds = tiny_dataset()
    reqs, _ = build_requests(ds, "m")
    by_text = {r.messages[-1]["content"]: r for r in reqs}
    other = AnswerStore(tmp_path / "answers.sqlite")  # a second writer without the lock

    def answer(body):
        r = by_text[body["messages"][-1]["content"]]
        other.put(StoredAnswer(r.key, r.user, r.model, r.template, "chat", r.messages, r.params, "history"))
        return "history, travel"

    with FakeOpenAI(answer=answer) as fake, AnswerStore(tmp_path / "answers.sqlite", exclusive=True) as st:
        be = ChatBackend(resolve_settings(base_url=fake.base_url, model="m", api_key="k"), progress=False)
        run = be.run(reqs, st)
    other.close()
    summary = run.summary()
    assert summary["done"] == 0 and summary[DUPLICATES] == len(reqs) == len(fake.chat_bodies)


# ----------------------------------------------------------------------------- item 18
@pytest.mark.timeout(90)
def test_a_server_that_dies_mid_run_is_found_in_seconds(tmp_path):
    from cikgwb.knowledge.backends.base import BackendError
    from cikgwb.knowledge.backends.chat import ChatBackend
    from cikgwb.knowledge.infer import infer_interests
    from cikgwb.knowledge.settings import resolve_settings
    from cikgwb.knowledge.store import AnswerStore

    ds = tiny_dataset(n_users=40)
    fake = FakeOpenAI(delay=0.05)
    url = fake.start()
    served, died = [], []

    def answer(body):
        served.append(1)
        if len(served) == 6 and not died:  # the server process goes away after its sixth answer
            died.append(time.monotonic())
            threading.Thread(target=fake.stop, daemon=True).start()
        return "history, travel"

    fake.answer = answer
    # the defaults: 6 attempts, backoff from 1 s doubling: retrying a dead server costs > 30 s a request
    be = ChatBackend(resolve_settings(base_url=url, model="m", api_key="k"), concurrency=4, progress=False)
    with pytest.raises(BackendError) as e:
        infer_interests(ds, be, run_dir=tmp_path)
    took = time.monotonic() - died[0]
    assert took < 15, took  # was 66-69 s (two full retry cycles)
    msg = str(e.value)
    assert f"cannot reach {url}" in msg and "the server stopped" in msg and "\n" not in msg
    with AnswerStore(tmp_path / "answers.sqlite") as st:
        assert 4 <= len(st) < ds.n_users - 1  # what arrived is kept


# ----------------------------------------------------------------------------- item 19
class _Listener:
    """A TCP server on 127.0.0.1 that sends ``reply`` to every connection (b"" = says nothing)."""

    def __init__(self, reply: bytes):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        conns = []
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            conns.append(c)
            if self.reply:
                c.sendall(self.reply)

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("reply", [b"", b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"])
def test_an_address_that_is_not_ray_fails_in_seconds(reply):
    from cikgwb.sweep import _ray_address_check

    srv = _Listener(reply)
    try:
        t0 = time.monotonic()
        with pytest.raises(RuntimeError, match=f"127.0.0.1:{srv.port} accepts connections but is not a Ray cluster"):
            _ray_address_check(f"127.0.0.1:{srv.port}")
        assert time.monotonic() - t0 < 8  # was 256 s
    finally:
        srv.close()


def test_a_grpc_server_passes_the_address_check():
    grpc = pytest.importorskip("grpc")
    from concurrent.futures import ThreadPoolExecutor

    from cikgwb.sweep import _ray_address_check

    server = grpc.server(ThreadPoolExecutor(max_workers=1))  # gRPC core, as Ray's GCS uses
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        _ray_address_check(f"127.0.0.1:{port}")
        _ray_address_check(f"ray://127.0.0.1:{port}")
    finally:
        server.stop(0)


def test_ray_token_cause_is_said_in_the_one_line(tmp_path, monkeypatch):
    from cikgwb.sweep import ray_auth_hint

    monkeypatch.setenv("HOME", str(tmp_path))
    for v in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(v, raising=False)
    assert ray_auth_hint("Failed to connect to GCS within 15 seconds") is None
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("t" * 32)  # what a local cluster of the tests writes
    hint = ray_auth_hint("Failed to connect to GCS within 15 seconds")
    assert "probably token authentication" in hint and "RAY_AUTH_MODE=token" in hint
    assert "asks for a Ray token" in ray_auth_hint("grpc status UNAUTHENTICATED: Invalid or missing token")
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    assert "refused this machine's Ray token" in ray_auth_hint("UNAUTHENTICATED")
    assert ray_auth_hint("connection reset") is None


def test_ray_connect_failure_is_one_line_with_the_token_cause(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    from cikgwb.sweep import _H2_PREFACE, ray_connect

    monkeypatch.setenv("RAY_gcs_server_port_wait_time_s", "6")  # ray_connect sets it: restored after

    assert _H2_PREFACE.startswith(b"PRI * HTTP/2.0")
    srv = _Listener(bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))  # answers like a gRPC server
    monkeypatch.setenv("HOME", str(tmp_path))
    for v in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(v, raising=False)
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("t" * 32)

    def init(**kw):
        os.write(2, b"[C++] rpc failed: UNAUTHENTICATED: Invalid or missing authentication token\n")
        raise ConnectionError("Failed to connect to GCS at address 127.0.0.1 within 15 seconds.")

    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    try:
        with pytest.raises(RuntimeError) as e:
            ray_connect(f"127.0.0.1:{srv.port}")
    finally:
        srv.close()
    msg = str(e.value)
    assert "\n" not in msg and "could not join the Ray cluster" in msg
    assert "the cluster asks for a Ray token" in msg and "RAY_AUTH_MODE=token" in msg


# ----------------------------------------------------------------------------- item 20
def test_invalid_yaml_config_and_cuda_on_cpu_torch_are_one_line(cli_env, tmp_path, capsys):
    main = cli_env
    bad = tmp_path / "config.yaml"
    bad.write_text("model:\n  model: cikgrec\n  lr: [1e-3\ntrain: {}\n")
    assert main([*TRAIN, "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{bad}:" in err and "not valid YAML" in err, err
    if not torch.cuda.is_available():
        assert main([*TRAIN, "--device", "cuda", "--name", "c"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "--device cuda" in err and "--device cpu" in err, err
        assert not (tmp_path / "runs" / "c-s0").exists()


@pytest.mark.parametrize("cmd", [TRAIN, ["sweep", "--grid", "lambda3=0.1"]])
def test_a_bad_seed_list_names_the_option(cmd, cli_env, capsys):
    with pytest.raises(SystemExit) as e:
        cli_env([*cmd, "--seeds", "0,x"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "argument --seeds: expected comma-separated integers such as 0,1,2, got '0,x'" in err


def test_stray_temporary_files_of_a_killed_run_are_removed(cli_env, tmp_path, one_thread):
    from cikgwb.train import checkpoint_dir

    main = cli_env
    run = tmp_path / "runs" / "t-s0"
    assert main([*TRAIN, "--name", "t", "--set", "max_epochs=1"]) == 0
    ck = checkpoint_dir(run)
    strays = [ck / ".best.pt.k1ll3d.tmp", run / ".metrics.json.k1ll3d.tmp", run / "test_per_user.npz.tmp.npz"]
    for p in strays:
        p.write_bytes(b"half")
    keep = run / "NOTE.md"
    keep.write_text("a note\n")
    assert main([*TRAIN, "--name", "t", "--set", "max_epochs=2", "--resume"]) == 0
    assert not any(p.exists() for p in strays) and keep.exists()
    assert _temps(run, tmp_path / "ck") == []


def test_a_warning_suffix_says_whether_the_published_data_has_it(
    tmp_path, synthetic_ds, synthetic_dir, monkeypatch, capsys
):
    import shutil

    from cikgwb.cli import main
    from cikgwb.data import loader

    assert loader.warning_note("book-crossing", "items without a title", 253) == "counted; the published data has this"
    assert "the published data has 253" in loader.warning_note("book-crossing", "items without a title", 300)
    assert "NOT in the published data" in loader.warning_note("book-crossing", "test pairs also in train.txt", 2)
    # a copy whose test.txt repeats a training pair: a warning no published file gives
    data = tmp_path / "data"
    shutil.copytree(synthetic_dir / "synthetic", data / "synthetic")
    train = (data / "synthetic" / "train.txt").read_text().splitlines()[0].split()
    test = data / "synthetic" / "test.txt"
    lines = test.read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.split()[0] == train[0])
    lines[k] += f" {train[1]}"
    test.write_text("\n".join(lines) + "\n")
    monkeypatch.setitem(loader.PUBLISHED_WARNINGS, "synthetic", {})
    assert main(["data", "stats", "synthetic", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "warning: test pairs also in train.txt: 1 (counted; NOT in the published data" in out
    assert "the published data has this" not in out


# ----------------------------------------------------------------------------- item 21
def test_overwrite_keeps_the_old_run_until_the_new_one_has_finished(cli_env, tmp_path, capsys, monkeypatch, one_thread):
    from cikgwb.train import checkpoint_dir, default_checkpoint_dir, find_checkpoint, staging_dir

    main = cli_env
    run = tmp_path / "runs" / "t-s0"
    assert main([*TRAIN, "--name", "t", "--set", "max_epochs=1"]) == 0
    before = _snapshot(run)
    best = find_checkpoint(run, "best.pt").read_bytes()
    # the new attempt dies in its first epoch (a full disk here; a crash or a kill is the same)
    with disk_fills(monkeypatch, "history.jsonl", after_writes=1, room=10):
        assert main([*TRAIN, "--name", "t", "--set", "max_epochs=2", "--overwrite"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"the finished run in {run} is kept unchanged" in err, err
    assert _snapshot(run) == before and find_checkpoint(run, "best.pt").read_bytes() == best
    assert main(["results", "--dataset", "synthetic", "--runs", str(tmp_path / "runs")]) == 0
    assert "| 0 / 1, cut: max_epochs |" in capsys.readouterr().out  # the old run, still in the table
    # the new attempt finishes: it replaces the old run, and nothing of the staging is left
    assert main([*TRAIN, "--name", "t", "--set", "max_epochs=2", "--overwrite"]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["epochs_run"] == 2 and len((run / "history.jsonl").read_text().splitlines()) == 2
    assert m["checkpoints"] == str(default_checkpoint_dir(run).resolve()) == str(checkpoint_dir(run).resolve())
    assert {c["run_dir"] for c in m["calls"]} == {str(run.resolve())}
    assert json.loads((run / "checkpoints.json").read_text())["dir"] == m["checkpoints"]
    assert torch.load(find_checkpoint(run, "last.pt"), weights_only=False)["epoch"] == 1
    assert not staging_dir(run).exists() and not default_checkpoint_dir(staging_dir(run)).exists()
    assert _temps(run, tmp_path / "ck") == []
