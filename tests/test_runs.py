"""The run layer (issue 19 item 2): one reports root (cikgwb.paths), one naming rule, one interest
resolver, the trainer that leaves its config alone, and find_run picking what the notebooks
picked before."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from _source_scan import lines_matching

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "reports" / "runs"


def _default_config(dataset: str, model: str, **kw):
    try:
        from cikgwb.models import default_config
    except ImportError:  # before the config per model
        from cikgwb.config import default_config
    return default_config(dataset, model, **kw)


def _committed():
    """``(run folder, config dict, metrics dict)`` of every committed finished run."""
    out = []
    for m in sorted(COMMITTED.rglob("metrics.json")):
        metrics = json.loads(m.read_text())
        if "test" in metrics:
            out.append((m.parent, yaml.safe_load((m.parent / "config.yaml").read_text()), metrics))
    assert len(out) >= 50, f"only {len(out)} committed runs found under {COMMITTED}"
    return out


# ----------------------------------------------------------------------------- paths
def test_reports_root_honours_the_env_var_everywhere(tmp_path, monkeypatch):
    from cikgwb import compare, notebooks, paths, reports
    from cikgwb.knowledge import infer

    proj = tmp_path / "proj"
    (proj / "notebooks").mkdir(parents=True)
    (proj / "notebooks" / "01_data.ipynb").write_text("{}")
    monkeypatch.setenv("CIKGWB_ROOT", str(proj))
    monkeypatch.delenv("CIKGWB_REPORTS_DIR", raising=False)
    assert paths.project_root() == proj.resolve()
    assert paths.reports_root() == proj.resolve() / "reports" == notebooks.reports_dir()
    monkeypatch.setenv("CIKGWB_REPORTS_DIR", "elsewhere")  # relative: from the project root
    assert paths.reports_root() == proj.resolve() / "elsewhere"
    out = tmp_path / "out"
    monkeypatch.setenv("CIKGWB_REPORTS_DIR", str(out))  # read at call time, not import time
    assert paths.runs_root() == out / "runs" == notebooks.reports_dir() / "runs"
    assert paths.committed_runs_root() == proj.resolve() / "reports" / "runs"
    # every caller that defaults to the reports root reads it
    assert infer.default_run_dir("d", "kg-summary") == out / "interests" / "d" / "kg-summary"
    assert (
        paths.interest_graph_dir("d", Path("a/answers.jsonl"), "tfidf", "kmeans", 5, 0).parent
        == out / "interests" / "d" / "graphs"
    )
    with pytest.raises(FileNotFoundError, match=re.escape(str(out / "runs"))):
        compare.resolve_runs("no-such-run")
    run = out / "runs" / "r-s0"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(
        json.dumps(
            {"name": "r-s0", "seed": 0, "protocol": "valid", "dataset": "d", "model": "m", "test": {"recall@50": 0.5}}
        )
    )
    assert compare.resolve_runs("r") == [run]
    assert reports.summarize_seeds([run], "r") == out / "runs" / "r-summary.json"


def test_no_other_definition_of_the_reports_root():
    """Only cikgwb/paths.py reads CIKGWB_REPORTS_DIR or names a default ``reports`` folder; the
    others may only pass it on to a child process."""
    offenders = lines_matching(
        r"""(environ\.get|getenv)\(\s*["']CIKGWB_REPORTS_DIR|Path\(\s*["']reports["']\s*\)""",
        ("cikgwb", "scripts", "notebooks"),
    )
    assert not offenders, "reports root defined outside cikgwb.paths:\n" + "\n".join(offenders)


# ----------------------------------------------------------------------------- names
def test_run_names_one_rule():
    from cikgwb.run_spec import default_stem, run_name, run_stem, split_run_name

    assert (
        run_name(run_stem("book-crossing", "cikgrec", "valid", "w/o CL"), 0) == "book-crossing-cikgrec-wo-cl-valid-s0"
    )
    assert (
        run_name(run_stem("synthetic", "lightgcn", "authors", "-", quick=True), 3)
        == "quick-synthetic-lightgcn-authors-s3"
    )
    assert run_stem("dbbook2014", "kgcl", "authors", tag="notranse") == "dbbook2014-kgcl-authors-notranse"
    assert split_run_name("a-b-s1-s12") == ("a-b-s1", 12) and split_run_name("plain") == ("plain", None)
    cfg = _default_config("synthetic", "cikgrec", no_cl=True)
    assert default_stem(cfg) == "synthetic-cikgrec-wo-cl-valid"
    assert default_stem(_default_config("synthetic", "kgat")) == "synthetic-kgat-valid"


def test_bf16_run_is_not_a_seed_of_the_fp32_row():
    """A run with bf16 InfoNCE products is its own variant (``full (bf16)``), so it never joins the
    fp32 full model's seeds in a table cell."""
    from cikgwb.run_spec import cikgrec_variant

    assert cikgrec_variant({"precision": "fp32"}) == cikgrec_variant({}) == "full"
    assert cikgrec_variant({"precision": "bf16"}) == "full (bf16)"
    assert cikgrec_variant({"precision": "bf16", "no_cl": True}) == "w/o CL (bf16)"


