"""The REAL llama.cpp server (llama-cpp-python[server]) with SmolLM2-135M on 127.0.0.1, end to end:
prompt -> server -> answer store -> parse -> interest graph; a second run asks nothing new; bad
model files, a busy port and a server killed mid-run each give one clear line and lose nothing.

Skipped (with the reason) only where the optional extra ``.[local-llm]`` is not installed.
Few users, few tokens, one thread: well under a minute on a busy 2-core machine.
"""

from __future__ import annotations

import re
import signal
import socket
import threading
import time

import pytest

from cikgwb.knowledge.backends.local import LocalBackend
from cikgwb.knowledge.llm_server import LocalLLMServer, LocalServerError, resolve_model, server_available

_why = server_available()
if _why is None:
    try:
        resolve_model("smollm2-135m")
    except LocalServerError as e:
        _why = str(e)
pytestmark = pytest.mark.skipif(_why is not None, reason=f"local-llm extra not installed: {_why}")

KW = dict(template="few-shot-small", max_tokens=16, temperature=0.0, progress=False)


@pytest.mark.timeout(240)
def test_real_server_end_to_end_and_a_second_run_asks_nothing(tmp_path):
    from llm_data import tiny_dataset

    from cikgwb.knowledge.infer import infer_interests
    from cikgwb.knowledge.interest_graph import build_interest_graph, read_answers
    from cikgwb.knowledge.store import AnswerStore

    ds = tiny_dataset("synthetic", n_users=6)  # 5 users with titled histories, 1 without
    t0 = time.monotonic()
    df = infer_interests(ds, "local", threads=1, run_dir=tmp_path, **KW)
    first_s = time.monotonic() - t0
    rep = df.attrs["report"]
    assert rep["run"]["done"] == 5 and rep["run"]["failed"] == 0, rep["run"]
    ls = rep["local server"]
    assert ls["model file"] == "SmolLM2-135M-Instruct.Q4_1.gguf" and re.fullmatch(r"[0-9a-f]{64}", ls["model sha256"])
    assert ls["server"].startswith("llama-cpp-python ") and ls["started a server this run"] is True
    assert rep["template"] == "few-shot-small@v3" and rep["endpoint"].startswith("http://127.0.0.1:")
    with AnswerStore(tmp_path / "answers.sqlite") as st:
        stored = st.all()
    assert len(stored) == 5
    assert {a.backend for a in stored} == {"local"} and {a.template for a in stored} == {"few-shot-small@v3"}
    assert all(a.usage["prompt_tokens"] > 50 and 0 < a.usage["completion_tokens"] <= 16 for a in stored)
    assert all(isinstance(a.raw, str) for a in stored)
    assert set(df.reason) <= {"ok", "echo", "no-usable-phrases", "empty", "refusal", "no-history"}
    assert df.set_index("user").reason[5] == "no-history"
    assert "few-shot-small@v3" in rep["echo"]

    # parse -> interest graph (TF-IDF + k-means; labels are text)
    usable = df[df.reason == "ok"]
    assert len(usable) >= 1, df[["user", "raw", "reason"]].to_string()
    answers = read_answers(tmp_path / "answers.jsonl")
    n_phrases = len({p.lower() for ps in usable.phrases for p in ps})
    g = build_interest_graph(answers, dataset=ds, kappa=min(2, n_phrases), min_users=1, max_share=1.0)
    assert g.n_interests >= 1 and len(g.edges) >= 1
    assert all(isinstance(x, str) and x for x in g.labels.label)
    assert "local" in g.provenance["interests_source"]

    # the second run: everything is stored, so no server is even started and nothing is asked
    t0 = time.monotonic()
    df2 = infer_interests(ds, "local", threads=1, run_dir=tmp_path, **KW)
    assert time.monotonic() - t0 < first_s
    rep2 = df2.attrs["report"]
    assert rep2["run"]["cached"] == 5 and rep2["run"]["done"] == 0
    assert rep2["local server"]["started a server this run"] is False
    assert df2.raw.tolist() == df.raw.tolist()


