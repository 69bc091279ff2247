"""User-side knowledge: histories and prompts, LLM backends and their answer store, answer
parsing, (elsewhere in this package) phrase cleaning, clustering and the interest graph.

Importing the package is cheap; the heavy modules load on first use::

    from cikgwb.knowledge import infer_interests, load_answers
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "infer_interests": "cikgwb.knowledge.infer",
    "load_answers": "cikgwb.knowledge.infer",
    "write_answers": "cikgwb.knowledge.infer",
    "user_histories": "cikgwb.knowledge.histories",
    "load_template": "cikgwb.knowledge.templates",
    "parse_answer": "cikgwb.knowledge.parse",
    "AnswerStore": "cikgwb.knowledge.store",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cikgwb.knowledge' has no attribute {name!r}")