def test_committed_run_names_follow_the_rule():
    """Every committed run is named ``<dataset>-<model>[-<variant>]-<protocol>[-<tag>]-s<seed>``
    with what its config and metrics say, and the rule rebuilds every name."""
    from cikgwb.run_spec import (
        VARIANT_SLUGS,
        run_name,
        run_stem,
        split_run_name,
        variant_of,
    )

    rebuilt_without_tag = 0
    for folder, cfg, m in _committed():
        stem, seed = split_run_name(folder.name)
        assert seed == m["seed"] == cfg["train"]["seed"], folder
        variant = variant_of(cfg)
        slugs = "|".join(s for s in VARIANT_SLUGS.values() if s)
        hit = re.fullmatch(rf"{re.escape(m['dataset'])}-{m['model']}(?:-({slugs}))?-{m['protocol']}(?:-(.+))?", stem)
        assert hit, f"{folder.name}: not <dataset>-<model>[-<variant>]-<protocol>[-<tag>]-s<seed>"
        slug, tag = hit.groups()
        if slug:
            assert VARIANT_SLUGS.get(variant) == slug, f"{folder.name}: named {slug}, config says {variant}"
        assert (
            run_name(run_stem(m["dataset"], m["model"], m["protocol"], variant if slug else None, tag), seed)
            == folder.name
        )
        # trained under this name, or under the name without the tag and renamed when kept as evidence
        untagged = run_name(run_stem(m["dataset"], m["model"], m["protocol"], variant if slug else None), seed)
        assert cfg["name"] == m["name"] and cfg["name"] in (folder.name, untagged), folder
        rebuilt_without_tag += tag is None
    assert rebuilt_without_tag >= 40  # most runs carry the default name (no tag)


# ----------------------------------------------------------------------------- interests
def test_interest_resolver_one_meaning(tmp_path):
    from cikgwb.data.interest_files import InterestSource

    resolve_interests = InterestSource.parse
    for spec in (None, "", "paper", "default"):
        assert resolve_interests(spec).kind == "paper"
    assert resolve_interests("none").kind == "none"
    f = tmp_path / "ui.txt"
    f.write_text("0 7\n")
    src = resolve_interests(str(f))
    assert src.kind == "path" and src.path == f.resolve()
    assert resolve_interests("dbbook2014").kind == "path"  # a dataset's released graph
    with pytest.raises(FileNotFoundError) as e:
        resolve_interests(str(tmp_path / "no-graph"))
    assert str(tmp_path / "no-graph") in str(e.value) and "expected paper, none" in str(e.value)


def test_interests_on_a_dataset_and_on_a_run(synthetic_ds, tmp_path):
    from cikgwb.run_spec import dataset_with_interests, prepare_run

    assert synthetic_ds.n_interests > 0
    assert dataset_with_interests(synthetic_ds, "paper") is synthetic_ds
    assert dataset_with_interests(synthetic_ds, "none").n_interests == 0
    f = tmp_path / "ui.txt"
    f.write_text("0 7\n1 7\n2 9\n")
    assert dataset_with_interests(synthetic_ds, str(f)).n_interests == 2
    # a run: none = the model reads no interest graph (same dataset, so the same node index space)
    cfg = _default_config("synthetic", "cikgrec")
    cfg.interests = "none"
    run_cfg, ds = prepare_run(cfg, synthetic_ds)
    assert run_cfg.model.no_interests and not cfg.model.no_interests and cfg.name is None
    assert run_cfg.name == "synthetic-cikgrec-wo-uik-valid-s0" and ds is synthetic_ds
    cfg.interests = str(f)
    run_cfg, ds = prepare_run(cfg, synthetic_ds)
    assert ds.n_interests == 2 and prepare_run(run_cfg, ds)[1] is ds  # a ready dataset is taken as it is


def test_trainer_leaves_the_config_alone(synthetic_ds, tmp_path):
    from cikgwb.train import Trainer

    cfg = _default_config("synthetic", "cikgrec", max_epochs=1)
    cfg.interests = "none"
    before = cfg.to_dict()
    t = Trainer(cfg, ds=synthetic_ds, run_dir=tmp_path / "r", progress=False)
    assert cfg.to_dict() == before and cfg.name is None
    assert t.cfg.model.no_interests and t.cfg.name == "synthetic-cikgrec-wo-uik-valid-s0"


