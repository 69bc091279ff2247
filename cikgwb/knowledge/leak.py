"""Leak diagnostic and graph screen: what an interest graph is worth, measured without training.

**Interest-neighbour ranking.** With ``U`` the binary users x interests matrix of the graph,
``n_j`` the number of members of interest ``j`` and ``R`` the protocol's training matrix (users x
items), user ``u``'s score of item ``i`` is

    s(u, i) = sum_{v != u} sum_{j in I(u) & I(v)} R[v, i] / n_j      i.e. (U N^-1 U^T - diag) R

what the users who share an interest node with ``u`` trained on, each shared node weighted by one
over its size (a node every fifth user holds says less about ``u`` than a small one). The ranking
is evaluated by :func:`cikgwb.evaluate.evaluate` with the split's own mask, so its ties and
Recall@50 are the project's. A user without interests scores every item 0.

**Leak ratio.** ``ratio = R@50(selection split) / R@50(reference split)``, both from the same
ranking: under ``valid`` the selection split is the validation carve-out and the reference is
test; under ``users`` the selection half's test items against the report half's. How much easier
one split is than the other by itself is read from a **clean control**: the same neighbour
ranking on a graph that cannot have seen the selection split, the one whose interest nodes are
the items of the training window (node ``i``'s members: the users who trained on ``i``; an
item-based neighbourhood). ``lift = ratio / control_ratio``; popularity's ratio is printed
beside it. A graph whose nodes were made from the selection items groups a user with those who
trained on the user's selection items, which lifts the selection split only: **leak** when
``lift > LEAK_LIFT`` (1.2), else **clean**.

Why 1.2, and why the clean control rather than popularity (Recall@50 ratios under ``valid``,
split seed 0, ``cikgwb graph leak --dataset D``): on book-crossing the clean control gives 0.95
and popularity 0.96; the graphs the workbench built from the train window (kg-summary and local
SmolLM2 phrases, the released graph rewired) give 0.94-1.02 (lift 0.98-1.07); the released
graph, built by the authors from all of train.txt, 1.56 (lift 1.63); kg-summary phrases
clustered from all of train.txt 2.36 (lift 2.47) and co-occurrence clusters of all of train.txt
2.89 (lift 3.03). On dbbook2014 the control gives 1.02, popularity 1.01, the released graph 1.00
(lift 0.98), train-window graphs lifts 0.95-0.97, the two built from all of train.txt 1.41 and
1.58. On the synthetic data popularity gives 0.74 but the neighbour rankings of clean graphs
0.88-0.90 (the planted topics, the control): divided by popularity's ratio they would read 1.2,
at the threshold, while the control puts them at 1.00-1.02 and a planted leak at 1.6. So clean
graphs lie at 0.95-1.07 and every leak measured at 1.41 or more; 1.2 sits between them. Under
``users`` every split a graph built from train.txt could have seen is training data of both
halves, so such a graph should give a lift near 1. By the same token ``users`` cannot show a graph
that saw ``test.txt``: it would lift both halves alike. That is read from how the graph was built
(its provenance's ``window``) and, where the graph is specific enough, from ``valid``, whose
reference split is test: a graph built from all of train.txt that also saw test would lift both
splits there too, so a lift well above 1 under ``valid`` (the validation items lifted, test not)
is what shows that test was not in its window.

**Screen.** :func:`screen` adds the graph's specificity (users per interest, the share of edges
on the ten most common interests, the entropy of the edges over interests and, where the
graph's folder has ``phrase_clusters.tsv``, of the phrases) and the neighbour Recall@50 on the
selection split; :func:`screen_table` sets them against each graph's trained gain over no
graph (from the run index) with their Spearman rank correlation.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from ..evaluate import ScoreFn, evaluate, most_popular_scores, split_masks

LEAK_LIFT = 1.2
"""A graph is flagged when its leak ratio exceeds the clean control's by more than this factor."""
TOP_K = 50
LEAK_KEY = "leak"  # the provenance key holding the recorded diagnostics, one entry per protocol


# ----------------------------------------------------------------------------- the ranking
def interest_matrix(user_interest: np.ndarray, n_users: int, n_interests: int) -> sp.csr_matrix:
    """Binary users x interests matrix of ``(user, interest)`` rows (duplicates merge)."""
    e = np.asarray(user_interest, dtype=np.int64).reshape(-1, 2)
    m = sp.csr_matrix((np.ones(len(e), np.float32), (e[:, 0], e[:, 1])), shape=(n_users, max(n_interests, 1)))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def neighbour_scores(U: sp.csr_matrix, train: sp.csr_matrix) -> ScoreFn:
    """``score_fn`` of the interest-neighbour ranking ``(U N^-1 U^T - diag) R`` (module docstring)."""
    U = sp.csr_matrix(U, dtype=np.float32)
    size = np.asarray(U.sum(axis=0)).ravel()
    Uw = (U @ sp.diags(1.0 / np.maximum(size, 1.0))).tocsr().astype(np.float32)  # U N^-1
    Ut = U.T.tocsr()
    R = sp.csr_matrix(train, dtype=np.float32)
    own = np.asarray(Uw.sum(axis=1)).ravel()  # u's own term of (U N^-1 U^T) R is own(u) * R[u]

    def score_fn(user_ids: torch.Tensor) -> torch.Tensor:
        b = np.array(user_ids.detach().cpu().numpy(), dtype=np.int64)
        s = (Uw[b] @ Ut) @ R - sp.diags(own[b]) @ R[b]
        return torch.from_numpy(s.toarray().astype(np.float32, copy=False))

    return score_fn


