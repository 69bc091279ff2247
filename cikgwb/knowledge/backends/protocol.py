"""The interface every interests backend implements, and the base of the LLM backends.

One run of :func:`~cikgwb.knowledge.infer.infer_interests` is three steps:

1. it builds a :class:`Job`: the dataset, the users asked about (in order), their history
   windows, the prompt template, the sampling parameters and the answer store's path;
2. it asks the backend: ``run = backend.answer(job)``, a
   :class:`~cikgwb.knowledge.backends.base.BackendRun` with the counts, one :class:`Answer`
   per user in ``run.answers`` and the backend's own report fields in ``run.report``;
3. it parses every answer (:meth:`Answer.parsed`) into the answers table
   (``user, phrases, raw, source, reason, template``) and writes ``answers.jsonl`` and
   ``report.json``.

A backend (:class:`Backend`) is any object with

- ``name``: its registry name (``--backend NAME``), the default run folder
  ``reports/interests/<dataset>/<name>`` (unless it sets ``run_folder``) and, for an LLM, the
  ``backend`` recorded with each stored answer;
- ``is_llm``: True when the answers are a language model's text: they are cached in the answer
  store and parsed with the echo rules, and the report gets an ``echo`` section; False for a
  backend that computes phrases itself (``kg-summary``): nothing is stored, nothing is parsed,
  and the answers say they are not from an LLM;
- ``source``: who answered, the answers table's ``source`` column (``llm:<model> (chat)``,
  ``kg-summary (not an LLM)``);
- ``answer(job) -> BackendRun``.

Its options (model, concurrency, threads, ...) are its constructor's keyword arguments; the
registry (:mod:`cikgwb.knowledge.backends`) builds it from them by name.

An LLM backend subclasses :class:`LLMBackend` and writes only::

    def run(self, requests: list[LLMRequest], store: AnswerStore) -> BackendRun

(ask for the requests whose ``key`` is not in ``store`` yet, ``store.put`` each answer as it
arrives, return the counts). It must set ``self.settings`` (an
:class:`~cikgwb.knowledge.settings.LLMSettings`: ``model`` is asked for and is part of every
request's store key). :meth:`LLMBackend.answer` does the rest the same way for every LLM
backend: it opens the store with its lock, moves re-asked answers aside, calls ``run``, reads
the stored answers back and reports model, endpoint, template, usage. A rerun of the same job
finds every stored answer by its key and asks nothing again.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..histories import History
from ..parse import EchoChecker, ParsedAnswer, parse_answer
from ..store import AnswerStore, StoredAnswer, public_endpoint, request_key
from ..templates import Template, item_kind
from .base import BackendRun, LLMRequest


@runtime_checkable
class Backend(Protocol):
    """What ``infer`` asks of a backend (see the module docstring)."""

    name: str
    is_llm: bool

    @property
    def source(self) -> str: ...

    def answer(self, job: Job) -> BackendRun: ...


def chat_requests(
    histories: list[History], dataset: str, kind: str, model: str, template: Template, params: dict[str, Any]
) -> list[LLMRequest]:
    """One chat request per history with titles (the others get none), asking ``model``."""
    reqs = []
    for h in histories:
        if not h.titles:
            continue
        msgs = template.messages(list(h.titles), kind)
        reqs.append(
            LLMRequest(
                user=h.user,
                key=request_key(model, template.id, msgs, params),
                model=model,
                template=template.id,
                messages=msgs,
                params=params,
                dataset=dataset,
            )
        )
    return reqs


@dataclass(frozen=True)
class Job:
    """What one run asks a backend: built by :func:`~cikgwb.knowledge.infer.infer_interests`."""

    ds: Any  # the dataset
    users: list[int]  # the users asked about, in order
    histories: list[History]  # their history windows (same order; titles may be empty)
    history_len: int  # last N titled training items ...
    split: str  # ... of "train" or "train_full"
    template: Template  # the prompt (LLM backends)
    params: dict[str, Any]  # the sampling parameters (LLM backends; part of the store key)
    store_path: Path  # the answer store (LLM backends)
    run_dir: Path  # the run folder (answers.jsonl, report.json, logs)
    reask: tuple[str, ...] = ()  # stored answers with these parse reasons are asked again

    @cached_property
    def kind(self) -> str:
        """What the items are called in the prompt (``book``, ``movie``, ...)."""
        return item_kind(self.ds)

    def requests(self, model: str) -> list[LLMRequest]:
        """The chat requests of this job for ``model`` (one per user with a titled history)."""
        return chat_requests(self.histories, self.ds.name, self.kind, model, self.template, self.params)

    @cached_property
    def _echo_parts(self) -> tuple[dict[int, tuple[str, ...]], str, list[str]]:
        return (
            {h.user: h.titles for h in self.histories},
            self.template.prompt_text(self.kind),
            [a for _, a in self.template.examples],
        )

    def parse(self, raw: str | None, user: int) -> ParsedAnswer:
        """An LLM's raw answer for ``user``, parsed with the echo rules (its own titles and the
        prompt's words are not interests)."""
        titles, prompt, examples = self._echo_parts
        return parse_answer(raw, echo=EchoChecker(titles.get(user, ()), prompt, examples))


