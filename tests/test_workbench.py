"""The workbench's library layer under the notebooks: result tables (cikgwb.results), the
explorer's data and widgets (cikgwb.explorer, cikgwb.widgets) and sweeps (cikgwb.sweep)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cikgwb import results as R

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- result tables
def _fake_run(
    root: Path,
    name: str,
    dataset: str,
    model: str,
    protocol: str,
    seed: int,
    r50: float,
    stop: str = "early stop: ...",
    finished_at: str | None = None,
    interests: str = "paper",
    **model_cfg,
) -> None:
    d = root / name
    d.mkdir(parents=True)
    test = {"recall@50": r50, "recall@100": r50 + 0.1, "ndcg@50": r50 / 2, "ndcg@100": r50 / 2 + 0.01}
    (d / "metrics.json").write_text(
        json.dumps(
            {
                "dataset": dataset,
                "model": model,
                "protocol": protocol,
                "seed": seed,
                "views": "paper",
                "device": "cuda",
                "stop_reason": stop,
                "test": test,
                "valid": test,
                "finished_at": finished_at,
            }
        )
    )
    (d / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "dataset": dataset,
                "interests": interests,
                "model": {"model": model, **model_cfg},
                "train": {"max_epochs": 2000, "protocol": protocol},
            }
        )
    )


def test_tables_mean_std_over_seeds_variants_and_missing_cells(tmp_path):
    for s, v in enumerate([0.17, 0.19]):
        _fake_run(tmp_path, f"bc-cik-{s}", "book-crossing", "cikgrec", "valid", s, v)
    _fake_run(tmp_path, "bc-lgn", "book-crossing", "lightgcn", "authors", 0, 0.16, stop="max_epochs")
    _fake_run(tmp_path, "bc-uir", "book-crossing", "cikgrec", "valid", 0, 0.15, no_uir=True)
    _fake_run(tmp_path, "bc-lin", "book-crossing", "cikgrec", "valid", 0, 0.18, schedule="lin")
    # another interest graph, newer than the paper-graph seed 0: not CIKGRec's Table 1 row
    _fake_run(
        tmp_path,
        "bc-kgs",
        "book-crossing",
        "cikgrec",
        "valid",
        0,
        0.5,
        finished_at="2030-01-01T00:00:00",
        interests="reports/interests/book-crossing/graphs/kg-summary-k350",
    )
    _fake_run(tmp_path, "syn", "synthetic", "cikgrec", "valid", 0, 0.7, finished_at="2026-01-02T00:00:00")
    _fake_run(tmp_path, "syn-old", "synthetic", "cikgrec", "valid", 0, 0.1, finished_at="2026-01-01T00:00:00")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metrics.json").write_text(json.dumps({"interrupted_at_epoch": 3}))

    runs = R.runs_table(tmp_path)
    assert len(runs) == 8  # the interrupted run is left out
    assert dict(zip(runs["run"], runs["variant"]))["bc-kgs"] == "interests kg-summary-k350"
    assert dict(zip(runs["run"], runs["variant"]))["bc-uir"] == "w/o UIR"
    assert dict(zip(runs["run"], runs["variant"]))["bc-lin"] == "linear"
    t1 = R.table1(runs, models=["cikgrec", "lightgcn"])
    cell = t1[(t1["dataset"] == "book-crossing") & (t1["model"] == "cikgrec") & (t1["protocol"] == "valid")].iloc[0]
    assert cell["recall@50"] == f"{0.18:.4f} ± {np.std([0.17, 0.19], ddof=1):.4f}"
    assert cell["seeds"] == "0,1" and cell["devices"] == "cuda" and cell["status"] == "done"
    # a seed cut by a time limit does not enter a cell of converged seeds
    _fake_run(
        tmp_path,
        "bc-cik-cut",
        "book-crossing",
        "cikgrec",
        "valid",
        2,
        0.01,
        stop="time limit: max_minutes=4 reached (not converged)",
    )
    again = R.table1(R.runs_table(tmp_path), models=["cikgrec"])
    again = again[(again["dataset"] == "book-crossing") & (again["protocol"] == "valid")].iloc[0]
    assert again["recall@50"] == cell["recall@50"] and again["seeds"] == "0,1" and again["status"] == "done"
    (tmp_path / "bc-cik-cut" / "metrics.json").unlink()
    assert cell["paper recall@50"] == 0.1791
    lgn = t1[(t1["model"] == "lightgcn") & (t1["protocol"] == "authors") & (t1["dataset"] == "book-crossing")].iloc[0]
    assert lgn["status"].startswith("not converged")
    missing = t1[t1["status"].str.startswith("missing")]
    assert {"ml1m", "dbbook2014"} <= set(missing["dataset"]) and (missing["recall@50"] == "missing").all()
    assert (missing[missing["dataset"] == "ml1m"]["status"] == R.ML1M_MISSING).all() and "GPU" in R.ML1M_MISSING
    syn = t1[t1["dataset"] == "synthetic"]
    assert list(syn["model"]) == ["cikgrec"]  # synthetic: only what ran
    assert syn["recall@50"].iloc[0] == "0.7000" and syn["n"].iloc[0] == 1  # the newer run of seed 0 only
    t3 = R.table3(runs, "book-crossing")
    got = t3[t3["protocol"] == "valid"].set_index("variant")
    assert got.loc["w/o UIR", "status"] == "done" and got.loc["w/o CL", "status"] == "missing"
    assert got.loc["w/o UIR", "paper recall@100"] == 0.2081
    assert got.loc["full", "recall@100"].startswith("0.2800")
    # the paper's Table 3 figures of every dataset, not only book-crossing's
    db = R.table3(runs, "dbbook2014").set_index(["protocol", "variant"])
    assert (
        db.loc[("valid", "w/o CL"), "paper ndcg@100"] == 0.2659 and db.loc[("valid", "w/o CL"), "status"] == "missing"
    )
    ml = R.table3(runs, "ml1m").set_index(["protocol", "variant"])
    assert ml.loc[("authors", "w/o UIK"), "paper recall@100"] == 0.5662
    assert (ml["status"] == R.ML1M_MISSING).all() and len(ml) == 12  # says why each cell is empty
    assert (t3["status"] != R.ML1M_MISSING).all()  # only ml1m's cells say so


def test_parse_label_and_run_names():
    assert R.parse_label("lightgcn") == ("lightgcn", "-")
    assert R.parse_label("cikgrec w/o CL") == ("cikgrec", "w/o CL")
    from cikgwb.runs import run_name, run_stem  # the one naming rule (train_runs, cikgwb train)

    assert run_name(run_stem("book-crossing", "cikgrec", "valid", "full"), 2) == "book-crossing-cikgrec-valid-s2"
    model, variant = R.parse_label("w/o DMR")
    assert (
        run_name(run_stem("synthetic", model, "valid", variant, quick=True), 0)
        == "quick-synthetic-cikgrec-wo-dmr-valid-s0"
    )
    with pytest.raises(ValueError, match="variant"):
        R.parse_label("cikgrec w/o everything")


def tmp_path_factory_copy(root: Path, src: str, dst: str) -> str:
    """Copy a run folder (without checkpoints) to another name, as a non-quick run."""
    import shutil

    shutil.copytree(root / src, root / dst, ignore=shutil.ignore_patterns("checkpoints"))
    return dst


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two tiny real runs on the synthetic data (3 epochs each)."""
    from cikgwb.data import load_dataset

    root = tmp_path_factory.mktemp("runs")
    ds = load_dataset("synthetic", data_dir=tmp_path_factory.mktemp("data"))
    runs = R.train_runs(
        ds, ["lightgcn", "cikgrec"], [0], root, quick=True, quick_epochs=3, device="cpu", log=lambda *_: None
    )
    return ds, root, runs


