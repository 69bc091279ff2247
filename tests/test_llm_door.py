"""Issue 20, LLM side: an unreachable --base-url, two runs on one store, credentials in the URL,
--retries 0, and whether empty / refusal answers are asked again."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest
from _fake_llm import infer_args, infer_cmd, infer_env
from fake_openai import FakeOpenAI
from llm_data import tiny_dataset

from cikgwb.cli import main as knowledge_main
from cikgwb.knowledge.backends.base import BackendError
from cikgwb.knowledge.backends.chat import ChatBackend
from cikgwb.knowledge.infer import infer_interests
from cikgwb.knowledge.settings import resolve_settings, split_credentials
from cikgwb.knowledge.store import AnswerStore, StoreBusy

SECRET = "pw-DISTINCTIVE-s3cr3t-91ac"


def dead_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def chat(url: str, **kw) -> ChatBackend:
    settings = resolve_settings(base_url=url, model="fake-model", api_key="sk-test")
    return ChatBackend(settings, **{"concurrency": 2, "timeout": 5.0, "progress": False, **kw})


def test_unreachable_base_url_is_fatal_at_once_naming_the_url(tmp_path):
    ds = tiny_dataset()
    url = dead_url()
    t0 = time.monotonic()
    # default backoff (1 s, doubling) and 6 attempts: retrying would take > 30 s per request
    with pytest.raises(BackendError) as err:
        infer_interests(ds, chat(url), run_dir=tmp_path)
    assert time.monotonic() - t0 < 8
    msg = str(err.value)
    assert f"cannot reach {url}" in msg and "connection refused" in msg and "\n" not in msg
    with AnswerStore(tmp_path / "answers.sqlite") as st:
        assert len(st) == 0


def test_unreachable_base_url_cli_one_line_without_credentials(tmp_path, synthetic_ds, synthetic_dir, capsys):
    url = dead_url().replace("http://", f"http://bob:{SECRET}@")
    rc = knowledge_main(
        [
            "interests",
            "infer",
            "--dataset",
            "synthetic",
            "--data-dir",
            str(synthetic_dir),
            "--base-url",
            url,
            "--model",
            "m",
            "--limit",
            "4",
            "--run-dir",
            str(tmp_path),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1, err
    assert "cannot reach http://127.0.0.1:" in err and SECRET not in err and "bob" not in err


def test_server_gone_mid_run_stops_the_run_and_keeps_the_answers(tmp_path):
    ds = tiny_dataset("synthetic", n_users=12)
    fake = FakeOpenAI(delay=0.05)
    fake.start()
    url = fake.base_url
    served = []

    def answer(body):
        served.append(1)
        if len(served) == 4:  # the server goes away after its fourth answer
            import threading

            threading.Thread(target=fake.stop, daemon=True).start()
        return "history, travel"

    fake.answer = answer
    with pytest.raises(BackendError, match=f"cannot reach {url}"):
        infer_interests(
            ds, chat(url, concurrency=1, backoff_initial=0.01, backoff_max=0.05, max_attempts=3), run_dir=tmp_path
        )
    with AnswerStore(tmp_path / "answers.sqlite") as st:
        kept = {a.user for a in st.all()}
    assert 3 <= len(kept) <= 4
    with FakeOpenAI() as again:  # a rerun asks only for the users not stored
        df = infer_interests(ds, chat(again.base_url), run_dir=tmp_path)
    assert len(again.chat_bodies) == ds.n_users - 1 - len(kept)
    assert (df.reason == "ok").sum() == ds.n_users - 1


def test_a_second_run_on_a_busy_store_is_refused_before_any_request(tmp_path):
    ds = tiny_dataset()
    with FakeOpenAI() as fake:
        holder = AnswerStore(tmp_path / "answers.sqlite", exclusive=True)
        try:
            with pytest.raises(StoreBusy, match=r"in use by another run \(pid \d+"):
                infer_interests(ds, chat(fake.base_url), run_dir=tmp_path)
            assert fake.chat_bodies == []
        finally:
            holder.close()
        df = infer_interests(ds, chat(fake.base_url), run_dir=tmp_path)  # the lock is gone with it
        assert (df.reason == "ok").sum() == ds.n_users - 1
    with AnswerStore(tmp_path / "answers.sqlite") as reader:  # readers need no lock
        assert len(reader) == ds.n_users - 1


@pytest.mark.timeout(120)
def test_two_processes_on_one_store_do_not_both_pay(tmp_path, synthetic_ds, synthetic_dir):
    n = 8
    run_dir = tmp_path / "run"
    env = infer_env(tmp_path)
    gate = threading.Event()  # a's first request is held until b has tried (no race with b's start-up)
    with FakeOpenAI(gate=gate) as fake:
        cmd = infer_cmd(fake.base_url, synthetic_dir, run_dir, "--limit", str(n), "--concurrency", "1")
        a = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while not fake.chat_bodies:  # a is asking
            assert a.poll() is None, a.stdout.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        try:
            b = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=100)
        finally:
            gate.set()
        out_a, _ = a.communicate(timeout=60)
    assert a.returncode == 0, out_a
    assert b.returncode == 2 and "in use by another run" in b.stderr, b.stdout + b.stderr
    assert len(fake.chat_bodies) == n  # each user paid for once


def test_credentials_in_base_url_never_printed_even_verbose(tmp_path, synthetic_ds, synthetic_dir):
    with FakeOpenAI() as fake:
        url = fake.base_url.replace("http://", f"http://alice:{SECRET}@")
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "cikgwb",
                "-v",
                *infer_args(url, synthetic_dir, tmp_path / "run", "--limit", "3"),
            ],
            env=infer_env(tmp_path),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        auth, plain = set(fake.auth_headers), fake.base_url
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "HTTP Request" in out  # -v really logs the requests...
    assert SECRET not in out and "alice" not in out  # ...but never the credentials
    import base64

    assert auth == {"Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()}  # still sent
    hits = [p for p in tmp_path.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert hits == []
    assert split_credentials(url) == (plain, ("alice", SECRET))


def test_retries_zero_means_one_attempt_and_negative_is_rejected(tmp_path, synthetic_ds, synthetic_dir, capsys):
    with FakeOpenAI(faults=[("500",)]) as fake:
        rc = knowledge_main(
            [
                "interests",
                "infer",
                "--dataset",
                "synthetic",
                "--data-dir",
                str(synthetic_dir),
                "--base-url",
                fake.base_url,
                "--model",
                "m",
                "--limit",
                "3",
                "--concurrency",
                "1",
                "--retries",
                "0",
                "--run-dir",
                str(tmp_path),
                "--no-progress",
            ]
        )
        assert len(fake.chat_bodies) == 3  # the user hit by the 500 was tried once, not retried
    out = capsys.readouterr().out
    assert rc == 1 and "failed 1" in out and "new 2" in out
    with pytest.raises(SystemExit) as e:
        knowledge_main(["interests", "infer", "--dataset", "synthetic", "--retries", "-1"])
    assert e.value.code == 2
    assert "--retries: expected an integer >= 0, got -1" in capsys.readouterr().err
    with pytest.raises(ValueError, match="max_attempts must be an integer >= 1"):
        chat("http://127.0.0.1:1/v1", max_attempts=0)


def test_empty_and_refusal_answers_are_kept_and_reasked_only_on_request(tmp_path):
    ds = tiny_dataset("synthetic", n_users=6)
    replies = {0: "", 1: "I'm sorry, but I cannot help with that."}

    def answer(body):
        user_msg = body["messages"][-1]["content"]
        for u, h in hist.items():
            if user_msg == h:
                return replies.get(u, "history, travel")
        raise AssertionError(user_msg)

    from cikgwb.knowledge.infer import build_requests

    reqs, _ = build_requests(ds, "fake-model")
    hist = {r.user: r.messages[-1]["content"] for r in reqs}
    with FakeOpenAI(answer=answer) as fake:
        df = infer_interests(ds, chat(fake.base_url), run_dir=tmp_path)
        assert df.set_index("user").reason[[0, 1]].tolist() == ["empty", "refusal"]
        n = len(fake.chat_bodies)
        infer_interests(ds, chat(fake.base_url), run_dir=tmp_path)
        assert len(fake.chat_bodies) == n  # documented: not asked again by default
        replies.clear()
        df = infer_interests(ds, chat(fake.base_url), run_dir=tmp_path, reask=("empty", "refusal"))
        assert len(fake.chat_bodies) == n + 2
    assert (df.reason == "ok").sum() == ds.n_users - 1
    assert df.attrs["report"]["re-asked (superseded)"] == 2
    with AnswerStore(tmp_path / "answers.sqlite") as st:
        old = st.superseded()
    assert sorted(a.raw for a in old) == sorted(["", "I'm sorry, but I cannot help with that."])
    with pytest.raises(ValueError, match="reask"):
        infer_interests(ds, chat("http://127.0.0.1:1/v1"), run_dir=tmp_path, reask=("ok",))


def test_unreachable_base_url_is_fatal_at_once_for_the_batch_backend_too(tmp_path):
    from cikgwb.knowledge.backends.batch import BatchBackend

    url = dead_url()
    settings = resolve_settings(base_url=url, model="fake-model", api_key="sk-test")
    t0 = time.monotonic()
    with pytest.raises(BackendError, match=f"cannot reach {url}: connection refused"):
        infer_interests(tiny_dataset(), BatchBackend(settings, poll_interval=0, progress=False), run_dir=tmp_path)
    assert time.monotonic() - t0 < 8  # was ~37 s of retries, then a bare "Connection error."
