"""CLI: ``cikgwb interests cluster`` and ``cikgwb graph stats|user|interest``.

The handlers (``cmd_*``, their options in :mod:`cikgwb.cli.interests`) of

    cikgwb interests cluster --dataset X --answers PATH|kg-summary|chat|batch
        --encoder tfidf|minilm|NAME --clusterer kmeans|bertopic --kappa K|none [--seed S] [--out DIR]

(``--answers kg-summary`` means ``reports/interests/X/kg-summary/answers.jsonl``, the file
``cikgwb interests infer --backend kg-summary`` writes),

    cikgwb interests control --dataset X --kind rewire|cooc [--seed S] [--out DIR]

(the control graphs of :mod:`.controls`) and

    cikgwb graph stats|user U|interest J --dataset X --interests paper|none|PATH
    cikgwb graph leak|screen [GRAPH ...] --dataset X [--protocol valid|users]   (knowledge/leak_cli.py)

Heavy libraries are imported only when a command runs.
"""

from __future__ import annotations

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


def cmd_cluster(args: Any) -> int:
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


# --------------------------------------------------------------------------------- name
def cmd_name(args: Any) -> int:
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


# --------------------------------------------------------------------------------- control
def cmd_control(args: Any) -> int:
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


# --------------------------------------------------------------------------------- graph
def _load(args: Any) -> Any:
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
