"""What the user explorer, the interest browser and the case study (Figure 4) show, as plain
data (dicts and data frames); :mod:`cikgwb.widgets` and :mod:`cikgwb.plots` only display it.

Interest path. A recommended item ``i`` of user ``u`` is linked to ``u`` through the CIKG's
user-side knowledge when ``u`` holds an interest ``j`` that another user ``v`` also holds and
``v`` has ``i`` among their training items::

    u --HasInterest--> j <--HasInterest-- v --Interact--> i

Of all such paths the one shown goes through the interest whose other holders have ``i`` most
often (ties: smaller interest id, then smaller user id); ``n_paths`` counts the (j, v) pairs.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .inspect_graph import interest_label, interest_short_label, item_title, user_interests, user_view


def _members_index(ds: Any) -> list[np.ndarray]:
    """Users holding each interest (sorted), cached on the dataset's meta."""
    cache = ds.meta.get("_explorer_members")
    if cache is not None and len(cache) == ds.n_interests:
        return cache
    ui = ds.user_interest
    order = np.lexsort((ui[:, 0], ui[:, 1]))
    bounds = np.searchsorted(ui[order, 1], np.arange(ds.n_interests + 1))
    out = [ui[order[bounds[j]:bounds[j + 1]], 0] for j in range(ds.n_interests)]
    ds.meta["_explorer_members"] = out
    return out


def _item_users(ds: Any, split: str) -> Any:
    key = f"_explorer_item_users_{split}"
    m = ds.meta.get(key)
    if m is None:
        m = ds.matrix(split).tocsc()
        ds.meta[key] = m
    return m


def interest_paths(ds: Any, user: int, items: Any, split: str = "train") -> dict[int, dict[str, Any]]:
    """For each item of ``items`` that an interest path reaches (module docstring), the path:
    ``{"interest", "label", "other_user", "n_paths", "text"}``; items without a path are absent."""
    if not 0 <= int(user) < ds.n_users:
        raise ValueError(f"user {user} out of range (expected 0..{ds.n_users - 1})")
    user = int(user)
    mine = user_interests(ds, user)
    if len(mine) == 0:
        return {}
    members = _members_index(ds)
    by_item = _item_users(ds, split)
    out: dict[int, dict[str, Any]] = {}
    for i in np.asarray(items, dtype=np.int64).ravel():
        if i < 0 or i >= ds.n_items:
            continue
        holders = by_item.indices[by_item.indptr[i]:by_item.indptr[i + 1]]
        holders = holders[holders != user]
        if len(holders) == 0:
            continue
        best, total = None, 0
        for j in mine:
            shared = np.intersect1d(members[j], holders, assume_unique=True)
            total += len(shared)
            if len(shared) and (best is None or len(shared) > best[1]):
                best = (int(j), len(shared), int(shared.min()))
        if best is not None:
            j, _, v = best
            lab = interest_label(ds, j)
            out[int(i)] = {"interest": j, "label": lab, "other_user": v, "n_paths": int(total),
                           "text": f"user {user} -> [{lab}] <- user {v} -> {item_title(ds, int(i))}"}
    return out


def heldout_items(ds: Any, user: int) -> set[int]:
    """The user's test items."""
    return set(ds.user_items("test")[int(user)].tolist())


def topk_table(ds: Any, user: int, topk: np.ndarray, k: int | None = None) -> pd.DataFrame:
    """The user's top-``k`` list: ``rank`` (1-based), ``item``, ``title``, ``hit`` (a test item),
    ``path`` (interest path text where one exists)."""
    row = np.asarray(topk)[int(user)]
    row = row[row >= 0][: k or len(row)]
    hits = heldout_items(ds, user)
    paths = interest_paths(ds, user, row)
    return pd.DataFrame({
        "rank": np.arange(1, len(row) + 1), "item": row.astype(np.int64),
        "title": [item_title(ds, int(i)) for i in row], "hit": [int(i) in hits for i in row],
        "path": [paths[int(i)]["text"] if int(i) in paths else "" for i in row],
    })


