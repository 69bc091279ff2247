"""Recommenders: CIKGRec and the baselines, all sharing ``cikgwb.graph``'s propagation."""
from __future__ import annotations

from typing import Callable

MODELS: dict[str, Callable] = {}


def register(name: str):
    def deco(cls):
        MODELS[name] = cls
        return cls
    return deco


def build_model(name: str, *args, **kwargs):
    """Instantiate a registered model by name (imports the model modules on first use)."""
    from . import cikgrec  # noqa: F401  (registers cikgrec and lightgcn)
    try:
        from . import baselines  # noqa: F401
    except ImportError:
        pass
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    return MODELS[name](*args, **kwargs)
