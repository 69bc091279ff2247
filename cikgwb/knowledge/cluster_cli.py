"""CLI: ``cikgwb interests cluster`` and ``cikgwb graph stats|user|interest``.

``add_cluster_parser(interests_subparsers)`` registers

    cikgwb interests cluster --dataset X --answers PATH|kg-summary|chat|batch
        --encoder tfidf|minilm|NAME --clusterer kmeans|bertopic --kappa K|none [--seed S] [--out DIR]

(``--answers kg-summary`` means ``reports/interests/X/kg-summary/answers.jsonl``, the file
``cikgwb interests infer --backend kg-summary`` writes). ``add_control_parser(interests_subparsers)``
registers

    cikgwb interests control --dataset X --kind rewire|cooc [--seed S] [--out DIR]

(the control graphs of :mod:`.controls`). ``add_graph_parser(subparsers)`` registers

    cikgwb graph stats|user U|interest J --dataset X --interests paper|none|PATH
    cikgwb graph leak|screen [GRAPH ...] --dataset X [--protocol valid|users]   (knowledge/leak_cli.py)

Heavy libraries are imported only when a command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def answer_backends() -> tuple[str, ...]:
    """The backend names ``--answers NAME`` accepts: every registered backend (the file
    ``cikgwb interests infer --backend NAME`` writes)."""
    from .backends import backend_names

    return backend_names()


def _kappa(text: str) -> int | None:
    if text.lower() in ("none", "auto"):
        return None
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"kappa {text!r}: expected a positive integer or 'none'") from None
    if k < 1:
        raise argparse.ArgumentTypeError(f"kappa {k}: expected a positive integer or 'none'")
    return k


def _dataset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="synthetic", help="dataset name (default: synthetic)")
    p.add_argument(
        "--data-dir", default=None, help="folder holding the datasets (default: $CIKGWB_DATA_DIR, else <project>/data)"
    )
    p.add_argument("--split-seed", type=int, default=0, help="seed of the valid carve-out (default 0)")


def _table(df: Any, max_rows: int = 20) -> str:
    from tabulate import tabulate

    return tabulate(
        df.head(max_rows), headers="keys", tablefmt="simple", showindex=False, floatfmt=".3g", maxcolwidths=60
    )


def resolve_answers(answers: str, dataset: str) -> Path:
    """A path, or a backend name for the file ``cikgwb interests infer`` writes."""
    p = Path(answers).expanduser()
    if p.exists() or answers not in answer_backends():
        if not p.is_file():
            raise FileNotFoundError(
                f"{p}: answers file not found (expected an answers.jsonl, or one of "
                f"{', '.join(answer_backends())} for the file `cikgwb interests infer` writes)"
            )
        return p
    from .infer import default_run_dir

    f = default_run_dir(dataset, answers) / "answers.jsonl"
    if not f.is_file():
        raise FileNotFoundError(
            f"{f}: no {answers} answers for {dataset} yet; run "
            f"`cikgwb interests infer --dataset {dataset} --backend {answers}` first"
        )
    return f


def default_out_dir(dataset: str, answers: Path, encoder: str, clusterer: str, kappa: int | None, seed: int) -> Path:
    from ..paths import interest_graph_dir  # the one rule, notebook 03's too

    return interest_graph_dir(dataset, answers, encoder, clusterer, kappa, seed)


def cmd_cluster(args: argparse.Namespace) -> int:
    from ..data import load_dataset
    from .interest_graph import build_interest_graph, read_answers

    t0 = time.perf_counter()
    ds = load_dataset(args.dataset, data_dir=args.data_dir, split_seed=args.split_seed)
    path = resolve_answers(args.answers, args.dataset)
    answers = read_answers(path)
    g = build_interest_graph(
        answers,
        dataset=ds,
        encoder=args.encoder,
        clusterer=args.clusterer,
        kappa=args.kappa,
        seed=args.seed,
        max_share=args.max_share,
        min_users=args.min_users,
        answers_path=path,
        unknown_users="drop" if args.drop_unknown_users else "error",
        representation=args.representation,
        n_init=args.n_init,
        min_cluster_size=args.min_cluster_size,
        device=args.device,
        hdbscan_kwargs={"min_samples": args.min_samples, "cluster_selection_method": args.hdbscan_selection},
    )
    g.provenance["wall_s"] = round(time.perf_counter() - t0, 2)
    from ..train import git_commit

    g.provenance["code"] = {"commit": git_commit(("cikgwb/knowledge", "cikgwb/data"))}
    g.provenance["command"] = "cikgwb " + " ".join(sys.argv[1:]) if sys.argv and "cikgwb" in sys.argv[0] else None
    out = (
        Path(args.out)
        if args.out
        else default_out_dir(args.dataset, path, args.encoder, args.clusterer, args.kappa, args.seed)
    )
    id_offset = ds.n_entities if args.offset_ids else 0
    paths = g.save(out, id_offset=id_offset)
    prov = g.provenance
    if args.json:
        print(
            json.dumps(
                {
                    "out": str(out),
                    **{k: prov[k] for k in ("interests_source", "counts", "filters")},
                    "timings": prov["clustering"].get("timings"),
                    "wall_s": prov["wall_s"],
                },
                indent=2,
                default=str,
            )
        )
        return 0
    ans = prov["answers"]
    print(f"{ds.name}: {ans['rows']} answers from {path} ({', '.join(ans['sources'])})")
    if ans["not_llm"]:
        print("NOTE: these answers are NOT from an LLM: " + ", ".join(ans["not_llm_sources"]))
    ph = prov["phrases"]
    print(
        f"phrases: {ph['occurrences']} (user, phrase) pairs, {ph['distinct']} distinct, "
        f"{ph['users_with_phrases']} users with phrases"
    )
    t = prov["clustering"]["timings"]
    print(
        f"{prov['encoder'].get('encoder')} + {args.clusterer}, kappa={args.kappa}, seed={args.seed}: "
        f"{prov['counts']['clusters']} clusters (encode {t['encode_s']:.1f} s, cluster {t['cluster_s']:.1f} s, "
        f"labels {t['label_s']:.1f} s; total {prov['wall_s']:.1f} s)"
    )
    for line in g.filters.lines():
        print("  " + line)
    print(_table(g.labels[["interest_id", "label", "size", "top_phrases"]], max_rows=args.show))
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    print(f"use it: cikgwb graph stats --dataset {args.dataset} --interests {out}")
    return 0


def add_cluster_parser(interests_subparsers: Any) -> argparse.ArgumentParser:
    """Register ``interests cluster`` on the ``interests`` sub-command's subparsers."""
    p = interests_subparsers.add_parser(
        "cluster",
        help="cluster answers' phrases into labelled interest nodes (user-interest graph)",
        description="Clean the answers' phrases, encode them, cluster them into kappa interest nodes "
        "with readable labels, filter too generic / single-user interests, and write the "
        "user-interest graph (paper's file format), labels and provenance.",
    )
    _dataset_args(p)
    p.add_argument(
        "--answers",
        required=True,
        help="answers.jsonl, or a backend name (kg-summary, chat, local, ...) for "
        "reports/interests/DATASET/BACKEND/answers.jsonl",
    )
    p.add_argument(
        "--encoder",
        default="tfidf",
        help="tfidf | minilm (packaged all-MiniLM-L6-v2, offline) | a sentence-transformers name or path",
    )
    p.add_argument("--clusterer", choices=("kmeans", "bertopic"), default="kmeans")
    p.add_argument(
        "--kappa",
        type=_kappa,
        default=350,
        help="number of interest nodes (authors: 350 for book-crossing); 'none' = HDBSCAN (bertopic)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--representation",
        choices=("ctfidf", "keybert", "phrases"),
        default="ctfidf",
        help="label keywords: c-TF-IDF (default), BERTopic's KeyBERTInspired, or 'phrases': the "
        "cluster's most frequent member phrases (reads better for a small LLM's few distinct phrases)",
    )
    p.add_argument("--max-share", type=float, default=0.2, help="drop interests held by >= this share of users (0.2)")
    p.add_argument("--min-users", type=int, default=2, help="drop interests held by fewer users (2)")
    p.add_argument(
        "--n-init", default="auto", type=lambda s: s if s == "auto" else int(s), help="KMeans restarts (default auto)"
    )
    p.add_argument("--min-cluster-size", type=int, default=10, help="HDBSCAN min_cluster_size (kappa none; 10)")
    p.add_argument(
        "--min-samples",
        type=int,
        default=None,
        help="HDBSCAN min_samples (kappa none; default = min_cluster_size; lower gives more clusters)",
    )
    p.add_argument(
        "--hdbscan-selection",
        choices=("eom", "leaf"),
        default="eom",
        help="HDBSCAN cluster_selection_method (kappa none; default eom)",
    )
    p.add_argument(
        "--drop-unknown-users",
        action="store_true",
        help="skip answers of users absent from the dataset (default: error)",
    )
    p.add_argument(
        "--offset-ids", action="store_true", help="number interests after the entity ids, as the paper's file does"
    )
    p.add_argument("--device", default="cpu", help="device for sentence embeddings (cpu, cuda)")
    p.add_argument("--out", default=None, help="output folder (default reports/interests/DATASET/graphs/...)")
    p.add_argument("--show", type=int, default=15, help="print this many interests (default 15)")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead")
    p.set_defaults(func=cmd_cluster)
    return p