@dataclass(frozen=True)
class Answer:
    """One user's answer as a backend gives it back.

    ``reason`` set (``no-history``, ``no-answer``): there is no answer. ``phrases`` set: the
    backend's own phrases, taken as they are. Neither: ``raw`` is an LLM's text, parsed.
    """

    raw: str | None
    source: str
    template: str | None = None
    phrases: list[str] | None = None
    reason: str | None = None

    def parsed(self, job: Job, user: int) -> ParsedAnswer:
        if self.reason is not None:
            return ParsedAnswer([], self.reason)
        if self.phrases is not None:
            return ParsedAnswer(list(self.phrases), "ok" if self.phrases else "empty")
        return job.parse(self.raw, user)


class LLMBackend:
    """Base of the backends that ask a language model: a subclass sets ``name`` and
    ``self.settings`` and writes ``run(requests, store)`` (see the module docstring)."""

    name: str = "llm"
    is_llm = True
    settings: Any  # LLMSettings

    @property
    def model(self) -> str:
        """The model asked for (part of every request's store key)."""
        return self.settings.model

    @property
    def source(self) -> str:
        return f"llm:{self.model} ({self.name})"

    def run(self, requests: list[LLMRequest], store: AnswerStore) -> BackendRun:
        """Ask for the requests missing from ``store``; store each answer as it arrives."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Extra report fields, asked after the run (e.g. the local server's provenance)."""
        return {}

    def answer(self, job: Job) -> BackendRun:
        reqs = job.requests(self.model)
        superseded = None
        with AnswerStore(job.store_path, exclusive=True) as st:
            if job.reask:
                have = st.get_many(r.key for r in reqs)
                again = [k for k, a in have.items() if job.parse(a.raw, a.user).reason in set(job.reask)]
                superseded = st.supersede(again)
            run = self.run(reqs, st)
            stored = st.get_many(r.key for r in reqs)
        run.answers = self._answers(job, reqs, stored)
        rep: dict[str, Any] = {
            "is_llm": True,
            "model": self.model,
            "endpoint": public_endpoint(self.settings.base_url),
            "api key from": self.settings.key_source,
            "template": job.template.id,
            "template description": job.template.description,
            "params": job.params,
            "store": str(job.store_path),
            "users with titled history": len(reqs),
        }
        if superseded is not None:
            rep["re-asked (superseded)"] = superseded
        rep.update(self.describe())
        by_user = {r.user: r for r in reqs}  # per user asked (two users may share one request)
        usage = [(stored[by_user[u].key].usage or {}) for u in job.users if u in by_user and by_user[u].key in stored]
        rep["usage (stored answers)"] = {
            "prompt_tokens": sum(int(u.get("prompt_tokens") or 0) for u in usage),
            "completion_tokens": sum(int(u.get("completion_tokens") or 0) for u in usage),
        }
        run.report = rep
        return run

    def _answers(self, job: Job, reqs: list[LLMRequest], stored: dict[str, StoredAnswer]) -> dict[int, Answer]:
        by_user = {r.user: r for r in reqs}
        out = {}
        for u in job.users:
            req = by_user.get(u)
            a = stored.get(req.key) if req is not None else None
            if req is None:
                out[u] = Answer(None, self.source, None, reason="no-history")
            elif a is None:
                out[u] = Answer(None, self.source, job.template.id, reason="no-answer")
            else:
                out[u] = Answer(a.raw, f"llm:{a.model} ({a.backend})", job.template.id)
        return out


def llm_settings(settings: Any, model: str | None, base_url: str | None, api_key: str | None) -> Any:
    """``settings`` as given, or resolved from ``model``, ``base_url``, ``api_key`` (argument,
    environment, settings file: :func:`~cikgwb.knowledge.settings.resolve_settings`)."""
    if settings is not None:
        given = [n for n, v in (("model", model), ("base_url", base_url), ("api_key", api_key)) if v]
        if given:
            raise ValueError(f"give either settings or {', '.join(given)}, not both")
        return settings
    from ..settings import resolve_settings

    return resolve_settings(base_url=base_url, model=model, api_key=api_key)


__all__ = ["Answer", "Backend", "Job", "LLMBackend", "chat_requests", "llm_settings"]
