"""A run really killed (SIGKILL) mid-way resumes and asks only for the users it lacks."""

from __future__ import annotations

import collections
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from _fake_llm import infer_cmd, infer_env
from fake_openai import FakeOpenAI

from cikgwb.knowledge.infer import build_requests, load_answers

KEY = "fakekey-cikgwb-DISTINCTIVE-kill-key-c41d77"
N_USERS = 16


def stored_count(db: Path) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
    except sqlite3.OperationalError:  # table not created yet
        return 0
    finally:
        con.close()


@pytest.mark.timeout(180)
def test_sigkill_mid_run_then_resume_asks_only_for_missing(tmp_path):
    from cikgwb.data import load_dataset

    data_dir = tmp_path / "data"
    ds = load_dataset("synthetic", data_dir=data_dir)  # generated once, here
    reqs, _ = build_requests(ds, "fake-model", users=list(range(N_USERS)))
    assert len(reqs) == N_USERS
    content = {r.user: r.messages[-1]["content"] for r in reqs}
    run_dir = tmp_path / "run"
    db = run_dir / "answers.sqlite"
    env = infer_env(tmp_path, OPENAI_API_KEY=KEY)

    def cmd(url: str) -> list[str]:
        return infer_cmd(url, data_dir, run_dir, "--concurrency", "2", "--limit", str(N_USERS))

    with FakeOpenAI(delay=0.4) as fake:
        proc = subprocess.Popen(
            cmd(fake.base_url),
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 90
        while stored_count(db) < 4:
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "no answers stored in time"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL

        con = sqlite3.connect(db)  # the killed run's store: sound, every record whole
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = con.execute("SELECT user, raw, model, received_at, messages FROM answers").fetchall()
        con.close()
        assert 4 <= len(rows) < N_USERS
        assert all(r[1] and r[2] == "fake-model" and r[3] > 0 and r[4] for r in rows)
        have = {r[0] for r in rows}
        asked_before = len(fake.chat_bodies)

        fake.delay = 0.0
        done = subprocess.run(
            cmd(fake.base_url),
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        asked_after = [b["messages"][-1]["content"] for b in fake.chat_bodies[asked_before:]]

    missing = sorted(set(range(N_USERS)) - have)
    assert collections.Counter(asked_after) == collections.Counter(content[u] for u in missing)
    assert stored_count(db) == N_USERS
    table = load_answers(run_dir / "answers.jsonl")
    assert sorted(table.user) == list(range(N_USERS)) and (table.reason == "ok").all()
    hits = [p for p in tmp_path.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert hits == []