# --------------------------------------------------------------------------------- name
def cmd_name(args: argparse.Namespace) -> int:
    import numpy as np

    from ..data import load_dataset
    from . import naming
    from .interest_graph import (
        EDGES_FILE,
        LABELS_FILE,
        PROVENANCE_FILE,
        _read_edges,
        _sha256,
        answers_source,
        read_answers,
    )
    from .phrases import answers_to_phrases

    path = resolve_answers(args.answers, args.dataset) if args.answers else None
    t0 = time.perf_counter()
    ds = load_dataset(args.dataset, data_dir=args.data_dir, split_seed=args.split_seed)
    from ..data.registry import dataset_dir

    edges_file = dataset_dir(args.dataset, args.data_dir) / EDGES_FILE
    if not edges_file.is_file():
        raise FileNotFoundError(f"{edges_file}: the dataset {args.dataset!r} has no released interest graph to name")
    raw = _read_edges(edges_file)
    ids, inv = np.unique(raw[:, 1], return_inverse=True)
    phrases = None
    answers_info: dict[str, Any] = {}
    if path is not None:
        answers = read_answers(path)
        phrases = answers_to_phrases(answers)
        src = answers_source(answers)
        answers_info = {
            "path": str(path),
            "sha256": _sha256(path),
            "rows": int(len(answers)),
            "users_with_phrases": int(phrases["user"].nunique()),
            **src,
            "templates": sorted({t for t in answers.get("template", []) if isinstance(t, str) and t}),
            "note": naming.answers_note(src, str(path)),
        }
    m = ds.matrix("train_full").tocsr()
    names = naming.name_interests(
        np.column_stack([raw[:, 0], inv]),
        len(ids),
        ds.n_users,
        train_indptr=m.indptr,
        train_items=m.indices,
        titles=ds.titles,
        phrases=phrases,
        n_terms=args.terms,
        min_members=args.min_members,
    )
    names["interest_id"] = ids  # the file's ids, as the released graph numbers them
    out = Path(args.out) if args.out else naming.released_names_dir(args.dataset)
    out.mkdir(parents=True, exist_ok=True)
    names.to_csv(out / LABELS_FILE, sep="\t", index=False)
    counts = names["method"].value_counts().to_dict()
    prov = {
        "note": f"paper (released interest graph of {args.dataset}); names made afterwards by cikgwb interests name",
        "graph": {
            "dataset": args.dataset,
            "file": f"{args.dataset}/{EDGES_FILE}",
            "sha256": _sha256(edges_file),
            "interests": int(len(ids)),
        },
        "answers": answers_info or None,
        "rule": naming.RULE.format(alpha=naming.ALPHA, min_members=args.min_members, terms=args.terms),
        "methods": {k: int(v) for k, v in counts.items()},
        "command": "cikgwb " + " ".join(sys.argv[1:]) if sys.argv and "cikgwb" in sys.argv[0] else None,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_s": round(time.perf_counter() - t0, 2),
    }
    if (out / PROVENANCE_FILE).is_file():  # keep `cikgwb graph leak --record`'s figures of this very file
        old = json.loads((out / PROVENANCE_FILE).read_text(encoding="utf-8")).get("leak") or {}
        kept = {p: e for p, e in old.items() if e.get("graph_sha256") == prov["graph"]["sha256"]}
        prov.update({"leak": kept} if kept else {})
    (out / PROVENANCE_FILE).write_text(json.dumps(prov, indent=2) + "\n", encoding="utf-8")
    print(
        f"{args.dataset}: named {len(ids)} interest nodes of {edges_file} "
        + ", ".join(f"{v} by {k}" for k, v in counts.items())
    )
    print(_table(names[["interest_id", "method", "size", "label"]], max_rows=args.show))
    print(f"wrote {out / LABELS_FILE}, {out / PROVENANCE_FILE} ({prov['wall_s']:.1f} s)")
    return 0


