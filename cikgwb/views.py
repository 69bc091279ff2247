"""What the notebooks need before they draw: :func:`require` finds a run, an explorer artefact or a
sweep, makes it where asked (quick runs on the synthetic data), or returns one ``MISSING: ...``
line that names what is missing and the command that makes it (``cikgwb notebooks`` reports a
notebook that printed one as ``missing``, not ``ok``).

One function instead of the "find the run, else make it, else MISSING" that notebooks 07, 08 and
09 each wrote (issue 35, move 4), and one view function per table or figure of every notebook, so
that a notebook holds at most 25 lines of logic; ``tests/test_views.py`` runs them on the synthetic
data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

KINDS = ("runs", "artefact", "sweep", "answers")


@dataclass
class Found:
    """What :func:`require` found: ``value`` (runs: an index frame; artefact: the run folder; sweep:
    ``(results, spec)``), or ``missing``, the one MISSING line; ``made``: it was made just now."""

    value: Any = None
    missing: str | None = None
    made: bool = False

    def __bool__(self) -> bool:
        return self.missing is None


def _missing(what: str, command: str, after: str = "") -> Found:
    line = f"MISSING: {what}; make it with `{command}`{after}"
    print(line)
    return Found(missing=line)


def require(
    kind: str,
    *,
    dataset: str,
    root: str | Path | None = None,
    make: bool = False,
    protocol: str = "valid",
    models: Any = None,
    run: str | Path | None = None,
    sweep: str | Path | None = None,
    spec: Any = None,
    jobs: int = 2,
    seed: int = 0,
) -> Found:
    """Find (else with ``make`` make, else name in one MISSING line) what a notebook draws from.

    ``kind``: ``"runs"``: the finished runs of ``dataset`` under ``root`` (default the runs folder)
    with ``protocol``, main variants only, ``models`` (None: all); made: quick LightGCN and CIKGRec.
    ``"artefact"``: a CIKGRec run (full variant, ``protocol``; or ``run``) with an explorer artefact,
    made from its checkpoint where one is on this machine; made: a quick CIKGRec run.
    ``"sweep"``: the sweep folder ``sweep`` with its results; made: :func:`cikgwb.sweep.run_sweep`
    of ``spec`` (a :class:`cikgwb.sweep.SweepSpec`).
    ``"answers"``: ``(table, path)`` of the answers ``run`` names: a backend (default ``kg-summary``,
    where ``cikgwb interests infer`` writes its answers; made: the offline ``kg-summary`` only), an
    ``answers.jsonl`` path, or ``planted`` (the synthetic dataset's topics drawn with ``seed``; path None).
    """
    if kind not in KINDS:
        raise ValueError(f"require: kind {kind!r} is not one of {', '.join(KINDS)}")
    from .paths import runs_root

    root = Path(root) if root is not None else runs_root()
    if kind == "runs":
        return _runs(dataset, root, make, protocol, models)
    if kind == "artefact":
        return _artefact(dataset, root, make, protocol, run)
    if kind == "answers":
        return _answers(dataset, str(run or "kg-summary"), make, seed)
    if sweep is None:
        raise ValueError("require('sweep'): give the sweep folder (sweep=PATH)")
    return _sweep(Path(sweep), make, spec, jobs)


def _runs(dataset: str, root: Path, make: bool, protocol: str, models: Any) -> Found:
    from .runs import find_runs, run_index, train_runs

    sel = find_runs(run_index(root), dataset=dataset, protocol=protocol, variant=("full", "-"), model=models)
    if len(sel):
        return Found(sel)
    if make:
        from .data import load_dataset

        print(f"no {protocol}-protocol runs of {dataset} yet: training quick ones")
        return Found(
            train_runs(load_dataset(dataset), ["lightgcn", "cikgrec"], [0], root, protocol=protocol), made=True
        )
    return _missing(
        f"no finished {protocol}-protocol run of {dataset} under {root}",
        f"cikgwb train --dataset {dataset} --protocol {protocol}",
    )


def _artefact(dataset: str, root: Path, make: bool, protocol: str, run: str | Path | None) -> Found:
    from .run_artefact import ARTEFACT_FILE, write_artefact
    from .runs import find_run, has_checkpoint, run_index, train_runs

    made = False
    if run is None:  # an artefact first, then a checkpoint to make one; converged runs first
        hit = find_run(
            run_index(root),
            dataset=dataset,
            model="cikgrec",
            variant="full",
            protocol=protocol,
            need=("artefact", "checkpoint"),
            prefer=("artefact", "converged", "checkpoint"),
        )
        if hit is None and make:
            from .data import load_dataset

            cand = train_runs(load_dataset(dataset), ["cikgrec"], [0], root, protocol=protocol, quick=True)
            hit, made = (cand.iloc[0] if len(cand) else None), True
        if hit is None:
            return _missing(
                f"no CIKGRec run ({protocol} protocol) of {dataset} with an explorer artefact ({ARTEFACT_FILE}) "
                f"or a checkpoint under {root}",
                f"cikgwb train --dataset {dataset} --protocol {protocol}",
                " then `cikgwb artefact RUN` where its checkpoint is",
            )
        run = hit["path"]
    if not Path(run, ARTEFACT_FILE).exists():
        if not has_checkpoint(run):
            return _missing(
                f"run {run} has no {ARTEFACT_FILE} and no checkpoint on this machine",
                f"cikgwb artefact {run}",
                " where its checkpoint is",
            )
        print(f"{Path(run).name}: no {ARTEFACT_FILE} yet; making it from its checkpoint (cikgwb artefact)")
        write_artefact(run, log=print)
    return Found(Path(run), made=made)


def _answers(dataset: str, source: str, make: bool, seed: int) -> Found:
    from .knowledge.infer import default_run_dir
    from .knowledge.interest_graph import read_answers

    if source == "planted":  # the synthetic dataset's planted topics, no file
        from .data import load_dataset
        from .knowledge.planted import planted_answers

        return Found((planted_answers(load_dataset(dataset), seed=seed)[0], None))
    is_path = source.endswith(".jsonl") or "/" in source
    path = Path(source) if is_path else default_run_dir(dataset, source) / "answers.jsonl"
    made = False
    if not path.exists() and make and source == "kg-summary":  # offline, not an LLM: seconds
        from .data import load_dataset
        from .knowledge import infer_interests

        infer_interests(load_dataset(dataset), backend="kg-summary", run_dir=path.parent, progress=False)
        made = True
    if not path.exists():
        how = f"cikgwb interests infer --dataset {dataset} --backend {source}" if not is_path else f"ls {path}"
        return _missing(f"no answers for {dataset} at {path}", how)
    return Found((read_answers(path), path), made=made)


def _sweep(folder: Path, make: bool, spec: Any, jobs: int) -> Found:
    from .sweep import load_sweep, run_sweep

    made = False
    if not (folder / "results.csv").exists() and make and spec is not None:
        run_sweep(spec, out_root=folder.parent, jobs=jobs)
        made = True
    if not (folder / "results.csv").exists():
        return _missing(f"{folder} holds no sweep results", sweep_command(spec, folder.name))
    results, info = load_sweep(folder)
    if not results["status"].isin(["ok", "reused"]).any():
        if (results["status"] != "missing").any():
            raise RuntimeError(f"every run of the sweep {folder.name} failed (see {folder / 'logs'})")
        return _missing(f"no run of {folder} has finished yet", f"cikgwb sweep ... --name {folder.name} --collect")
    return Found((results, info), made=made)


def sweep_command(spec: Any, name: str) -> str:
    """The command that makes the sweep ``spec`` under the name ``name`` (Figure 5's grid: its preset)."""
    from .paper import FIGURE5_GRID

    if spec is None:
        return f"cikgwb sweep --dataset DATASET --grid KEY=V1,V2 --name {name}"
    if spec.grid == FIGURE5_GRID:
        return f"cikgwb sweep --dataset {spec.dataset} --preset figure5 --set min_epochs=30"
    grid = " ".join(f"--grid {k}={','.join(map(str, v))}" for k, v in spec.grid.items())
    base = "".join(f" --set {k}={v}" for k, v in spec.base.items())
    return f"cikgwb sweep --dataset {spec.dataset} {grid}{base} --name {name}"


# ----------------------------------------------------------------------------- Figure 5 (notebook 09)
def figure5(results: Any, spec: dict[str, Any], split: str = "test") -> tuple[Any, dict[str, Any]]:
    """Figure 5's panels from a sweep's ``split`` metrics (test: as the paper; valid: what selection
    sees) and the frame of each panel; the subtitle says the split, devices, schedule and the
    points not run yet (left out)."""
    from . import plots
    from .sweep import SYMBOLS, sensitivity_frames

    frames = sensitivity_frames(results, spec, split=split)
    notes = "; ".join(f"{k}: {f.attrs['note']}" for k, f in frames.items() if f.attrs.get("note"))
    devices = ",".join(sorted(set(map(str, results["device"].dropna())))) if "device" in results else "?"
    epochs = spec["base"].get("max_epochs")
    missing = int((results["status"] == "missing").sum())
    extra = "; ".join(
        x
        for x in [
            f"{split} split",
            f"device: {devices}",
            f"at most {epochs} epochs" if epochs else "",
            f"{missing} point(s) not run yet" if missing else "",
            notes,
        ]
        if x
    )
    fig = plots.sensitivity_panels(
        frames,
        dataset=spec["dataset"],
        protocol=spec["protocol"],
        seeds=spec["seeds"],
        labels={k: SYMBOLS.get(k, k) for k in frames},
        extra=extra,
    )
    return fig, frames


def sweep_summary(results: Any, info: dict[str, Any]) -> tuple[str, Any]:
    """What a sweep holds, in words (its runs, settings, and the points not run yet), and its table."""
    name = info.get("name", "")
    text = f"sweep {name}: {info['n_runs']} runs, mode {info['mode']}, base {info['base']}, base values {info['base_values']}"
    not_run = results.loc[results["status"] == "missing", "run"].tolist()
    if not_run:
        text += f"\n{len(not_run)} of {len(results)} runs not run yet, left out of the panels: {', '.join(not_run)}"
    cols = [*info["keys"], "seed", "status", "selected_epoch", "device", "test recall@50", "test ndcg@50"]
    return text, results[[c for c in cols if c in results]]


def selection_agrees(test: dict[str, Any], valid: dict[str, Any]) -> list[str]:
    """Per hyper-parameter: the value with the best Recall@50 on test and on valid (the same or not)."""
    from .sweep import SYMBOLS

    lines = []
    for k, t in test.items():
        if k in valid and len(t) > 1:
            best_t = t.loc[t["recall@50"].idxmax(), k]
            v = valid[k]
            best_v = v.loc[v["recall@50"].idxmax(), k]
            same = " (the same)" if best_t == best_v else ""
            lines.append(f"{SYMBOLS.get(k, k)}: best Recall@50 on test at {best_t}, on valid at {best_v}{same}")
    return lines


# ----------------------------------------------------------------------------- Figure 4 (notebook 08)
#: the paper's Figure 4 (book-crossing): user 2362, their test item 1484, which user 897 has in train
PAPER_CASE = {"book-crossing": {"user": 2362, "item": 1484, "other_user": 897}}


def case_for_figure4(
    a: Any, dataset: str, *, k: int = 20, case: int = 0, user: Any = None, item: Any = None, other_user: Any = None
) -> tuple[dict[str, Any] | None, Any]:
    """The case Figure 4 draws from artefact ``a``, and the table of candidate cases (None when not
    searched): ``user`` and ``item`` (and ``other_user``) as given, else the paper's case on its
    dataset, else (or where that case does not hold in this run's data) the ``case``-th test hit in a
    top-``k`` list reached through a shared interest (:func:`cikgwb.explorer.artefact_find_cases`)."""
    from .explorer import artefact_case, artefact_find_cases

    want = None
    if user is not None and item is not None:
        want = {"user": int(user), "item": int(item), "other_user": None if other_user is None else int(other_user)}
    elif user is None and dataset in PAPER_CASE and a.meta["dataset"] == dataset:
        want = PAPER_CASE[dataset]
    c = None
    if want is not None:
        c = artefact_case(a, want["user"], want["item"], want["other_user"])
        if c["problems"]:
            print(
                f"the case user {want['user']} / item {want['item']} does not hold in this run's data: "
                + "; ".join(c["problems"])
            )
            c = None if user is not None else c
    if c is not None and not c["problems"]:
        return c, None
    cases = artefact_find_cases(a, k=k)
    if user is not None:
        cases = cases[cases["user"] == int(user)].reset_index(drop=True)
    if len(cases) <= int(case):
        print(
            f"MISSING: Figure 4 is not drawn: no test hit in any top-{k} list of this run is reached through a "
            "shared interest; make it with `cikgwb notebooks --only 08 -p case=0` on another run (-p run=PATH)"
        )
        return None, cases
    f = cases.iloc[int(case)]
    return artefact_case(a, int(f["user"]), int(f["item"]), int(f["other_user"])), cases


def figure4(a: Any, c: dict[str, Any], *, dataset: str, k: int = 20) -> tuple[Any, Any, str]:
    """Figure 4 of case ``c`` (:func:`case_for_figure4`): the figure, the table of the user's
    interests, and one line saying where the model ranks the item."""
    import pandas as pd

    from . import plots
    from .explorer import artefact_user_report

    rep = artefact_user_report(a, c["user"], k=k)
    score = f" (score {c['score']:.3g})" if c["score"] is not None else f" (beyond the stored top {a.meta['top_n']})"
    where = f"rank {c['rank']:,} of {a.n_items:,} items{score}" if c["rank"] > 0 else "masked (also a training item)"
    line = (
        f"user {c['user']}: test item {c['item']} '{c['title']}' is a training item of user {c['other_user']}; "
        f"they share interests {c['shared']}; our model puts it at {where}"
    )
    interests = pd.DataFrame(
        [
            {
                "interest": j,
                "original id": a.interest_ids[j],
                "shared with other user": j in c["shared"],
                "holders": len(a.members(j)),
                "label": a.labels[j],
                "how labelled": a.label_methods[j],
            }
            for j in c["interests"]
        ]
    )
    c = {**c, "labels": {j: a.short_label(j) for j in c["interests"]}}
    how = (
        "Interest labels: the released graph has no text; each interest is named afterwards by the phrases its "
        "users over-use in the local LLM's answers (~), else by their most distinctive item titles (no gpt-3.5 "
        "words). "
        if "phrases" in a.label_methods
        else "Interest labels: the most distinctive item titles of each interest's users (the released graph has no "
        "text; no LLM words). "
        if "titles" in a.label_methods
        else "Interest labels: the graph's text labels. "
    )
    fig = plots.case_study_paths(
        c,
        rep["topk"],
        dataset=dataset,
        protocol=a.meta["protocol"],
        seeds=[a.meta["seed"]],
        n_items=a.n_items,
        note=how + f"Rank: the model's ranking of all items not in the user's train.txt (run {a.meta['run']}, "
        f"selected epoch {a.meta['selected_epoch']}).",
    )
    return fig, interests, line


# ----------------------------------------------------------------------------- Figure 3 (notebook 07)
def figure3(
    sel: Any, ds: Any, *, protocol: str = "valid", metric: str = "ndcg@50", n_groups: int = 4, models: Any = None
) -> dict[str, Any]:
    """Figure 3 from the runs ``sel`` (:func:`require` ``"runs"``) on dataset ``ds``: ``groups`` (one
    row per model and sparsity group), ``skipped`` (runs without per-user test metrics), ``why``
    (a line per model of Table 1 not in the figure, with the reason and the command that adds it),
    ``fig`` (None when nothing can be drawn) and ``wide`` (models side by side, CIKGRec's gain over
    LightGCN in %)."""
    from . import plots
    from .models import MODELS, _import_all
    from .results import REAL_DATASETS, sparsity_table

    groups, skipped = sparsity_table(sel, ds, n_groups=n_groups, metric=metric)
    _import_all()
    shown = set(groups["model"]) if len(groups) else set()
    rivals = sorted(m for m in MODELS if m not in ("cikgrec", "lightgcn"))
    expected = ["cikgrec", "lightgcn", *rivals] if ds.name in REAL_DATASETS and models is None else list(models or [])
    no_metrics = sorted(set(skipped["model"]) - shown) if len(skipped) else []
    no_run = [m for m in expected if m not in shown and m not in no_metrics]
    why = []
    if no_metrics:
        why.append(
            f"not shown: {', '.join(no_metrics)}: their {protocol}-protocol runs have no per-user test metrics "
            "here (checkpoints are not committed; `cikgwb per-user RUN` or `cikgwb artefact RUN` where the "
            "checkpoints are adds them)"
        )
    if no_run:
        why.append(f"not shown: {', '.join(no_run)}: no finished {protocol}-protocol run of {ds.name}")
    out = {"groups": groups, "skipped": skipped, "why": why, "fig": None, "wide": None}
    if not len(groups):
        return out
    seeds = sorted({int(s) for s in sel["seed"]})
    note = f"device: {','.join(sorted(set(map(str, sel['device']))))}" + (
        "" if sel["converged"].all() else "; includes NOT converged runs (quick mode or time limit)"
    )
    out["fig"] = plots.sparsity_groups(
        groups,
        metric=metric,
        dataset=ds.name,
        protocol=protocol,
        seeds=seeds,
        extra=note,
        note=(". ".join(w[0].upper() + w[1:] for w in why) + ".") if why else None,
    )
    wide = groups.pivot_table(index=["group", "range"], columns="model", values=metric)
    if {"cikgrec", "lightgcn"} <= set(wide.columns):
        wide["gain of cikgrec over lightgcn (%)"] = 100 * (wide["cikgrec"] / wide["lightgcn"] - 1)
    out["wide"] = wide
    return out


# ----------------------------------------------------------------------------- Tables 1 and 3 (notebook 06)
#: how a row of either table was obtained: its protocol, views, seeds, devices, provenance and status
_HOW_COLUMNS = ["protocol", "views", "seeds", "devices", "provenance", "status"]
#: the columns of Tables 1 and 3 that notebook 06 shows (and writes to reports/tables/<dataset>/)
TABLE1_COLUMNS = [
    "dataset",
    "model",
    *_HOW_COLUMNS,
    "recall@50",
    "recall@100",
    "ndcg@50",
    "ndcg@100",
    "paper recall@50",
    "paper ndcg@50",
]
TABLE3_COLUMNS = [
    "dataset",
    "variant",
    *_HOW_COLUMNS,
    "recall@100",
    "ndcg@100",
    "paper recall@100",
    "paper ndcg@100",
]


def runs_found(runs: Any) -> Any:
    """One row per dataset, model, variant and protocol: how many runs, their seeds and devices, and
    whether every one converged."""
    return runs.groupby(["dataset", "model", "variant", "protocol"]).agg(
        runs=("run", "count"),
        seeds=("seed", lambda s: ",".join(map(str, sorted(s)))),
        devices=("device", lambda s: ",".join(sorted(set(map(str, s))))),
        converged=("converged", "all"),
    )


def _seeds_of(d: Any) -> str:
    return ",".join(sorted({s for x in d["seeds"] for s in str(x).split(",") if s}))


def _devices_of(d: Any) -> str:
    return ",".join(sorted({x for v in d["devices"] for x in str(v).split(",")}))


def table1_glance(t1: Any, dataset: str) -> tuple[Any, list[tuple[str, Any]]]:
    """Table 1 of one dataset at a glance (cells: mean ± std, protocol, seeds, devices; None without
    runs) and its bar charts, ``(stem, figure)`` per protocol and metric (Recall@50, NDCG@50; the
    paper's values beside ours under the authors' protocol)."""
    import pandas as pd

    from . import plots
    from .paper import PAPER_TABLE1

    d1 = t1[(t1["dataset"] == dataset) & ~t1["status"].str.startswith("missing")].copy()
    if not len(d1):
        return None, []
    # CIKGRec may have runs with both contrastive-view settings: one row (and bar) each
    d1["row"] = [f"{m} ({v} views)" if m == "cikgrec" and v else m for m, v in zip(d1["model"], d1["views"])]
    d1["cell"] = [
        f"{r} ({p}; {'single seed' if int(n) == 1 else f'{int(n)} seeds'}: {s}; {dv})"
        for r, p, n, s, dv in zip(d1["recall@50"], d1["protocol"], d1["n"], d1["seeds"], d1["devices"])
    ]
    glance = d1.pivot_table(index="row", columns="protocol", values="cell", aggfunc="first").fillna("not run")
    figs = []
    for prot in sorted(d1["protocol"].unique()):
        d = d1[d1["protocol"] == prot]
        note = f"device: {_devices_of(d)}" + (
            "" if d["converged"].all() else "; NOT converged (quick mode or time limit)"
        )
        for metric in ("recall@50", "ndcg@50"):
            # per bar its seeds: the subtitle says which bars rest on which, error bars only on several seeds
            tab = pd.DataFrame(
                {
                    "model": d["row"],
                    metric: d[f"{metric} mean"],
                    f"{metric} std": d[f"{metric} std"],
                    "seeds": d["seeds"],
                }
            )
            paper = {
                r: (v[0] if metric == "recall@50" else v[2])
                for r, m in zip(d["row"], d["model"])
                if (v := PAPER_TABLE1.get(dataset, {}).get(m))
            }
            fig = plots.results_bars(
                tab,
                metric=metric,
                dataset=dataset,
                protocol=prot,
                seeds=_seeds_of(d),
                paper=paper if prot == "authors" else None,
                extra=note,
            )
            figs.append((f"table1_{metric.replace('@', '')}_{prot}", fig))
    return glance, figs


def table3_with_figures(runs: Any, dataset: str) -> tuple[Any, list[tuple[str, Any]]]:
    """Table 3 (CIKGRec's ablations, Recall / NDCG @ 100) of ``dataset`` first, then of every other
    real dataset with a CIKGRec run and ML-1M (its rows carry the paper's figures), and the charts of
    ``dataset``: ``(stem, figure)`` per protocol, one bar per run setting with its number of seeds."""
    import pandas as pd

    from . import plots
    from .data.registry import get_spec
    from .results import table3

    real = get_spec(dataset).real
    t3_dataset = dataset if real or (len(runs) and (runs["dataset"] == dataset).any()) else "book-crossing"
    others = {d for d in (runs.loc[runs["model"] == "cikgrec", "dataset"] if len(runs) else []) if get_spec(d).real}
    datasets = [t3_dataset] + sorted((others | ({"ml1m"} if get_spec(t3_dataset).real else set())) - {t3_dataset})
    t3 = pd.concat([table3(runs, dataset=d) for d in datasets], ignore_index=True)
    # the authors' protocol is asked of the notebook's dataset only: elsewhere its cells show where runs exist
    t3 = t3[~((t3["dataset"] != t3_dataset) & (t3["protocol"] == "authors") & t3["status"].str.startswith("missing"))]
    t3 = t3.reset_index(drop=True)
    have = t3[(t3["dataset"] == t3_dataset) & ~t3["status"].str.startswith("missing")]
    figs = []
    for prot in sorted(have["protocol"].unique()):
        d = have[have["protocol"] == prot]
        # one bar per run: a variant run with other views gets its own labelled bar and its number of seeds
        label = [
            (v if views in ("", "paper") else f"{v} ({views} views)") + f" ({int(n)} seed{'s' * (int(n) > 1)})"
            for v, views, n in zip(d["variant"], d["views"], d["n"])
        ]
        tab = pd.DataFrame(
            {"model": label, "ndcg@100": d["ndcg@100 mean"], "ndcg@100 std": d["ndcg@100 std"], "seeds": d["seeds"]}
        )
        paper = (
            {lab: r["paper ndcg@100"] for lab, (_, r) in zip(label, d.iterrows())}
            if prot == "authors" and d["paper ndcg@100"].notna().any()
            else None
        )
        done = (d["status"] == "done").all()
        note = f"device: {_devices_of(d)}" + ("" if done else "; NOT converged (quick mode or time limit)")
        # Table 3's variants differ by thousandths: the axis starts near the data (its title says where)
        fig = plots.results_bars(
            tab,
            metric="ndcg@100",
            dataset=t3_dataset,
            protocol=prot,
            seeds=_seeds_of(d),
            paper=paper,
            extra=note,
            what="Table 3: CIKGRec and its ablations, test NDCG@100",
            from_zero=False,
        )
        figs.append((f"table3_ndcg100_{prot}", fig))
    return t3, figs


def significance(runs: Any, dataset: str) -> tuple[Any, list[str], str]:
    """CIKGRec against its rivals (:func:`cikgwb.claims.claim_baselines`), users protocol then valid:
    the tables of paired tests, concatenated (None without any), one verdict line per protocol, and
    the table's caption."""
    import pandas as pd

    from .claims import claim_baselines
    from .compare import SPLIT_NOTE

    tables, lines = [], []
    for prot in ("users", "valid"):
        table, verdict = claim_baselines(runs, dataset, prot)
        lines.append(f"{dataset}, {prot} protocol: {verdict}")
        tables += [table] if len(table) else []
    caption = (
        f"{dataset}: A = CIKGRec, B = each rival (paired t-test and Wilcoxon; over seeds: runs paired by seed; "
        "over users: each user's metric averaged over the side's seeds); Holm p(t) over each protocol's table; "
        f"{SPLIT_NOTE}"
    )
    return (pd.concat(tables, ignore_index=True) if tables else None), lines, caption


# ----------------------------------------------------------------------------- interest clustering (notebook 03)
def clustering_configurations(
    table: Any,
    ds: Any,
    *,
    encoders: list[str],
    clusterers: list[str],
    kappa: int,
    seed: int = 0,
    max_share: float = 0.2,
    min_users: int = 2,
    answers_path: Any = None,
) -> tuple[Any, dict[tuple[str, str], Any]]:
    """Every encoder x clusterer's interest graph from the answers ``table``: one row each (clusters,
    interests, edges, users with interests, the filters' counts, seconds; on a dataset with planted
    topics also their recovery, ARI / NMI) and the graphs by ``(encoder, clusterer)``."""
    import time

    import pandas as pd

    from .data.registry import get_spec
    from .knowledge.interest_graph import build_interest_graph
    from .knowledge.phrases import answers_to_phrases

    truth = None
    if get_spec(ds.name).planted_truth:
        from .knowledge.planted import phrase_truth, recovery_scores

        truth = phrase_truth(ds, answers_to_phrases(table))
    rows, graphs = [], {}
    for enc in encoders:
        for cl in clusterers:
            t0 = time.time()
            ig = build_interest_graph(
                table,
                dataset=ds,
                encoder=enc,
                clusterer=cl,
                kappa=kappa,
                seed=seed,
                max_share=max_share,
                min_users=min_users,
                answers_path=answers_path,
            )
            c = ig.provenance["counts"]
            row = {
                "encoder": enc,
                "clusterer": cl,
                "kappa": kappa,
                "clusters": c["clusters"],
                "interests": c["interests"],
                "edges": c["edges"],
                "users with interests": c["users_with_interests"],
                "too generic": len(ig.filters.too_generic),
                "single user": len(ig.filters.single_user),
                "seconds": round(time.time() - t0, 1),
            }
            if truth is not None:
                row.update({k: round(v, 3) for k, v in recovery_scores(ig.clustering, truth).items()})
            rows.append(row)
            graphs[(enc, cl)] = ig
    return pd.DataFrame(rows), graphs


def phrase_map_figure(
    ig: Any,
    phrases: list[str],
    *,
    encoder: str,
    clusterer: str,
    dataset: str,
    kappa: int,
    seed: int = 0,
    top: int = 3000,
) -> Any:
    """The ``top`` most frequent distinct phrases of graph ``ig`` in 2-D (t-SNE of the encoder's
    vectors; tf-idf first reduced to 50 dimensions by truncated SVD), coloured by cluster.
    ``phrases``: every (user, phrase) pair's phrase, which the encoder is fitted on."""
    import numpy as np
    import pandas as pd
    from sklearn.decomposition import TruncatedSVD
    from sklearn.manifold import TSNE

    from . import plots
    from .knowledge.encoders import make_encoder

    cl_obj = ig.clustering
    idx = np.argsort(-cl_obj.counts, kind="stable")[:top]
    phr = [cl_obj.phrases[i] for i in idx]
    vec = make_encoder(encoder).fit(phrases).encode(phr)
    if not isinstance(vec, np.ndarray):
        vec = TruncatedSVD(n_components=min(50, vec.shape[1] - 1), random_state=seed).fit_transform(vec)
    xy = TSNE(n_components=2, perplexity=min(30.0, (len(phr) - 1) / 3), init="pca", random_state=seed).fit_transform(
        vec
    )
    pts = pd.DataFrame(
        {
            "x": xy[:, 0],
            "y": xy[:, 1],
            "cluster": cl_obj.assign[idx],
            "phrase": phr,
            "count": cl_obj.counts[idx],
            "label": [cl_obj.labels[c] for c in cl_obj.assign[idx]],
        }
    )
    return plots.phrase_map(
        pts,
        dataset=dataset,
        what=f"Interest phrases ({encoder} vectors, t-SNE) by {clusterer} cluster",
        extra=f"kappa={kappa}, {len(pts)} of {len(cl_obj.phrases)} distinct phrases",
    )


def save_interest_graph(
    ig: Any, dataset: str, answers: Any, encoder: str, clusterer: str, kappa: int, seed: int
) -> str:
    """Write graph ``ig`` where ``cikgwb interests cluster`` writes the same graph
    (:func:`cikgwb.paths.interest_graph_dir`), keeping one already there; what was done, in words."""
    from .paths import interest_graph_dir

    out = interest_graph_dir(dataset, answers, encoder, clusterer, kappa, seed)
    if out.exists():
        said = f"{out} exists: kept, not overwritten (delete it to write this one)"
    else:
        ig.save(out)
        said = f"interest graph written to {out}"
    return f"{said}\nuse it with `cikgwb train --interests {out}` or the `interests` parameter of 04_cikg / 05_training"


# ----------------------------------------------------------------------------- the data (notebook 01)
def data_table2(ds: Any) -> tuple[Any, list[str]]:
    """The paper's Table 2 figures of dataset ``ds`` and lines saying where its interest graph and KG
    came from, with any loader warning; checks that every interaction is counted once."""
    import pandas as pd

    s = ds.summary()
    rows = {
        "users": s["users"],
        "items": s["items"],
        "interactions": s["ratings"],
        "density": f"{100 * s['density']:.3f} %",
        "KG relations": s["relations"],
        "KG entities": s["entities"],
        "KG triples": s["triples"],
        "interest nodes": s["interests"],
        "user-interest edges": s["interest edges"],
        "users with interests": s["users with interests"],
    }
    table = pd.DataFrame({"value": list(rows.values())}, index=pd.Index(list(rows), name=ds.name))
    lines = [f"interest graph: {ds.meta.get('interests_source')}", f"KG: {ds.meta.get('kg')}"]
    lines += [f"warning: {k}: {v:,}" for k, v in ds.meta.get("warnings", {}).items()]
    assert s["users"] == ds.n_users and s["ratings"] == len(ds.train) + len(ds.valid) + len(ds.test)
    return table, lines


def split_table(ds: Any) -> tuple[Any, list[str]]:
    """Pairs, users and mean items per user of the train, valid and test splits, and lines giving the
    split's rule, seed and the valid share of ``train.txt``; checks train and valid are disjoint."""
    import numpy as np
    import pandas as pd

    n = {name: np.diff(ds.matrix(name).indptr) for name in ("train", "valid", "test")}
    table = pd.DataFrame(
        {
            "pairs": [len(ds.train), len(ds.valid), len(ds.test)],
            "users with >= 1": [(c > 0).sum() for c in n.values()],
            "mean per user": [c.mean() for c in n.values()],
        },
        index=pd.Index(list(n), name="split"),
    )
    split = ds.summary()["split"]
    assert ds.matrix("train").multiply(ds.matrix("valid")).nnz == 0, "a (user, item) pair is in both train and valid"
    share = len(ds.valid) / (len(ds.train) + len(ds.valid))
    return table, [
        f"rule: {split.get('rule')} | seed: {split.get('seed')}",
        f"valid share of train.txt: {share:.3f} (1/8 = 0.125)",
    ]


def sparsity_groups_view(ds: Any, n_groups: int = 4) -> tuple[Any, Any]:
    """Figure 3's user groups of ``ds`` (by training interactions, about equal total interactions
    each): their sizes as a table (one row per group) and a figure."""
    from . import plots
    from .evaluate import sparsity_groups
    from .results import group_sizes, train_counts

    counts = train_counts(ds)
    gs = group_sizes(counts, sparsity_groups(counts, n_groups))
    return gs.set_index("group"), plots.sparsity_group_sizes(gs, dataset=ds.name)


def degrees_figure(ds: Any) -> Any:
    """The degree distributions of users, items and interests in the training split of ``ds``."""
    from . import plots
    from .inspect_graph import degrees

    deg = {
        "user: interactions": degrees(ds, "user", "interact"),
        "item: interactions": degrees(ds, "item", "interact"),
        "item: KG triples": degrees(ds, "item", "kg"),
        "user: interests": degrees(ds, "user", "has_interest"),
        "interest: users": degrees(ds, "interest", "has_interest"),
    }
    return plots.degree_distribution(deg, dataset=ds.name, what="Degree distributions (training split)")


# ----------------------------------------------------------------------------- the CIKG (notebook 04)
def edge_sets(ds: Any) -> Any:
    """The undirected edges of the CIKG, its parts and each contrastive view (both view settings)."""
    import pandas as pd

    from .graph import EdgeSets

    es = EdgeSets(ds, ds.train)
    sizes = {
        "CIKG (main graph, no self-loops)": len(es.cikg),
        "interactions (G_R)": len(es.interact),
        "KG (items + entities)": len(es.kg),
        "user-interest (G_J)": len(es.interest),
    }
    for kind in ("paper", "authors"):
        for v, e in es.views(kind).items():
            sizes[f"view {v} ({kind})"] = len(e)
    assert sizes["CIKG (main graph, no self-loops)"] <= len(es.interact) + len(es.kg) + len(es.interest)
    return pd.DataFrame({"undirected edges": sizes}).rename_axis("edge set")


def user_neighbourhood(ds: Any, user: int | None = None, max_users: int = 6, max_items: int = 6) -> dict[str, Any]:
    """User ``user`` (None: the first with most interests) in the CIKG: ``user``, ``interests`` and
    ``neighbours`` (tables, :func:`cikgwb.inspect_graph.user_view`), ``fig`` (the network around
    them) and ``nodes`` / ``edges`` (its tables)."""
    import numpy as np

    from . import plots
    from .inspect_graph import neighbourhood_subgraph, subgraph_tables, user_view

    if user is None and len(ds.user_interest):
        user = int(np.argmax(np.bincount(ds.user_interest[:, 0], minlength=ds.n_users)))  # the first of the most
    user = 0 if user is None else user
    v = user_view(ds, user)
    G = neighbourhood_subgraph(ds, user=user, max_users=max_users, max_items=max_items)
    title = plots.figure_title(
        f"Neighbourhood of user {user}: interests, users sharing them, items, KG",
        dataset=ds.name,
        extra=f"{G.number_of_nodes()} nodes, {G.number_of_edges()} edges",
    )
    nodes, edges = subgraph_tables(G)
    return {**v, "user": user, "fig": plots.network(G, title=title), "nodes": nodes, "edges": edges}


def interest_neighbourhood(ds: Any, interest: int | None = None, max_users: int = 6, max_items: int = 6) -> Any:
    """The network around interest ``interest`` (None: the largest); None without interest nodes."""
    import numpy as np

    from . import plots
    from .inspect_graph import neighbourhood_subgraph

    if not ds.n_interests:
        return None
    sizes = np.bincount(ds.user_interest[:, 1], minlength=ds.n_interests)
    j = int(np.argmax(sizes)) if interest is None else int(interest)
    G = neighbourhood_subgraph(ds, interest=j, max_users=max_users, max_items=max_items)
    title = plots.figure_title(
        f"Neighbourhood of interest {j} ({G.nodes[('interest', j)]['label']})",
        dataset=ds.name,
        extra=f"{int(sizes[j])} members, {max_users} shown",
    )
    return plots.network(G, title=title)


# ----------------------------------------------------------------------------- prompting (notebook 02)
def histories(ds: Any, n_show: int = 3) -> tuple[list[Any], list[str]]:
    """The users of ``ds`` with a titled training history (:func:`cikgwb.knowledge.user_histories`)
    and lines describing them, ``n_show`` of them by name; checks no test item is in a history."""
    from .knowledge import user_histories

    hists = user_histories(ds)
    with_titles = [h for h in hists if h.titles]
    lines = [
        f"{len(with_titles):,} of {ds.n_users:,} users have a titled training history; "
        f"mean length {sum(len(h.titles) for h in with_titles) / max(1, len(with_titles)):.1f} titles"
    ]
    lines += [f"user {h.user}: {len(h.titles)} titles, e.g. {list(h.titles[-3:])}" for h in with_titles[:n_show]]
    test_items = ds.user_items("test")
    assert all(not set(h.items) & set(test_items[h.user].tolist()) for h in hists), "a test item leaked into a history"
    return with_titles, lines


def prompt_text(ds: Any, tpl: Any, hists: list[Any]) -> str:
    """Template ``tpl`` described, and its messages for the first of ``hists``."""
    from .knowledge.templates import item_kind

    lines = [f"template {tpl.id}: {tpl.description}"]
    for h in hists[:1]:
        lines += [f"--- {m['role']} ---\n{m['content']}\n" for m in tpl.messages(list(h.titles), item_kind(ds))]
    return "\n".join(lines)


def cost_table(ds: Any, tpl: Any, hists: list[Any], max_tokens: int) -> Any:
    """The estimated cost of asking every one of ``hists`` with template ``tpl``, one row per model
    (an estimate: no tokenizer offline, :data:`cikgwb.knowledge.cost.METHOD`)."""
    import pandas as pd

    from .knowledge.cost import estimate_cost
    from .knowledge.templates import item_kind

    prompts = [tpl.messages(list(h.titles), item_kind(ds)) for h in hists]
    return pd.DataFrame([vars(c) for c in estimate_cost(prompts, max_tokens=max_tokens)]).set_index("model")


def answers_report(answers: Any, path: Any) -> list[str]:
    """What the backend's run of :func:`cikgwb.knowledge.infer_interests` says about its answers
    (written to ``path``)."""
    report = answers.attrs["report"]
    keys = ("backend", "source", "is_llm", "users asked", "usable users", "usable fraction")
    return [str({k: report[k] for k in keys}), f"reasons: {report['reasons']}", f"answers written to {path}"]


def phrases_per_user(answers: Any) -> Any:
    """How many users gave how many phrases."""
    import pandas as pd

    return pd.DataFrame({"phrases per user": answers["phrases"].map(len).value_counts().sort_index()})


def top_phrases_figure(answers: Any, dataset: str, top: int = 25) -> Any:
    """The ``top`` most common answer phrases (lower-cased) as a table figure."""
    from . import plots

    counts = answers.explode("phrases")["phrases"].dropna().str.lower().value_counts().head(top)
    return plots.table_figure(
        counts.rename("users").to_frame().rename_axis("phrase"),
        plots.figure_title(
            "Most common answer phrases", dataset=dataset, extra=f"source: {answers.attrs['report']['source']}"
        ),
    )


def planted_recall(ds: Any, answers: Any) -> str | None:
    """On a dataset with planted truth (synthetic): how often the answers name the users' planted
    topics, in a line; None elsewhere."""
    from .data.registry import get_spec
    from .knowledge.backends.kg_summary import planted_topic_recall

    if not get_spec(ds.name).planted_truth:
        return None
    rec = planted_topic_recall(ds, answers["phrases"].tolist(), users=answers["user"].tolist())
    return f"planted topics named in the answers: { {k: round(v, 3) for k, v in rec.items()} }"


# ----------------------------------------------------------------------------- training (notebook 05)
#: the columns of notebook 05's table of runs
RUN_COLUMNS = [
    "run",
    "model",
    "variant",
    "seed",
    "selected_epoch",
    "converged",
    "device",
    "wall_seconds",
    "valid recall@50",
    "test recall@50",
    "test ndcg@50",
    "test recall@100",
    "test ndcg@100",
]


def _histories(paths: Any, names: Any) -> Any:
    import pandas as pd

    from .run_folder import read_history

    return [pd.DataFrame(read_history(p)).assign(run=n) for p, n in zip(paths, names)]


def runs_note(runs: Any, quick: bool, quick_epochs: int) -> str:
    """The subtitle of notebook 05's figures: the devices of ``runs`` and the quick schedule."""
    return f"device: {','.join(sorted(set(map(str, runs['device']))))}" + (
        f"; quick: at most {quick_epochs} epochs" if quick else ""
    )


def training_curves_figure(runs: Any, dataset: str, protocol: str, seeds: Any, note: str) -> Any:
    """The loss and Recall@50 (valid, or test under the authors' protocol) of every main-model run."""
    import pandas as pd

    from . import plots

    main = runs[runs["variant"].isin(["full", "-"])]
    assert len(main), "no finished run of the main models (train_missing=False and nothing under reports/runs?)"
    names = [f"{m} s{s}" for m, s in zip(main["model"], main["seed"])]
    hist = pd.concat(_histories(main["path"], names), ignore_index=True)
    metric = f"{'valid' if protocol == 'valid' else 'test'}_recall@50"
    return plots.training_curves(hist, dataset=dataset, protocol=protocol, seeds=seeds, metric=metric, extra=note)


def mask_rate_figure(runs: Any, dataset: str) -> Any:
    """CIKGRec's dynamic masking-rate schedule (its default configuration on ``dataset``) and the
    rates observed in the full, w/o DMR and linear runs."""
    import pandas as pd

    from . import plots
    from .models import default_config

    cfg = default_config(dataset, "cikgrec").model
    keep = [v in ("full", "w/o DMR", "linear") for v in runs["variant"]]
    used = _histories(runs["path"][keep], runs["variant"][keep])
    hist = pd.concat(used, ignore_index=True) if used else pd.DataFrame(columns=["epoch", "mask_rate", "run"])
    horizon = max(int(cfg.mask_lambda * 1.3), int(hist["epoch"].max()) + 1 if len(hist) else 0)
    return plots.mask_rate_schedule(
        alpha=cfg.mask_alpha,
        omega=cfg.mask_omega,
        lam=cfg.mask_lambda,
        epochs=horizon,
        dataset=dataset,
        observed=hist[["epoch", "mask_rate", "run"]].dropna(),
    )


def recall_bars(runs: Any, dataset: str, protocol: str, seeds: Any, note: str) -> Any:
    """Test Recall@50 of each model and CIKGRec variant of ``runs``: mean with std over seeds."""
    import pandas as pd

    from . import plots

    labels = [m if v in ("full", "-") else f"{m} {v}" for m, v in zip(runs["model"], runs["variant"])]
    summary = runs.assign(label=labels).groupby("label", sort=False)[["test recall@50", "test ndcg@50"]]
    summary = summary.agg(["mean", "std"])
    table = pd.DataFrame(
        {
            "model": summary.index,
            "recall@50": summary[("test recall@50", "mean")].to_numpy(),
            "recall@50 std": summary[("test recall@50", "std")].fillna(0).to_numpy(),
        }
    )
    return plots.results_bars(table, metric="recall@50", dataset=dataset, protocol=protocol, seeds=seeds, extra=note)


def full_model_record(runs: Any) -> dict[str, Any] | None:
    """What ``cikgwb sweep --notebook`` records of the full model's runs (mean test metrics, run
    names); None without one."""
    best = runs[runs["variant"] == "full"]
    if not len(best):
        return None
    return {
        "test": {k.split(" ", 1)[1]: float(best[k].mean()) for k in best.columns if k.startswith("test ")},
        "runs": best["run"].tolist(),
    }
