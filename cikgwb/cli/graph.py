"""``cikgwb graph stats | user | interest | leak | screen``: inspect the CIKG, diagnose interest graphs.

    cikgwb graph stats|user U|interest J --dataset X --interests paper|none|PATH
    cikgwb graph leak [GRAPH ...] --dataset X [--protocol valid|users] [--record] [--json]
    cikgwb graph screen [GRAPH ...] --dataset X [--protocol P] [--runs DIR] [--metric M] [--out FILE]

GRAPH is an ``--interests`` value (``paper`` | ``none`` | PATH, :class:`cikgwb.data.interest_files.InterestSource`);
without any, every graph of the dataset: ``paper`` (where the dataset has a released graph), the
folders holding a ``user_interest_clustered.txt`` under ``reports/interests/<dataset>/``, and for
the screen also ``none``. ``--record`` writes each result into the graph's provenance
(``provenance.json`` of its folder; the released graph's is ``reports/interests/<dataset>/
released-names/provenance.json``). The views are :mod:`cikgwb.inspect_graph`, the leak measure
:mod:`cikgwb.knowledge.leak`; :func:`check_run_graphs` is the check ``cikgwb train`` makes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .interests import command_line, table
from .options import add_data, add_interests, add_runs_root, commands


def register(sub: Any) -> None:
    p = sub.add_parser(
        "graph",
        help="inspect the CIKG: statistics, a user, an interest; diagnose an interest graph (leak, screen)",
        description="Inspect the CIKG (users, items, KG entities, interests), or diagnose interest graphs.",
    )
    gsub = commands(p, "graph_cmd")

    def view(q: argparse.ArgumentParser) -> None:
        add_data(q)
        add_interests(
            q,
            help="paper (the dataset's released graph: cluster ids, named by `interests name` where done) | none | "
            "PATH (a folder written by `interests cluster`, or a user-interest file)",
        )
        q.add_argument(
            "--split",
            default="train",
            choices=("train", "train_full", "valid", "test"),
            help="interactions shown (default train)",
        )
        q.set_defaults(func=cmd_graph)

    s = gsub.add_parser(
        "stats",
        help="nodes, edges, degree distributions, interest coverage",
        description="The CIKG's nodes and edges by kind, degree distributions and how many users have interests.",
    )
    view(s)
    s.add_argument("--json", action="store_true", help="print the figures as JSON")
    u = gsub.add_parser(
        "user",
        help="a user's interests, users sharing them, their items",
        description="One user's interests, the users sharing each of them, and the items of the chosen split.",
    )
    u.add_argument("id", type=int, help="user id")
    view(u)
    u.add_argument("--max-users", type=int, default=10, help="users sharing an interest shown (default 10)")
    u.add_argument("--top", type=int, default=10, help="items shown (default 10)")
    u.add_argument("--export", default=None, metavar="PREFIX", help="write the neighbourhood as PREFIX_nodes/edges.tsv")
    j = gsub.add_parser(
        "interest",
        help="an interest's label, members and their most common items",
        description="One interest node: its label, the users holding it and their most common items.",
    )
    j.add_argument("id", type=int, help="interest id (0..J-1, contiguous)")
    view(j)
    j.add_argument("--top", type=int, default=10, help="members and items shown (default 10)")
    j.add_argument("--export", default=None, metavar="PREFIX", help="write the neighbourhood as PREFIX_nodes/edges.tsv")
    _leak(gsub)


def _leak(gsub: Any) -> None:
    """``graph leak`` and ``graph screen``."""

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("graphs", nargs="*", metavar="GRAPH", help="paper | none | PATH (default: every graph)")
        add_data(q)
        q.add_argument("--protocol", default="valid", help="valid (default) or users: which splits are compared")
        q.add_argument("--k", type=int, default=50, help="Recall@K of the rankings (default 50)")

    p = gsub.add_parser(
        "leak",
        help="has an interest graph seen the selection split? (interest-neighbour ranking, no training)",
        description="Rank each user's unseen items by what the users sharing an interest node with them trained "
        "on; print R@K on the protocol's selection split over R@K on its reference split, the same ratio of a "
        "clean control (the training window's items as interest nodes) and of popularity, and the verdict "
        "(leak when the graph's ratio exceeds the clean control's by more than 1.2x).",
    )
    common(p)
    p.add_argument("--record", action="store_true", help="write the result into each graph's provenance.json")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_leak)
    s = gsub.add_parser(
        "screen",
        help="specificity, leak ratio and neighbour recall of every graph, against trained gains",
        description="For each graph: specificity, the leak diagnostic, the interest-neighbour R@K on the "
        "selection split; beside them each graph's trained gain over no graph (CIKGRec runs in the run "
        "index) and the Spearman rank correlation of each figure with it.",
    )
    common(s)
    add_runs_root(s)
    s.add_argument("--metric", default="test recall@50", help="run-index column of the gain (test recall@50)")
    s.add_argument("--out", default=None, help="also write the table as JSON here")
    s.set_defaults(func=cmd_screen)


# ----------------------------------------------------------------------------- stats, user, interest
def _load(args: Any) -> Any:
    from ..data import load_dataset
    from ..data.interest_files import InterestSource
    from ..run_spec import dataset_with_interests

    InterestSource.parse(args.interests)  # a missing PATH is refused, naming it, before the data loads
    ds = load_dataset(args.dataset, data_dir=args.data_dir, split_seed=args.split_seed)
    return dataset_with_interests(ds, args.interests)


def _export(G: Any, prefix: str | None) -> None:
    if not prefix:
        return
    from ..inspect_graph import subgraph_tables

    nodes, edges = subgraph_tables(G)
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    nodes.to_csv(f"{prefix}_nodes.tsv", sep="\t", index=False)
    edges.to_csv(f"{prefix}_edges.tsv", sep="\t", index=False)
    print(f"wrote {prefix}_nodes.tsv ({len(nodes)} nodes), {prefix}_edges.tsv ({len(edges)} edges)")


def cmd_graph(args: Any) -> int:
    from .. import inspect_graph as ig

    ds = _load(args)
    print(f"{ds.name}: interests = {ig.interests_source(ds)}")
    if ds.n_interests:
        print(f"  labels: {ig.label_note(ds)}")
    if args.graph_cmd == "stats":
        st = ig.graph_stats(ds, split=args.split)
        if args.json:
            print(json.dumps({k: v.to_dict(orient="records") for k, v in st.items()}, indent=2, default=str))
            return 0
        for k in ("nodes", "edges", "degrees", "coverage"):
            print(f"\n{k}:")
            print(table(st[k], max_rows=50))
        return 0
    if args.graph_cmd == "user":
        v = ig.user_view(ds, args.id, split=args.split, max_users=args.max_users, top_items=args.top)
        print(f"\nuser {v['user']}: {len(v['items'])} {args.split} items, {len(v['interests'])} interests")
        print(table(v["items"], max_rows=args.top))
        print("\ninterests:")
        print(table(v["interests"]))
        print("\nusers sharing most interests:")
        print(table(v["neighbours"]))
        print("\nitems most common among them:")
        print(table(v["neighbour_items"]))
        _export(ig.neighbourhood_subgraph(ds, user=args.id, split=args.split), args.export)
        return 0
    v = ig.interest_view(ds, args.id, split=args.split, top_items=args.top)
    how = {"text": "the graph's own label", None: "no label"}.get(v["label_method"], f"named from {v['label_method']}")
    print(f"\ninterest {v['interest']} (id {v['original_id']} in the file): {v['label']}  [{how}]")
    print(f"members: {v['n_members']} users, e.g. {v['some members'][:20]}")
    if v["top_phrases"]:
        print(f"top phrases: {v['top_phrases']}")
    print("\nitems most common among members:")
    print(table(v["top_items"]))
    _export(ig.neighbourhood_subgraph(ds, interest=args.id, split=args.split), args.export)
    return 0


# ----------------------------------------------------------------------------- leak
@dataclass(frozen=True)
class GraphSpec:
    """One graph to diagnose: how it is named, its ``--interests`` value, its edge file and the
    provenance file its figures are recorded in (None where there is none)."""

    name: str
    spec: str
    key: str
    edge_file: Path | None
    prov_file: Path | None
    folder: Path | None


def protocol_split_names(protocol: str) -> tuple[str, str, str]:
    """``(train, selection, reference)`` split names of ``protocol`` (:data:`cikgwb.run_spec.PROTOCOLS`);
    a protocol that selects on its reported split (``authors``) is refused in one line."""
    from ..run_spec import protocol_splits

    s = protocol_splits(protocol)
    if s.select == s.test:
        raise ValueError(
            f"--protocol {protocol}: it selects on {s.select}, the split it reports, so there is no held-apart "
            "selection split to compare; the leak diagnostic needs valid or users"
        )
    return s.train, s.select, s.test


def graph_key(spec: str) -> str:
    """``paper``, ``none`` or the resolved path: one name per graph for the screen and the runs."""
    from ..data.interest_files import InterestSource
    from ..paths import project_root

    src = InterestSource.parse(spec, check=False)
    if src.kind != "path":
        return src.kind
    p = Path(src.spec).expanduser()
    if not p.is_absolute():
        p = p if p.exists() else project_root() / p
    return str(p.resolve())


def graph_specs(dataset: str, given: list[str], data_dir: Any, with_none: bool) -> list[GraphSpec]:
    """The graphs named on the command line, or every graph of the dataset (module docstring)."""
    from ..data.interest_files import InterestSource
    from ..data.registry import dataset_dir
    from ..knowledge.interest_graph import EDGES_FILE, PROVENANCE_FILE, committed_graphs
    from ..knowledge.naming import released_names_dir
    from ..paths import reports_root

    released = dataset_dir(dataset, data_dir) / EDGES_FILE
    if not given:
        given = (["paper"] if released.is_file() else []) + [str(p) for p in committed_graphs(dataset)]
        given += ["none"] if with_none else []
    base = reports_root() / "interests" / dataset
    out = []
    for spec in given:
        src = InterestSource.parse(spec)  # a missing PATH is refused here, naming it, before any data loads
        if src.kind == "paper":
            prov = released_names_dir(dataset) / PROVENANCE_FILE
            out.append(GraphSpec("paper (released)", "paper", "paper", released, prov, None))
        elif src.kind == "none":
            out.append(GraphSpec("none", "none", "none", None, None, None))
        else:
            p = Path(src.path)
            f = p / EDGES_FILE if p.is_dir() else p
            name = str(p.relative_to(base)) if p.is_relative_to(base) else str(spec)
            out.append(GraphSpec(name, spec, graph_key(spec), f, f.parent / PROVENANCE_FILE, f.parent))
    return out


def _diagnose(args: Any, with_none: bool) -> list[tuple[GraphSpec, Any, Any]]:
    """``(graph, dataset with it, LeakResult or None)`` for each graph of the command."""
    from ..data import load_dataset
    from ..knowledge.leak import controls, leak_diagnostic
    from ..run_spec import dataset_with_interests

    train, sel, ref = protocol_split_names(args.protocol)
    specs = graph_specs(args.dataset, args.graphs, args.data_dir, with_none)
    if not specs:
        raise FileNotFoundError(f"{args.dataset}: no interest graph to diagnose (no released graph, none committed)")
    ds0 = load_dataset(args.dataset, data_dir=args.data_dir, split_seed=args.split_seed, interests=None)
    ctl = controls(ds0, train, sel, ref, args.k)  # the same for every graph
    out = []
    for g in specs:
        ds = dataset_with_interests(ds0, g.spec)
        res = (
            leak_diagnostic(ds, protocol=args.protocol, train=train, selection=sel, reference=ref, k=args.k, ctl=ctl)
            if g.spec != "none"
            else None
        )
        out.append((g, ds, res))
    return out


def cmd_leak(args: Any) -> int:
    from ..data.download import sha256_file
    from ..knowledge.leak import record_leak

    found = _diagnose(args, with_none=False)
    if args.json:
        print(json.dumps({g.name: r.to_dict() for g, _, r in found if r is not None}, indent=2))
    for g, ds, r in found:
        if r is None:
            print(f"{g.name}: no interest graph, nothing to diagnose")
            continue
        if not args.json:
            print(r.line(g.name))
        if args.record:
            if g.prov_file is None or not g.prov_file.parent.is_dir():
                print(f"  not recorded: {g.name} has no provenance folder ({g.prov_file})")
                continue
            record_leak(g.prov_file, r, sha256_file(g.edge_file), args.split_seed, command_line("cikgwb graph leak"))
            print(f"  recorded in {g.prov_file}")
    return 0


# ----------------------------------------------------------------------------- screen
def run_gains(
    runs: Any, dataset: str, protocol: str, metric: str = "test recall@50", views: str = "paper"
) -> dict[str, dict[str, Any]]:
    """Mean ``metric`` of CIKGRec's finished runs per interest graph (:func:`graph_key` of its
    config's ``interests``; ``w/o UIK`` is ``none``) on ``dataset`` under ``protocol`` with
    ``views``, and its gain over ``none``. ``runs``: a run index; quick runs and the ablations of
    other modules are left out."""
    import numpy as np

    r = runs[(runs["dataset"] == dataset) & (runs["model"] == "cikgrec") & (runs["protocol"] == protocol)]
    r = r[(r["views"] == views) & ~r["name"].astype(str).str.startswith("quick-")]
    by: dict[str, list[float]] = {}
    for _, row in r.iterrows():
        key = _run_graph(row)
        v = row[metric]
        if key is not None and v is not None and math.isfinite(float(v)):
            by.setdefault(key, []).append(float(v))
    base = float(np.mean(by["none"])) if "none" in by else math.nan
    return {k: {"trained": float(np.mean(v)), "seeds": len(v), "gain": float(np.mean(v)) - base} for k, v in by.items()}


def _run_graph(row: Any) -> str | None:
    variant = str(row["variant"])
    if variant == "w/o UIK":
        return "none"
    if variant != "full" and not variant.startswith("interests "):
        return None  # an ablation of another module, or another precision
    import yaml

    cfg = yaml.safe_load((Path(row["path"]) / "config.yaml").read_text()) or {}
    return graph_key(str(cfg.get("interests", "paper")))


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return "n/a" if not math.isfinite(v) else f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"
    return v


def cmd_screen(args: Any) -> int:
    from tabulate import tabulate

    from ..knowledge.leak import screen, screen_table, specificity
    from ..paths import runs_root
    from ..runs import run_index

    rows, first = [], None
    for g, ds, r in _diagnose(args, with_none=True):
        figs = screen(ds, r, g.folder) if r is not None else specificity(ds.user_interest, ds.n_users, 0)
        rows.append({"graph": g.name, "key": g.key, **figs})
        first = first or r
    runs = run_index(args.runs_root or runs_root(), skip_unreadable=True)
    gains = run_gains(runs, args.dataset, args.protocol, args.metric)
    df, rho = screen_table(rows, gains)
    print(f"{args.dataset}, protocol {args.protocol}: screen of {len(df)} graphs; gain = {args.metric} over none")
    if first is not None:
        print(
            f"controls (the same for every graph): clean control ratio {first.control_ratio:.3f}, popularity ratio "
            f"{first.pop_ratio:.3f}, popularity R@{first.k} on {first.selection} {first.pop_sel:.4f}"
        )
    show = df.drop(
        columns=["key", "interests", "edges", "interest_entropy", "median_users_per_interest"], errors="ignore"
    )
    print(tabulate(show.map(_fmt), headers="keys", tablefmt="github", showindex=False))
    untrained = [str(n) for n, g in zip(df["graph"], df["gain"]) if not math.isfinite(float(g))]
    if untrained:
        print(f"gain not trained yet: {', '.join(untrained)}")
    known = int(df["gain"].notna().sum())
    print(f"Spearman rank correlation with the gain over {known} trained graphs (n/a below 3):")
    print("  " + ", ".join(f"{k} {_fmt(v)}" for k, v in rho.items()))
    if args.out:
        payload = {"dataset": args.dataset, "protocol": args.protocol, "metric": args.metric, "spearman": rho}
        payload["controls"] = (
            {k: v for k, v in first.to_dict().items() if k.startswith(("control", "pop"))} if first else None
        )
        payload["graphs"] = json.loads(df.to_json(orient="records"))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


# ----------------------------------------------------------------------------- cikgwb train
def check_run_graphs(cfgs: list[Any], strict: bool) -> None:
    """Before training: the leak diagnostic of each run's interest graph under its protocol
    (runs whose model reads one; protocols with a held-apart selection split). One warning line
    on stderr per flagged graph; with ``strict`` a ``ValueError`` refuses the runs."""
    from ..knowledge.leak import leak_diagnostic
    from ..run_spec import prepare_dataset, reads_interests

    seen = set()
    for cfg in cfgs:
        key = (cfg.dataset, str(cfg.interests), cfg.train.protocol, cfg.train.split_seed)
        if key in seen or not reads_interests(cfg):
            continue
        seen.add(key)
        try:
            train, sel, ref = protocol_split_names(cfg.train.protocol)
        except ValueError:
            continue  # authors: selects on test, nothing held apart to compare
        r = leak_diagnostic(
            prepare_dataset(cfg), protocol=cfg.train.protocol, train=train, selection=sel, reference=ref
        )
        if r.verdict != "leak":
            continue
        msg = r.line(f"interest graph {cfg.interests}") + ": it has seen the selection split"
        if strict:
            raise ValueError(msg + "; refused (--strict)")
        print(f"WARNING {msg}", file=sys.stderr)