def add_name_parser(interests_subparsers: Any) -> argparse.ArgumentParser:
    """Register ``interests name`` on the ``interests`` sub-command's subparsers."""
    p = interests_subparsers.add_parser(
        "name",
        help="give the released (unlabelled) interest graph readable names from answers' phrases or titles",
        description="Name each node of a dataset's released interest graph (cluster ids only) by the most "
        "distinctive phrases its member users give in an answers file (e.g. the local LLM's), else by its "
        "members' most distinctive item titles; the graph views, the explorer and Figure 4 show the names "
        "with a note saying how they were made.",
    )
    _dataset_args(p)
    p.add_argument(
        "--answers",
        default=None,
        help="answers.jsonl (or a backend name) whose phrases name the nodes; without it, titles only",
    )
    p.add_argument("--terms", type=int, default=3, help="phrases / titles per name (default 3)")
    p.add_argument("--min-members", type=int, default=2, help="a term must be held by this many members (2)")
    p.add_argument("--out", default=None, help="output folder (default reports/interests/DATASET/released-names)")
    p.add_argument("--show", type=int, default=15, help="print this many names (default 15)")
    p.set_defaults(func=cmd_name)
    return p


# --------------------------------------------------------------------------------- control
def cmd_control(args: argparse.Namespace) -> int:
    import numpy as np

    from ..data import load_dataset
    from ..data.registry import dataset_dir
    from ..paths import reports_root
    from ..train import git_commit
    from . import controls
    from .interest_graph import _sha256, load_interest_graph

    t0 = time.perf_counter()
    released = load_interest_graph(args.dataset, data_dir=args.data_dir)  # graph (a): refused first if absent
    ds = load_dataset(args.dataset, data_dir=args.data_dir, split_seed=args.split_seed)
    items = None
    if args.kind == "rewire":
        g = controls.rewired_graph(ds, released, args.seed, args.swaps_per_edge)
        name = f"released-rewired-s{args.seed}"
    else:
        a = np.unique(released.edges, axis=0)
        k = args.n_interests or len(np.unique(a[:, 1]))
        g, items = controls.cooccurrence_graph(ds, k, args.edges or len(a), args.seed, split=args.split)
        name = f"cooc-svd-kmeans-k{k}-s{args.seed}"
    out = Path(args.out) if args.out else reports_root() / "interests" / args.dataset / "graphs" / name
    train_txt = dataset_dir(args.dataset, args.data_dir) / "train.txt"
    g.provenance["built_from"].update(
        {"released_graph_sha256": _sha256(released.path), "train_txt_sha256": _sha256(train_txt)}
    )
    checked = ("cikgwb/knowledge/controls.py", "cikgwb/knowledge/interest_graph.py", "cikgwb/data")
    g.provenance["code"] = {"module": controls.__name__, "commit": git_commit(checked), "dirty_check": list(checked)}
    g.provenance["command"] = (
        f"cikgwb interests control --dataset {args.dataset} --kind {args.kind} --seed {args.seed}"
        + (f" --split {args.split}" if args.kind == "cooc" else "")
        + (f" --n-interests {args.n_interests}" if args.n_interests and args.kind == "cooc" else "")
        + (f" --edges {args.edges}" if args.edges and args.kind == "cooc" else "")
    )
    g.provenance["wall_s"] = round(time.perf_counter() - t0, 2)
    if items is not None:
        g.provenance["item_clusters_file"] = controls.ITEMS_FILE
    paths = g.save(out)
    if items is not None:
        items.to_csv(out / controls.ITEMS_FILE, sep="\t", index=False)
    c = g.provenance["counts"]
    print(f"{args.dataset}: {g.provenance['interests_source']}")
    print(
        f"{c['interests']} interests ({c['interests_held']} held), {c['edges']} edges, {c['users_with_interests']} "
        f"users, {c['min_users_per_interest']}..{c['max_users_per_interest']} users per interest"
    )
    print(_table(g.labels[["interest_id", "size", "label"]], max_rows=args.show))
    print(f"wrote {', '.join(str(p) for p in paths.values())} ({g.provenance['wall_s']:.1f} s)")
    print(f"use it: cikgwb train --dataset {args.dataset} --interests {out} --protocol users")
    return 0


