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

CASE_COLUMNS = ["user", "item", "title", "rank", "interest", "label", "other_user", "n_paths"]


def _case_row(user: int, item: int, title: str, rank: int, path: dict[str, Any]) -> dict[str, Any]:
    """One candidate case: a test hit at ``rank`` and the interest path that reaches it."""
    keys = ("interest", "label", "other_user", "n_paths")
    return {"user": user, "item": item, "title": title, "rank": rank, **{k: path[k] for k in keys}}


def _cases_frame(rows: list[dict[str, Any]], max_cases: int) -> pd.DataFrame:
    """The candidate cases best first (lower rank, then more paths, then user id), at most ``max_cases``."""
    df = pd.DataFrame(rows, columns=CASE_COLUMNS)
    order = df.sort_values(["rank", "n_paths", "user"], ascending=[True, False, True])
    return order.head(max_cases).reset_index(drop=True)


# ----------------------------------------------------------------------------- from a run's artefact
# Every view reads a run's compact ``explorer.npz`` (:mod:`cikgwb.run_artefact`): no dataset
# files, no checkpoint, no training; what the explorer notebook and Figure 4 use.
def artefact_paths(a: Any, user: int, items: Any) -> dict[int, dict[str, Any]]:
    """The interest paths (module docstring) in a run artefact: for each item of ``items``
    reached by ``user -> interest <- other user -> item`` (the other user has it among their training items,
    all of train.txt), the path through the interest whose other holders have it most often
    (ties: smaller interest id, then smaller user id); ``n_paths`` counts the (interest, user) pairs."""
    user = a.check_user(user)
    mine = a.interests(user)
    out: dict[int, dict[str, Any]] = {}
    if len(mine) == 0:
        return out
    for i in np.asarray(items, dtype=np.int64).ravel():
        if not 0 <= i < a.n_items:
            continue
        holders = a.holders(int(i))
        holders = holders[holders != user]
        if len(holders) == 0:
            continue
        best, total = None, 0
        for j in mine:
            shared = np.intersect1d(a.members(int(j)), holders, assume_unique=True)
            total += len(shared)
            if len(shared) and (best is None or len(shared) > best[1]):
                best = (int(j), len(shared), int(shared.min()))
        if best is not None:
            j, _, v = best
            out[int(i)] = {
                "interest": j,
                "label": a.labels[j],
                "other_user": v,
                "n_paths": int(total),
                "text": f"user {user} -> [interest {j}] <- user {v} -> item {int(i)}",
            }
    return out


def artefact_user_report(a: Any, user: int, k: int = 20, history: int = 30, max_neighbours: int = 12) -> dict[str, Any]:
    """Everything the explorer shows for ``user`` of a run artefact.

    Keys: ``user``; ``metrics`` (the user's test metrics at the selected epoch, empty without
    test items); ``n_train``, ``n_test``; ``titles`` (the last ``history`` training items, file
    order); ``interests`` (interest, original id, label, how it was made, holders, the other
    holders: ``neighbours`` all of them, sorted); ``neighbours`` (users sharing most interests
    with ``user``: shared count, the shared interest ids); ``topk`` (rank, item, title, score,
    hit, interest path); ``missed`` (test items not in the top-``k``: item, title, rank in the
    user's full ranking, 0 if masked because it is also a training item)."""
    user = a.check_user(user)
    k = int(min(max(1, int(k)), a.top_items.shape[1]))
    tr = a.train(user)
    titled = [(int(i), a.title(int(i))) for i in tr][-history:]
    rows, shared_with = [], {}
    for j in a.interests(user):
        mem = a.members(int(j))
        others = mem[mem != user]
        rows.append(
            {
                "interest": int(j),
                "original id": int(a.interest_ids[int(j)]) if a.interest_ids else int(j),
                "label": a.labels[int(j)],
                "method": a.label_methods[int(j)],
                "holders": len(mem),
                "neighbours": others.tolist(),
            }
        )
        for v in others.tolist():
            shared_with.setdefault(v, []).append(int(j))
    top_nb = sorted(shared_with.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:max_neighbours]
    nb = pd.DataFrame(
        [{"user": v, "shared interests": len(js), "interests": js} for v, js in top_nb],
        columns=["user", "shared interests", "interests"],
    )
    items, scores = a.top(user, k)
    test = a.test(user)
    tset = set(test.tolist())
    paths = artefact_paths(a, user, items)
    topk = pd.DataFrame(
        {
            "rank": np.arange(1, len(items) + 1),
            "item": items,
            "title": [a.title(int(i)) for i in items],
            "score": scores,
            "hit": [int(i) in tset for i in items],
            "path": [paths[int(i)]["text"] if int(i) in paths else "" for i in items],
        }
    )
    ranks = a.test_ranks(user)
    inlist = set(items.tolist())
    miss = [(int(i), a.title(int(i)), int(r)) for i, r in zip(test, ranks) if int(i) not in inlist]
    missed = (
        pd.DataFrame(miss, columns=["item", "title", "rank"])
        .sort_values("rank", key=lambda s: s.where(s > 0, np.iinfo(np.int64).max))
        .reset_index(drop=True)
    )
    return {
        "user": user,
        "metrics": a.user_metrics(user),
        "n_train": len(tr),
        "n_test": len(test),
        "titles": pd.DataFrame(titled, columns=["item", "title"]),
        "interests": pd.DataFrame(
            rows, columns=["interest", "original id", "label", "method", "holders", "neighbours"]
        ),
        "neighbours": nb,
        "topk": topk,
        "missed": missed,
        "k": k,
    }


