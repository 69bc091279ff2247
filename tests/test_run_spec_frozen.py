"""Issue 35: a run configuration is resolved once (cikgwb.run_spec.resolve_config) and then read,
never changed: assigning to it, its model settings or its training settings raises."""

from __future__ import annotations

import dataclasses

import pytest

from cikgwb.models import make_config
from cikgwb.run_spec import resolve_config


def test_a_resolved_config_is_frozen():
    cfg = make_config("cikgrec", "synthetic", ["interests=none"])
    out = resolve_config(cfg)
    assert out is not cfg and out.model.no_interests and not cfg.model.no_interests  # the input is not changed
    for target, name, value in ((out, "name", "x"), (out.model, "dim", 8), (out.train, "lr", 0.1)):
        with pytest.raises(dataclasses.FrozenInstanceError, match="a resolved run config is read, never changed"):
            setattr(target, name, value)
    assert resolve_config(out) is out
    other = dataclasses.replace(out, name="other", source=None)  # a changed config is another one
    other.name = "still-unresolved"
    assert resolve_config(other).name == "still-unresolved" and out.name != "still-unresolved"
    cfg.name = "unresolved-configs-are-built-freely"