def add_control_parser(interests_subparsers: Any) -> argparse.ArgumentParser:
    """Register ``interests control`` on the ``interests`` sub-command's subparsers."""
    p = interests_subparsers.add_parser(
        "control",
        help="control interest graphs: the released graph rewired, or co-occurrence clusters of items",
        description="Write a control interest graph (cikgwb.knowledge.controls): --kind rewire keeps the released "
        "graph's degrees on both sides and swaps its edges at random (structure without knowledge); --kind cooc "
        "clusters items by co-occurrence in the training matrix and links each user to the clusters holding most "
        "of its items, with the released graph's number of interests and edges (collaboration without text).",
    )
    _dataset_args(p)
    p.add_argument("--kind", choices=("rewire", "cooc"), required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--swaps-per-edge", type=float, default=10.0, help="rewire: swaps attempted per edge (default 10)")
    p.add_argument(
        "--split",
        choices=("train_full", "train"),
        default="train_full",
        help="cooc: the interactions clustered (default train_full: all of train.txt, as the authors' graph)",
    )
    p.add_argument("--n-interests", type=int, default=None, help="cooc: clusters (default: the released graph's)")
    p.add_argument("--edges", type=int, default=None, help="cooc: edges kept (default: the released graph's)")
    p.add_argument("--out", default=None, help="output folder (default reports/interests/DATASET/graphs/...)")
    p.add_argument("--show", type=int, default=10, help="print this many interests (default 10)")
    p.set_defaults(func=cmd_control)
    return p


# --------------------------------------------------------------------------------- graph
def _load(args: argparse.Namespace) -> Any:
    from ..data import load_dataset
    from ..runs import dataset_with_interests, resolve_interests

    resolve_interests(args.interests)  # a missing PATH is refused, naming it, before the data loads
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


def cmd_graph(args: argparse.Namespace) -> int:
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
            print(_table(st[k], max_rows=50))
        return 0
    if args.graph_cmd == "user":
        v = ig.user_view(ds, args.id, split=args.split, max_users=args.max_users, top_items=args.top)
        print(f"\nuser {v['user']}: {len(v['items'])} {args.split} items, {len(v['interests'])} interests")
        print(_table(v["items"], max_rows=args.top))
        print("\ninterests:")
        print(_table(v["interests"]))
        print("\nusers sharing most interests:")
        print(_table(v["neighbours"]))
        print("\nitems most common among them:")
        print(_table(v["neighbour_items"]))
        _export(ig.neighbourhood_subgraph(ds, user=args.id, split=args.split), args.export)
        return 0
    v = ig.interest_view(ds, args.id, split=args.split, top_items=args.top)
    how = {"text": "the graph's own label", None: "no label"}.get(v["label_method"], f"named from {v['label_method']}")
    print(f"\ninterest {v['interest']} (id {v['original_id']} in the file): {v['label']}  [{how}]")
    print(f"members: {v['n_members']} users, e.g. {v['some members'][:20]}")
    if v["top_phrases"]:
        print(f"top phrases: {v['top_phrases']}")
    print("\nitems most common among members:")
    print(_table(v["top_items"]))
    _export(ig.neighbourhood_subgraph(ds, interest=args.id, split=args.split), args.export)
    return 0


def add_graph_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``graph stats|user U|interest J`` on the top-level subparsers."""
    p = subparsers.add_parser(
        "graph",
        help="inspect the CIKG: statistics, a user, an interest",
        description="Inspect the CIKG (users, items, KG entities, interests).",
    )
    gsub = p.add_subparsers(dest="graph_cmd", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        _dataset_args(q)
        q.add_argument(
            "--interests",
            default="paper",
            help="paper (the dataset's released graph: cluster ids, named by `interests name` where done) | none | PATH "
            "(a folder written by `interests cluster`, or a user-interest file)",
        )
        q.add_argument(
            "--split",
            default="train",
            choices=("train", "train_full", "valid", "test"),
            help="interactions shown (default train)",
        )
        q.set_defaults(func=cmd_graph)

    s = gsub.add_parser("stats", help="nodes, edges, degree distributions, interest coverage")
    common(s)
    s.add_argument("--json", action="store_true")
    u = gsub.add_parser("user", help="a user's interests, users sharing them, their items")
    u.add_argument("id", type=int, help="user id")
    common(u)
    u.add_argument("--max-users", type=int, default=10)
    u.add_argument("--top", type=int, default=10)
    u.add_argument("--export", default=None, metavar="PREFIX", help="write the neighbourhood as PREFIX_nodes/edges.tsv")
    j = gsub.add_parser("interest", help="an interest's label, members and their most common items")
    j.add_argument("id", type=int, help="interest id (0..J-1, contiguous)")
    common(j)
    j.add_argument("--top", type=int, default=10)
    j.add_argument("--export", default=None, metavar="PREFIX", help="write the neighbourhood as PREFIX_nodes/edges.tsv")
    from .leak_cli import add_leak_parsers  # graph leak | graph screen (knowledge/leak_cli.py)

    add_leak_parsers(gsub, _dataset_args)
    return p


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - convenience entry point
    parser = argparse.ArgumentParser(prog="cikgwb")
    sub = parser.add_subparsers(dest="cmd", required=True)
    ip = sub.add_parser("interests")
    isub = ip.add_subparsers(dest="interests_command", required=True)
    add_cluster_parser(isub)
    add_name_parser(isub)
    add_control_parser(isub)
    add_graph_parser(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
