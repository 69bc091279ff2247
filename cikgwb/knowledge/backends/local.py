"""The ``local`` backend: its own llama.cpp server(s) on 127.0.0.1 plus the chat backend.

It starts the server(s) (:class:`~cikgwb.knowledge.llm_server.LocalGroup`) only when some
request is not in the answer store yet, sends through
:class:`~cikgwb.knowledge.backends.chat.ChatBackend` (one client per server), and always stops
them. A server that dies mid-run stops the run at once with one line; every answer already
stored stays. The report carries the model file, its sha256, the server version and the machine.

Options (constructor keywords): ``model`` (``smollm2-135m`` or a GGUF path), ``threads`` (per
server), ``parallel`` (server processes), ``port`` (first port; 0 = any free), ``n_ctx``,
``timeout`` (s per request), ``max_attempts``, ``progress``, ``log_dir`` (default: the run
folder, ``llama-server-<k>.log``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..llm_server import DEFAULT_MODEL, HOST, LocalGroup
from ..settings import NO_KEY, LLMSettings
from ..store import AnswerStore
from .base import BackendRun, LLMRequest, check_attempts
from .protocol import Job, LLMBackend


class LocalBackend(LLMBackend):
    """``interests infer --backend local``: own llama.cpp server(s) + the chat backend."""

    name = "local"

    def __init__(
        self,
        model: str | os.PathLike | None = DEFAULT_MODEL,
        *,
        threads: int = 1,
        parallel: int = 1,
        port: int = 0,
        n_ctx: int = 2048,
        timeout: float = 60.0,
        max_attempts: int = 6,
        progress: bool = True,
        log_dir: str | os.PathLike | None = None,
    ):
        check_attempts(max_attempts)
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        self.group = LocalGroup(model, port=port, threads=threads, parallel=parallel, n_ctx=n_ctx, log_dir=log_dir)
        self.log_dir = log_dir
        # the base URL is only known once started; the model name (the store key) is known now
        self.settings = LLMSettings(
            base_url=f"http://{HOST}:0/v1", model=self.group.alias, api_key=NO_KEY, key_source="none (local server)"
        )
        self.timeout, self.max_attempts, self.progress = timeout, max_attempts, progress
        self.started = False

    def provenance(self) -> dict[str, Any]:
        p = self.group.provenance()
        p["started a server this run"] = self.started
        return p

    def describe(self) -> dict[str, Any]:
        return {"local server": self.provenance()}

    def answer(self, job: Job) -> BackendRun:
        if self.log_dir is None:  # the servers' logs go to the run folder
            for k, s in enumerate(self.group.servers):
                s.log_path = Path(job.run_dir) / f"llama-server-{k}.log"
        return super().answer(job)

    def run(self, requests: list[LLMRequest], store: AnswerStore) -> BackendRun:
        from .chat import ChatBackend

        have = store.get_many(r.key for r in requests)
        if all(r.key in have for r in requests):  # nothing to ask: no server needed
            return BackendRun(backend=self.name, requested=len(requests), cached=len(requests))
        self.group.start()
        self.started = True
        try:
            s0 = self.group.servers[0]
            self.settings = LLMSettings(
                base_url=s0.base_url,
                model=self.group.alias,
                api_key=self.settings.api_key,
                key_source=self.settings.key_source,
            )
            clients = [
                LLMSettings(
                    base_url=u,
                    model=self.group.alias,
                    api_key=self.settings.api_key,
                    key_source=self.settings.key_source,
                ).client(timeout=self.timeout)
                for u in self.group.base_urls
            ]
            chat = ChatBackend(
                self.settings,
                concurrency=len(clients),
                timeout=self.timeout,
                max_attempts=self.max_attempts,
                progress=self.progress,
                client=clients,
                health=self.group.death_note,
            )
            chat.name = self.name
            return chat.run(requests, store)
        finally:
            self.group.stop()
