"""The written backend interface (issue 19, item 4): the registry, options on constructors, a
toy backend of each kind added the documented way (one class + one registry line) and run end
to end through ``infer_interests`` and the CLI; and the one atomic-write helper."""

from __future__ import annotations

import json
import os
import sys
import types
from typing import ClassVar

import pytest
from llm_data import tiny_dataset

from cikgwb.knowledge import backends as registry
from cikgwb.knowledge.backends import backend_names, backend_options, make_backend
from cikgwb.knowledge.backends.base import BackendRun
from cikgwb.knowledge.backends.protocol import Answer, Backend, LLMBackend
from cikgwb.knowledge.infer import infer_interests, load_answers
from cikgwb.knowledge.settings import NO_KEY, LLMSettings
from cikgwb.knowledge.store import AnswerStore, StoredAnswer


# ------------------------------------------------------------------ toy backends, as the docs say
class ToyLLM(LLMBackend):
    """An "LLM" that answers "<last word of the prompt> <suffix>, travel" and notes whom it asked."""

    name = "toy-llm"
    asked: ClassVar[list[int]] = []

    def __init__(self, model: str = "toy-1", suffix: str = "stories"):
        self.settings = LLMSettings(base_url="http://localhost/v1", model=model, api_key=NO_KEY, key_source="none")
        self.suffix = suffix

    def run(self, requests, store):
        out = BackendRun(backend=self.name, requested=len(requests))
        have = store.get_many(r.key for r in requests)
        out.cached = len(have)
        for r in requests:
            if r.key in have:
                continue
            ToyLLM.asked.append(r.user)
            words = r.messages[-1]["content"].split()
            raw = f"{words[-1].strip('.,;:').lower()} {self.suffix}, travel"
            out.done += store.put(
                StoredAnswer(
                    key=r.key,
                    user=r.user,
                    model=r.model,
                    template=r.template,
                    backend=self.name,
                    messages=r.messages,
                    params=r.params,
                    raw=raw,
                    dataset=r.dataset,
                )
            )
        return out


class ToyCount:
    """Not an LLM: every user with a history gets the phrase "n items" (n = history length)."""

    name = "toy-count"
    is_llm = False
    source = "toy-count (not an LLM)"

    def __init__(self, word: str = "items"):
        self.word = word

    def answer(self, job):
        answers = {}
        for u, h in zip(job.users, job.histories):
            answers[u] = (
                Answer(None, self.source, reason="no-history")
                if not h.items
                else Answer(f"{len(h.items)} {self.word}", self.source, phrases=[f"{len(h.items)} {self.word}"])
            )
        return BackendRun(
            backend=self.name,
            requested=len(job.users),
            done=len(job.users),
            answers=answers,
            report={"is_llm": False, "params": {"word": self.word}},
        )


@pytest.fixture
def toy_registry(monkeypatch):
    """The two toy backends in their own module, each added with one registry line."""
    mod = types.ModuleType("toy_backends_for_test")
    mod.ToyLLM, mod.ToyCount = ToyLLM, ToyCount
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    monkeypatch.setitem(registry.REGISTRY, "toy-llm", f"{mod.__name__}:ToyLLM")
    monkeypatch.setitem(registry.REGISTRY, "toy-count", f"{mod.__name__}:ToyCount")
    ToyLLM.asked = []
    yield


def test_every_registered_backend_implements_the_protocol():
    assert set(backend_names()) == {"chat", "batch", "vllm-batch", "local", "kg-summary"}
    for name in backend_names():
        cls = registry.backend_class(name)
        assert cls.name == name, name
        assert isinstance(cls.is_llm, bool) and callable(cls.answer) and hasattr(cls, "source"), name
        if cls.is_llm:
            assert issubclass(cls, LLMBackend) and cls.run is not LLMBackend.run, name
    assert backend_options("chat")["concurrency"] == 8 and "threads" in backend_options("local")
    assert backend_options("vllm-batch")["path"] is registry.inspect.Parameter.empty