def user_report(ds: Any, user: int, topk: np.ndarray | None = None, answers: pd.DataFrame | None = None,
                k: int = 20, split: str = "train", history: int = 30) -> dict[str, Any]:
    """Everything the explorer shows for ``user``.

    Keys: ``user``; ``titles`` (the last ``history`` training titles, file order: what an LLM
    prompt holds); ``answer`` (``{"raw", "phrases", "source"}`` from the answers table, or None);
    ``interests`` (interest, label, holders, other holders, some other holders);
    ``interests_source``; ``topk`` (:func:`topk_table`, or None without a model); ``n_test``.
    """
    if not 0 <= int(user) < ds.n_users:
        raise ValueError(f"user {user} out of range (expected 0..{ds.n_users - 1})")
    user = int(user)
    view = user_view(ds, user, split)
    items = ds.user_items(split)[user]
    titled = [(int(i), item_title(ds, int(i))) for i in items][-history:]
    answer = None
    if answers is not None and len(answers):
        hit = answers[answers["user"] == user]
        if len(hit):
            r = hit.iloc[0]
            answer = {"raw": r.get("raw"), "phrases": list(r.get("phrases") or []), "source": r.get("source")}
    return {
        "user": user,
        "titles": pd.DataFrame(titled, columns=["item", "title"]),
        "answer": answer,
        "interests": view["interests"],
        "interests_source": view["interests_source"],
        "neighbours": view["neighbours"],
        "topk": topk_table(ds, user, topk, k) if topk is not None else None,
        "n_test": len(heldout_items(ds, user)),
    }


def find_cases(ds: Any, topk: np.ndarray, k: int = 20, max_cases: int = 50) -> pd.DataFrame:
    """Candidate case studies (Figure 4): a test hit in a user's top-``k`` that an interest path
    reaches. Columns ``user, item, title, rank, interest, label, other_user, n_paths``; best
    first (lower rank, then more paths, then user id)."""
    topk = np.asarray(topk)
    test = ds.matrix("test")
    rows = []
    for u in range(ds.n_users):
        row = topk[u, :k]
        t = set(test.indices[test.indptr[u]:test.indptr[u + 1]].tolist())
        hits = [(r + 1, int(i)) for r, i in enumerate(row) if i >= 0 and int(i) in t]
        if not hits:
            continue
        paths = interest_paths(ds, u, [i for _, i in hits])
        for rank, i in hits:
            if i in paths:
                p = paths[i]
                rows.append({"user": u, "item": i, "title": item_title(ds, i), "rank": rank,
                             "interest": p["interest"], "label": p["label"], "other_user": p["other_user"],
                             "n_paths": p["n_paths"]})
    df = pd.DataFrame(rows, columns=["user", "item", "title", "rank", "interest", "label", "other_user", "n_paths"])
    return df.sort_values(["rank", "n_paths", "user"], ascending=[True, False, True]).head(max_cases) \
        .reset_index(drop=True)


def case_graph(ds: Any, user: int, interest: int, other_user: int, item: int, max_members: int = 4):
    """A small ``networkx`` graph for Figure 4: the user and all their interests, the shared
    interest with a few other holders, the other user and their edge to the item, and a
    ``recommended`` edge from the user to the item. Returns ``(graph, highlight_nodes,
    highlight_edges)``."""
    import networkx as nx

    G = nx.Graph()
    u, j, v, i = ("user", int(user)), ("interest", int(interest)), ("user", int(other_user)), ("item", int(item))
    G.add_node(u, type="user", label=f"user {user}", center=True)
    for jj in user_interests(ds, user):
        G.add_node(("interest", int(jj)), type="interest", label=interest_short_label(ds, int(jj)))
        G.add_edge(u, ("interest", int(jj)), type="has_interest")
    G.add_node(v, type="user", label=f"user {other_user}")
    G.add_edge(v, j, type="has_interest")
    G.add_node(i, type="item", label=item_title(ds, int(item)))
    G.add_edge(v, i, type="interact")
    G.add_edge(u, i, type="recommended")
    for w in _members_index(ds)[int(interest)][:max_members]:
        if int(w) not in (int(user), int(other_user)):
            G.add_node(("user", int(w)), type="user", label=f"user {int(w)}")
            G.add_edge(("user", int(w)), j, type="has_interest")
    return G, {u, j, v, i}, [(u, j), (v, j), (v, i)]


def interest_report(ds: Any, interest: int, split: str = "train", top_items: int = 10,
                    max_members: int = 30) -> dict[str, Any]:
    """What the interest browser shows: label, source, members, their most common items
    (:func:`cikgwb.inspect_graph.interest_view`)."""
    from .inspect_graph import interest_view

    v = interest_view(ds, interest, split, top_items=top_items, max_members=max_members)
    return {"interest": v["interest"], "label": v["label"], "source": v["source"], "n_members": v["n_members"],
            "members": v["some members"], "top_phrases": v["top_phrases"], "top_items": v["top_items"]}
