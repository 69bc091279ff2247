"""Backends that answer "what are this user's interests?", and their registry.

=============  ===========================================================  =======
name           what                                                         an LLM?
=============  ===========================================================  =======
``chat``       concurrent ``/v1/chat/completions`` requests (any OpenAI-     yes
               compatible server): :mod:`.chat`
``batch``      the OpenAI Batch API, resumable: :mod:`.batch`               yes
``vllm-batch`` the answers of a ``vllm run-batch`` output file (sends       yes
               nothing): :class:`.batch.VllmBatchBackend`
``local``      its own llama.cpp server(s) on 127.0.0.1: :mod:`.local`      yes
``kg-summary`` KG attributes and title words, no LLM: :mod:`.kg_summary`    no
=============  ===========================================================  =======

The interface (:class:`~.protocol.Backend`: ``name``, ``is_llm``, ``source``,
``answer(job)``; LLM backends subclass :class:`~.protocol.LLMBackend` and write
``run(requests, store)``) is described in :mod:`cikgwb.knowledge.backends.protocol`.
:data:`REGISTRY` is the one list of backends: ``cikgwb interests infer --backend NAME`` offers
its names, and :func:`make_backend` builds one from its name and options (the keyword
arguments of its constructor).

Adding a backend is one class and one registry line. An LLM::

    # cikgwb/knowledge/backends/echo.py
    from ..store import StoredAnswer
    from ..settings import LLMSettings, NO_KEY
    from .base import BackendRun
    from .protocol import LLMBackend

    class EchoBackend(LLMBackend):
        name = "echo"

        def __init__(self, model: str = "echo-1"):
            self.settings = LLMSettings(base_url="http://localhost/v1", model=model,
                                        api_key=NO_KEY, key_source="none")

        def run(self, requests, store):
            out = BackendRun(backend=self.name, requested=len(requests))
            have = store.get_many(r.key for r in requests)
            out.cached = len(have)
            for r in requests:
                if r.key not in have:
                    out.done += store.put(StoredAnswer(key=r.key, user=r.user, model=r.model,
                        template=r.template, backend=self.name, messages=r.messages,
                        params=r.params, raw="history, travel", dataset=r.dataset))
            return out

    # and in REGISTRY below:
    #     "echo": "cikgwb.knowledge.backends.echo:EchoBackend",

A backend that is not an LLM sets ``is_llm = False`` and a ``source`` saying so, and writes
``answer(job)`` returning a ``BackendRun`` whose ``answers`` give each user of ``job.users``
an ``Answer(raw, source, phrases=[...])`` (or ``reason="no-history"``): see
:class:`.kg_summary.KGSummaryBackend`. ``tests/test_llm_backends.py`` adds both kinds this way
and runs ``infer`` with them end to end.
"""

from __future__ import annotations

import importlib
import inspect
import os
from typing import Any

#: name -> "module:Class" (imported on first use: ``--help`` stays fast)
REGISTRY: dict[str, str] = {
    "chat": "cikgwb.knowledge.backends.chat:ChatBackend",
    "batch": "cikgwb.knowledge.backends.batch:BatchBackend",
    "vllm-batch": "cikgwb.knowledge.backends.batch:VllmBatchBackend",
    "local": "cikgwb.knowledge.backends.local:LocalBackend",
    "kg-summary": "cikgwb.knowledge.backends.kg_summary:KGSummaryBackend",
}


def backend_names() -> tuple[str, ...]:
    """The registered backend names, in registry order."""
    return tuple(REGISTRY)


def backend_class(name: str) -> type:
    """The class registered as ``name``; a ValueError listing the valid names otherwise."""
    target = REGISTRY.get(name)
    if target is None:
        raise ValueError(f"backend {name!r}: expected one of {', '.join(REGISTRY)}")
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)


def backend_options(name: str) -> dict[str, Any]:
    """A backend's options: its constructor's keyword parameters and their defaults
    (``inspect.Parameter.empty`` where required)."""
    sig = inspect.signature(backend_class(name).__init__)
    return {
        p.name: p.default
        for p in list(sig.parameters.values())[1:]
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "settings"
    }


def make_backend(name: str, **options: Any) -> Any:
    """Build the backend ``name`` with ``options`` (its constructor's keywords).

    An option given as None counts as not given (the backend's default applies). An option the
    backend does not take, or a required one missing, is a ValueError naming the backend and
    listing its options, before anything is built.
    """
    known = backend_options(name)
    opts = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(opts) - set(known))
    missing = [k for k, d in known.items() if d is inspect.Parameter.empty and k not in opts]
    if unknown or missing:
        what = f"does not take option(s) {', '.join(unknown)}" if unknown else f"needs option(s) {', '.join(missing)}"
        raise ValueError(f"backend {name!r} {what} (its options: {', '.join(known) or 'none'})")
    cls = backend_class(name)
    for key, value in opts.items():
        _check_type(name, cls, key, value)
    return cls(**opts)


#: the annotations an option's value is checked against, and how a message says them
_KINDS: dict[str, tuple[str, tuple[type, ...]]] = {
    "int": ("an integer", (int,)),
    "float": ("a number", (int, float)),
    "bool": ("true or false", (bool,)),
    "str": ("a string", (str,)),
    "Path": ("a path", (str, os.PathLike)),
    "os.PathLike": ("a path", (str, os.PathLike)),
}


def _check_type(name: str, cls: type, key: str, value: Any) -> None:
    """A ValueError of one line naming the backend, the option and the value when ``value`` is
    not of the type the constructor declares for ``key`` (``int``, ``float``, ``bool``, ``str``,
    a path, or one of them ``| None``); an option of another declared type is not checked."""
    annotation = inspect.signature(cls.__init__).parameters[key].annotation
    if not isinstance(annotation, str):
        annotation = getattr(annotation, "__name__", str(annotation))
    parts = [p.strip() for p in annotation.split("|")]
    optional = "None" in parts
    parts = [p for p in parts if p != "None"]
    if not parts or any(p not in _KINDS for p in parts) or (optional and value is None):
        return
    allowed = tuple(t for p in parts for t in _KINDS[p][1])
    bool_ok = "bool" in parts
    if isinstance(value, allowed) and (bool_ok or not isinstance(value, bool)):
        return
    words = list(dict.fromkeys(_KINDS[p][0] for p in parts))
    if "a path" in words and "a string" in words:  # str | os.PathLike: a path, written as text or not
        words.remove("a string")
    what = " or ".join(words) + (" or none" if optional else "")
    raise ValueError(f"backend {name!r} option {key}={value!r}: expected {what}")


def __getattr__(name: str) -> Any:  # the interface, importable from the package
    if name in ("Backend", "Job", "Answer", "LLMBackend"):
        from . import protocol

        return getattr(protocol, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "REGISTRY",
    "Answer",
    "Backend",
    "Job",
    "LLMBackend",
    "backend_class",
    "backend_names",
    "backend_options",
    "make_backend",
]