def artefact_default_user(a: Any, k: int = 20) -> int:
    """A user with interests and a test hit in the top-``k`` reached by an interest path (the
    smallest id), else one with a hit, else 0."""
    first_hit = None
    for u in range(a.n_users):
        r = a.test_ranks(u)
        if len(r) and ((r > 0) & (r <= k)).any():
            if first_hit is None:
                first_hit = u
            if len(a.interests(u)):
                hits = a.test(u)[(r > 0) & (r <= k)]
                if artefact_paths(a, u, hits):
                    return u
    return first_hit if first_hit is not None else 0


def artefact_case(a: Any, user: int, item: int, other_user: int | None = None) -> dict[str, Any]:
    """The case of Figure 4 on a run artefact: ``user``, a test ``item`` of theirs, and
    ``other_user`` who has the item among their training items and shares interests with
    ``user`` (None: the one sharing most). Keys: ``user, item, title, other_user, in_test``,
    ``in_other_train``, ``shared`` (interest ids), ``labels`` (of every interest of ``user``:
    ``{id: label}``), ``rank`` (the item's rank in the user's full ranking: 1-based; 0 when masked),
    ``top_n`` (the stored list length), ``score`` (when in the stored list), ``interests``
    (the user's) and ``problems`` (what does not hold, empty when the case holds as stated)."""
    user, item = a.check_user(user), int(item)
    if not 0 <= item < a.n_items:
        raise ValueError(f"item {item} out of range (expected 0..{a.n_items - 1})")
    test = a.test(user)
    problems = []
    in_test = item in set(test.tolist())
    if not in_test:
        problems.append(f"item {item} is not a test item of user {user}")
    holders = a.holders(item)
    mine = set(a.interests(user).tolist())
    if other_user is None:
        cands = [(len(mine & set(a.interests(int(v)).tolist())), -int(v)) for v in holders if int(v) != user]
        other_user = -max(cands)[1] if cands and max(cands)[0] > 0 else None
    shared: list[int] = []
    in_other = False
    if other_user is not None:
        other_user = a.check_user(other_user)
        shared = sorted(mine & set(a.interests(other_user).tolist()))
        in_other = item in set(a.train(other_user).tolist())
        if not in_other:
            problems.append(f"item {item} is not a training item of user {other_user}")
        if not shared:
            problems.append(f"users {user} and {other_user} share no interest")
    else:
        problems.append(f"no user with item {item} in training shares an interest with user {user}")
    rank = 0
    if in_test:
        rank = int(a.test_ranks(user)[list(test.tolist()).index(item)])
    items, scores = a.top(user)
    pos = np.flatnonzero(items == item)
    return {
        "user": user,
        "item": item,
        "title": a.title(item),
        "other_user": other_user,
        "in_test": in_test,
        "in_other_train": in_other,
        "shared": shared,
        "interests": sorted(mine),
        "labels": {int(j): a.labels[int(j)] for j in sorted(mine)},
        "rank": rank,
        "top_n": int(a.top_items.shape[1]),
        "score": float(scores[pos[0]]) if len(pos) else None,
        "problems": problems,
    }


def artefact_find_cases(a: Any, k: int = 20, max_cases: int = 50) -> pd.DataFrame:
    """Candidate case studies (Figure 4) in a run artefact: test hits in a top-``k`` list reached
    by an interest path. Columns ``user, item, title, rank, interest, label, other_user, n_paths``; best first."""
    rows = []
    for u in range(a.n_users):
        r = a.test_ranks(u)
        sel = (r > 0) & (r <= k)
        if not sel.any():
            continue
        hits = a.test(u)[sel]
        paths = artefact_paths(a, u, hits)
        for i, rk in zip(hits.tolist(), r[sel].tolist()):
            if i in paths:
                rows.append(_case_row(u, i, a.title(i), rk, paths[i]))
    return _cases_frame(rows, max_cases)


def artefact_interest_report(a: Any, interest: int, top_items: int = 10, max_members: int = 40) -> dict[str, Any]:
    """What the explorer's interest view shows for interest ``interest`` of a run artefact:
    ``interest, original id, label, method, n_members, members`` (the first ``max_members``) and
    ``top_items`` (the items most common among the members' training items: ``item, title,
    members`` holding it, ``share`` of members, ``lift`` = share among members / share among all
    users)."""
    j = int(interest)
    if not 0 <= j < a.n_interests:
        raise ValueError(f"interest {interest} out of range (expected 0..{a.n_interests - 1})")
    mem = a.members(j)
    counts = np.diff(a.train_indptr)
    held = np.isin(np.repeat(np.arange(a.n_users), counts), mem)
    c = np.bincount(a.train_items[held].astype(np.int64), minlength=a.n_items)
    df = np.bincount(a.train_items.astype(np.int64), minlength=a.n_items)
    order = np.lexsort((np.arange(a.n_items), -c))[:top_items]
    order = order[c[order] > 0]
    n = max(len(mem), 1)
    items = pd.DataFrame(
        {
            "item": order,
            "title": [a.title(int(i)) for i in order],
            "members": c[order],
            "share": c[order] / n,
            "lift": (c[order] / n) / np.maximum(df[order] / a.n_users, 1e-12),
        }
    )
    return {
        "interest": j,
        "original id": int(a.interest_ids[j]) if a.interest_ids else j,
        "label": a.labels[j],
        "method": a.label_methods[j],
        "n_members": len(mem),
        "members": mem[:max_members].tolist(),
        "top_items": items,
    }