def test_train_runs_reuse_load_run_and_cached_sparsity_groups(trained):
    ds, root, runs = trained
    assert list(runs["model"]) == ["cikgrec", "lightgcn"] and not runs["converged"].any()
    again = R.train_runs(ds, ["cikgrec"], [0], root, quick=True, quick_epochs=3, reuse=True, log=lambda *_: None)
    assert again["wall_seconds"].iloc[0] == runs[runs["model"] == "cikgrec"]["wall_seconds"].iloc[0]
    # full mode: a finished run of the same setting under another name / sub-folder is reused,
    # quick runs are not, and nothing is trained with train_missing=False
    other = tmp_path_factory_copy(root, "quick-synthetic-lightgcn-valid-s0", "gpu/lightgcn-on-a-gpu")
    full = R.train_runs(
        ds, ["lightgcn", "cikgrec"], [0], root, quick=False, reuse=True, train_missing=False, log=lambda *_: None
    )
    assert list(full["run"]) == [other]
    path = runs[runs["model"] == "cikgrec"]["path"].iloc[0]
    cfg, ds2, model = R.load_run(path, ds)
    res = R.evaluate_test(model, ds2, k=10)
    metrics = json.loads(Path(path, "metrics.json").read_text())["test"]
    assert res.metrics["recall@50"] == pytest.approx(metrics["recall@50"], abs=1e-6)  # the selected epoch
    g = R.run_sparsity_groups(path, ds)
    assert (Path(path) / R.SPARSITY_FILE).exists()
    assert g["users"].sum() == ds.n_users and list(g["group"]) == sorted(g["group"])
    # the cache is read back, not recomputed: a planted value survives
    cached = pd.read_csv(Path(path) / R.SPARSITY_FILE)
    cached.loc[0, "ndcg@50"] = 0.123
    cached.to_csv(Path(path) / R.SPARSITY_FILE, index=False)
    assert R.run_sparsity_groups(path, ds)["ndcg@50"].iloc[0] == pytest.approx(0.123)
    groups, skipped = R.sparsity_table(runs, ds)
    assert set(groups["model"]) == {"cikgrec", "lightgcn"} and skipped.empty
    with pytest.raises(FileNotFoundError, match="checkpoints"):
        R.load_run(Path(path).parent / "nope", ds)


