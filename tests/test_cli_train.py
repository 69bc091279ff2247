"""`cikgwb train` end to end on the synthetic data: seeds, summary, overrides, resume."""

from __future__ import annotations

import json

import pytest
import yaml


def test_train_seeds_summary_and_resume(tmp_path, monkeypatch, synthetic_dir, capsys):
    monkeypatch.setenv("CIKGWB_DATA_DIR", str(synthetic_dir))
    monkeypatch.setenv("CIKGWB_REPORTS_DIR", str(tmp_path))  # the one reports root (cikgwb.paths)
    from cikgwb.cli import main

    args = [
        "train",
        "--dataset",
        "synthetic",
        "--model",
        "cikgrec",
        "--seeds",
        "0,1",
        "--quiet",
        "--device",
        "cpu",
        "--set",
        "max_epochs=2",
        "--set",
        "gcl_weight=0.02",
        "--name",
        "t",
    ]
    assert main(args) == 0
    summary = json.loads((tmp_path / "runs" / "t-summary.json").read_text())
    assert summary["seeds"] == [0, 1]
    assert set(summary["test"]["recall@50"]) == {"mean", "std", "min", "max", "n"}
    vals = [r["test recall@50"] for r in summary["per_seed"]]
    assert [r["seed"] for r in summary["per_seed"]] == [0, 1] and len(set(vals)) == 2
    assert summary["test"]["recall@50"]["min"] == min(vals) and summary["test"]["recall@50"]["max"] == max(vals)
    assert summary["test"]["recall@50"]["mean"] == pytest.approx(sum(vals) / 2)
    assert (tmp_path / "runs" / "t-summary.csv").exists()
    r0 = json.loads((tmp_path / "runs" / "t-s0" / "metrics.json").read_text())
    r1 = json.loads((tmp_path / "runs" / "t-s1" / "metrics.json").read_text())
    assert r0["seed"] == 0 and r1["seed"] == 1 and r0["test"] != r1["test"]
    cfg = yaml.safe_load((tmp_path / "runs" / "t-s0" / "config.yaml").read_text())
    assert cfg["model"]["gcl_weight"] == 0.02 and cfg["train"]["max_epochs"] == 2
    # resume a finished run with a larger budget: continues from epoch 2
    assert (
        main(
            [
                "train",
                "--dataset",
                "synthetic",
                "--seeds",
                "0",
                "--quiet",
                "--device",
                "cpu",
                "--set",
                "max_epochs=3",
                "--set",
                "gcl_weight=0.02",
                "--name",
                "t",
                "--resume",
            ]
        )
        == 0
    )
    hist = (tmp_path / "runs" / "t-s0" / "history.jsonl").read_text().splitlines()
    assert [json.loads(h)["epoch"] for h in hist] == [0, 1, 2]


def test_unknown_setting_is_a_clear_error():
    from cikgwb.config import apply_overrides
    from cikgwb.models import default_config

    with pytest.raises(ValueError, match=r"unknown setting 'gcl_wieght'"):
        apply_overrides(default_config("synthetic"), ["gcl_wieght=0.1"])
    with pytest.raises(ValueError, match=r"expected key=value"):
        apply_overrides(default_config("synthetic"), ["gcl_weight"])


def test_config_file_keeps_its_interests_name_and_seed(tmp_path):
    """``cikgwb train --config FILE`` starts from the file: its interests (here w/o UIK's ``none``)
    are not replaced by the default ``paper`` (the bug of issue 35), its name and seed are kept,
    and a flag given on the command line still wins."""
    from cikgwb.cli import build_parser
    from cikgwb.cli.train import train_configs
    from cikgwb.models import make_config

    cfg = make_config("cikgrec", "synthetic", ["max_epochs=2", "seed=3"])
    cfg.interests, cfg.name = "none", "mine-s3"
    f = tmp_path / "config.yaml"
    cfg.save(f)
    (got,) = train_configs(build_parser().parse_args(["train", "--config", str(f)]))
    assert got.interests == "none" and got.source.kind == "none" and got.model.no_interests
    assert got.name == "mine-s3" and got.train.seed == 3 and got.train.max_epochs == 2
    (paper,) = train_configs(build_parser().parse_args(["train", "--config", str(f), "--interests", "paper"]))
    assert paper.interests == "paper" and paper.source.kind == "paper"
    seeds = train_configs(build_parser().parse_args(["train", "--config", str(f), "--seeds", "0,1"]))
    assert [c.name for c in seeds] == ["mine-s0", "mine-s1"] and all(c.interests == "none" for c in seeds)
