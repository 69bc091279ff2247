"""The batch backend (OpenAI Batch API wire format) and the vllm run-batch JSONL export/import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, completion, default_answer
from llm_data import tiny_dataset

from cikgwb.knowledge.backends.batch import BatchBackend, export_requests, import_results, request_line, split_requests
from cikgwb.knowledge.infer import build_requests, infer_interests
from cikgwb.knowledge.settings import resolve_settings
from cikgwb.knowledge.store import AnswerStore

KEY = "fakekey-cikgwb-DISTINCTIVE-batch-key-51be02"


def backend(fake: FakeOpenAI, **kw) -> BatchBackend:
    settings = resolve_settings(base_url=fake.base_url, model="fake-model", api_key=KEY)
    kw = {"poll_interval": 0.01, "backoff_initial": 0.01, "progress": False, **kw}
    return BatchBackend(settings, **kw)


def batch_users(fake: FakeOpenAI) -> list[list[str]]:
    return [[ln["custom_id"] for ln in b["lines"]] for b in fake.batches.values()]


def test_batch_answers_failed_requests_are_resubmitted(tmp_path):
    ds = tiny_dataset()
    with FakeOpenAI(batch_polls=3, batch_fail={"1": 1, "3": 1}) as fake:
        df = infer_interests(ds, backend(fake), run_dir=tmp_path)
        assert batch_users(fake) == [["0", "1", "2", "3", "4"], ["1", "3"]]
        assert all(b["polls"] >= 3 for b in fake.batches.values())
        assert (df.reason == "ok").sum() == ds.n_users - 1
        assert set(df.loc[df.reason == "ok", "source"]) == {"llm:fake-model (batch)"}
        first = json.loads((tmp_path / "batch_input_0000.jsonl").read_text().splitlines()[0])
        assert first["custom_id"] == "0" and first["url"] == "/v1/chat/completions"
        assert first["body"]["model"] == "fake-model" and first["body"]["max_tokens"] == 1000
        state = json.loads((tmp_path / "batch_state.json").read_text())
        assert [b["status"] for b in state["batches"]] == ["collected", "collected"]
        n = len(fake.batches)
        infer_interests(ds, backend(fake), run_dir=tmp_path)  # all cached: nothing submitted
        assert len(fake.batches) == n
    hits = [p for p in tmp_path.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    assert hits == []


def test_batch_gives_up_after_max_rounds(tmp_path):
    ds = tiny_dataset()
    with FakeOpenAI(batch_polls=1, batch_fail={"3": 99}) as fake:
        df = infer_interests(ds, backend(fake, max_rounds=2), run_dir=tmp_path)
        assert len(fake.batches) == 2
    run = df.attrs["report"]["run"]
    assert run["failed"] == 1
    assert list(run["failure reasons"]) == ["gave up after 2 batch attempts"]
    assert df.loc[df.user == 3, "reason"].item() == "no-answer"


def test_restarted_process_resumes_polling_instead_of_paying_twice(tmp_path):
    ds = tiny_dataset()
    reqs, _ = build_requests(ds, "fake-model")

    def killed(_seconds):
        raise KeyboardInterrupt  # the process dies while waiting for the batch

    with FakeOpenAI(batch_polls=4) as fake:
        with AnswerStore(tmp_path / "answers.sqlite") as st:
            with pytest.raises(KeyboardInterrupt):
                backend(fake, sleep=killed).run(reqs, st)
            assert len(st) == 0 and len(fake.batches) == 1
            state = json.loads((tmp_path / "batch_state.json").read_text())
            assert state["batches"][0]["status"] == "submitted"
            run = backend(fake).run(reqs, st)
            assert len(fake.batches) == 1  # resumed, not resubmitted
            assert run.info["batches resumed"] == 1 and run.info["batches created"] == 0
            assert len(st) == len(reqs) and run.failed == {}


def test_interrupted_create_finds_the_batch_instead_of_creating_another(tmp_path):
    ds = tiny_dataset()
    reqs, _ = build_requests(ds, "fake-model")
    with FakeOpenAI(batch_polls=1) as fake:
        settings = resolve_settings(base_url=fake.base_url, model="fake-model", api_key=KEY)
        client = settings.client()

        class DiesAfterCreate:
            def __init__(self, real):
                self.files, self._real = real.files, real

            @property
            def batches(self):
                real = self._real.batches

                class B:
                    list = staticmethod(real.list)
                    retrieve = staticmethod(real.retrieve)

                    @staticmethod
                    def create(**kw):
                        real.create(**kw)
                        raise KeyboardInterrupt  # killed before the batch id was saved

                return B

        with AnswerStore(tmp_path / "answers.sqlite") as st:
            with pytest.raises(KeyboardInterrupt):
                backend(fake, client=DiesAfterCreate(client)).run(reqs, st)
            assert json.loads((tmp_path / "batch_state.json").read_text())["batches"][0]["status"] == "uploaded"
            backend(fake).run(reqs, st)
            assert len(fake.batches) == 1
            assert len(st) == len(reqs)


def test_split_past_count_and_size_limits(tmp_path):
    ds = tiny_dataset()
    reqs, _ = build_requests(ds, "fake-model")
    assert [len(c) for c in split_requests(reqs, max_requests=2)] == [2, 2, 1]
    line = max(len(request_line(r).encode()) for r in reqs)
    chunks = split_requests(reqs, max_bytes=2 * line)
    assert sum(len(c) for c in chunks) == len(reqs) and len(chunks) >= 3
    assert all(sum(len(request_line(r).encode()) for r in c) <= 2 * line for c in chunks)
    with pytest.raises(ValueError, match="alone is"):
        split_requests(reqs, max_bytes=50)
    with FakeOpenAI(batch_polls=1) as fake:
        infer_interests(ds, backend(fake, max_requests=2), run_dir=tmp_path)
        assert batch_users(fake) == [["0", "1"], ["2", "3"], ["4"]]


def test_vllm_run_batch_export_and_import(tmp_path):
    ds = tiny_dataset()
    reqs, _ = build_requests(ds, "local-model")
    inp = export_requests(reqs, tmp_path / "requests.jsonl")
    lines = [json.loads(x) for x in inp.read_text().splitlines()]
    assert [x["custom_id"] for x in lines] == [str(r.user) for r in reqs]
    # what `vllm run-batch -i requests.jsonl -o output.jsonl` writes (one line failed)
    out = []
    for k, x in enumerate(lines):
        if x["custom_id"] == "2":
            out.append(
                {
                    "id": f"v{k}",
                    "custom_id": "2",
                    "response": {"status_code": 400, "body": {"error": {"message": "too long"}}},
                    "error": None,
                }
            )
        else:
            out.append(
                {
                    "id": f"v{k}",
                    "custom_id": x["custom_id"],
                    "response": {
                        "status_code": 200,
                        "request_id": f"r{k}",
                        "body": completion(x["body"], default_answer(x["body"]), k),
                    },
                    "error": None,
                }
            )
    out.append({"id": "vx", "custom_id": "77", "response": {"status_code": 200, "body": {}}, "error": None})
    outp = tmp_path / "output.jsonl"
    outp.write_text("".join(json.dumps(x) + "\n" for x in out))
    with AnswerStore(tmp_path / "a.sqlite") as st:
        run = import_results(outp, reqs, st)
        assert run.done == len(reqs) - 1 and run.info["unknown custom_id"] == 1
        assert list(run.failed.values()) == ["http 400: too long"]
    df = infer_interests(
        ds,
        "vllm-batch",
        path=outp,
        model="local-model",
        run_dir=tmp_path / "run",
        store=tmp_path / "a.sqlite",
        progress=False,
    )
    assert (df.reason == "ok").sum() == len(reqs) - 1
    assert set(df.loc[df.reason == "ok", "source"]) == {"llm:local-model (vllm-batch)"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(out[0]) + "\n{not json\n")
    with AnswerStore(tmp_path / "b.sqlite") as st:
        with pytest.raises(ValueError, match=r"bad.jsonl:2: not JSON"):
            import_results(bad, reqs, st)


def test_export_batch_cli_writes_requests(tmp_path, monkeypatch, capsys):
    from cikgwb import cli
    from cikgwb.cli import interests as interests_cli

    monkeypatch.setattr(interests_cli, "_load", lambda args: tiny_dataset())
    path = tmp_path / "req.jsonl"
    assert (
        cli.main(
            [
                "interests",
                "infer",
                "--dataset",
                "synthetic",
                "--backend",
                "batch",
                "--model",
                "m",
                "--export-batch",
                str(path),
            ]
        )
        == 0
    )
    assert len(Path(path).read_text().splitlines()) == tiny_dataset().n_users - 1
    assert "vllm run-batch" in capsys.readouterr().out