# ----------------------------------------------------------------------------- sweeps
def test_sweep_points_modes_aliases_and_validation():
    from cikgwb.sweep import SweepSpec, parse_grid

    grid = parse_grid(["alpha=0.01,0.05,0.2", "lambda3=0.01,1"])
    each = SweepSpec(name="s", grid=grid, mode="each")
    assert each.keys == ["mask_alpha", "gcl_weight"]
    base = each.base_values()
    assert base == {"mask_alpha": 0.05, "gcl_weight": 0.01}
    pts = each.points()
    assert len(pts) == 4  # 3 alphas + lambda3=1 (lambda3=0.01 is the base point again)
    assert {"mask_alpha": 0.05, "gcl_weight": 1} in pts
    assert len(SweepSpec(name="g", grid=grid, mode="grid").points()) == 6
    assert each.run_name(pts[0], 2) == "alpha0.01-lambda30.01-s2"
    with pytest.raises(ValueError, match="not a setting"):
        SweepSpec(name="s", grid={"learning_speed": [1]})
    with pytest.raises(ValueError, match="NAME=v1"):
        parse_grid(["alpha"])
    with pytest.raises(ValueError, match="mode"):
        SweepSpec(name="s", grid=grid, mode="random")


def test_sensitivity_frames_hold_the_others_at_base():
    from cikgwb.sweep import sensitivity_frames

    res = pd.DataFrame(
        {
            "mask_alpha": [0.01, 0.05, 0.2, 0.05, 0.05],
            "gcl_weight": [0.01, 0.01, 0.01, 1.0, 1.0],
            "seed": [0, 0, 0, 0, 1],
            "status": ["ok", "ok", "ok", "ok", "failed: exit 1"],
            "test recall@50": [0.1, 0.2, 0.3, 0.05, 0.9],
            "test ndcg@50": [0.01, 0.02, 0.03, 0.005, 0.9],
        }
    )
    spec = {"keys": ["mask_alpha", "gcl_weight"], "base_values": {"mask_alpha": 0.05, "gcl_weight": 0.01}}
    fr = sensitivity_frames(res, spec)
    assert list(fr["mask_alpha"]["mask_alpha"]) == [0.01, 0.05, 0.2]
    assert list(fr["mask_alpha"]["recall@50"]) == [0.1, 0.2, 0.3]
    g = fr["gcl_weight"].set_index("gcl_weight")
    assert g.loc[1.0, "recall@50"] == 0.05 and g.loc[1.0, "seeds"] == 1  # the failed seed is left out


