"""Control interest graphs (issue 33): the interest graph's shape without its meaning, and
collaboration without text.

``rewire``  (graph (e), *structure without knowledge*): degree-preserving double-edge swaps on the
            bipartite user-interest graph. Two edges ``(u1, j1)``, ``(u2, j2)`` drawn uniformly
            (seeded) become ``(u1, j2)``, ``(u2, j1)`` when ``u1 != u2``, ``j1 != j2`` and neither
            new edge exists yet; every user keeps its number of interests and every interest its
            number of users exactly, and no edge is ever duplicated. ``swaps_per_edge`` x edges
            swaps are attempted (10 by default); the report gives how many were accepted and the
            fraction of edges that differ from the original.
``cooccurrence_interests``  (graph (f), *collaboration without text*): interest nodes that are
            clusters of items by co-occurrence in the training matrix. Each item with a training
            user is the L2-normalised row of its users; a truncated SVD (sklearn) gives item
            factors, L2-normalised, and KMeans (sklearn) cuts them into ``n_interests`` clusters.
            User ``u`` may link to every cluster holding one of its items; its candidates are
            ranked by how many of its items they hold (ties: seeded random), and the edges are kept
            rank by rank (every user's first cluster, then every user's second, ...; within a rank
            the larger share of the user's items first) until ``target_edges`` are kept. The first
            rank also holds each cluster's two most devoted users (largest share of their items in
            it), so, when ``target_edges`` allows it, every user with an item keeps an interest and
            no cluster is left with a single user (the filters drop such interests from an LLM
            graph); each kept edge joins a user to a cluster holding some of its items.

``rewired_graph`` and ``cooccurrence_graph`` turn these into
:class:`~cikgwb.knowledge.interest_graph.InterestGraph` objects with a text label per interest and
provenance (what data, which seed, which function), written by ``InterestGraph.save`` and read
back by ``--interests PATH`` like any other graph. Labels say what the node is: a rewired node
keeps the name of the released node it came from but says its members are random; a
co-occurrence node is named by its most read items' titles, which were not used to build it.
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..data import load_dataset
from ..data.download import sha256_file
from ..data.registry import dataset_dir
from ..provenance import git_commit
from .interest_graph import InterestFiles, InterestGraph, load_interest_graph

SWAPS_PER_EDGE = 10
SVD_DIMS = 64
KMEANS_N_INIT = 4
N_TITLES = 3
TRAIN_FULL_NOTE = (
    "train_full: all of train.txt (the authors' training set, the valid carve-out included; test.txt never read)"
)
PHRASE_COLUMNS = ["phrase", "occurrences", "cluster", "interest_id"]
ITEMS_FILE = "item_clusters.tsv"
MIN_USERS = 2


def _edges(user_interest: Any, what: str = "user_interest") -> np.ndarray:
    e = np.asarray(user_interest)
    if e.size == 0:
        return np.zeros((0, 2), np.int64)
    if e.ndim != 2 or e.shape[1] != 2 or not np.issubdtype(e.dtype, np.integer):
        raise ValueError(f"{what}: expected an integer array of shape (k, 2), got {e.dtype} {e.shape}")
    if e.min() < 0:
        raise ValueError(f"{what}: negative id {int(e.min())} (expected ids >= 0)")
    return e.astype(np.int64)


def changed_fraction(before: np.ndarray, after: np.ndarray) -> float:
    """Share of the edges of ``after`` that are not edges of ``before`` (both without duplicates)."""
    if len(after) == 0:
        return 0.0
    width = int(max(before[:, 1].max(initial=0), after[:, 1].max(initial=0))) + 1
    kept = np.isin(after[:, 0] * width + after[:, 1], before[:, 0] * width + before[:, 1])
    return float(1.0 - kept.mean())


# ------------------------------------------------------------------------------- (e) rewiring
def rewire(user_interest: Any, seed: int, swaps_per_edge: float = SWAPS_PER_EDGE) -> tuple[np.ndarray, dict[str, Any]]:
    """Degree-preserving rewiring of a bipartite user-interest graph (module docstring).

    ``user_interest``: ``(k, 2)`` integer ``(user, interest)`` rows; duplicate rows are merged
    first (as :func:`~cikgwb.knowledge.interest_graph.apply_interest_graph` merges them) and the
    report counts them. Returns the rewired edges (sorted, unique, same ids) and a report:
    ``edges``, ``duplicates_merged``, ``attempted``, ``accepted``, ``changed_fraction``, ``seed``.
    """
    raw = _edges(user_interest)
    edges = np.unique(raw, axis=0) if len(raw) else raw
    rng = np.random.default_rng(seed)
    n = len(edges)
    attempts = int(round(swaps_per_edge * n)) if n >= 2 else 0
    us, js = edges[:, 0].tolist(), edges[:, 1].tolist()
    width = int(edges[:, 1].max()) + 1 if n else 1
    present = {u * width + j for u, j in zip(us, js)}
    accepted = 0
    for x, y in zip(rng.integers(0, max(n, 1), attempts).tolist(), rng.integers(0, max(n, 1), attempts).tolist()):
        u1, j1, u2, j2 = us[x], js[x], us[y], js[y]
        if u1 == u2 or j1 == j2:
            continue
        a, b = u1 * width + j2, u2 * width + j1
        if a in present or b in present:
            continue
        present.difference_update((u1 * width + j1, u2 * width + j2))
        present.update((a, b))
        js[x], js[y] = j2, j1
        accepted += 1
    out = np.column_stack([np.asarray(us, np.int64), np.asarray(js, np.int64)]).reshape(-1, 2)
    out = out[np.lexsort((out[:, 1], out[:, 0]))]
    report = {
        "edges": n,
        "duplicates_merged": int(len(raw) - n),
        "swaps_per_edge": swaps_per_edge,
        "attempted": attempts,
        "accepted": accepted,
        "changed_fraction": changed_fraction(edges, out),
        "seed": seed,
    }
    return out, report


# ------------------------------------------------------------------ (f) co-occurrence clusters
def _binary(train_matrix: Any) -> sp.csr_matrix:
    if not sp.issparse(train_matrix) and not isinstance(train_matrix, np.ndarray):
        raise ValueError(f"train_matrix: expected a users x items matrix, got {type(train_matrix).__name__}")
    m = sp.csr_matrix(train_matrix, dtype=np.float64)
    m.sum_duplicates()
    m.eliminate_zeros()
    m.data[:] = 1.0
    return m


def item_clusters(
    train_matrix: Any, n_interests: int, seed: int, dims: int = SVD_DIMS, n_init: int = KMEANS_N_INIT
) -> tuple[np.ndarray, dict[str, Any]]:
    """Cluster id per item (``-1`` for items without a training user): truncated SVD of the
    L2-normalised item x user matrix, L2-normalised factors, KMeans into ``n_interests``."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    m = _binary(train_matrix)
    item_users = m.T.tocsr()
    active = np.flatnonzero(np.diff(item_users.indptr) > 0)
    if not 1 <= n_interests <= len(active):
        raise ValueError(f"n_interests={n_interests}: expected 1..{len(active)} (the items with a training user)")
    rows = normalize(item_users[active])
    k = int(min(dims, rows.shape[1] - 1, len(active) - 1))
    if k >= 1:
        factors = TruncatedSVD(n_components=k, random_state=seed).fit_transform(rows)
    else:  # a single user or a single item: nothing to factor
        factors = rows.toarray()
    factors = normalize(factors)
    km = KMeans(n_clusters=n_interests, n_init=n_init, random_state=seed).fit(factors)
    out = np.full(m.shape[1], -1, dtype=np.int64)
    out[active] = km.labels_
    info = {
        "items_clustered": int(len(active)),
        "items_without_training_user": int(m.shape[1] - len(active)),
        "svd_dims": k,
        "kmeans": {"n_init": n_init, "inertia": float(km.inertia_), "n_iter": int(km.n_iter_)},
    }
    return out, info