def test_make_backend_takes_the_constructor_options_and_rejects_others_by_name(tmp_path):
    be = make_backend("chat", model="m", base_url="http://127.0.0.1:9/v1", concurrency=3, timeout=None)
    assert isinstance(be, Backend) and be.concurrency == 3 and be.timeout == 60.0
    assert be.source == "llm:m (chat)" and be.settings.key_source == "none (local server)"
    kg = make_backend("kg-summary", max_phrases=2, model=None)  # None = not given
    assert isinstance(kg, Backend) and kg.max_phrases == 2 and kg.is_llm is False
    with pytest.raises(
        ValueError,
        match=r"backend 'kg-summary' does not take option\(s\) concurrency "
        r"\(its options: max_phrases, max_df\)",
    ):
        make_backend("kg-summary", concurrency=2)
    with pytest.raises(ValueError, match=r"backend 'vllm-batch' needs option\(s\) path"):
        make_backend("vllm-batch", model="m")
    with pytest.raises(FileNotFoundError, match="nope.jsonl: batch output file not found"):
        make_backend("vllm-batch", path=tmp_path / "nope.jsonl")
    with pytest.raises(
        ValueError,
        match=r"backend 'chta': expected one of chat, batch, vllm-batch, local, "
        r"kg-summary",
    ):
        make_backend("chta")
    with pytest.raises(ValueError, match="are for a backend given by name"):
        infer_interests(tiny_dataset(), kg, model="m", run_dir=tmp_path)


URL = "http://127.0.0.1:9/v1"


@pytest.mark.parametrize(
    "name, options, line",
    [
        ("kg-summary", {"max_phrases": "5"}, "backend 'kg-summary' option max_phrases='5': expected an integer"),
        ("kg-summary", {"max_df": "0.5"}, "backend 'kg-summary' option max_df='0.5': expected a number"),
        ("kg-summary", {"max_phrases": True}, "backend 'kg-summary' option max_phrases=True: expected an integer"),
        (
            "chat",
            {"model": "m", "base_url": URL, "concurrency": "8"},
            "backend 'chat' option concurrency='8': expected an integer",
        ),
        (
            "chat",
            {"model": "m", "base_url": URL, "timeout": [60]},
            "backend 'chat' option timeout=[60]: expected a number",
        ),
        ("chat", {"model": 3, "base_url": URL}, "backend 'chat' option model=3: expected a string or none"),
        (
            "chat",
            {"model": "m", "base_url": URL, "progress": "no"},
            "backend 'chat' option progress='no': expected true or false",
        ),
        ("local", {"threads": "2"}, "backend 'local' option threads='2': expected an integer"),
        ("local", {"model": 7}, "backend 'local' option model=7: expected a path or none"),
    ],
)
def test_a_backend_option_of_the_wrong_type_is_one_line_naming_backend_option_and_value(name, options, line):
    with pytest.raises(ValueError) as exc:
        make_backend(name, **options)
    assert not isinstance(exc.value, TypeError) and str(exc.value) == line


def test_backend_options_of_the_right_type_pass_the_check():
    kg = make_backend("kg-summary", max_phrases=3, max_df=1)  # an int is a number
    assert kg.max_phrases == 3 and kg.max_df == 1


def test_a_toy_llm_backend_added_by_one_registry_line_runs_end_to_end(tmp_path, toy_registry):
    ds = tiny_dataset("synthetic", n_users=6)  # user 5 has no titled item
    df = infer_interests(ds, "toy-llm", suffix="tales", run_dir=tmp_path, template="few-shot-small")
    assert sorted(ToyLLM.asked) == [0, 1, 2, 3, 4]
    by = df.set_index("user")
    assert by.reason[5] == "no-history" and by.raw.isna()[5] and by.template.isna()[5]
    assert (by.reason[:5] == "ok").all() and all(len(p) == 2 and p[1] == "travel" for p in by.phrases[:5])
    assert set(by.source) == {"llm:toy-1 (toy-llm)"} and set(by.template[:5]) == {"few-shot-small@v3"}
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["backend"] == "toy-llm" and rep["is_llm"] is True and rep["model"] == "toy-1"
    assert rep["run"]["done"] == 5 and "few-shot-small@v3" in rep["echo"]
    assert load_answers(tmp_path / "answers.jsonl").phrases.tolist() == df.phrases.tolist()
    with AnswerStore(tmp_path / "answers.sqlite") as st:
        assert {a.backend for a in st.all()} == {"toy-llm"} and len(st) == 5
    # the rerun finds every answer in the store and asks nothing
    df2 = infer_interests(ds, "toy-llm", suffix="tales", run_dir=tmp_path, template="few-shot-small")
    assert len(ToyLLM.asked) == 5 and df2.attrs["report"]["run"]["cached"] == 5
    assert df2.raw.tolist() == df.raw.tolist() and df2.phrases.tolist() == df.phrases.tolist()
    # an option the toy does not take is refused, naming its options
    with pytest.raises(ValueError, match=r"'toy-llm' does not take option\(s\) threads \(its options: model, suffix\)"):
        infer_interests(ds, "toy-llm", threads=2, run_dir=tmp_path)