def test_run_sweep_end_to_end_two_jobs(tmp_path, monkeypatch):
    from cikgwb.sweep import SweepSpec, load_sweep, run_sweep

    monkeypatch.setenv("CIKGWB_DATA_DIR", str(tmp_path / "data"))
    spec = SweepSpec(name="tiny", grid={"lambda3": [0.01, 0.5]}, base={"max_epochs": 1})
    df = run_sweep(spec, out_root=tmp_path, jobs=2, threads=1, log=lambda *_: None)
    assert list(df["status"]) == ["ok", "ok"], df.to_string()
    assert df["test recall@50"].between(0, 1).all()
    res, meta = load_sweep(tmp_path / "tiny")
    assert len(res) == 2 and meta["keys"] == ["gcl_weight"] and meta["failed"] == 0
    for run in res["run"]:
        assert not (tmp_path / "tiny" / "runs" / run / "checkpoints").exists()
        cfg = yaml.safe_load((tmp_path / "tiny" / "runs" / run / "config.yaml").read_text())
        assert cfg["train"]["max_epochs"] == 1 and cfg["model"]["gcl_weight"] in (0.01, 0.5)
    again = run_sweep(spec, out_root=tmp_path, jobs=2, log=lambda *_: None)  # resumed, not rerun
    assert set(again["status"]) == {"reused"}
    with pytest.raises(FileNotFoundError, match="results.csv"):
        load_sweep(tmp_path / "nothing")


def test_sweep_collect_tabulates_runs_trained_outside_it_and_names_the_missing(tmp_path, monkeypatch, capsys):
    """The lanes' way: `cikgwb train --name <point>` into the sweep folder, then `sweep --collect`
    tabulates it without starting anything; the other points are 'missing' rows."""
    from cikgwb.cli import main
    from cikgwb.sweep import SweepSpec, load_sweep

    monkeypatch.setenv("CIKGWB_DATA_DIR", str(tmp_path / "data"))
    spec = SweepSpec(name="lanes", grid={"lambda3": [0.01, 0.5]}, base={"max_epochs": 1})
    point = {"gcl_weight": 0.5}
    sweep_dir = tmp_path / "sweeps" / "lanes"
    monkeypatch.setenv("CIKGWB_REPORTS_DIR", str(sweep_dir))  # where a lane trains the point
    name = spec.run_name(point, 0).removesuffix("-s0")
    assert main(["train", "--name", name, "--seeds", "0", "--quiet", "--set", "max_epochs=1",
                 "--set", "gcl_weight=0.5"]) == 0  # fmt: skip
    args = ["sweep", "--grid", "lambda3=0.01,0.5", "--set", "max_epochs=1", "--name", "lanes"]
    args += ["--out", str(tmp_path / "sweeps"), "--collect"]
    assert main(args) == 0
    res, meta = load_sweep(sweep_dir)
    assert meta["collect_only"] and meta["missing"] == 1 and meta["failed"] == 0
    st = res.set_index("gcl_weight")["status"]
    assert st[0.5] == "reused" and st[0.01] == "missing"
    assert res.set_index("gcl_weight").loc[0.5, "test recall@50"] > 0
    assert not (sweep_dir / "runs" / spec.run_name({"gcl_weight": 0.01}, 0)).exists()  # nothing started
    assert set(res["log"]) == {f"logs/{r}.log" for r in res["run"]}  # inside the sweep folder, not absolute


def test_sweep_preset_figure5_is_the_papers_four_parameters():
    from cikgwb.cli import build_parser
    from cikgwb.paper import FIGURE5_GRID
    from cikgwb.sweep import SweepSpec

    spec = SweepSpec(name="f5", grid=FIGURE5_GRID, dataset="book-crossing")
    assert spec.keys == ["mask_alpha", "mask_omega", "interest_recon_weight", "gcl_weight"]
    assert spec.base_values() == {
        "mask_alpha": 0.05,
        "mask_omega": 0.65,
        "interest_recon_weight": 0.03,
        "gcl_weight": 0.01,
    }
    assert all(spec.base_values()[k] in v for k, v in zip(spec.keys, FIGURE5_GRID.values()))  # the default in each
    assert len(spec.points()) == 16
    ns = build_parser().parse_args(["sweep", "--dataset", "book-crossing", "--preset", "figure5"])
    assert ns.preset == "figure5" and ns.grid is None