def test_cli_refuses_a_missing_interest_graph_before_loading_data(tmp_path, monkeypatch, capsys):
    import cikgwb.data
    from cikgwb.cli import main

    monkeypatch.setattr(cikgwb.data, "load_dataset", lambda *a, **k: (_ for _ in ()).throw(AssertionError()))
    monkeypatch.setenv("CIKGWB_REPORTS_DIR", str(tmp_path / "reports"))
    missing = tmp_path / "graphs" / "nope"
    assert main(["train", "--dataset", "synthetic", "--interests", str(missing), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert str(missing) in err and "\n" not in err, err
    assert not (tmp_path / "reports").exists()


def test_committed_metrics_interest_field_matches_the_config():
    """metrics.json's ``interests`` says what the model read, as its config says: ``none (...)``
    where it reads none (baselines, LightGCN, w/o UIK), the released graph (``paper ...``) for
    ``interests: paper``, another graph's source for a PATH."""
    from cikgwb.data.interest_files import InterestSource

    for folder, cfg, m in _committed():
        rec = str(m.get("interests"))
        src = InterestSource.parse(cfg.get("interests"), check=False)
        reads = m["model"] == "cikgrec" and not cfg["model"].get("no_interests") and src.kind != "none"
        if not reads:
            assert rec.startswith("none ("), f"{folder.name}: reads no interest graph, metrics.json says {rec!r}"
        elif src.kind == "paper":
            assert rec.startswith("paper (released"), f"{folder.name}: {rec!r}"
        else:
            assert not rec.startswith(("paper", "none")), f"{folder.name}: config {src.spec}, metrics {rec!r}"


# ----------------------------------------------------------------------------- find_run
def _old_07(runs, dataset, protocol, models=None):
    sel = (
        runs[(runs["dataset"] == dataset) & (runs["protocol"] == protocol) & runs["variant"].isin(["full", "-"])]
        if len(runs)
        else runs
    )
    if models is not None and len(sel):
        sel = sel[sel["model"].isin(models)]
    return list(sel["run"])


def _old_08(runs, dataset, protocol):
    from cikgwb.run_artefact import ARTEFACT_FILE
    from cikgwb.runs import has_checkpoint

    cand = (
        runs[
            (runs["dataset"] == dataset)
            & (runs["model"] == "cikgrec")
            & (runs["variant"] == "full")
            & (runs["protocol"] == protocol)
        ]
        if len(runs)
        else runs
    )
    if len(cand):
        cand = cand.assign(
            _a=[Path(p, ARTEFACT_FILE).exists() for p in cand["path"]], _c=[has_checkpoint(p) for p in cand["path"]]
        )
        cand = cand[cand["_a"] | cand["_c"]].sort_values(["_a", "converged", "_c"], ascending=False)
    return cand["path"].iloc[0] if len(cand) else None


def _old_explorer(runs, run, dataset):
    if run:
        for r in runs:
            if str(run) in (r["run"], r["path"]) or str(Path(r["path"]).resolve()) == str(Path(run).resolve()):
                return r["path"]
    pool = [r for r in runs if r["artefact"]] or runs
    if dataset:
        pool = [r for r in pool if r["dataset"] == dataset] or pool
    best = (
        [r for r in pool if r["dataset"] == "book-crossing" and r["model"] == "cikgrec"]
        or [r for r in pool if r["model"] == "cikgrec"]
        or pool
    )
    # the model at its default settings (run name <dataset>-<model>-<protocol>-s<seed>) before a
    # variant of it: since the interest-graph controls (issue 33) have artefacts, a control run
    # (e.g. ...-cikgrec-users-interests-...-s0) sorts before the plain run it varies
    plain = [r for r in best if r["run"] == f"{r['dataset']}-{r['model']}-{r['protocol']}-s{r['seed']}"]
    return (plain or best)[0]["path"]


def _new(roots, dataset, protocol, run=None, models=None):
    from cikgwb.run_artefact import find_artefacts
    from cikgwb.runs import find_run, find_runs, run_index
    from cikgwb.widgets import explorer_preference

    idx = run_index(roots[0])
    r07 = list(find_runs(idx, dataset=dataset, protocol=protocol, variant=("full", "-"), model=models)["run"])
    hit = find_run(
        idx,
        dataset=dataset,
        model="cikgrec",
        variant="full",
        protocol=protocol,
        need=("artefact", "checkpoint"),
        prefer=("artefact", "converged", "checkpoint"),
    )
    listed = pd.DataFrame(find_artefacts(roots))
    ex = find_run(listed, run=run) if run else None
    ex = ex if ex is not None else find_run(listed, prefer=explorer_preference(dataset))
    return r07, (hit["path"] if hit is not None else None), ex["path"]


def _old(roots, dataset, protocol, run=None, models=None):
    from cikgwb.run_artefact import find_artefacts
    from cikgwb.runs import runs_table

    runs = runs_table(roots[0])
    return (
        _old_07(runs, dataset, protocol, models),
        _old_08(runs, dataset, protocol),
        _old_explorer(find_artefacts(roots), run, dataset),
    )


def test_find_run_picks_what_the_notebooks_picked_on_the_committed_runs():
    roots = [COMMITTED]
    for dataset in ("book-crossing", "dbbook2014", "ml1m", "synthetic"):
        for protocol in ("valid", "authors"):
            assert _new(roots, dataset, protocol) == _old(roots, dataset, protocol), (dataset, protocol)
    assert _new(roots, None, "valid")[2] == _old(roots, None, "valid")[2]  # the explorer without a dataset
    for run in (
        "book-crossing-kgin-valid-s0",
        "gpu/book-crossing-cikgrec-authors-authorsviews-gpu-s0",
        str(COMMITTED / "dbbook2014-sgl-valid-s0"),
        "no-such-run",
    ):
        assert _new(roots, "dbbook2014", "valid", run)[2] == _old(roots, "dbbook2014", "valid", run)[2], run
    assert _new(roots, "book-crossing", "valid", models=["lightgcn", "kgat"]) == _old(
        roots, "book-crossing", "valid", models=["lightgcn", "kgat"]
    )


def _fake_run(
    root: Path,
    name: str,
    model: str = "cikgrec",
    protocol: str = "valid",
    dataset: str = "toy",
    converged: bool = True,
    artefact: bool = False,
    checkpoint: bool = False,
    finished_at: str = "",
) -> None:
    d = root / name
    d.mkdir(parents=True)
    (d / "metrics.json").write_text(
        json.dumps(
            {
                "name": name,
                "dataset": dataset,
                "model": model,
                "protocol": protocol,
                "seed": 0,
                "views": "paper",
                "stop_reason": "early stop: ..." if converged else "time limit: ...",
                "finished_at": finished_at,
                "test": {"recall@50": 0.1},
            }
        )
    )
    (d / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "dataset": dataset,
                "interests": "paper",
                "name": name,
                "model": {"model": model},
                "train": {"protocol": protocol},
            }
        )
    )
    if artefact:
        (d / "explorer.npz").write_bytes(b"")
    if checkpoint:
        (d / "checkpoints").mkdir()
        (d / "checkpoints" / "best.pt").write_bytes(b"")