# ----------------------------------------------------------------------------- the diagnostic
@dataclass(frozen=True)
class Controls:
    """Recall@``k`` on (selection, reference) of the two rankings every graph of one dataset and
    protocol is compared with: the clean control (the neighbour ranking whose interest nodes are
    the training window's items) and popularity. :func:`controls` computes them once."""

    control_sel: float
    control_ref: float
    pop_sel: float
    pop_ref: float


def _recall(score_fn: ScoreFn, ds: Any, split: str, k: int) -> tuple[float, int]:
    heldout, exclude = split_masks(ds, split)
    res = evaluate(score_fn, heldout, exclude, ks=(k,), batch_size=512, device="cpu")
    return float(res.metrics[f"recall@{k}"]), int(res.n_users_evaluated)


def controls(ds: Any, train: str, selection: str, reference: str, k: int = TOP_K) -> Controls:
    """:class:`Controls` of ``ds`` (its interest graph plays no part)."""
    R = ds.matrix(train).tocsr()
    ctrl, pop = neighbour_scores(R > 0, R), most_popular_scores(R)
    return Controls(*(_recall(f, ds, split, k)[0] for f in (ctrl, pop) for split in (selection, reference)))


@dataclass
class LeakResult:
    """What :func:`leak_diagnostic` measured: Recall@``k`` of the graph's neighbour ranking and
    of the :class:`Controls` on the selection and reference splits."""

    protocol: str
    train: str
    selection: str
    reference: str
    graph_sel: float
    graph_ref: float
    control_sel: float
    control_ref: float
    pop_sel: float
    pop_ref: float
    users_sel: int
    users_ref: int
    interest_edges: int
    k: int = TOP_K
    threshold: float = LEAK_LIFT

    @property
    def ratio(self) -> float:
        return _div(self.graph_sel, self.graph_ref)

    @property
    def control_ratio(self) -> float:
        return _div(self.control_sel, self.control_ref)

    @property
    def pop_ratio(self) -> float:
        return _div(self.pop_sel, self.pop_ref)

    @property
    def lift(self) -> float:
        return _div(self.ratio, self.control_ratio)

    @property
    def verdict(self) -> str:
        """``leak`` / ``clean``; ``no graph`` without interest edges, ``undecided`` when a ranking
        hits nothing on the reference split (no ratio)."""
        if self.interest_edges == 0:
            return "no graph"
        if not math.isfinite(self.lift):
            return "undecided"
        return "leak" if self.lift > self.threshold else "clean"

    def line(self, name: str = "") -> str:
        """One line: the ratio, the controls' ratios, the lift and the verdict."""
        head, k = f"{name}: " if name else "", self.k
        return (
            f"{head}leak ratio {self.ratio:.2f} (interest-neighbour R@{k} {self.selection} {self.graph_sel:.4f} / "
            f"{self.reference} {self.graph_ref:.4f}); clean control {self.control_ratio:.2f}, popularity "
            f"{self.pop_ratio:.2f}; lift {self.lift:.2f} -> {self.verdict.upper()} (leak above {self.threshold}; "
            f"protocol {self.protocol})"
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(ratio=self.ratio, control_ratio=self.control_ratio, pop_ratio=self.pop_ratio, lift=self.lift)
        d["verdict"] = self.verdict
        return {k: (_r(v) if isinstance(v, float) else v) for k, v in d.items()}


def _div(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


def _r(x: float) -> float | None:
    return round(float(x), 4) if math.isfinite(x) else None


def leak_diagnostic(
    ds: Any,
    *,
    protocol: str,
    train: str,
    selection: str,
    reference: str,
    k: int = TOP_K,
    ctl: Controls | None = None,
) -> LeakResult:
    """The leak ratio of ``ds``'s interest graph (module docstring). ``train``, ``selection``
    and ``reference``: split names of :func:`cikgwb.evaluate.split_masks` (the caller maps its
    protocol to them: ``cikgwb.runs.protocol_splits``). ``ctl``: :func:`controls` of the same
    dataset, splits and ``k``, when already computed."""
    if selection == reference:
        raise ValueError(
            f"protocol {protocol}: selection and reference are both {selection!r}; the leak diagnostic "
            "compares the split a run selects on with another (protocols valid or users)"
        )
    U = interest_matrix(ds.user_interest, ds.n_users, ds.n_interests)
    nb = neighbour_scores(U, ds.matrix(train).tocsr())
    g_sel, n_sel = _recall(nb, ds, selection, k)
    g_ref, n_ref = _recall(nb, ds, reference, k)
    c = ctl if ctl is not None else controls(ds, train, selection, reference, k)
    return LeakResult(
        protocol, train, selection, reference, g_sel, g_ref, c.control_sel, c.control_ref, c.pop_sel, c.pop_ref,
        n_sel, n_ref, int(len(ds.user_interest)), k,
    )  # fmt: skip


# ----------------------------------------------------------------------------- specificity
def _entropy(counts: np.ndarray) -> float:
    p = np.asarray(counts, dtype=np.float64)
    p = p[p > 0] / p.sum() if p.sum() > 0 else p[:0]
    return float(-(p * np.log2(p)).sum()) if len(p) else math.nan


def phrase_entropy(graph_dir: Path | None) -> float:
    """Entropy (bits) of the phrases' occurrences in ``phrase_clusters.tsv`` beside the graph
    (written by ``cikgwb interests cluster``); NaN for a graph without phrases (the released one)."""
    f = Path(graph_dir) / "phrase_clusters.tsv" if graph_dir is not None else None
    if f is None or not f.is_file():
        return math.nan
    ph = pd.read_csv(f, sep="\t", keep_default_na=False, usecols=["occurrences"])
    return _entropy(ph["occurrences"].to_numpy())


def specificity(user_interest: np.ndarray, n_users: int, n_interests: int) -> dict[str, float]:
    """Users per interest (mean, median), share of the edges on the ten most common interests,
    entropy of the edges over interests (bits, and over its maximum log2 J), users covered."""
    e = np.asarray(user_interest, dtype=np.int64).reshape(-1, 2)
    size = np.bincount(e[:, 1], minlength=n_interests) if len(e) else np.zeros(0, np.int64)
    size = size[size > 0]
    if not len(size):
        return {"interests": 0, "edges": 0, "users_covered": 0.0}
    h = _entropy(size)
    return {
        "interests": int(len(size)),
        "edges": int(len(e)),
        "users_covered": float(len(np.unique(e[:, 0])) / n_users),
        "users_per_interest": float(size.mean()),
        "median_users_per_interest": float(np.median(size)),
        "top10_share": float(np.sort(size)[::-1][:10].sum() / size.sum()),
        "interest_entropy": h,
        "interest_entropy_norm": h / math.log2(len(size)) if len(size) > 1 else math.nan,
    }


def screen(ds: Any, leak: LeakResult, graph_dir: Path | None = None) -> dict[str, Any]:
    """The screen's figures of ``ds``'s interest graph, given its :func:`leak_diagnostic` (the
    controls' figures are the dataset's, the same for every graph: :class:`LeakResult`)."""
    return {
        **specificity(ds.user_interest, ds.n_users, ds.n_interests),
        "phrase_entropy": phrase_entropy(graph_dir),
        "leak_ratio": leak.ratio,
        "lift": leak.lift,
        "verdict": leak.verdict,
        f"neighbour_R@{leak.k}_{leak.selection}": leak.graph_sel,
    }


# ----------------------------------------------------------------------------- provenance
def record_leak(prov_file: Path, result: LeakResult, graph_sha256: str, split_seed: int, command: str) -> None:
    """Write ``result`` into a graph's ``provenance.json`` under ``leak.<protocol>`` (other keys
    and protocols kept), with the sha256 of the edge file it was measured on."""
    from ..atomic import atomic_write_text

    prov = json.loads(prov_file.read_text(encoding="utf-8")) if prov_file.is_file() else {}
    entry = {**result.to_dict(), "graph_sha256": graph_sha256, "split_seed": int(split_seed), "command": command}
    entry["measured_at"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    prov.setdefault(LEAK_KEY, {})[result.protocol] = entry
    atomic_write_text(prov_file, json.dumps(prov, indent=2) + "\n")


# ----------------------------------------------------------------------------- the table
def screen_table(rows: list[dict[str, Any]], gains: dict[str, dict[str, Any]]) -> tuple[pd.DataFrame, dict]:
    """The screen's rows (each with ``graph`` and ``key``) joined with :func:`run_gains`;
    ``gain`` is NaN ("not trained yet") where no run exists. Also the Spearman correlation of
    each screen figure with the gain over the graphs that have both (NaN below three graphs or
    where either is constant)."""
    from scipy.stats import spearmanr

    df = pd.DataFrame(rows)
    for col in ("trained", "seeds", "gain"):
        df[col] = [gains.get(k, {}).get(col, math.nan) for k in df["key"]]
    known = df[np.isfinite(df["gain"].astype(float))]
    rho = {}
    for c in df.columns.drop(["graph", "key", "verdict", "trained", "seeds", "gain"], errors="ignore"):
        x = known[c].astype(float)
        ok = np.isfinite(x.to_numpy())
        varies = ok.sum() >= 3 and x[ok].nunique() > 1 and known["gain"][ok].nunique() > 1
        rho[c] = float(spearmanr(x[ok], known["gain"][ok]).statistic) if varies else math.nan
    return df, rho