def test_sweep_queue_is_a_campaign_queue_of_the_sweeps_own_runs(tmp_path, capsys):
    """`sweep --queue` prints lines scripts/campaign.py reads, one per point, named as the sweep
    names its runs (so that `--collect` finds them), with the point's settings."""
    import importlib.util

    from cikgwb.cli import main
    from cikgwb.paper import FIGURE5_GRID
    from cikgwb.sweep import SweepSpec

    assert (
        main(["sweep", "--dataset", "book-crossing", "--preset", "figure5", "--set", "min_epochs=30", "--queue"]) == 0
    )
    out = tmp_path / "q.txt"
    out.write_text(capsys.readouterr().out)
    spec_ = importlib.util.spec_from_file_location("campaign", ROOT / "scripts" / "campaign.py")
    campaign = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(campaign)
    queue = campaign.read_queue(out)
    spec = SweepSpec(name="x", grid=FIGURE5_GRID, dataset="book-crossing", base={"min_epochs": "30"})
    assert [f"{n}-s{s}" for n, s, _ in queue] == [spec.run_name(p, 0) for p in spec.points()]
    name, seed, args = queue[0]
    assert name == "alpha0.01-omega0.65-lambda20.03-lambda30.01" and seed == 0
    assert "mask_alpha=0.01" in args and "min_epochs=30" in args and args[:2] == ["--dataset", "book-crossing"]
    # the committed queue is this command's output
    assert (ROOT / "scripts" / "campaign" / "figure5.txt").read_text() == out.read_text()


