"""Answers made from the synthetic dataset's planted truth, and recovery scores of a clustering.

:func:`planted_answers` writes, for every synthetic user, up to five interest phrases the way an
LLM might, but from the planted truth (``ds.meta["planted_user_topics"]``, ``topic_names``,
``topic_sub_interests``, the user's item titles and the items' KG series). It is NOT an LLM and
its ``source`` says so. Per planted topic of the user: one or two phrases from

* the topic name (``"mystery"``, ``"mystery novels"``, ``"classic mystery"``, ...),
* a sub-interest (``"cozy mystery"``, ``"detective fiction stories"``, ...),
* a word found only in that topic's titles (``"stories about alibis"``: no word shared with the
  topic name, so only an encoder that knows the meaning can place it),
* the KG series of one of the user's items of that topic (``"hidden clue series"``);

plus, with small probabilities, a generic phrase (``"bestsellers"``: truth -1, the kind the
"too generic" filter is for) and an off-topic phrase (a topic the user does not hold).

:func:`recovery_scores` compares a :class:`~cikgwb.knowledge.cluster.Clustering` with the topic
of each distinct phrase (adjusted Rand index and NMI over the phrases whose topic is known).
:func:`phrase_truth` gives that topic for answers from elsewhere (e.g. kg-summary answers): the
topic whose name or sub-interest the phrase contains, else the clear majority topic of the users
who hold it.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pandas as pd

from .phrases import clean_phrase

PLANTED_SOURCE = "synthetic planted truth (NOT an LLM: phrases made from the planted topics, titles and KG)"
GENERIC = ["bestsellers", "page turners", "popular fiction", "good stories", "fiction", "reading for fun"]
_NAME_T = ["{x}", "{x} books", "{x} novels", "classic {x}", "modern {x}", "{x} literature"]
_SUB_T = ["{x}", "{x} stories", "{x} novels", "{x} books"]
_WORD_T = ["stories about {x}s", "{x} themes", "{x} stories", "books with {x}s"]
_STOP_TITLE = {"the", "of", "a", "novel", "an", "and"}


def _topic_words(ds: Any) -> dict[int, list[str]]:
    """Per topic, the lower-case title words that occur in no other topic's titles."""
    item_topic = np.asarray(ds.meta["item_topic"])
    seen: dict[str, set[int]] = defaultdict(set)
    for i, title in enumerate(ds.titles):
        if title is None:
            continue
        for w in re.findall(r"[A-Za-z]+", title):
            if w[0].isupper() and w.lower() not in _STOP_TITLE:
                seen[w.lower()].add(int(item_topic[i]))
    names = {str(n).lower() for n in (ds.meta.get("entity_names") or []) if n}
    surname = {w for n in names for w in n.split()[1:2]}  # authors are "First Last"
    out: dict[int, list[str]] = defaultdict(list)
    for w, ts in sorted(seen.items()):
        if len(ts) == 1 and w not in surname and len(w) > 2:
            out[next(iter(ts))].append(w)
    return out


def _item_series(ds: Any) -> dict[int, str]:
    """item -> name of its KG series entity (relation named ``...literary_series``)."""
    rel = [k for k, r in enumerate(ds.relation_names) if "series" in r]
    names = ds.meta.get("entity_names") or []
    if not rel or not names:
        return {}
    m = ds.kg[np.isin(ds.kg[:, 1], rel)]
    return {int(h): str(names[t]) for h, _, t in m if t < len(names) and names[t]}


