"""Inspect the CIKG of a :class:`~cikgwb.data.Dataset`: statistics, views of a user or an
interest, and small neighbourhood subgraphs for the notebooks to draw.

The CIKG (docs/method.md section 2, step 4) has four node types and three kinds of edges:

==============  ==============================================================
node type       ids
==============  ==============================================================
user            0 .. n_users-1
item            0 .. n_items-1 (an item is also KG entity with the same id)
entity          KG entities that are not items: n_items .. n_entities-1
interest        0 .. n_interests-1 (``ds.user_interest``)
==============  ==============================================================

edges: ``interact`` (user-item, a split's pairs, default ``train``), ``kg:<relation>`` (KG
triples, head-tail) and ``has_interest`` (user-interest). Everything here reads the arrays of the
Dataset; nothing is trained. Interests of the paper's released graph have no text labels:
:func:`interest_label` says so wherever a label is shown.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from .knowledge.naming import readable

NODE_TYPES = ("user", "item", "entity", "interest")
_QUANTILES = (0.25, 0.5, 0.75, 0.9, 0.99)


# ------------------------------------------------------------------------------ small helpers
def interests_source(ds: Any) -> str:
    return str(ds.meta.get("interests_source", "unknown"))


def interest_label(ds: Any, j: int) -> str:
    """Readable label of interest ``j``, or a note that its source has none (the paper's graph)."""
    if ds.interest_labels is not None and 0 <= j < len(ds.interest_labels) and ds.interest_labels[j]:
        return str(ds.interest_labels[j])
    src = interests_source(ds)
    if src.startswith("paper"):
        return f"(no text label: paper's released graph; id {_orig_interest(ds, j)})"
    return f"(no text label; id {_orig_interest(ds, j)})"


def label_method(ds: Any, j: int) -> str | None:
    """How interest ``j``'s label was made (``phrases`` / ``titles`` / ``none``: named afterwards,
    :mod:`cikgwb.knowledge.naming`), ``text`` for the graph's own label, ``None`` without a label."""
    if ds.interest_labels is None or not (0 <= j < len(ds.interest_labels)) or not ds.interest_labels[j]:
        return None
    given = ds.meta.get("interest_label_methods") or []
    return str(given[j]) if j < len(given) and given[j] else "text"


def label_note(ds: Any) -> str:
    """One line saying how the interest labels of ``ds`` were made (for every view)."""
    from .knowledge.naming import label_note as note

    if not ds.n_interests:
        return "no interests"
    methods = [label_method(ds, j) for j in range(ds.n_interests)]
    if all(m is None for m in methods):
        return "none: these interest nodes have no text labels (views name an interest by its id)"
    return note([m or "none" for m in methods], interests_source(ds), ds.meta.get("interest_names_from"))


def interest_short_label(ds: Any, j: int, width: int = 40, split: str = "train") -> str:
    """A short label for figures. A text label where the interest has one (a name made afterwards
    for the paper's released graph is marked ``#<id> ~ <name>``); otherwise ``#<id> ~ <title>``,
    where the title is the item most over-represented among the interest's members (highest lift,
    held by at least 2 members and 5% of them). The ``~`` marks a label derived from the members,
    not the words of the LLM that made the graph."""
    method = label_method(ds, j)
    if method == "text":
        return str(ds.interest_labels[j])[:width]
    if method is not None:
        return f"#{_orig_interest(ds, j)} ~ {ds.interest_labels[j]}"[:width]
    head = f"#{_orig_interest(ds, j)}"
    v = interest_view(ds, j, split, top_items=200)
    t, n = v["top_items"], max(1, v["n_members"])
    if "lift" in t and len(t):
        t = t[t["count"] >= max(2, 0.05 * n)].dropna(subset=["lift"]).sort_values(["lift", "count"], ascending=False)
    if not len(t):
        return head
    return f"{head} ~ {t['title'].iloc[0]}"[:width]


def _orig_interest(ds: Any, j: int) -> int:
    ids = getattr(ds, "interest_ids", None)
    return int(ids[j]) if ids is not None and 0 <= j < len(ids) else int(j)


def item_title(ds: Any, i: int) -> str:
    """Item ``i``'s title for display (:func:`cikgwb.knowledge.naming.readable`)."""
    t = ds.titles[i] if 0 <= i < len(ds.titles) else None
    return readable(t) if t else f"(item {i}: no title)"


def entity_name(ds: Any, e: int) -> str:
    names = ds.meta.get("entity_names") or []
    if e < ds.n_items:
        return item_title(ds, e)
    n = names[e] if e < len(names) else None
    return str(n) if n else f"entity {e}"


def _pairs(ds: Any, split: str) -> np.ndarray:
    return {"train": ds.train, "valid": ds.valid, "test": ds.test, "train_full": ds.train_full}[split]


def _check_id(kind: str, x: Any, n: int) -> int:
    if isinstance(x, bool) or not isinstance(x, int | np.integer):
        raise TypeError(f"{kind} {x!r}: expected an integer id")
    if not 0 <= int(x) < n:
        raise ValueError(f"{kind} {x} out of range (expected 0..{n - 1})")
    return int(x)


def _members(ds: Any) -> tuple[np.ndarray, np.ndarray]:
    """CSR-like index of users per interest: (order of user_interest rows by interest, bounds)."""
    ui = ds.user_interest
    order = np.argsort(ui[:, 1], kind="stable")
    bounds = np.searchsorted(ui[order, 1], np.arange(ds.n_interests + 1))
    return order, bounds


def interest_members(ds: Any, j: int) -> np.ndarray:
    """Users holding interest ``j`` (sorted)."""
    j = _check_id("interest", j, ds.n_interests)
    return np.sort(ds.user_interest[ds.user_interest[:, 1] == j, 0])


def user_interests(ds: Any, u: int) -> np.ndarray:
    """Interests of user ``u`` (sorted)."""
    u = _check_id("user", u, ds.n_users)
    return np.sort(ds.user_interest[ds.user_interest[:, 0] == u, 1])


# ------------------------------------------------------------------------------ statistics
def degrees(ds: Any, node_type: str, edge_type: str, split: str = "train") -> np.ndarray:
    """Degree of every node of ``node_type`` in edges of ``edge_type``
    (``interact``, ``kg`` (all relations), ``kg:<relation name>`` or ``has_interest``)."""
    sizes = {"user": ds.n_users, "item": ds.n_items, "entity": ds.n_entities - ds.n_items, "interest": ds.n_interests}
    if node_type not in sizes:
        raise ValueError(f"node type {node_type!r}: expected one of {list(NODE_TYPES)}")
    n = sizes[node_type]
    if edge_type == "interact":
        pairs = np.unique(_pairs(ds, split), axis=0)
        col = {"user": 0, "item": 1}.get(node_type)
        return np.bincount(pairs[:, col], minlength=n) if col is not None else np.zeros(n, np.int64)
    if edge_type == "has_interest":
        col = {"user": 0, "interest": 1}.get(node_type)
        return np.bincount(ds.user_interest[:, col], minlength=n) if col is not None else np.zeros(n, np.int64)
    if edge_type == "kg" or edge_type.startswith("kg:"):
        kg = ds.kg
        if edge_type.startswith("kg:"):
            name = edge_type[3:]
            if name not in ds.relation_names:
                raise ValueError(f"edge type {edge_type!r}: no relation {name!r} (relations: {ds.relation_names})")
            kg = kg[kg[:, 1] == ds.relation_names.index(name)]
        ends = np.concatenate([kg[:, 0], kg[:, 2]]) if len(kg) else np.zeros(0, np.int64)
        if node_type == "item":
            return np.bincount(ends[ends < ds.n_items], minlength=n)
        if node_type == "entity":
            return np.bincount(ends[ends >= ds.n_items] - ds.n_items, minlength=n)
        return np.zeros(n, np.int64)
    raise ValueError(f"edge type {edge_type!r}: expected interact, kg, kg:<relation> or has_interest")


def _describe(deg: np.ndarray) -> dict[str, float]:
    if len(deg) == 0:
        return {"nodes": 0, "zero": 0, "min": 0, "mean": 0.0, **{f"p{int(q * 100)}": 0.0 for q in _QUANTILES}, "max": 0}
    q = np.quantile(deg, _QUANTILES)
    return {
        "nodes": int(len(deg)),
        "zero": int((deg == 0).sum()),
        "min": int(deg.min()),
        "mean": float(deg.mean()),
        **{f"p{int(k * 100)}": float(v) for k, v in zip(_QUANTILES, q)},
        "max": int(deg.max()),
    }


def graph_stats(ds: Any, split: str = "train") -> dict[str, pd.DataFrame]:
    """Tables: ``nodes`` (per type: count, with an edge), ``edges`` (per type / relation),
    ``degrees`` (per node type x edge type: zero-degree nodes, min, mean, quantiles, max) and
    ``coverage`` (users with >= 1 interest and interests per user, overall and per sparsity group
    of training interactions, KGAT-style groups of about equal total interactions)."""
    pairs = np.unique(_pairs(ds, split), axis=0)
    rel_counts = (
        np.bincount(ds.kg[:, 1], minlength=len(ds.relation_names))
        if len(ds.kg)
        else np.zeros(len(ds.relation_names), np.int64)
    )
    edges = [{"edge type": "interact", "relation": f"user-item ({split})", "edges": int(len(pairs))}]
    edges += [
        {"edge type": f"kg:{r}", "relation": r, "edges": int(c)} for r, c in zip(ds.relation_names, rel_counts) if c
    ]
    edges.append({"edge type": "has_interest", "relation": "user-interest", "edges": int(len(ds.user_interest))})
    edges_df = pd.DataFrame(edges)

    deg_rows = []
    combos = [
        ("user", "interact"),
        ("item", "interact"),
        ("item", "kg"),
        ("entity", "kg"),
        ("user", "has_interest"),
        ("interest", "has_interest"),
    ]
    for nt, et in combos:
        deg_rows.append({"node type": nt, "edge type": et, **_describe(degrees(ds, nt, et, split))})
    deg_df = pd.DataFrame(deg_rows)

    u_any = (degrees(ds, "user", "interact", split) > 0) | (degrees(ds, "user", "has_interest") > 0)
    i_any = (degrees(ds, "item", "interact", split) > 0) | (degrees(ds, "item", "kg") > 0)
    e_any = degrees(ds, "entity", "kg") > 0
    j_any = degrees(ds, "interest", "has_interest") > 0
    nodes_df = pd.DataFrame(
        {
            "node type": list(NODE_TYPES),
            "nodes": [ds.n_users, ds.n_items, ds.n_entities - ds.n_items, ds.n_interests],
            "with edges": [int(u_any.sum()), int(i_any.sum()), int(e_any.sum()), int(j_any.sum())],
        }
    )
    return {"nodes": nodes_df, "edges": edges_df, "degrees": deg_df, "coverage": interest_coverage(ds, split)}


def interest_coverage(ds: Any, split: str = "train", n_groups: int = 4) -> pd.DataFrame:
    """Users with >= 1 interest, and mean interests per user, overall and per sparsity group."""
    n_int = degrees(ds, "user", "has_interest")
    n_tr = degrees(ds, "user", "interact", split)
    try:
        from .evaluate import sparsity_groups

        groups = sparsity_groups(n_tr, n_groups)
    except ImportError:  # pragma: no cover - evaluate needs torch
        groups = np.zeros(ds.n_users, np.int64)
    rows = [
        {
            "users": "all",
            "n": int(ds.n_users),
            "with interests": int((n_int > 0).sum()),
            "share": float((n_int > 0).mean()) if ds.n_users else 0.0,
            "mean interests": float(n_int.mean()) if ds.n_users else 0.0,
            "mean train items": float(n_tr.mean()) if ds.n_users else 0.0,
        }
    ]
    for g in np.unique(groups):
        m = groups == g
        rows.append(
            {
                "users": f"group {int(g)} ({int(n_tr[m].min())}-{int(n_tr[m].max())} items)",
                "n": int(m.sum()),
                "with interests": int((n_int[m] > 0).sum()),
                "share": float((n_int[m] > 0).mean()),
                "mean interests": float(n_int[m].mean()),
                "mean train items": float(n_tr[m].mean()),
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ views
def _items_table(
    ds: Any,
    counter: Counter,
    top: int,
    base: set[int] | None = None,
    n_members: int | None = None,
    pop: np.ndarray | None = None,
) -> pd.DataFrame:
    rows = []
    for i, c in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top]:
        r = {"item": int(i), "title": item_title(ds, int(i)), "count": int(c)}
        if n_members:
            r["share of members"] = c / n_members
            if pop is not None and pop[i] > 0:
                r["lift"] = (c / n_members) / (pop[i] / ds.n_users)
        if base is not None:
            r["user has it"] = int(i) in base
        rows.append(r)
    cols = (
        ["item", "title", "count"]
        + (["share of members", "lift"] if n_members and pop is not None else ["share of members"] if n_members else [])
        + (["user has it"] if base is not None else [])
    )
    return pd.DataFrame(rows, columns=cols)


def user_view(ds: Any, u: int, split: str = "train", max_users: int = 10, top_items: int = 10) -> dict[str, Any]:
    """What the CIKG says about user ``u``.

    Keys: ``user``, ``interests_source``, ``items`` (the user's ``split`` items with titles),
    ``interests`` (interest, label, holders, other holders, a few of them), ``neighbours`` (users
    sharing most interests with u: shared count and labels), ``neighbour_items`` (the items most
    common among those neighbours, whether u has it).
    """
    u = _check_id("user", u, ds.n_users)
    items_u = ds.user_items(split)[u]
    order, bounds = _members(ds)
    ui = ds.user_interest
    mine = user_interests(ds, u)
    int_rows = []
    shared: Counter = Counter()
    shared_labels: dict[int, list[str]] = {}
    for j in mine:
        holders = ui[order[bounds[j] : bounds[j + 1]], 0]
        others = holders[holders != u]
        lab = interest_label(ds, int(j))
        int_rows.append(
            {
                "interest": int(j),
                "label": lab,
                "holders": int(len(holders)),
                "other holders": int(len(others)),
                "some other holders": others[:max_users].tolist(),
            }
        )
        for v in others.tolist():
            shared[v] += 1
            shared_labels.setdefault(v, []).append(lab)
    top_nb = sorted(shared.items(), key=lambda kv: (-kv[1], kv[0]))[:max_users]
    nb_df = pd.DataFrame(
        [{"user": v, "shared interests": c, "labels": "; ".join(shared_labels[v])} for v, c in top_nb],
        columns=["user", "shared interests", "labels"],
    )
    per_user = ds.user_items(split)
    cnt: Counter = Counter()
    for v, _ in top_nb:
        cnt.update(per_user[v].tolist())
    return {
        "user": u,
        "interests_source": interests_source(ds),
        "items": pd.DataFrame({"item": items_u.astype(np.int64), "title": [item_title(ds, int(i)) for i in items_u]}),
        "interests": pd.DataFrame(
            int_rows, columns=["interest", "label", "holders", "other holders", "some other holders"]
        ),
        "neighbours": nb_df,
        "neighbour_items": _items_table(ds, cnt, top_items, base=set(items_u.tolist())),
    }


def interest_view(ds: Any, j: int, split: str = "train", top_items: int = 10, max_members: int = 50) -> dict[str, Any]:
    """What the CIKG says about interest ``j``: ``label``, ``source``, ``original_id``,
    ``members`` (all users holding it), ``top_phrases`` (member phrases where the graph was built
    here), ``top_items`` (items most common among members: count, share of members and lift =
    share among members / share among all users)."""
    j = _check_id("interest", j, ds.n_interests)
    members = interest_members(ds, j)
    per_user = ds.user_items(split)
    cnt: Counter = Counter()
    for v in members.tolist():
        cnt.update(per_user[v].tolist())
    pop = degrees(ds, "item", "interact", split)
    phrases = ds.meta.get("interest_top_phrases") or [None] * ds.n_interests
    return {
        "interest": j,
        "original_id": _orig_interest(ds, j),
        "label": interest_label(ds, j),
        "label_method": label_method(ds, j),
        "source": interests_source(ds),
        "n_members": int(len(members)),
        "members": members,
        "some members": members[:max_members].tolist(),
        "top_phrases": phrases[j] if j < len(phrases) else None,
        "top_items": _items_table(ds, cnt, top_items, n_members=len(members) or None, pop=pop),
    }


# ------------------------------------------------------------------------------ subgraphs
def neighbourhood_subgraph(
    ds: Any,
    user: int | None = None,
    interest: int | None = None,
    split: str = "train",
    max_users: int = 8,
    max_items: int = 8,
    include_kg: bool = True,
) -> Any:
    """A small ``networkx.Graph`` around a user or an interest, for drawing.

    Around ``user``: the user, their interests, up to ``max_users`` users sharing most of them,
    up to ``max_items`` of the user's items and the items most common among those users, and (if
    ``include_kg``) the KG entities linked to the items shown. Around ``interest``: the interest,
    up to ``max_users`` members and their ``max_items`` most common items (+ KG). Nodes are
    ``(type, id)`` tuples with attributes ``type``, ``id``, ``label``; edges have ``type``
    (``interact``, ``has_interest``, ``kg:<relation>``).
    """
    import networkx as nx

    if (user is None) == (interest is None):
        raise ValueError("give exactly one of user= or interest=")
    G = nx.Graph()
    per_user = ds.user_items(split)

    def add(kind: str, i: int) -> tuple[str, int]:
        key = (kind, int(i))
        if key not in G:
            label = {
                "user": lambda: f"user {i}",
                "item": lambda: item_title(ds, i),
                "entity": lambda: entity_name(ds, i),
                "interest": lambda: interest_label(ds, i),
            }[kind]()
            G.add_node(key, type=kind, id=int(i), label=label)
        return key

    if user is not None:
        v = user_view(ds, user, split, max_users=max_users, top_items=max_items)
        cu = add("user", user)
        G.nodes[cu]["center"] = True
        for j in v["interests"]["interest"]:
            G.add_edge(cu, add("interest", j), type="has_interest")
        users = v["neighbours"]["user"].tolist()
        for it in per_user[user][:max_items]:
            G.add_edge(cu, add("item", it), type="interact")
        items = v["neighbour_items"]["item"].tolist()
    else:
        v = interest_view(ds, interest, split, top_items=max_items)
        cj = add("interest", interest)
        G.nodes[cj]["center"] = True
        users = v["members"][:max_users].tolist()
        items = v["top_items"]["item"].tolist()
    mine = set(user_interests(ds, user).tolist()) if user is not None else {interest}
    for w in users:
        cw = add("user", w)
        for j in user_interests(ds, w):
            if int(j) in mine:
                G.add_edge(cw, add("interest", j), type="has_interest")
        own = set(per_user[w].tolist())
        for it in items:
            if it in own:
                G.add_edge(cw, add("item", it), type="interact")
    if include_kg and len(ds.kg):
        shown = [n[1] for n in list(G.nodes) if n[0] == "item"]
        sel = ds.kg[np.isin(ds.kg[:, 0], shown)]
        for h, r, t in sel:
            tail = add("item", t) if t < ds.n_items else add("entity", t)
            G.add_edge(("item", int(h)), tail, type=f"kg:{ds.relation_names[r]}")
    return G


def subgraph_tables(G: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A subgraph as plain tables: ``nodes`` (node, type, id, label) and ``edges`` (source, target, type)."""
    nodes = pd.DataFrame(
        [
            {"node": f"{k[0]}:{k[1]}", "type": d["type"], "id": d["id"], "label": d["label"]}
            for k, d in G.nodes(data=True)
        ],
        columns=["node", "type", "id", "label"],
    )
    edges = pd.DataFrame(
        [
            {"source": f"{a[0]}:{a[1]}", "target": f"{b[0]}:{b[1]}", "type": d.get("type")}
            for a, b, d in G.edges(data=True)
        ],
        columns=["source", "target", "type"],
    )
    return nodes, edges