def test_notebook_sweep_injects_parameters_and_collects_records(tmp_path, monkeypatch):
    import nbformat

    from cikgwb.sweep import SweepSpec, run_sweep

    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell('dataset = "synthetic"\nquick = True\nx = 1\nseeds = [0]\nsweep_record = None')
    p.metadata["tags"] = ["parameters"]
    nb.cells = [
        p,
        nbformat.v4.new_code_cell(
            "import os\nfrom cikgwb.notebooks import start\nnb = start('t', dataset=dataset, quick=quick, record=sweep_record)\n"
            "open(os.path.join(os.environ['CIKGWB_REPORTS_DIR'], 'mine.txt'), 'w').write(str(x))\n"
            "nb.record(test={'recall@50': x / 10}, seed=seeds[0])"
        ),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "t.ipynb"
    nbformat.write(nb, path)
    monkeypatch.setenv("CIKGWB_DATA_DIR", str(tmp_path / "data"))
    spec = SweepSpec(name="nb", grid={"x": [2, 5]}, notebook=str(path), seeds=[3])
    df = run_sweep(spec, out_root=tmp_path, jobs=2, log=lambda *_: None)
    assert list(df["status"]) == ["ok", "ok"], df.to_string()
    assert list(df["test recall@50"]) == [0.2, 0.5] and list(df["seed"]) == [3, 3]
    for run, x in zip(df["run"], (2, 5)):  # each notebook had a reports folder of its own
        assert (tmp_path / "nb" / "runs" / run / "mine.txt").read_text() == str(x)


def test_results_command_lists_runs_beside_the_paper(tmp_path, capsys):
    from cikgwb.cli import main

    _fake_run(tmp_path, "bc-cke", "book-crossing", "cke", "valid", 0, 0.11)
    _fake_run(
        tmp_path,
        "bc-cik-a",
        "book-crossing",
        "cikgrec",
        "authors",
        0,
        0.18,
        stop="time limit: max_minutes=5 reached (not converged)",
    )
    _fake_run(tmp_path, "syn", "synthetic", "cikgrec", "valid", 0, 0.7)
    (tmp_path / "bc-cke" / "history.jsonl").write_text('{"epoch": 0}\n{"epoch": 1}\n')
    assert main(["results", "--runs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln.startswith("| book-crossing")]
    assert len(rows) == 4 and "synthetic" not in out  # two runs, each followed by the paper's row
    assert rows[0].startswith("| book-crossing | cikgrec | full | authors (selects on **test**) | paper | 0 |")
    assert "cut: time limit" in rows[0] and rows[0].endswith("| 0.1800 | 0.2800 | 0.0900 | 0.1000 |")
    assert (
        rows[1]
        == "| book-crossing | cikgrec | *paper, Table 1* | authors | | | | | 0.1791 | 0.2455 | 0.0889 | 0.1041 |"
    )
    assert "| cke | - | valid |  | 0 | cuda |  / 2, early stop | 0.1100 |" in rows[2]
    assert main(["results", "--runs", str(tmp_path), "--dataset", "ml1m"]) == 0
    assert "no finished run of ml1m" in capsys.readouterr().out
    # the paper's claims read from the same runs: one verdict each, saying what is missing
    assert main(["results", "--runs", str(tmp_path), "--claims", "verdicts", "--figure5", str(tmp_path)]) == 0
    verdicts = capsys.readouterr().out.splitlines()
    assert verdicts[:2] == [
        "* CIKGRec beats every baseline, book-crossing (users protocol, the headline): waiting for users-protocol "
        "runs.",
        "* CIKGRec beats every baseline, book-crossing (valid protocol): undecided: no valid-protocol runs of CIKGRec "
        "and a baseline.",
    ]
    # 3 claims x 2 protocols (users, valid) x 2 datasets (no ml1m) + Figure 5
    assert verdicts[-1] == "* Figure 5: no sweep yet." and len(verdicts) == 13
    assert main(["results", "--runs", str(tmp_path / "nope")]) == 2
    assert "no such runs folder" in capsys.readouterr().err


def test_baseline_off_its_defaults_is_a_variant_not_the_table1_row(tmp_path):
    """A baseline run with its model's DEFAULTS is Table 1's row ("-"); one with other settings
    (kept as the evidence of a tuning step) is labelled by what differs and left out of Table 1,
    even when it is newer."""
    from cikgwb.config import apply_overrides
    from cikgwb.models import default_config

    for name, sets, r50, when in (
        ("kgin-tuned", [], 0.12, "2026-01-01T00:00:00"),
        ("kgin-authors-lr", ["lr=1e-4"], 0.07, "2026-02-01T00:00:00"),
        ("kgin-two", ["lr=1e-4", "extra.n_factors=2"], 0.05, "2026-03-01T00:00:00"),
    ):
        _fake_run(tmp_path, name, "book-crossing", "kgin", "valid", 0, r50, finished_at=when)
        cfg = apply_overrides(default_config("book-crossing", "kgin"), sets)
        (tmp_path / name / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    runs = R.runs_table(tmp_path)
    variant = dict(zip(runs["run"], runs["variant"]))
    assert variant == {"kgin-tuned": "-", "kgin-authors-lr": "lr=0.0001", "kgin-two": "lr=0.0001, extra.n_factors=2"}
    t1 = R.table1(runs, datasets=("book-crossing",), models=["kgin"], protocols=("valid",))
    assert t1["recall@50"].tolist() == ["0.1200"]
    # LightGCN takes the dataset's settings, not a class's DEFAULTS: always Table 1's row
    assert R.baseline_variant(default_config("synthetic", "lightgcn").to_dict()) == "-"


def test_metrics_interest_field_says_what_the_model_read(tmp_path, monkeypatch):
    """metrics.json names the interest graph a run's model really read: every committed run, and a
    new LightGCN / w/o UIK run (they read none, though the dataset loads the released graph)."""
    from cikgwb.config import RunConfig
    from cikgwb.models import default_config
    from cikgwb.train import Trainer, interest_source_used

    root = Path(__file__).resolve().parents[1] / "reports" / "runs"
    for m in root.rglob("metrics.json"):
        cfg = RunConfig.load(m.parent / "config.yaml")
        rec = json.loads(m.read_text()).get("interests")
        assert interest_source_used(cfg, rec) == rec, m
    for model, sets in (("lightgcn", {}), ("cikgrec", {"no_interests": True})):
        cfg = default_config("synthetic", model, max_epochs=1, **sets)
        cfg.name = f"{model}-interest-field"
        res = Trainer(cfg, run_dir=tmp_path / cfg.name, progress=False).fit()
        assert res.metrics["interests"].startswith("none ("), res.metrics["interests"]
    cfg = default_config("synthetic", "cikgrec", max_epochs=1)
    res = Trainer(cfg, run_dir=tmp_path / "full", progress=False).fit()
    assert not res.metrics["interests"].startswith("none")