def test_find_run_picks_what_the_notebooks_picked_on_made_up_runs(tmp_path, monkeypatch):
    """Ties, artefacts, checkpoints and cut runs in every order the three rules weigh them."""
    monkeypatch.setattr("cikgwb.run_spec.baseline_variant", lambda cfg: "-")
    root = tmp_path / "runs"
    _fake_run(root, "a-cut-ckpt", converged=False, checkpoint=True)
    _fake_run(root, "b-conv-ckpt", checkpoint=True)
    _fake_run(root, "c-conv-plain")
    _fake_run(root, "d-lightgcn-art", model="lightgcn", artefact=True)
    _fake_run(root, "e-bc", dataset="book-crossing", checkpoint=True)
    _fake_run(root, "f-auth-art-cut", protocol="authors", converged=False, artefact=True)
    _fake_run(root, "g-auth-ckpt", protocol="authors", checkpoint=True)
    _fake_run(root / "sub", "h-auth-art", protocol="authors", artefact=True)
    for dataset in ("toy", "book-crossing", "other"):
        for protocol in ("valid", "authors"):
            new, old = _new([root], dataset, protocol), _old([root], dataset, protocol)
            assert new[:2] == old[:2], (dataset, protocol, new, old)
    assert _new([root], "toy", "valid")[1].endswith("b-conv-ckpt")  # converged before cut, both with best.pt
    assert _new([root], "toy", "authors")[1].endswith("sub/h-auth-art")  # an artefact first, converged first
    # the explorer (issue 36 item 3: explorer_preference): a CIKGRec run with an artefact, a converged one first
    for dataset in (None, "toy", "other"):
        assert _new([root], dataset, "valid")[2].endswith("sub/h-auth-art"), dataset
    assert _new([root], "toy", "valid", run="e-bc")[2].endswith("e-bc")
