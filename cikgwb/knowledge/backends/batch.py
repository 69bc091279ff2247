"""The ``batch`` backend: the OpenAI Batch API, resumable, plus ``vllm run-batch`` JSONL.

One run:

1. Requests already in the store are skipped.
2. The rest are written as JSONL, one line per user
   (``{"custom_id": "<user id>", "method": "POST", "url": "/v1/chat/completions", "body": ...}``),
   split into several files past ``max_requests`` (50,000) lines or ``max_bytes`` (200 MB).
3. Each file is uploaded (``files.create(purpose="batch")``) and a batch created
   (``batches.create``, 24 h window). Every step is first recorded in a state file beside the
   store (``batch_state.json``, written atomically): a restarted process resumes polling the
   batches it finds there instead of paying twice; a batch whose creation was interrupted is
   found again through ``batches.list`` by its input file id before a new one is created.
4. Batches are polled every ``poll_interval`` seconds with a progress bar; when one ends
   (completed, failed, expired or cancelled) its output and error files are downloaded, answers
   are matched to requests by ``custom_id`` and stored, and it is marked collected.
5. Requests without an answer are resubmitted in a new batch, at most ``max_rounds`` attempts
   per request in all (counted in the state file, so restarts do not reset the count).

:func:`export_requests` writes the same JSONL for ``vllm run-batch`` (or a manual upload) and
:func:`import_results` reads its output (the same format as OpenAI's output file) into the store;
:class:`VllmBatchBackend` (``vllm-batch``) is the backend that does that instead of asking.

Options (constructor keywords) of ``batch``: ``model``, ``base_url``, ``api_key`` (or a resolved
``settings``), ``poll_interval``, ``max_rounds``, ``max_requests``, ``max_bytes``,
``completion_window``, ``timeout``, ``max_attempts``, ``backoff_initial``, ``backoff_max``,
``progress``, ``client``; of ``vllm-batch``: ``path`` (the output JSONL), ``model``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from tqdm.auto import tqdm

from ...atomic import atomic_write_json
from ..settings import LLMSettings
from ..store import AnswerStore, public_endpoint, request_key
from .base import (
    BackendError,
    BackendRun,
    LLMRequest,
    call_with_retries,
    check_at_least,
    check_attempts,
    describe_error,
    is_retryable,
    is_unreachable,
)
from .chat import answer_from_completion
from .protocol import LLMBackend, llm_settings

MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1024 * 1024
ENDPOINT = "/v1/chat/completions"
TERMINAL = ("completed", "failed", "expired", "cancelled")
STATE_VERSION = 1


def request_line(req: LLMRequest) -> str:
    """One JSONL line of a batch input file (custom_id = user id)."""
    return (
        json.dumps(
            {"custom_id": str(req.user), "method": "POST", "url": ENDPOINT, "body": req.body()},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        + "\n"
    )


def split_requests(
    requests: list[LLMRequest], max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES
) -> list[list[LLMRequest]]:
    """Consecutive chunks of at most ``max_requests`` lines and ``max_bytes`` bytes each."""
    chunks: list[list[LLMRequest]] = []
    cur: list[LLMRequest] = []
    size = 0
    for req in requests:
        n = len(request_line(req).encode("utf-8"))
        if n > max_bytes:
            raise ValueError(f"request for user {req.user} alone is {n} bytes (> max_bytes {max_bytes})")
        if cur and (len(cur) >= max_requests or size + n > max_bytes):
            chunks.append(cur)
            cur, size = [], 0
        cur.append(req)
        size += n
    if cur:
        chunks.append(cur)
    return chunks


def export_requests(requests: list[LLMRequest], path: str | Path) -> Path:
    """Write the batch input JSONL (for ``vllm run-batch -i PATH`` or a manual upload)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for req in requests:
            fh.write(request_line(req))
    return path


def read_results(text: str, source: str) -> list[dict[str, Any]]:
    """Parse an output / error JSONL; a bad line raises naming ``source`` and the line number."""
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{source}:{n}: not JSON ({e.msg})") from None
        if not isinstance(rec, dict) or "custom_id" not in rec:
            raise ValueError(f"{source}:{n}: expected an object with a custom_id")
        out.append(rec)
    return out


def _response_body(rec: dict[str, Any]) -> dict[str, Any]:
    """The chat completion of a result line: ``response.body`` (OpenAI, current vLLM), or
    ``response`` itself where a writer put the completion there directly."""
    resp = rec.get("response") or {}
    return resp if "choices" in resp and "body" not in resp else resp.get("body") or {}