def test_bad_model_files_and_a_busy_port_are_one_line_errors(tmp_path):
    with pytest.raises(LocalServerError, match=r"model file .*missing.gguf not found"):
        LocalLLMServer(tmp_path / "missing.gguf")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(LocalServerError, match="is not a GGUF file"):
        LocalLLMServer(junk)
    with pytest.raises(LocalServerError, match="is a directory"):
        LocalLLMServer(tmp_path)
    # right magic, truncated body: the server itself fails to load it -> its exit code, one line
    real = resolve_model("smollm2-135m")
    cut = tmp_path / "truncated.gguf"
    with open(real, "rb") as fh:
        cut.write_bytes(fh.read(4096))
    with pytest.raises(LocalServerError, match=r"exited with code \S+ while loading .*truncated.gguf") as e:
        LocalLLMServer(cut, start_timeout=120).start()
    assert "\n" not in str(e.value)
    with socket.socket() as s:  # a port in use
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(LocalServerError, match=f"port {port} on 127.0.0.1 is already in use"):
            LocalLLMServer("smollm2-135m", port=port).start()


@pytest.mark.timeout(240)
def test_server_killed_mid_run_stops_at_once_and_the_rerun_asks_only_the_missing(tmp_path):
    from llm_data import tiny_dataset

    from cikgwb.data.dataset import Dataset  # noqa: F401 - the tiny dataset's type
    from cikgwb.knowledge.backends.base import BackendError
    from cikgwb.knowledge.infer import infer_interests
    from cikgwb.knowledge.store import AnswerStore

    ds = tiny_dataset("synthetic", n_users=10)  # 9 users with titles
    be = LocalBackend("smollm2-135m", threads=1, progress=False, max_attempts=6)
    db = tmp_path / "answers.sqlite"

    def killer():
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if db.exists():
                with AnswerStore(db) as st:
                    if len(st) >= 2:
                        proc = be.group.servers[0].proc
                        if proc is not None:
                            proc.send_signal(signal.SIGKILL)
                        return
            time.sleep(0.05)

    th = threading.Thread(target=killer, daemon=True)
    th.start()
    t0 = time.monotonic()
    with pytest.raises(BackendError, match=r"died with exit code -9.*answers stored this run, run stopped"):
        infer_interests(ds, be, run_dir=tmp_path, **KW)
    assert time.monotonic() - t0 < 120  # no 6 x backoff per remaining user
    th.join(5)
    with AnswerStore(db) as st:
        kept = {a.user: a.raw for a in st.all()}
    assert 2 <= len(kept) < 9
    df = infer_interests(ds, "local", threads=1, run_dir=tmp_path, **KW)
    run = df.attrs["report"]["run"]
    assert run["cached"] == len(kept) and run["done"] == 9 - len(kept)
    with AnswerStore(db) as st:
        assert {u: r for u, r in ((a.user, a.raw) for a in st.all()) if u in kept} == kept


@pytest.mark.timeout(180)
def test_cli_llm_serve_prints_the_url_answers_and_stops_on_ctrl_c(tmp_path):
    import json
    import os
    import subprocess
    import sys
    import urllib.request
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(repo)}
    gguf = tmp_path / "any-name.gguf"  # any GGUF path works, not only the built-in name
    gguf.symlink_to(resolve_model("smollm2-135m"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cikgwb",
            "llm",
            "serve",
            "--model",
            str(gguf),
            "--port",
            "0",
            "--threads",
            "1",
            "--log-dir",
            str(tmp_path),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            m = re.search(r"serving (\S+) at (http://127\.0\.0\.1:\d+/v1)", line)
            if m:
                break
        assert m, "".join(lines)
        with urllib.request.urlopen(m.group(2) + "/models", timeout=10) as r:
            assert json.load(r)["data"][0]["id"] == m.group(1)
        pids = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert pids, "no server child process"
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(lines) + out
    assert "server stopped" in out
    for pid in pids:  # the llama.cpp process is gone too
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


@pytest.mark.timeout(180)
def test_cli_infer_backend_local(tmp_path, synthetic_ds, synthetic_dir, capsys):
    from cikgwb.cli import main

    args = [
        "interests",
        "infer",
        "--dataset",
        "synthetic",
        "--data-dir",
        str(synthetic_dir),
        "--backend",
        "local",
        "--template",
        "few-shot-small",
        "--limit",
        "2",
        "--max-tokens",
        "8",
        "--temperature",
        "0",
        "--threads",
        "1",
        "--run-dir",
        str(tmp_path),
        "--no-progress",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "new 2, failed 0" in out and "SmolLM2-135M-Instruct.Q4_1.gguf (sha256 " in out
    assert main(args) == 0
    assert "cached 2, new 0" in capsys.readouterr().out
    assert main([*args, "--base-url", "http://127.0.0.1:1/v1"]) == 2
    assert "--backend local starts its own server" in capsys.readouterr().err
    assert main([*args, "--model", str(tmp_path / "nope.gguf")]) == 2
    assert "nope.gguf not found" in capsys.readouterr().err
