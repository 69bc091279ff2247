"""The ``chat`` backend: concurrent ``/v1/chat/completions`` requests.

Bounded concurrency (a thread pool of ``concurrency`` workers sharing one ``openai.OpenAI``
client), a per-request timeout, retries per :func:`~cikgwb.knowledge.backends.base.call_with_retries`,
and a progress bar whose postfix counts done / failed / cached. Each answer is written to the
store by the main thread as soon as its future completes (one committed transaction each), so
an interrupted run keeps every answer it received. Requests already in the store are not sent.
A fatal error (bad key, unknown model, no quota) stops the run: queued requests are cancelled,
answers already received are kept, and :class:`BackendError` is raised. So does a server that
cannot be reached: at once when no request has been answered yet (a wrong ``--base-url``, a
server not running: one line naming the URL, no retries), and within seconds when it
disappears mid-run: connections refused for ``dead_after`` seconds (default 5, counted over all
the run's requests from the first refusal, reset by any answer) mean the server is gone, the
requests still waiting to be sent are cancelled and those in a retry wait stop at once (or at
once when the ``health`` hook says it died). An answer that another process stored meanwhile
(the same store used without its lock) is counted in the summary (``answered but already
stored``), not dropped from it.

Options (constructor keywords): ``model``, ``base_url``, ``api_key`` (or a resolved ``settings``),
``concurrency``, ``timeout``, ``max_attempts``, ``backoff_initial``, ``backoff_max``, ``progress``,
``client``, ``health``, ``dead_after``.

``client`` may be one ``openai.OpenAI`` client or a list of them (several servers of one model,
e.g. :class:`~cikgwb.knowledge.llm_server.LocalGroup`): requests are dealt to them in turn.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from tqdm.auto import tqdm

from ..settings import LLMSettings
from ..store import AnswerStore, StoredAnswer, public_endpoint
from .base import (
    BackendError,
    BackendRun,
    LLMRequest,
    call_with_retries,
    check_at_least,
    check_attempts,
    describe_error,
    is_fatal,
    is_retryable,
    is_unreachable,
)
from .protocol import LLMBackend, llm_settings

#: seconds of refused connections (after the server had answered) that mean it is gone
DEAD_AFTER_S = 5.0
DUPLICATES = "answered but already stored"


class ChatBackend(LLMBackend):
    """Concurrent chat-completions requests with retries and a persistent cache."""

    name = "chat"

    def __init__(
        self,
        settings: LLMSettings | None = None,
        concurrency: int = 8,
        timeout: float = 60.0,
        max_attempts: int = 6,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        progress: bool = True,
        client: Any = None,
        health: Any = None,
        dead_after: float = DEAD_AFTER_S,
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
    ):
        check_attempts(max_attempts)
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        for option, value in (
            ("backoff_initial", backoff_initial),
            ("backoff_max", backoff_max),
            ("dead_after", dead_after),
        ):
            check_at_least(option, value, 0)
        self.settings = llm_settings(settings, model, base_url, api_key)
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.progress = progress
        self._client = client
        self.health = health  # () -> None while the server is known alive, else why not
        self.dead_after = dead_after
        self._answered = threading.Event()  # set at the first answer: the server is reachable
        self._stop = threading.Event()  # set when the run stops: retry waits end at once
        self._refused_since: float | None = None  # first refusal since the last answer
        self._state_lock = threading.Lock()

    def _refused_for(self) -> float:
        """Seconds since the first refused connection that no answer has followed."""
        now = time.monotonic()
        with self._state_lock:
            if self._refused_since is None:
                self._refused_since = now
            return now - self._refused_since

    def _call(self, client: Any, req: LLMRequest, counter: list[int], lock: threading.Lock) -> StoredAnswer:
        def on_retry(exc: BaseException, wait_s: float) -> None:
            with lock:
                counter[0] += 1

        import openai

        def retry_if(exc: BaseException) -> bool:
            if self._stop.is_set():
                return False  # the run is stopping
            if is_unreachable(exc) and not self._answered.is_set():
                return False  # never reached: a wrong URL or no server; retrying only costs time
            if is_unreachable(exc) and self._refused_for() > self.dead_after:
                return False  # it answered before and has refused connections since: it is gone
            if self.health is not None and isinstance(exc, openai.APIConnectionError) and self.health():
                return False  # the server process is gone
            return is_retryable(exc)

        def attempt() -> Any:
            if self._stop.is_set():  # the run stopped while this request waited to retry
                raise BackendError("not sent: the run stopped")
            return client.chat.completions.create(**req.body(), timeout=self.timeout)

        started = time.time()
        resp = call_with_retries(
            attempt,
            max_attempts=self.max_attempts,
            initial=self.backoff_initial,
            max_wait=self.backoff_max,
            on_retry=on_retry,
            retry_if=retry_if,
            sleep=self._stop.wait,  # a retry wait ends when the run stops
        )
        self._answered.set()
        with self._state_lock:
            self._refused_since = None
        return answer_from_completion(
            req, resp, backend=self.name, endpoint=self.settings.base_url, requested_at=started
        )

    def run(self, requests: list[LLMRequest], store: AnswerStore) -> BackendRun:
        """Send the requests missing from ``store``; store each answer as it arrives."""
        out = BackendRun(backend=self.name, requested=len(requests))
        have = store.get_many(r.key for r in requests)
        todo = list({r.key: r for r in requests if r.key not in have}.values())
        out.cached = len(requests) - len(todo)
        if not todo:
            return out
        self._stop.clear()
        client = self._client or self.settings.client(timeout=self.timeout)
        clients = list(client) if isinstance(client, (list, tuple)) else [client]
        bar = tqdm(
            total=len(todo),
            desc=f"chat {self.settings.model}",
            unit="req",
            disable=not self.progress,
            dynamic_ncols=True,
        )
        bar.set_postfix(done=0, failed=0, cached=out.cached)
        try:
            fatal = self._send(todo, clients, store, out, bar)
        finally:
            bar.close()
        if fatal is not None:
            raise self._stop_error(fatal, out)
        return out

    def _send(
        self, todo: list[LLMRequest], clients: list[Any], store: AnswerStore, out: BackendRun, bar: Any
    ) -> BaseException | None:
        """Send ``todo`` through a pool of ``concurrency`` threads, the requests dealt to
        ``clients`` in turn, storing each answer as it completes (into ``out``'s counts). Returns
        the error that stopped the run (fatal, unreachable, or the server died), else None."""
        dealt, retries, lock = [0], [0], threading.Lock()
        fatal: BaseException | None = None
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="cikgwb-chat")
        running: dict[Future, LLMRequest] = {}
        it = iter(todo)

        def refill() -> None:  # at most 2 x concurrency requests queued: a fatal error stops quickly
            while fatal is None and len(running) < 2 * self.concurrency:
                req = next(it, None)
                if req is None:
                    return
                c = clients[dealt[0] % len(clients)]
                dealt[0] += 1
                running[pool.submit(self._call, c, req, retries, lock)] = req

        try:
            refill()
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    req = running.pop(fut)
                    if fut.cancelled():  # never sent: the run stopped
                        continue
                    exc = fut.exception()
                    if exc is None:
                        _store(store, fut.result(), out)
                    else:
                        out.failed[req.key] = describe_error(exc)
                        if fatal is None and (
                            is_fatal(exc) or is_unreachable(exc) or (self.health is not None and self.health())
                        ):
                            fatal = exc
                            self._stop.set()  # retry waits end; queued requests are not sent
                            for f in running:
                                f.cancel()
                    bar.update(1)
                    bar.set_postfix(done=out.done, failed=len(out.failed), cached=out.cached)
                refill()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            # interrupted (e.g. Ctrl-C): keep the answers that still arrived while shutting down
            self._stop.set()
            for fut, req in list(running.items()):
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    _store(store, fut.result(), out)
            out.retries = retries[0]
        return fatal

    def _stop_error(self, fatal: BaseException, out: BackendRun) -> BackendError:
        """The one line that says why the run stopped at ``fatal``: the server died, went away
        after answering, was never reached, or refused every request alike."""
        url = public_endpoint(self.settings.base_url)
        died = self.health() if self.health is not None else None
        if died:
            return BackendError(
                f"{died}; {out.done} answers stored this run, run stopped (rerun to ask only the missing users)"
            )
        if is_unreachable(fatal) and self._answered.is_set():
            return BackendError(
                f"cannot reach {url}: {describe_error(fatal).split(': ', 1)[1]} for over {self.dead_after:g} s "
                f"after it had answered (the server stopped); {out.done} answers stored this run, run stopped "
                "(rerun to ask only the missing users)"
            )
        if is_unreachable(fatal):
            return BackendError(
                f"cannot reach {url}: {describe_error(fatal).split(': ', 1)[1]} "
                f"(is the server running, is --base-url right?); {out.done} answers "
                "stored this run, run stopped"
            )
        return BackendError(
            f"{describe_error(fatal)} from {url} (model {self.settings.model!r}); {out.done} answers stored, run stopped"
        )


def _store(store: AnswerStore, answer: StoredAnswer, out: BackendRun) -> None:
    """Store an answer; one that another process stored meanwhile is counted, not lost from the summary."""
    if store.put(answer):
        out.done += 1
    else:
        out.info[DUPLICATES] = out.info.get(DUPLICATES, 0) + 1


def answer_from_completion(
    req: LLMRequest, resp: Any, backend: str, endpoint: str | None, requested_at: float | None
) -> StoredAnswer:
    """Turn a ``ChatCompletion`` (object or dict) into a :class:`StoredAnswer`."""
    d = resp if isinstance(resp, dict) else resp.model_dump()
    choices = d.get("choices") or []
    if not choices:
        raise ValueError(f"completion for user {req.user} has no choices")
    msg = choices[0].get("message") or {}
    content = msg.get("content")
    return StoredAnswer(
        key=req.key,
        user=req.user,
        dataset=req.dataset,
        model=req.model,
        response_model=d.get("model"),
        template=req.template,
        backend=backend,
        endpoint=public_endpoint(endpoint),
        messages=req.messages,
        params=req.params,
        raw=content if isinstance(content, str) else "",
        usage=d.get("usage"),
        finish_reason=choices[0].get("finish_reason"),
        request_id=(getattr(resp, "_request_id", None) if not isinstance(resp, dict) else None) or d.get("id"),
        requested_at=requested_at,
        received_at=time.time(),
    )
