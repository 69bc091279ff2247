"""Readable names for interest nodes that have no text: the authors' released graph.

The paper's released ``user_interest_clustered.txt`` holds cluster ids only; the gpt-3.5 answers
and cluster texts behind them were not released. A node is named afterwards from what its member
users share, and every view says so (a name made here is never presented as the LLM's words):

``phrases``  the most distinctive interest phrases among the node's members, from another set of
             answers (e.g. the local-LLM answers of ``cikgwb interests infer``), and its two most
             distinctive titles, e.g. ``phrases: crime fiction | titles: F Is for Fugitive; H Is
             for Homicide``
``titles``   else the most distinctive training items' titles of its members
             (``titles: Harry Potter and the Sorcerer's Stone; The Hobbit; ...``)
``none``     no phrase and no title is held by two members

"Most distinctive": a term (phrase or item) held by ``c`` of the node's ``n`` members (share
``s = c / n``) and by a share ``b`` of all users scores ``s * log(s / b)`` (its term of the KL
divergence between members and everyone: over-represented and common among members), among terms
held by at least ``min_members`` members (a node with fewer members takes any term). Ties go to the
lower term index. A phrase counts only where ``c`` is too many for chance: a one-sided binomial
test ``P(X >= c), X ~ Bin(n, b)`` at ``ALPHA`` (0.01), Bonferroni-corrected over all phrases. The
small model's phrases are generic ("fantasy; romance; mystery" for half the users), so without the
test a node of 10 readers of "Rich Dad, Poor Dad" was named "thriller; fantasy; mystery"; with it,
most nodes have no such phrase and are named by titles (two members sharing one book out of
thousands is rare enough without a test).

``cikgwb interests name --dataset DS --answers ANSWERS.jsonl`` names the dataset's released graph
and writes ``reports/interests/<DS>/released-names/`` (``interest_labels.tsv`` keyed by the file's
interest ids, and ``provenance.json`` with the sha256 of the graph file it names);
:func:`cikgwb.knowledge.interest_graph.load_interest_graph` reads it beside the released graph
when the sha256 matches, so the graph CLI, the explorer and Figure 4 show the names with a note
saying how they were made.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..data.download import sha256_file
from ..data.interest_files import NAMES_DIR, released_names_dir  # their home: the data layer reads them
from .interest_graph import EDGES_FILE, LABELS_FILE, PROVENANCE_FILE, _read_edges, answers_source, read_answers
from .phrases import answers_to_phrases

METHODS = ("phrases", "titles", "none")
N_TERMS = 3
ALPHA = 0.01
#: the rule, as provenance records it
RULE = (
    "phrases: those held by >= {min_members} members, over-represented beyond chance (one-sided binomial test "
    "against the share of all users, alpha {alpha} Bonferroni-corrected over all phrases), best {terms} by "
    "s*log(s/b) (s: share of members, b: share of all users), with the node's 2 best titles; else titles: the "
    "best {terms} training items held by >= {min_members} members by the same score"
)


def membership(ui: np.ndarray, n_interests: int, n_users: int) -> sp.csr_matrix:
    """Binary ``(n_interests, n_users)`` matrix: interest ``j`` holds user ``u``."""
    ui = np.asarray(ui, dtype=np.int64).reshape(-1, 2)
    m = sp.csr_matrix((np.ones(len(ui)), (ui[:, 1], ui[:, 0])), shape=(n_interests, n_users))
    m.data[:] = 1.0  # duplicate edges count once
    return m


def distinctive(
    members: sp.csr_matrix,
    holders: sp.csr_matrix,
    n_users: int,
    top: int = 50,
    min_members: int = 2,
    alpha: float | None = ALPHA,
) -> list[list[tuple[int, float, int]]]:
    """Per row of ``members`` (interest x users, binary), its most distinctive columns of
    ``holders`` (users x terms, binary): ``(term, score, members holding it)``, best first, at most
    ``top`` (module docstring: score ``s * log(s / b)``; over-represented at Bonferroni level
    ``alpha`` over the terms, unless ``alpha`` is None; held by ``min_members`` members where the node has that many)."""
    from scipy.stats import binom

    holders = holders.tocsc().astype(np.float64)
    holders.data[:] = 1.0
    base = np.asarray(holders.sum(axis=0)).ravel() / max(n_users, 1)
    counts = (members.astype(np.float64) @ holders).tocsr()  # (interests, terms): members holding each
    sizes = np.asarray(members.sum(axis=1)).ravel()
    out: list[list[tuple[int, float, int]]] = []
    for j in range(members.shape[0]):
        row = counts.getrow(j)
        terms, c = row.indices, row.data
        n = sizes[j]
        if n == 0 or not len(terms):
            out.append([])
            continue
        share = c / n
        score = share * np.log(share / base[terms])
        keep = score > 0
        if alpha is not None:
            keep &= binom.sf(c - 1, n, base[terms]) <= alpha / holders.shape[1]
        if n >= min_members:
            keep &= c >= min_members
        terms, score, c = terms[keep], score[keep], c[keep]
        order = np.lexsort((terms, -score))[:top]
        out.append([(int(terms[i]), float(score[i]), int(c[i])) for i in order])
    return out


#: a two-byte UTF-8 letter whose lead byte became U+FFFD (then itself read as Latin-1) and whose
#: second byte was re-encoded: ``Hï¿½?Â¤upter`` for ``Häupter`` (6 Book-Crossing titles upstream)
_LOST_LEAD = re.compile("\u00ef\u00bf\u00bd\\?\u00c2([\u0080-\u00bf])")
_LATIN1_UTF8 = re.compile("[\u00c2\u00c3][\u0080-\u00bf]")


def readable(t: str) -> str:
    """A title as its author wrote it, where the upstream file mangled its encoding (for display
    only: prompts, answer keys and stored artefacts keep the file's text). UTF-8 read as Latin-1
    (``NaÃ¯ve`` -> ``Naïve``) is decoded back; a letter whose lead byte was lost
    (``Hï¿½?Â¤upter``) is restored as U+00C0-U+00FF (lead byte 0xC3: every such case in
    Book-Crossing is a German umlaut). Text without these patterns is returned unchanged."""
    s = _LOST_LEAD.sub(lambda m: bytes([0xC3, ord(m.group(1))]).decode("utf-8"), t)
    if _LATIN1_UTF8.search(s):
        try:
            s = s.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass  # not (only) UTF-8 read as Latin-1: keep it
    return s


def short_title(t: str | None, width: int = 40) -> str:
    """A title cut at its subtitle or series note (``Title: Sub``, ``Title (Series)``)."""
    if not t:
        return ""
    s = readable(str(t)).strip()
    for sep in (" (", ": ", " - "):
        cut = s.find(sep)
        if cut >= 8:
            s = s[:cut].rstrip()
    return s if len(s) <= width else s[: width - 1].rstrip() + "\u2026"


def _who(n: int) -> str:
    return f"{n} user{'s' if n != 1 else ''}"


def title_names(
    members: sp.csr_matrix,
    train_indptr: np.ndarray,
    train_items: np.ndarray,
    titles: list[str | None],
    n_titles: int = N_TERMS,
    min_members: int = 2,
) -> list[list[str]]:
    """Per interest, up to ``n_titles`` distinct short titles of its members' most distinctive
    training items."""
    n_users = len(train_indptr) - 1
    rows = np.repeat(np.arange(n_users), np.diff(train_indptr))
    holders = sp.csr_matrix((np.ones(len(train_items)), (rows, train_items)), shape=(n_users, len(titles)))
    picked_all: list[list[str]] = []
    for cands in distinctive(members, holders, n_users, top=8 * n_titles, min_members=min_members, alpha=None):
        picked: list[str] = []
        for i, _, _ in cands:
            t = short_title(titles[i])
            if t and t.lower() not in {p.lower() for p in picked}:
                picked.append(t)
            if len(picked) >= n_titles:
                break
        picked_all.append(picked)
    return picked_all


def title_label(picked: list[str], n_members: int) -> str:
    """The label of method ``titles`` (or the note that no title is shared)."""
    if n_members == 0:
        return "(no members: no title label)"
    if not picked:
        return f"(no title shared by 2 of its {_who(n_members)}; no LLM text)"
    return f"titles: {'; '.join(picked)} (item titles of its {_who(n_members)}; no LLM text)"


def phrase_names(
    members: sp.csr_matrix, phrases: pd.DataFrame, n_users: int, n_phrases: int = N_TERMS, min_members: int = 2
) -> list[list[tuple[str, int]]]:
    """Per interest, up to ``n_phrases`` ``(phrase, members naming it)`` of its members' most
    distinctive phrases; ``phrases`` is the long table of
    :func:`cikgwb.knowledge.phrases.answers_to_phrases` (``user``, ``phrase``)."""
    ph = phrases[(phrases["user"] >= 0) & (phrases["user"] < n_users)]
    vocab, col = np.unique(ph["phrase"].astype(str).to_numpy(), return_inverse=True)
    holders = sp.csr_matrix((np.ones(len(ph)), (ph["user"].to_numpy(np.int64), col)), shape=(n_users, len(vocab)))
    return [
        [(str(vocab[t]), c) for t, _, c in cands]
        for cands in distinctive(members, holders, n_users, top=n_phrases, min_members=min_members)
    ]


def name_interests(
    ui: np.ndarray,
    n_interests: int,
    n_users: int,
    *,
    train_indptr: np.ndarray,
    train_items: np.ndarray,
    titles: list[str | None],
    phrases: pd.DataFrame | None = None,
    n_terms: int = N_TERMS,
    min_members: int = 2,
) -> pd.DataFrame:
    """A name per interest ``0..n_interests-1`` (module docstring): columns ``interest_id``,
    ``label``, ``method`` (``phrases`` | ``titles`` | ``none``), ``size`` (members),
    ``top_phrases`` (phrase (members naming it); ...), ``top_titles``."""
    members = membership(ui, n_interests, n_users)
    sizes = np.asarray(members.sum(axis=1)).ravel().astype(np.int64)
    by_title = title_names(members, train_indptr, train_items, titles, n_terms, min_members)
    by_phrase = (
        phrase_names(members, phrases, n_users, n_terms, min_members)
        if phrases is not None
        else [[] for _ in range(n_interests)]
    )
    labels, methods = [], []
    for j in range(n_interests):
        if by_phrase[j]:
            titled = f" | titles: {'; '.join(by_title[j][:2])}" if by_title[j] else ""
            labels.append(f"phrases: {'; '.join(p for p, _ in by_phrase[j])}{titled}")
            methods.append("phrases")
        else:
            labels.append(title_label(by_title[j], int(sizes[j])))
            methods.append("titles" if by_title[j] else "none")
    return pd.DataFrame(
        {
            "interest_id": np.arange(n_interests, dtype=np.int64),
            "label": labels,
            "method": methods,
            "size": sizes,
            "top_phrases": ["; ".join(f"{p} ({c})" for p, c in ps) for ps in by_phrase],
            "top_titles": ["; ".join(ts) for ts in by_title],
        }
    )


def label_note(methods: list[str], source: str, named_from: str | None = None) -> str:
    """One line saying how a graph's interest labels were made (``methods``: one per interest,
    ``text`` for the graph's own labels)."""
    n = {m: methods.count(m) for m in ("text", "phrases", "titles", "none")}
    parts = []
    if n["text"]:
        parts.append(f"{n['text']} text labels of the interest graph ({source})")
    if n["phrases"]:
        parts.append(
            f"{n['phrases']} named afterwards by the phrases over-represented among each node's members in "
            f"{named_from or 'another set of answers'}, beside their most distinctive titles (not the words of "
            "the LLM that made the graph)"
        )
    if n["titles"] or n["none"]:
        parts.append(
            f"{n['titles'] + n['none']} labels made from the most distinctive item titles of each interest's "
            "members (the graph has no text: no LLM words)"
        )
    return "; ".join(parts) if parts else "no interests"


def derived(method: str | None) -> bool:
    """Whether a label was made here (``phrases``, ``titles``, ``none``) rather than carried by the graph."""
    return method in METHODS


def answers_note(answers_provenance: dict[str, Any] | None, path: str) -> str:
    """``<path> (<sources>)``: where the naming phrases came from, for notes."""
    src = ", ".join((answers_provenance or {}).get("sources", {}) or []) or "unknown source"
    return f"{path} ({src})"


# ----------------------------------------------------------------------------- the released graph
def _naming_phrases(path: Path | None) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    """The phrases of the answers file at ``path`` and its provenance (``None``, ``{}`` without one)."""
    if path is None:
        return None, {}
    answers = read_answers(path)
    phrases = answers_to_phrases(answers)
    src = answers_source(answers)
    return phrases, {
        "path": str(path),
        "sha256": sha256_file(path),
        "rows": int(len(answers)),
        "users_with_phrases": int(phrases["user"].nunique()),
        **src,
        "templates": sorted({t for t in answers.get("template", []) if isinstance(t, str) and t}),
        "note": answers_note(src, str(path)),
    }


def _keep_leak_records(prov_file: Path, prov: dict[str, Any]) -> None:
    """Carry ``cikgwb graph leak --record``'s figures of this very graph file over into ``prov``,
    and the hand-checked ``window`` block (what the graph was built from), which no rerun can rebuild."""
    if prov_file.is_file():
        before = json.loads(prov_file.read_text(encoding="utf-8"))
        old = before.get("leak") or {}
        kept = {p: e for p, e in old.items() if e.get("graph_sha256") == prov["graph"]["sha256"]}
        prov.update({"leak": kept} if kept else {})
        if "window" in before and "window" not in prov:
            prov["window"] = before["window"]


def name_released_graph(
    ds: Any,
    edges_file: Path,
    out: Path,
    answers: Path | None = None,
    *,
    terms: int = N_TERMS,
    min_members: int = 2,
    command: str | None = None,
    started: float | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Name the nodes of ``ds``'s released graph ``edges_file`` (module docstring) from the phrases
    of the answers file ``answers`` (else titles only); write ``LABELS_FILE`` (the file's ids) and
    ``PROVENANCE_FILE`` into ``out``. Returns the names and the provenance; ``started``: the
    ``time.perf_counter()`` the recorded wall time counts from (default: now)."""
    started = time.perf_counter() if started is None else started
    raw = _read_edges(edges_file)
    ids, inv = np.unique(raw[:, 1], return_inverse=True)
    phrases, answers_info = _naming_phrases(answers)
    m = ds.matrix("train_full").tocsr()
    names = name_interests(
        np.column_stack([raw[:, 0], inv]),
        len(ids),
        ds.n_users,
        train_indptr=m.indptr,
        train_items=m.indices,
        titles=ds.titles,
        phrases=phrases,
        n_terms=terms,
        min_members=min_members,
    )
    names["interest_id"] = ids  # the file's ids, as the released graph numbers them
    out.mkdir(parents=True, exist_ok=True)
    names.to_csv(out / LABELS_FILE, sep="\t", index=False)
    prov = {
        "note": f"paper (released interest graph of {ds.name}); names made afterwards by cikgwb interests name",
        "graph": {
            "dataset": ds.name,
            "file": f"{ds.name}/{EDGES_FILE}",
            "sha256": sha256_file(edges_file),
            "interests": int(len(ids)),
        },
        "answers": answers_info or None,
        "rule": RULE.format(alpha=ALPHA, min_members=min_members, terms=terms),
        "methods": {k: int(v) for k, v in names["method"].value_counts().to_dict().items()},
        "command": command,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_s": round(time.perf_counter() - started, 2),
    }
    _keep_leak_records(out / PROVENANCE_FILE, prov)
    (out / PROVENANCE_FILE).write_text(json.dumps(prov, indent=2) + "\n", encoding="utf-8")
    return names, prov


__all__ = [
    "METHODS",
    "NAMES_DIR",
    "derived",
    "distinctive",
    "label_note",
    "membership",
    "name_interests",
    "name_released_graph",
    "phrase_names",
    "released_names_dir",
    "short_title",
    "title_label",
    "title_names",
]