def _rank_within(group: np.ndarray, keys: tuple[np.ndarray, ...]) -> np.ndarray:
    """Rank (0 = first) of each row inside its ``group``, ordered by ``keys`` (``np.lexsort``
    order: the last key first)."""
    order = np.lexsort((*keys, group))
    g = group[order]
    rank = np.empty(len(group), np.int64)
    rank[order] = np.arange(len(group)) - np.searchsorted(g, g, side="left")
    return rank


def cooccurrence_edges(
    train_matrix: Any, item_cluster: np.ndarray, target_edges: int | None, seed: int, min_users: int = MIN_USERS
) -> tuple[np.ndarray, dict[str, Any]]:
    """User-cluster edges, kept rank by rank up to ``target_edges`` (module docstring); every
    edge joins a user to a cluster holding at least one of its training items. Before the second
    rank, each cluster's ``min_users`` most devoted users (largest share of their items in it)
    are kept too, so that no cluster is left with fewer (as the filters drop single-user
    interests from an LLM graph) while ``target_edges`` allows it."""
    m = _binary(train_matrix).tocoo()
    c = np.asarray(item_cluster, dtype=np.int64)[m.col]
    ok = c >= 0
    users, clusters = m.row[ok].astype(np.int64), c[ok]
    width = int(clusters.max(initial=0)) + 1
    codes, n_uc = np.unique(users * width + clusters, return_counts=True)
    cu, cc = codes // width, codes % width
    share = n_uc / np.bincount(users, minlength=m.shape[0])[cu]
    tie = np.random.default_rng(seed).permutation(len(codes))
    rank = _rank_within(cu, (tie, -n_uc))  # per user: most items first, seeded ties
    devoted = _rank_within(cc, (tie, -share)) < min_users  # per cluster: largest share first
    level = np.where(devoted, 0, rank)
    keep_n = len(codes) if target_edges is None else int(min(target_edges, len(codes)))
    kept = np.lexsort((tie, -share, level))[:keep_n]
    edges = np.column_stack([cu[kept], cc[kept]])
    edges = edges[np.lexsort((edges[:, 1], edges[:, 0]))]
    info = {
        "candidate_edges": int(len(codes)),
        "target_edges": target_edges,
        "edges": int(len(edges)),
        "first_rank_edges": int((level == 0).sum()),
        "max_rank_kept": int(level[kept].max(initial=-1)) + 1,
        "min_users": min_users,
        "users_with_items": int(len(np.unique(cu))),
    }
    return edges, info