def planted_answers(
    ds: Any, seed: int = 0, generic_rate: float = 0.3, off_topic_rate: float = 0.1, max_phrases: int = 5
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Answers from the planted truth and ``{cleaned phrase: topic}`` (-1 generic; majority topic
    where a phrase was made for several topics, ties left out). Needs the synthetic dataset's meta."""
    for key in ("planted_user_topics", "topic_names", "item_topic"):
        if key not in ds.meta:
            raise ValueError(
                f"dataset {ds.name}: meta[{key!r}] missing; planted answers need the "
                "synthetic dataset (load_dataset('synthetic'))"
            )
    rng = np.random.default_rng(seed)
    names: list[str] = list(ds.meta["topic_names"])
    subs: list[list[str]] = list(ds.meta.get("topic_sub_interests") or [[n] for n in names])
    words = _topic_words(ds)
    series = _item_series(ds)
    item_topic = np.asarray(ds.meta["item_topic"])
    user_items = ds.user_items("train")
    T = len(names)
    votes: dict[str, Counter] = defaultdict(Counter)
    rows = []

    def make(t: int, u_items: np.ndarray) -> str:
        fam = rng.choice(4, p=[0.4, 0.3, 0.2, 0.1])
        if fam == 2 and words.get(t):
            return str(rng.choice(_WORD_T)).format(x=rng.choice(words[t]))
        if fam == 3:
            mine = [series[int(i)] for i in u_items if int(i) in series and item_topic[int(i)] == t]
            if mine:
                return str(rng.choice(mine))
        if fam in (1, 3):
            return str(rng.choice(_SUB_T)).format(x=rng.choice(subs[t]))
        return str(rng.choice(_NAME_T)).format(x=names[t])

    for u, tops in enumerate(ds.meta["planted_user_topics"]):
        made: list[tuple[str, int]] = []
        for t in tops:
            for _ in range(1 + int(rng.random() < 0.4)):
                made.append((make(int(t), user_items[u]), int(t)))
        if rng.random() < off_topic_rate:
            others = [t for t in range(T) if t not in tops]
            if others:
                t = int(rng.choice(others))
                made.append((make(t, np.zeros(0, dtype=np.int64)), t))
        if rng.random() < generic_rate:
            made.append((str(rng.choice(GENERIC)), -1))
        order = rng.permutation(len(made))[:max_phrases]
        made = [made[k] for k in sorted(order)]
        phrases = list(dict.fromkeys(p for p, _ in made))
        for p, t in made:
            c = clean_phrase(p)
            if c:
                votes[c][t] += 1
        raw = ", ".join(p[:1].upper() + p[1:] for p in phrases)
        rows.append({"user": u, "phrases": phrases, "raw": raw, "source": PLANTED_SOURCE})
    truth: dict[str, int] = {}
    for p, c in votes.items():
        top = c.most_common(2)
        if len(top) == 1 or top[0][1] > top[1][1]:
            truth[p] = int(top[0][0])
    return pd.DataFrame(rows, columns=["user", "phrases", "raw", "source"]), truth


def phrase_truth(ds: Any, long: pd.DataFrame, majority: float = 0.5) -> dict[str, int]:
    """Topic of each cleaned phrase of ``long`` (columns user, phrase) on the synthetic dataset.

    A phrase containing exactly one topic's cleaned name or sub-interest gets that topic; otherwise
    the planted topics of the users holding it vote (each user's vote split over their topics) and
    a topic with more than ``majority`` of the votes wins; otherwise the phrase is left out.
    """
    names = [clean_phrase(n) or "" for n in ds.meta["topic_names"]]
    subs = [[clean_phrase(s) or "" for s in ss] for ss in (ds.meta.get("topic_sub_interests") or [[] for _ in names])]
    keys = [(t, k) for t, n in enumerate(names) for k in [n, *subs[t]] if k]
    planted = ds.meta["planted_user_topics"]
    votes: dict[str, Counter] = defaultdict(Counter)
    for u, p in zip(long["user"], long["phrase"]):
        tops = planted[int(u)] if 0 <= int(u) < len(planted) else []
        for t in tops:
            votes[p][int(t)] += 1.0 / len(tops)
    out: dict[str, int] = {}
    for p in dict.fromkeys(long["phrase"]):
        padded = f" {p} "
        hit = {t for t, k in keys if f" {k} " in padded}
        if len(hit) == 1:
            out[p] = hit.pop()
            continue
        c = votes.get(p)
        if c:
            t, v = c.most_common(1)[0]
            if v > majority * sum(c.values()):
                out[p] = int(t)
    return out


def recovery_scores(clustering: Any, truth: dict[str, int]) -> dict[str, float]:
    """ARI and NMI between cluster and topic, over the phrases whose topic is known (>= 0).

    ``ari`` / ``nmi``: each distinct phrase counts once. ``ari_occ`` / ``nmi_occ``: each
    occurrence (a user holding the phrase) counts once: how well the users' phrases, hence the
    graph's edges, land in their topic's node.
    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    idx = np.array([i for i, p in enumerate(clustering.phrases) if truth.get(p, -1) >= 0], dtype=np.int64)
    if len(idx) < 2:
        raise ValueError(f"only {len(idx)} phrases have a known topic; cannot score the clustering")
    y = np.array([truth[clustering.phrases[i]] for i in idx])
    pred = np.asarray(clustering.assign)[idx]
    w = np.asarray(clustering.counts)[idx]
    y_occ, pred_occ = np.repeat(y, w), np.repeat(pred, w)
    return {
        "ari": float(adjusted_rand_score(y, pred)),
        "nmi": float(normalized_mutual_info_score(y, pred)),
        "ari_occ": float(adjusted_rand_score(y_occ, pred_occ)),
        "nmi_occ": float(normalized_mutual_info_score(y_occ, pred_occ)),
        "phrases_scored": int(len(idx)),
        "phrases": len(clustering.phrases),
        "occurrences_scored": int(w.sum()),
        "occurrences": int(np.sum(clustering.counts)),
    }