def _result_error(rec: dict[str, Any]) -> str | None:
    """None if the result line holds a 200 response, else a ``kind: detail`` reason."""
    resp = rec.get("response") or {}
    status = 200 if "choices" in resp and "status_code" not in resp else resp.get("status_code")
    if rec.get("error"):
        err = rec["error"]
        return (
            f"batch error: {err.get('code') or ''} {err.get('message') or ''}".strip()
            if isinstance(err, dict)
            else f"batch error: {err}"
        )
    if status != 200:
        body = resp.get("body") or {}
        msg = (body.get("error") or {}).get("message", "") if isinstance(body, dict) else ""
        return f"http {status}: {msg}"[:200]
    return None


def _store_results(
    records: list[dict[str, Any]],
    by_cid: dict[str, LLMRequest],
    store: AnswerStore,
    out: BackendRun,
    backend: str,
    endpoint: str | None,
) -> set[str]:
    """Store the 200 answers among ``records``; note failures; return the custom_ids seen."""
    seen = set()
    answers = []
    for rec in records:
        cid = str(rec["custom_id"])
        req = by_cid.get(cid)
        if req is None:
            out.info["unknown custom_id"] = out.info.get("unknown custom_id", 0) + 1
            continue
        seen.add(cid)
        err = _result_error(rec)
        if err is None:
            try:
                answers.append(
                    answer_from_completion(
                        req, _response_body(rec), backend=backend, endpoint=endpoint, requested_at=None
                    )
                )
            except (ValueError, TypeError, KeyError, AttributeError) as e:
                out.failed[req.key] = f"malformed result: {e}"
        else:
            out.failed[req.key] = err
    for a in answers:
        out.failed.pop(a.key, None)
    out.done += store.put_many(answers)
    return seen


def import_results(
    path: str | Path, requests: list[LLMRequest], store: AnswerStore, backend: str = "vllm-batch"
) -> BackendRun:
    """Store the answers of a batch OUTPUT JSONL (``vllm run-batch -o``, or OpenAI's output file).

    Lines are matched to ``requests`` by ``custom_id`` (= user id); lines for other users are
    counted as ``unknown custom_id``; non-200 lines count as failures.
    """
    path = Path(path)
    out = BackendRun(backend=backend, requested=len(requests))
    by_cid = {str(r.user): r for r in requests}
    records = read_results(path.read_text(encoding="utf-8"), str(path))
    seen = _store_results(records, by_cid, store, out, backend, None)
    missing = [r for cid, r in by_cid.items() if cid not in seen and not store.has(r.key)]
    for r in missing:
        out.failed.setdefault(r.key, "no result: not in the imported file")
    out.info["imported lines"] = len(records)
    return out


class VllmBatchBackend(LLMBackend):
    """``vllm-batch``: store the answers of a batch OUTPUT JSONL (``vllm run-batch -o``, or OpenAI's
    output file; see :func:`import_results`) instead of asking; nothing is sent, no key needed."""

    name = "vllm-batch"
    run_folder = "batch"  # the same default run folder as ``--backend batch --import-batch``

    def __init__(
        self,
        path: str | Path,
        settings: LLMSettings | None = None,
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
    ):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(
                f"{self.path}: batch output file not found (expected the JSONL that "
                "`vllm run-batch -o` or the Batch API wrote)"
            )
        self.settings = llm_settings(
            settings, model, base_url or (None if settings else "http://localhost/v1"), api_key
        )

    def run(self, requests: list[LLMRequest], store: AnswerStore) -> BackendRun:
        return import_results(self.path, requests, store, backend=self.name)


