"""Recommenders: CIKGRec and the baselines, all sharing ``cikgwb.graph``'s propagation."""
from __future__ import annotations

from typing import Callable

MODELS: dict[str, Callable] = {}


def register(name: str):
    def deco(cls):
        MODELS[name] = cls
        return cls
    return deco


def _import_all() -> None:
    import importlib
    import pkgutil
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


def model_class(name: str):
    """The registered class for ``name`` (every module in this package registers its models)."""
    _import_all()
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    return MODELS[name]


def build_model(name: str, *args, **kwargs):
    """Instantiate a registered model by name."""
    return model_class(name)(*args, **kwargs)
