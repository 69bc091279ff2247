"""scripts/migrate_config_interests.py: a run folder written by an older clone brought into the
current config.yaml format, its meaning unchanged."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

OLD_KGIN = """dataset: book-crossing
interests: paper
name: book-crossing-kgin-valid-s0
model:
  model: kgin
  dim: 64
  n_layers: 3
  l2_reg: 1.0e-05
  gcl_temp: 0.15
  edge_dropout: 0.5
  message_dropout: 0.1
  no_interests: true
  extra:
    n_factors: 2
    ind: distance
train:
  lr: 0.0001
  seed: 0
"""


def _script():
    spec = importlib.util.spec_from_file_location("migrate", REPO / "scripts" / "migrate_config_interests.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_an_old_flat_config_is_migrated_keeping_its_meaning(tmp_path):
    mig = _script()
    run = tmp_path / "runs" / "book-crossing-kgin-valid-s0"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(OLD_KGIN)
    (run / "metrics.json").write_text(json.dumps({"interests": "none (kgin reads no interest graph)"}))
    ((p, text),) = mig.pending(tmp_path)
    new = yaml.safe_load(text)
    assert new["interests"] == "none" and "# was 'paper'" in text
    assert new["model"] == {
        "model": "kgin",
        "dim": 64,
        "n_layers": 3,
        "l2_reg": 1e-05,
        "node_dropout": 0.5,  # KGIN's RENAMED edge_dropout
        "message_dropout": 0.1,
        "n_factors": 2,
        "ind": "distance",
    }  # gcl_temp and no_interests: never read by KGIN, dropped
    assert text.split("train:")[1] == OLD_KGIN.split("train:")[1]  # the rest of the file as it was
    assert mig.verify(p, text) == []
    assert mig.verify(p, text.replace("n_factors: 2", "n_factors: 3")) == [
        "model.n_factors: 2 before, 3 after",
        "variant: 'lr=0.0001, extra.n_factors=2' before, 'lr=0.0001, extra.n_factors=3' after",
    ]
    assert mig.main(["--reports-dir", str(tmp_path), "--check"]) == 1
    assert mig.main(["--reports-dir", str(tmp_path)]) == 0
    assert mig.pending(tmp_path) == [] and mig.main(["--reports-dir", str(tmp_path), "--check"]) == 0


def test_the_library_refuses_an_old_flat_config_naming_the_script(tmp_path):
    import pytest

    from cikgwb.config import ConfigError
    from cikgwb.models import load_config

    f = tmp_path / "config.yaml"
    f.write_text(OLD_KGIN)
    with pytest.raises(ConfigError, match="migrate_config_interests.py"):
        load_config(f)
