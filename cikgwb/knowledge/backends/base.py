"""What every backend shares: the chat request, the run's outcome, and the retry policy (the
interface a backend implements is in :mod:`cikgwb.knowledge.backends.protocol`).

Retry policy (:func:`call_with_retries`, built on ``tenacity``): retry on 429, 408, 409, any
5xx, timeouts and dropped connections (``openai.APIConnectionError``); wait what the server's
``Retry-After`` / ``retry-after-ms`` header says when it sends one (capped at ``max_wait``),
else exponential backoff with jitter: ``min(max_wait, initial * 2**(attempt-1)) + U(0, initial)``.
Give up after ``max_attempts`` attempts (the first try included; ``--retries N`` on the command
line means ``N + 1`` attempts, so ``--retries 0`` is one attempt and no retry). A 429 whose
error code is ``insufficient_quota`` is not retried (waiting does not add credit). A server that
cannot be reached at all (:func:`is_unreachable`: connection refused, unknown host) is not
retried before the run has had one answer from it: a wrong ``--base-url`` or a server that is
not running stops the run at once, with one line naming the URL; a server that answered and then
refuses connections (it died) stops the chat run after a few seconds of refusals
(:data:`~cikgwb.knowledge.backends.chat.DEAD_AFTER_S`), not after every request's retries. The
base URL itself is checked before any request (:func:`~cikgwb.knowledge.settings.check_base_url`:
``http`` or ``https``, a host, a port in range). The ``openai`` client's own retries are switched off
(``max_retries=0``) so that this policy is the only one and is testable.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import tenacity

T = TypeVar("T")


@dataclass(frozen=True)
class LLMRequest:
    """One user's chat request and its store key."""

    user: int
    key: str
    model: str
    template: str
    messages: list[dict[str, str]]
    params: dict[str, Any]
    dataset: str | None = None

    def body(self) -> dict[str, Any]:
        """The ``/v1/chat/completions`` request body."""
        return {"model": self.model, "messages": self.messages, **self.params}


@dataclass
class BackendRun:
    """What one backend run did: counts and, per failed key, the last error."""

    backend: str
    requested: int = 0  # requests the run was given
    cached: int = 0  # already in the store, not sent
    done: int = 0  # answered and stored by this run
    failed: dict[str, str] = field(default_factory=dict)  # key -> reason
    retries: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    # what ``Backend.answer`` gives back besides the counts (not part of the summary):
    answers: dict[int, Any] = field(default_factory=dict, repr=False)  # user -> protocol.Answer
    report: dict[str, Any] = field(default_factory=dict, repr=False)  # the backend's report.json fields

    def summary(self) -> dict[str, Any]:
        reasons = Counter(v.split(":", 1)[0] for v in self.failed.values())
        return {
            "backend": self.backend,
            "requested": self.requested,
            "cached": self.cached,
            "done": self.done,
            "failed": len(self.failed),
            "failure reasons": dict(reasons),
            "retries": self.retries,
            **self.info,
        }


class BackendError(RuntimeError):
    """A failure that no retry can fix (bad key, unknown model, ...): the run stops."""


def retry_after_seconds(exc: BaseException) -> float | None:
    """Seconds the server asked to wait (``retry-after-ms`` or ``Retry-After``), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if ra is None:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        when = email.utils.parsedate_to_datetime(ra) if ra else None
        return None if when is None else max(0.0, when.timestamp() - time.time())


def is_retryable(exc: BaseException) -> bool:
    """429 (not ``insufficient_quota``), 408, 409, 5xx, timeouts and connection errors."""
    import openai

    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code == 429:
            return getattr(exc, "code", None) != "insufficient_quota"
        return exc.status_code in (408, 409) or exc.status_code >= 500
    return False


def is_unreachable(exc: BaseException) -> bool:
    """The connection could not be opened at all (refused, unknown host, no route).

    A timeout or a connection dropped mid-answer is not this (those are retried).
    """
    import openai

    if isinstance(exc, openai.APITimeoutError) or not isinstance(exc, openai.APIConnectionError):
        return False
    cause = exc.__cause__ or exc.__context__
    # httpx.ConnectError or the same class of the client's HTTP library (openai >= 3: httpx2)
    return cause is not None and any(c.__name__ == "ConnectError" for c in type(cause).__mro__)


def is_fatal(exc: BaseException) -> bool:
    """Errors that will hit every request alike: 401, 403, 404 and ``insufficient_quota``."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (401, 403, 404) or getattr(exc, "code", None) == "insufficient_quota"
    return False


def check_attempts(max_attempts: Any) -> int:
    """``max_attempts`` as an int >= 1, or a ValueError saying what it means."""
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise ValueError(f"max_attempts must be an integer >= 1 (the first try included), got {max_attempts!r}")
    return max_attempts


def check_at_least(option: str, value: Any, low: float, *, strict: bool = False) -> Any:
    """``value`` if it is a number ``>= low`` (``> low`` with ``strict``), else a ValueError
    naming ``option``: a backend's numeric options are checked before it is built."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or (value <= low if strict else value < low):
        raise ValueError(f"{option} must be a number {'>' if strict else '>='} {low:g}, got {value!r}")
    return value


def describe_error(exc: BaseException) -> str:
    """A short ``kind: detail`` description, without headers or request bodies."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "timeout: request timed out"
    if is_unreachable(exc):
        cause = exc.__cause__ or exc.__context__
        detail = "connection refused" if "refused" in str(cause).lower() else "cannot connect"
        return f"unreachable: {detail}"
    if isinstance(exc, openai.APIConnectionError):
        return f"connection: {exc.__class__.__name__}"
    if isinstance(exc, openai.APIStatusError):
        msg = str(getattr(exc, "message", "") or "")[:200]
        return f"http {exc.status_code}: {msg}"
    return f"{exc.__class__.__name__}: {str(exc)[:200]}"


class _WaitRetryAfterOrBackoff(tenacity.wait.wait_base):
    """Retry-After when the server sent one, else ``min(max, initial 2^(n-1)) + U(0, initial)``."""

    def __init__(self, initial: float, max_wait: float):
        self.initial = initial
        self.max_wait = max_wait

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        ra = retry_after_seconds(exc) if exc is not None else None
        if ra is not None:
            return min(ra, self.max_wait)
        n = retry_state.attempt_number
        return min(self.max_wait, self.initial * 2.0 ** (n - 1)) + random.uniform(0.0, self.initial)


def call_with_retries(
    fn: Callable[[], T],
    *,
    max_attempts: int = 6,
    initial: float = 1.0,
    max_wait: float = 60.0,
    on_retry: Callable[[BaseException, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    retry_if: Callable[[BaseException], bool] = is_retryable,
) -> T:
    """Call ``fn()`` under the retry policy above; re-raise the last error when it gives up.

    ``retry_if`` decides which errors are retried (default :func:`is_retryable`).
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None and state.next_action is not None:
            on_retry(state.outcome.exception(), state.next_action.sleep)

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max_attempts),
        wait=_WaitRetryAfterOrBackoff(initial, max_wait),
        retry=tenacity.retry_if_exception(retry_if),
        reraise=True,
        sleep=sleep,
        before_sleep=before_sleep,
    )
    return retrying(fn)
