"""The chat backend against a real local HTTP server speaking the OpenAI wire format."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI
from llm_data import tiny_dataset

from cikgwb.knowledge.backends.base import BackendError, call_with_retries, retry_after_seconds
from cikgwb.knowledge.backends.chat import ChatBackend
from cikgwb.knowledge.infer import build_requests, infer_interests, load_answers
from cikgwb.knowledge.settings import LLMSettings, resolve_settings
from cikgwb.knowledge.store import AnswerStore

KEY = "fakekey-cikgwb-DISTINCTIVE-test-key-7f3a9c"


def backend(fake: FakeOpenAI, **kw) -> ChatBackend:
    settings = resolve_settings(base_url=fake.base_url, model="fake-model", api_key=KEY)
    kw = {"concurrency": 2, "timeout": 5.0, "backoff_initial": 0.01, "backoff_max": 2.0, "progress": False, **kw}
    return ChatBackend(settings, **kw)


def assert_key_nowhere(root: Path) -> None:
    hits = [p for p in root.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert hits == [], f"API key written to {hits}"


def test_answers_arrive_are_cached_and_a_rerun_sends_nothing(tmp_path):
    ds = tiny_dataset()
    with FakeOpenAI() as fake:
        df = infer_interests(ds, backend(fake), run_dir=tmp_path)
        assert list(df.columns[:4]) == ["user", "phrases", "raw", "source"]
        assert len(fake.chat_bodies) == ds.n_users - 1  # the user without titles is not asked
        assert df.loc[df.user == 5, "reason"].item() == "no-history"
        ok = df[df.reason == "ok"]
        assert len(ok) == ds.n_users - 1
        assert all(len(p) == 3 for p in ok.phrases)
        assert set(df.source) == {"llm:fake-model (chat)"}
        assert {b["model"] for b in fake.chat_bodies} == {"fake-model"}
        assert all(b["max_tokens"] == 1000 and "temperature" not in b for b in fake.chat_bodies)
        assert fake.auth_headers == {f"Bearer {KEY}"}
        with AnswerStore(tmp_path / "answers.sqlite") as st:
            stored = {a.user: a for a in st.all()}
        assert set(stored) == set(range(ds.n_users - 1))
        a = stored[0]
        assert a.model == "fake-model" and a.backend == "chat" and a.template == "cikgrec-authors@v1"
        assert a.usage["total_tokens"] > 0 and a.received_at >= a.requested_at
        assert a.endpoint == fake.base_url

        n = len(fake.chat_bodies)
        df2 = infer_interests(ds, backend(fake), run_dir=tmp_path)
        assert len(fake.chat_bodies) == n  # second run: no request at all
        assert df2.attrs["report"]["run"]["cached"] == ds.n_users - 1
        assert df2.phrases.tolist() == df.phrases.tolist()
        table = load_answers(tmp_path / "answers.jsonl")
        assert table.phrases.tolist() == df.phrases.tolist()
    assert_key_nowhere(tmp_path)


def test_429_with_retry_after_and_500_are_retried(tmp_path):
    ds = tiny_dataset()
    with FakeOpenAI(faults=[("429", 1), ("500",), ("429-ms", 50), ("500",)]) as fake:
        t0 = time.monotonic()
        df = infer_interests(ds, backend(fake, concurrency=1), run_dir=tmp_path)
        elapsed = time.monotonic() - t0
    assert (df.reason == "ok").sum() == ds.n_users - 1
    run = df.attrs["report"]["run"]
    assert run["retries"] == 4 and run["failed"] == 0
    assert len(fake.chat_bodies) == ds.n_users - 1 + 4
    assert elapsed >= 1.0  # Retry-After: 1 was honoured (backoff alone is ~10 ms)


def test_dropped_connection_and_timeout_are_retried(tmp_path):
    ds = tiny_dataset()
    with FakeOpenAI(faults=[("drop",), ("delay", 1.5)]) as fake:
        df = infer_interests(ds, backend(fake, concurrency=1, timeout=0.5), run_dir=tmp_path)
    assert (df.reason == "ok").sum() == ds.n_users - 1
    assert df.attrs["report"]["run"]["retries"] == 2


def test_giving_up_is_counted_and_the_rerun_asks_only_for_the_failed(tmp_path):
    ds = tiny_dataset()
    with FakeOpenAI(faults=[("500",)] * 3) as fake:
        df = infer_interests(ds, backend(fake, concurrency=1, max_attempts=3), run_dir=tmp_path)
        assert df.attrs["report"]["run"]["failed"] == 1
        assert df.attrs["report"]["run"]["failure reasons"] == {"http 500": 1}
        assert (df.reason == "no-answer").sum() == 1
        failed_user = int(df.loc[df.reason == "no-answer", "user"].item())
        n = len(fake.chat_bodies)
        df2 = infer_interests(ds, backend(fake), run_dir=tmp_path)
        assert len(fake.chat_bodies) == n + 1
        assert (df2.reason == "ok").sum() == ds.n_users - 1
        reqs, _ = build_requests(ds, "fake-model", users=[failed_user])
        assert fake.chat_bodies[-1]["messages"] == reqs[0].messages  # only the failed user
        assert df2.loc[df2.user == failed_user, "reason"].item() == "ok"


def test_fatal_error_stops_the_run_and_keeps_what_arrived(tmp_path):
    ds = tiny_dataset()
    with FakeOpenAI(faults=[("401",)] * 50) as fake:
        with pytest.raises(BackendError, match="http 401"):
            infer_interests(ds, backend(fake, concurrency=1), run_dir=tmp_path)
        assert len(fake.chat_bodies) <= 3  # stopped: not every user was tried


def test_malformed_answers_are_parsed_or_rejected_with_counted_reasons(tmp_path):
    ds = tiny_dataset("synthetic", n_users=8)
    replies = [
        "1. Fantasy\n2. Science fiction",
        "I'm sorry, but I can't help with that.",
        "",
        '"Cooking", "Travel."',
        "x" * 5000,
        "Interests: - History - War",
        "12, 34",
    ]

    def answer(body):
        hist = body["messages"][-1]["content"]
        return replies[sum(map(ord, hist)) % len(replies)]

    with FakeOpenAI(answer=answer) as fake:
        df = infer_interests(ds, backend(fake), run_dir=tmp_path)
    rep = df.attrs["report"]
    got = dict(zip(df.raw, df.reason))
    expect = {
        "1. Fantasy\n2. Science fiction": "ok",
        "I'm sorry, but I can't help with that.": "refusal",
        "": "empty",
        '"Cooking", "Travel."': "ok",
        "x" * 5000: "overlong",
        "12, 34": "no-usable-phrases",
    }
    for raw, reason in got.items():
        if raw in expect:
            assert reason == expect[raw]
    assert sum(rep["reasons"].values()) == ds.n_users
    assert rep["usable users"] == rep["reasons"].get("ok", 0)
    assert rep["reasons"]["no-history"] == 1
    assert df.loc[df.raw == '"Cooking", "Travel."', "phrases"].iloc[0] == ["Cooking", "Travel"]


def test_retry_policy_units():
    import httpx
    import openai

    def status_error(code, headers):
        req = httpx.Request("POST", "http://x/v1/chat/completions")
        resp = httpx.Response(code, headers=headers, request=req)
        cls = openai.RateLimitError if code == 429 else openai.InternalServerError
        return cls("boom", response=resp, body={"error": {"code": "quota" if code == 429 else None}})

    assert retry_after_seconds(status_error(429, {"Retry-After": "7"})) == 7.0
    assert retry_after_seconds(status_error(429, {"retry-after-ms": "250"})) == 0.25
    assert retry_after_seconds(status_error(500, {})) is None
    waits, calls = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 4:
            raise status_error(500, {})
        return "done"

    assert call_with_retries(flaky, max_attempts=5, initial=1.0, max_wait=3.0, sleep=waits.append) == "done"
    assert len(waits) == 3
    assert all(1.0 <= w <= 4.0 for w in waits)  # exponential, capped at max_wait, plus jitter <= 1
    assert waits[1] >= 2.0
    calls.clear()
    with pytest.raises(openai.InternalServerError):
        call_with_retries(lambda: (_ for _ in ()).throw(status_error(500, {})), max_attempts=2, sleep=waits.append)


def test_settings_resolution_and_key_never_in_repr(tmp_path, monkeypatch):
    for v in ("OPENAI_BASE_URL", "OPENAI_MODEL", "CIKGWB_LLM_MODEL", "OPENAI_API_KEY"):
        monkeypatch.delenv(v, raising=False)
    cfg = tmp_path / "settings.yaml"
    cfg.write_text(f"base_url: http://file-host/v1\nmodel: file-model\napi_key: {KEY}\n")
    monkeypatch.setenv("CIKGWB_SETTINGS", str(cfg))
    s = resolve_settings()
    assert (s.base_url, s.model, s.api_key) == ("http://file-host/v1", "file-model", KEY)
    assert KEY not in repr(s) and "settings file" in s.key_source
    monkeypatch.setenv("OPENAI_MODEL", "env-model")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    s = resolve_settings(base_url="http://arg/v1")
    assert (s.base_url, s.model, s.api_key) == ("http://arg/v1", "env-model", "sk-env")
    assert resolve_settings(model="arg-model").model == "arg-model"
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("CIKGWB_SETTINGS", str(tmp_path / "none.yaml"))
    with pytest.raises(ValueError, match="no API key for api.openai.com"):
        resolve_settings()
    assert resolve_settings(base_url="http://127.0.0.1:8000/v1").api_key  # local server: placeholder
    cfg.write_text("apikey: x\n")
    monkeypatch.setenv("CIKGWB_SETTINGS", str(cfg))
    with pytest.raises(ValueError, match="unknown key"):
        resolve_settings()
    assert isinstance(s, LLMSettings)