class BatchBackend(LLMBackend):
    """The OpenAI Batch API with a persistent state file (see the module docstring)."""

    name = "batch"

    def __init__(
        self,
        settings: LLMSettings | None = None,
        state_path: str | Path | None = None,
        poll_interval: float = 30.0,
        max_rounds: int = 3,
        max_requests: int = MAX_REQUESTS,
        max_bytes: int = MAX_BYTES,
        completion_window: str = "24h",
        timeout: float = 120.0,
        max_attempts: int = 6,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        progress: bool = True,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
    ):
        check_attempts(max_attempts)
        if max_rounds < 1:
            raise ValueError(f"max_rounds must be >= 1, got {max_rounds}")
        if poll_interval < 0:
            raise ValueError(f"poll_interval must be >= 0, got {poll_interval}")
        for option, value, low in (("max_requests", max_requests, 1), ("max_bytes", max_bytes, 1)):
            check_at_least(option, value, low)
        for option, value in (("backoff_initial", backoff_initial), ("backoff_max", backoff_max)):
            check_at_least(option, value, 0)
        check_at_least("timeout", timeout, 0, strict=True)
        self.settings = llm_settings(settings, model, base_url, api_key)
        self.state_path = Path(state_path) if state_path is not None else None
        self.poll_interval = poll_interval
        self.max_rounds = max_rounds
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.completion_window = completion_window
        self.timeout = timeout
        self.retry = dict(max_attempts=max_attempts, initial=backoff_initial, max_wait=backoff_max)
        self.progress = progress
        self._client = client
        self._sleep = sleep

    # ------------------------------------------------------------------ state
    def _load_state(self) -> dict[str, Any]:
        assert self.state_path is not None
        if not self.state_path.exists():
            return {"version": STATE_VERSION, "batches": [], "attempts": {}}
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ValueError(
                f"{self.state_path}: batch state is not JSON ({e.msg}); it lists the "
                "batches already paid for, repair or move it before rerunning"
            ) from None
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"{self.state_path}: state version {state.get('version')!r}, expected {STATE_VERSION}")
        return state

    def _save(self, state: dict[str, Any]) -> None:
        assert self.state_path is not None
        atomic_write_json(self.state_path, state, indent=1)

    def _call(self, fn: Callable[[], Any]) -> Any:
        """One API call under the retry policy; a server never reached is fatal at once, one line."""
        reached = getattr(self, "_reached", False)

        def retry_if(exc: BaseException) -> bool:
            return is_retryable(exc) and not (is_unreachable(exc) and not reached)

        try:
            out = call_with_retries(fn, **self.retry, sleep=self._sleep, retry_if=retry_if)
        except Exception as exc:
            if is_unreachable(exc):
                raise BackendError(
                    f"cannot reach {public_endpoint(self.settings.base_url)}: "
                    f"{describe_error(exc).split(': ', 1)[1]} (is the server running, is "
                    "--base-url right?); the batch state file keeps what was submitted"
                ) from None
            raise
        self._reached = True
        return out

    # ------------------------------------------------------------------ run
    def run(self, requests: list[LLMRequest], store: AnswerStore) -> BackendRun:
        if self.state_path is None:
            self.state_path = store.path.parent / "batch_state.json"
        out = BackendRun(backend=self.name, requested=len(requests))
        have = store.get_many(r.key for r in requests)
        out.cached = len(have)
        by_key = {r.key: r for r in requests}
        client = self._client or self.settings.client(timeout=self.timeout)
        state = self._load_state()
        out.info["batches resumed"] = sum(1 for b in state["batches"] if b["status"] != "collected")
        created = 0
        while True:
            self._finish_submissions(client, state)
            self._poll_and_collect(client, state, store, out)
            active = {k for b in state["batches"] if b["status"] != "collected" for k in b["keys"]}
            have = store.get_many(by_key)
            pending = [r for k, r in by_key.items() if k not in have and k not in active]
            submit = [r for r in pending if state["attempts"].get(r.key, 0) < self.max_rounds]
            submit_keys = {r.key for r in submit}
            for r in pending:
                if r.key not in submit_keys:
                    last = out.failed.get(r.key, "no result")
                    if not last.startswith("gave up"):
                        out.failed[r.key] = f"gave up after {self.max_rounds} batch attempts: {last}"
            if not submit:
                break
            for chunk in split_requests(submit, self.max_requests, self.max_bytes):
                self._submit(client, state, chunk, store)
                created += 1
        have = store.get_many(by_key)
        out.failed = {k: v for k, v in out.failed.items() if k in by_key and k not in have}
        for k in by_key:
            if k not in have and k not in out.failed:
                out.failed[k] = "no answer"
        out.info["batches created"] = created
        return out

    def _submit(self, client: Any, state: dict[str, Any], chunk: list[LLMRequest], store: AnswerStore) -> None:
        """Write, record, upload and create one batch; the state is saved after every step."""
        assert self.state_path is not None
        n = len(state["batches"])
        path = self.state_path.parent / f"batch_input_{n:04d}.jsonl"
        export_requests(chunk, path)
        for r in chunk:
            state["attempts"][r.key] = state["attempts"].get(r.key, 0) + 1
        entry = {
            "input_path": path.name,
            "input_file_id": None,
            "batch_id": None,
            "status": "written",
            "template": chunk[0].template,
            "dataset": chunk[0].dataset,
            "keys": [r.key for r in chunk],
            "created_at": time.time(),
        }
        state["batches"].append(entry)
        self._save(state)
        self._finish_submissions(client, state)

    def _finish_submissions(self, client: Any, state: dict[str, Any]) -> None:
        """Upload and create every batch the state lists as not yet created."""
        assert self.state_path is not None
        for entry in state["batches"]:
            if entry["status"] == "written":
                path = self.state_path.parent / entry["input_path"]
                data = path.read_bytes()
                f = self._call(lambda: client.files.create(file=(path.name, data), purpose="batch"))
                entry["input_file_id"], entry["status"] = f.id, "uploaded"
                self._save(state)
            if entry["status"] == "uploaded":
                found = self._find_batch(client, entry["input_file_id"])
                if found is None:
                    found = self._call(
                        lambda: client.batches.create(
                            input_file_id=entry["input_file_id"],
                            endpoint=ENDPOINT,
                            completion_window=self.completion_window,
                            metadata={"tool": "cikgwb", "template": str(entry["template"])[:500]},
                        )
                    )
                entry["batch_id"], entry["status"] = found.id, "submitted"
                self._save(state)

    def _find_batch(self, client: Any, input_file_id: str) -> Any:
        """A batch already created from ``input_file_id`` (after an interrupted create), or None."""
        try:
            page = self._call(lambda: client.batches.list(limit=100))
        except Exception:  # listing is a convenience; creating a batch is the fallback
            return None
        for b in getattr(page, "data", []) or []:
            if getattr(b, "input_file_id", None) == input_file_id:
                return b
        return None

    def _poll_and_collect(self, client: Any, state: dict[str, Any], store: AnswerStore, out: BackendRun) -> None:
        active = [b for b in state["batches"] if b["status"] == "submitted"]
        if not active:
            return
        bar = tqdm(
            total=sum(len(b["keys"]) for b in active),
            desc=f"batch {self.settings.model}",
            unit="req",
            disable=not self.progress,
            dynamic_ncols=True,
        )
        try:
            while active:
                counts = {"completed": 0, "failed": 0}
                statuses = []
                for entry in list(active):
                    b = self._call(lambda: client.batches.retrieve(entry["batch_id"]))
                    statuses.append(b.status)
                    rc = getattr(b, "request_counts", None)
                    if rc is not None:
                        counts["completed"] += rc.completed or 0
                        counts["failed"] += rc.failed or 0
                    if b.status in TERMINAL:
                        self._collect(client, entry, b, store, out)
                        self._save(state)
                        active.remove(entry)
                bar.n = min(bar.total, counts["completed"] + counts["failed"])
                bar.set_postfix(status=",".join(sorted(set(statuses))), failed=counts["failed"], answers=out.done)
                bar.refresh()
                if active:
                    self._sleep(self.poll_interval)
        finally:
            bar.close()

    def _collect(self, client: Any, entry: dict[str, Any], batch: Any, store: AnswerStore, out: BackendRun) -> None:
        """Download output and error files, store the answers, note the failures."""
        assert self.state_path is not None
        reqs = self._entry_requests(entry)
        by_cid = {str(r.user): r for r in reqs}
        seen: set[str] = set()
        for fid in (getattr(batch, "output_file_id", None), getattr(batch, "error_file_id", None)):
            if fid:
                text = self._call(lambda: client.files.content(fid)).text
                seen |= _store_results(
                    read_results(text, f"batch {batch.id} file {fid}"),
                    by_cid,
                    store,
                    out,
                    self.name,
                    self.settings.base_url,
                )
        why = f"batch {batch.status}"
        errs = getattr(batch, "errors", None)
        if errs is not None and getattr(errs, "data", None):
            why += ": " + "; ".join(str(getattr(e, "message", e)) for e in errs.data)[:200]
        for cid, r in by_cid.items():
            if cid not in seen:
                out.failed.setdefault(r.key, f"no result: {why}")
        entry["status"], entry["final_status"] = "collected", batch.status
        entry["collected_at"] = time.time()

    def _entry_requests(self, entry: dict[str, Any]) -> list[LLMRequest]:
        """Rebuild a batch's requests from its input file (and check them against its keys)."""
        assert self.state_path is not None
        path = self.state_path.parent / entry["input_path"]
        reqs = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            rec = json.loads(line)
            body = dict(rec["body"])
            model, messages = body.pop("model"), body.pop("messages")
            key = request_key(model, entry["template"], messages, body)
            reqs.append(
                LLMRequest(
                    user=int(rec["custom_id"]),
                    key=key,
                    model=model,
                    template=entry["template"],
                    messages=messages,
                    params=body,
                    dataset=entry.get("dataset"),
                )
            )
        if [r.key for r in reqs] != entry["keys"]:
            raise ValueError(
                f"{path}: its requests do not match the keys recorded in {self.state_path} (was the input file edited?)"
            )
        return reqs