def test_a_toy_non_llm_backend_and_the_cli_reads_the_registry(tmp_path, toy_registry, monkeypatch, capsys):
    from cikgwb import cli
    from cikgwb.cli import interests as interests_cli

    ds = tiny_dataset("synthetic", n_users=6)
    df = infer_interests(ds, "toy-count", word="books", run_dir=tmp_path / "count")
    assert df.phrases.tolist() == [["3 books"], ["4 books"], ["5 books"], ["3 books"], ["4 books"], []]
    assert df.reason.tolist() == ["ok"] * 5 + ["no-history"]  # user 5 has an untitled item only: no history
    assert not (tmp_path / "count" / "answers.sqlite").exists()  # not an LLM: nothing stored
    rep = df.attrs["report"]
    assert rep["source"] == "toy-count (not an LLM)" and "echo" not in rep and rep["params"] == {"word": "books"}

    monkeypatch.setattr(interests_cli, "_load", lambda args: ds)
    base = ["interests", "infer", "--dataset", "synthetic", "--no-progress"]
    assert (
        cli.main([*base, "--backend", "toy-count", "--run-dir", str(tmp_path / "cli"), "--concurrency", "3"]) == 0
    )  # flags the backend does not take are left out
    assert "toy-count (not an LLM): 6 users; usable 5" in capsys.readouterr().out
    assert cli.main([*base, "--backend", "toy-llm", "--run-dir", str(tmp_path / "cli-llm")]) == 0
    assert "llm:toy-1 (toy-llm): 6 users; usable 5" in capsys.readouterr().out
    assert cli.main([*base, "--backend", "toy-llm", "--run-dir", str(tmp_path / "cli-llm")]) == 0
    assert "cached 5, new 0" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main([*base, "--backend", "chta"])
    err = capsys.readouterr().err
    assert "invalid choice: 'chta'" in err and all(f"'{n}'" in err for n in backend_names())
    assert cli.main([*base, "--backend", "vllm-batch"]) == 2
    assert "--backend vllm-batch needs --import-batch PATH" in capsys.readouterr().err
    assert cli.main([*base, "--backend", "batch", "--import-batch", str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl: file not found" in capsys.readouterr().err


# ------------------------------------------------------------------ the atomic-write helper
def test_atomic_writes_replace_whole_files_and_keep_the_old_one_on_error(tmp_path):
    import torch

    from cikgwb.atomic import (
        atomic_open,
        atomic_torch_save,
        atomic_write_bytes,
        atomic_write_json,
        atomic_write_text,
    )

    p = tmp_path / "sub" / "a.json"
    atomic_write_json(p, {"x": [1, 2]}, indent=1)
    assert json.loads(p.read_text()) == {"x": [1, 2]}
    with pytest.raises(TypeError):
        atomic_write_json(p, {"x": object()})  # does not serialise: the old file stays whole
    assert json.loads(p.read_text()) == {"x": [1, 2]}
    with pytest.raises(RuntimeError), atomic_open(p) as fh:
        fh.write('{"half": ')
        raise RuntimeError("killed mid-write")
    assert json.loads(p.read_text()) == {"x": [1, 2]}
    assert sorted(os.listdir(p.parent)) == ["a.json"]  # no temporary file left behind
    atomic_write_text(tmp_path / "t.txt", "héllo\n")
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "héllo\n"
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    atomic_torch_save({"w": torch.arange(3)}, tmp_path / "c.pt")
    assert torch.equal(torch.load(tmp_path / "c.pt")["w"], torch.arange(3))
    with pytest.raises(ValueError, match="mode"), atomic_open(tmp_path / "x", "a"):
        pass