def cooccurrence_interests(
    train_matrix: Any, n_interests: int, target_edges: int | None, seed: int, dims: int = SVD_DIMS
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``(edges, item_cluster, info)``: items clustered by co-occurrence, users linked to the
    clusters that hold most of their items (module docstring). Clusters keep KMeans' ids."""
    assign, info = item_clusters(train_matrix, n_interests, seed, dims=dims)
    edges, einfo = cooccurrence_edges(train_matrix, assign, target_edges, seed)
    return edges, assign, {**info, **einfo, "n_interests": n_interests, "seed": seed}


# ------------------------------------------------------------------------ graphs with labels
def _counts(edges: np.ndarray, n_interests: int) -> dict[str, Any]:
    held = np.bincount(edges[:, 1], minlength=n_interests) if len(edges) else np.zeros(n_interests, int)
    return {
        "interests": int(n_interests),
        "interests_held": int((held > 0).sum()),
        "edges": int(len(edges)),
        "users_with_interests": int(len(np.unique(edges[:, 0]))) if len(edges) else 0,
        "max_users_per_interest": int(held.max(initial=0)),
        "min_users_per_interest": int(held.min()) if n_interests else 0,
    }


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _no_phrases() -> pd.DataFrame:
    return pd.DataFrame({k: pd.Series(dtype="int64" if k != "phrase" else "object") for k in PHRASE_COLUMNS})


def rewired_graph(ds: Any, released: InterestFiles, seed: int, swaps_per_edge: float = SWAPS_PER_EDGE) -> InterestGraph:
    """Graph (e): ``released`` (the dataset's released graph, from
    :func:`~cikgwb.knowledge.interest_graph.load_interest_graph`) rewired with ``seed``. Interest
    ``i`` is the ``i``-th released id in increasing order (``released_id`` in the labels)."""
    ids, inv = np.unique(released.edges[:, 1], return_inverse=True)
    before = np.column_stack([released.edges[:, 0], inv]).astype(np.int64)
    edges, rep = rewire(before, seed, swaps_per_edge)
    sizes = np.bincount(edges[:, 1], minlength=len(ids))
    names = released.labels or {}
    orig = [names.get(int(r), "(no name)") for r in ids]
    labels = pd.DataFrame(
        {
            "interest_id": np.arange(len(ids), dtype=np.int64),
            "label": [f"rewired: released node {int(r)}, random members (its name: {o})" for r, o in zip(ids, orig)],
            "size": sizes.astype(np.int64),
            "top_phrases": "",
            "released_id": ids.astype(np.int64),
            "released_label": orig,
        }
    )
    source = (
        f"control (e) structure without knowledge: degree-preserving rewiring (seed {seed}) of {released.source}; "
        f"{len(ids)} interests, {len(edges)} edges, {rep['changed_fraction']:.1%} of edges moved; NOT an LLM graph"
    )
    prov = {
        "interests_source": source,
        "control": "e",
        "created_at": _now(),
        "dataset": ds.name,
        "n_users": int(ds.n_users),
        "built_from": {
            "released_graph": str(released.path) if released.path else released.source,
            "released_graph_note": "the paper's released gpt-3.5 graph, itself built from all of train.txt",
            "interactions": "none (only the released graph's edges are read)",
        },
        "method": "cikgwb.knowledge.controls.rewire: uniform double-edge swaps, degrees kept on both sides",
        "labels": "each node keeps the name of the released node it came from (released-names where made), "
        "but its members are random: the name does not describe them",
        "seed": seed,
        "rewiring": rep,
        "counts": _counts(edges, len(ids)),
    }
    return InterestGraph(edges=edges, n_interests=len(ids), labels=labels, phrases=_no_phrases(), provenance=prov)


def _cluster_titles(item_cluster: np.ndarray, popularity: np.ndarray, titles: list[Any], n: int) -> list[list[str]]:
    from .naming import short_title

    order = np.lexsort((np.arange(len(item_cluster)), -popularity))
    picked: list[list[str]] = [[] for _ in range(int(item_cluster.max(initial=-1)) + 1)]
    for i in order.tolist():
        c = int(item_cluster[i])
        t = short_title(titles[i]) if i < len(titles) else ""
        if c >= 0 and t and len(picked[c]) < n and t.lower() not in {p.lower() for p in picked[c]}:
            picked[c].append(t)
    return picked


def cooccurrence_graph(
    ds: Any, n_interests: int, target_edges: int | None, seed: int, split: str = "train_full", dims: int = SVD_DIMS
) -> tuple[InterestGraph, pd.DataFrame]:
    """Graph (f) of ``ds`` from its ``split`` matrix, and the item table (``item``, ``interest_id``
    (-1: no training user), ``train_users``, ``title``). Interests are numbered by users held,
    largest first; each is labelled by its most read items' titles."""
    m = ds.matrix(split)
    raw_edges, assign, info = cooccurrence_interests(m, n_interests, target_edges, seed, dims=dims)
    held = np.bincount(raw_edges[:, 1], minlength=n_interests)
    lut = np.empty(n_interests, np.int64)
    lut[np.lexsort((np.arange(n_interests), -held))] = np.arange(n_interests)
    edges = np.column_stack([raw_edges[:, 0], lut[raw_edges[:, 1]]])
    edges = edges[np.lexsort((edges[:, 1], edges[:, 0]))]
    item_ids = np.where(assign >= 0, lut[np.maximum(assign, 0)], -1)
    popularity = np.asarray(m.sum(axis=0)).ravel().astype(np.int64)
    tops = _cluster_titles(item_ids, popularity, list(ds.titles), N_TITLES)
    n_items = np.bincount(item_ids[item_ids >= 0], minlength=n_interests)
    sizes = np.bincount(edges[:, 1], minlength=n_interests)
    labels = pd.DataFrame(
        {
            "interest_id": np.arange(n_interests, dtype=np.int64),
            "label": [
                f"items: {'; '.join(t) or '(untitled)'} (co-read cluster of {k} items; no text used)"
                for t, k in zip(tops, n_items)
            ],
            "size": sizes.astype(np.int64),
            "top_phrases": "",
            "items": n_items.astype(np.int64),
            "kmeans_cluster": np.argsort(lut).astype(np.int64),
        }
    )
    items = pd.DataFrame(
        {"item": np.arange(len(item_ids)), "interest_id": item_ids, "train_users": popularity, "title": ds.titles}
    )
    source = (
        f"control (f) collaboration without text: {n_interests} co-occurrence clusters of items "
        f"(SVD {info['svd_dims']} + KMeans, seed {seed}) of {split}; {len(edges)} edges; NOT an LLM graph"
    )
    prov = {
        "interests_source": source,
        "control": "f",
        "created_at": _now(),
        "dataset": ds.name,
        "n_users": int(ds.n_users),
        "built_from": {
            "interactions": TRAIN_FULL_NOTE if split == "train_full" else f"{split} (after the valid carve-out)",
            "split": split,
            "split_seed": (ds.meta.get("split") or {}).get("seed"),
            "distinct_pairs": int(m.nnz),
        },
        "method": "cikgwb.knowledge.controls.cooccurrence_interests: L2-normalised item x user rows, "
        f"TruncatedSVD({info['svd_dims']}), L2-normalised factors, KMeans({n_interests}); a user's clusters "
        "ranked by its items they hold, kept rank by rank (larger share first) up to the target, each cluster's "
        f"{MIN_USERS} most devoted users in the first rank",
        "labels": f"the {N_TITLES} most read titles of each cluster's items (titles were not used to cluster)",
        "seed": seed,
        "clustering": info,
        "counts": _counts(edges, n_interests),
    }
    graph = InterestGraph(edges=edges, n_interests=n_interests, labels=labels, phrases=_no_phrases(), provenance=prov)
    return graph, items


def control_graph(
    dataset: str,
    kind: str,
    *,
    data_dir: Any = None,
    split_seed: int = 0,
    seed: int = 0,
    swaps_per_edge: float = SWAPS_PER_EDGE,
    split: str = "train_full",
    n_interests: int | None = None,
    edges: int | None = None,
) -> tuple[InterestGraph, pd.DataFrame | None, str]:
    """``cikgwb interests control``: the control graph ``kind`` (``rewire`` | ``cooc``) of
    ``dataset`` with its full provenance, the item table (``cooc``; else None) and the graph's
    folder name. ``cooc`` keeps the released graph's number of interests and of edges unless
    ``n_interests`` / ``edges`` are given."""
    t0 = time.perf_counter()
    released = load_interest_graph(dataset, data_dir=data_dir)  # graph (a): refused first if absent
    ds = load_dataset(dataset, data_dir=data_dir, split_seed=split_seed)
    items = None
    command = f"cikgwb interests control --dataset {dataset} --kind {kind} --seed {seed}"
    if kind == "rewire":
        g = rewired_graph(ds, released, seed, swaps_per_edge)
        name = f"released-rewired-s{seed}"
    else:
        a = np.unique(released.edges, axis=0)
        k = n_interests or len(np.unique(a[:, 1]))
        g, items = cooccurrence_graph(ds, k, edges or len(a), seed, split=split)
        name = f"cooc-svd-kmeans-k{k}-s{seed}"
        command += f" --split {split}" + (f" --n-interests {n_interests}" if n_interests else "")
        command += f" --edges {edges}" if edges else ""
    train_txt = dataset_dir(dataset, data_dir) / "train.txt"
    g.provenance["built_from"].update(
        {"released_graph_sha256": sha256_file(released.path), "train_txt_sha256": sha256_file(train_txt)}
    )
    checked = ("cikgwb/knowledge/controls.py", "cikgwb/knowledge/interest_graph.py", "cikgwb/data")
    g.provenance["code"] = {"module": __name__, "commit": git_commit(checked), "dirty_check": list(checked)}
    g.provenance["command"] = command
    g.provenance["wall_s"] = round(time.perf_counter() - t0, 2)
    if items is not None:
        g.provenance["item_clusters_file"] = ITEMS_FILE
    return g, items, name


__all__ = [
    "ITEMS_FILE",
    "changed_fraction",
    "control_graph",
    "cooccurrence_edges",
    "cooccurrence_graph",
    "cooccurrence_interests",
    "item_clusters",
    "rewire",
    "rewired_graph",
]
