"""Recommenders: CIKGRec and the baselines, all sharing ``cikgwb.graph``'s propagation."""
from __future__ import annotations

from typing import Callable

MODELS: dict[str, Callable] = {}


def register(name: str):
    def deco(cls):
        MODELS[name] = cls
        return cls
    return deco


_IMPORT_ERRORS: dict[str, str] = {}


def _import_all() -> None:
    """Import every model module; one that fails to import does not take the others down."""
    import importlib
    import pkgutil
    for mod in pkgutil.iter_modules(__path__):
        if mod.name.startswith("_") or mod.name in _IMPORT_ERRORS:
            continue
        try:
            importlib.import_module(f"{__name__}.{mod.name}")
        except Exception as exc:  # noqa: BLE001 - reported when the model is asked for
            _IMPORT_ERRORS[mod.name] = f"{type(exc).__name__}: {exc}"


def model_class(name: str):
    """The registered class for ``name`` (every module in this package registers its models)."""
    if name not in MODELS:
        _import_all()
    if name not in MODELS:
        why = "".join(f"\n  cikgwb.models.{m} failed to import: {e}" for m, e in _IMPORT_ERRORS.items())
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}{why}")
    return MODELS[name]


def build_model(name: str, *args, **kwargs):
    """Instantiate a registered model by name."""
    return model_class(name)(*args, **kwargs)
