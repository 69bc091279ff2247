"""The user-interest graph: answers -> phrases -> clusters -> filtered edges -> files -> Dataset.

``build_interest_graph`` (docs/method.md section 2, step 3): clean each user's phrases, cluster the
phrases into kappa interest nodes, add edge (u, j) if any of u's phrases falls in cluster j, then
drop too generic / single-user interests (:mod:`.filters`) and number the rest 0..J-1 (largest
first). ``InterestGraph.save(out)`` writes

``user_interest_clustered.txt``  ``user_id interest_id`` lines, the format of the paper's file
                                 (ids + ``id_offset``; the paper numbered them after the entities)
``interest_labels.tsv``          interest_id, label, size (users), phrases, top_phrases, keywords,
                                 cluster (id before filtering)
``phrase_clusters.tsv``          every distinct phrase: occurrences, cluster, interest_id (-1 if
                                 its cluster was filtered out)
``provenance.json``              answers source (with any "NOT an LLM" marking carried over),
                                 encoder, clusterer, kappa, seed, filters and what they removed,
                                 counts and timings

``load_interest_graph`` reads such a folder (or any ``user interest`` file, or a dataset name for
the paper's released graph) and ``apply_interest_graph`` puts it into a copy of a
:class:`~cikgwb.data.Dataset`; what ``--interests paper | none | PATH`` means is decided in one
place, :class:`cikgwb.data.interest_files.InterestSource` (:func:`cikgwb.run_spec.dataset_with_interests`
for a dataset to inspect, :func:`cikgwb.run_spec.prepare_run` for a run).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.download import sha256_file
from ..data.interest_files import (  # noqa: F401  (the graph files' names: their home is the data layer)
    EDGES_FILE,
    LABELS_FILE,
    PROVENANCE_FILE,
    InterestFiles,
    released_names,
)
from ..data.loader import read_triples
from ..data.registry import UnknownDatasetError, dataset_dir
from .cluster import Clustering, cluster_phrases
from .filters import FilterReport, filter_interests
from .phrases import answers_to_phrases, validate_answers

PHRASES_FILE = "phrase_clusters.tsv"
NOT_LLM = re.compile(r"\bnot\s+(?:from\s+)?an?\s+llm\b", re.IGNORECASE)


# ------------------------------------------------------------------------------- answers I/O
def read_answers(path: str | Path) -> pd.DataFrame:
    """Answers table from an ``answers.jsonl`` file (``cikgwb.knowledge.infer.load_answers``:
    a bad line raises ``ValueError`` naming the file and line), checked against the contract."""
    from .infer import load_answers

    return validate_answers(load_answers(path), what=str(path))


def answers_source(answers: pd.DataFrame) -> dict[str, Any]:
    """Where the answers come from: counts per ``source`` and whether any is marked "NOT an LLM"."""
    sources = Counter(str(s) for s in answers["source"]) if "source" in answers else Counter()
    not_llm = sorted(s for s in sources if NOT_LLM.search(s))
    return {"sources": dict(sources.most_common()), "not_llm": bool(not_llm), "not_llm_sources": not_llm}


# ------------------------------------------------------------------------------- the graph
@dataclass
class InterestGraph:
    """A filtered user-interest graph with labels and provenance."""

    edges: np.ndarray  # (k, 2) (user, interest) with interest ids 0..n_interests-1
    n_interests: int
    labels: pd.DataFrame  # one row per interest (see LABELS_FILE)
    phrases: pd.DataFrame  # one row per distinct phrase (see PHRASES_FILE)
    provenance: dict[str, Any]
    filters: FilterReport | None = None
    clustering: Clustering | None = field(default=None, repr=False)

    @property
    def source(self) -> str:
        return str(self.provenance.get("interests_source", "built interest graph"))

    def save(self, out_dir: str | Path, id_offset: int = 0) -> dict[str, Path]:
        """Write the four files (module docstring) into ``out_dir``; interest ids + ``id_offset``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = (EDGES_FILE, LABELS_FILE, PHRASES_FILE, PROVENANCE_FILE)
        paths = {k: out / v for k, v in zip(("edges", "labels", "phrases", "provenance"), files)}
        e = self.edges[np.lexsort((self.edges[:, 1], self.edges[:, 0]))]
        paths["edges"].write_text("".join(f"{u} {j + id_offset}\n" for u, j in e), encoding="utf-8")
        lab = self.labels.copy()
        lab["interest_id"] = lab["interest_id"] + id_offset
        lab.to_csv(paths["labels"], sep="\t", index=False)
        ph = self.phrases.copy()
        ph["interest_id"] = np.where(ph["interest_id"] >= 0, ph["interest_id"] + id_offset, -1)
        ph.to_csv(paths["phrases"], sep="\t", index=False)
        prov = {**self.provenance, "id_offset": int(id_offset), "files": {k: p.name for k, p in paths.items()}}
        paths["provenance"].write_text(json.dumps(prov, indent=2, default=_json_default) + "\n", encoding="utf-8")
        return paths


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def check_users(users: np.ndarray, n_users: int, policy: str = "error", what: str = "answers") -> np.ndarray:
    """Mask of user ids inside ``0..n_users-1``; ``policy="error"`` raises on any outside."""
    if policy not in ("error", "drop"):
        raise ValueError(f"unknown_users={policy!r}: expected 'error' or 'drop'")
    users = np.asarray(users, dtype=np.int64)
    ok = (users >= 0) & (users < n_users)
    if policy == "error" and not ok.all():
        bad = np.unique(users[~ok])
        raise ValueError(
            f"{what}: {len(bad)} user id(s) absent from the dataset, e.g. "
            f"{bad[:5].tolist()}; expected ids 0..{n_users - 1} ({n_users} users). Were the "
            "answers made for another dataset? (unknown_users='drop' / "
            "--drop-unknown-users skips them)"
        )
    return ok


def _known_users(
    answers: pd.DataFrame, n_users: int | None, policy: str, what: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The answers of users inside the dataset (:func:`check_users` with ``policy``) and what was dropped."""
    unknown = {"policy": policy, "dropped_users": 0, "examples": []}
    if n_users is None:
        return answers, unknown
    ok = check_users(answers["user"].to_numpy(), n_users, policy, what=what)
    if not ok.all():
        bad = np.unique(answers["user"].to_numpy()[~ok])
        unknown.update(dropped_users=int(len(bad)), examples=bad[:5].tolist())
        answers = answers[ok].reset_index(drop=True)
    return answers, unknown


def _label_table(cl: Clustering, kept: np.ndarray, users_per_cluster: np.ndarray) -> pd.DataFrame:
    """One row per kept cluster ``kept`` (its interest id is its position): LABELS_FILE's columns."""
    return pd.DataFrame(
        {
            "interest_id": np.arange(len(kept), dtype=np.int64),
            "label": [cl.labels[c] for c in kept],
            "size": [int(users_per_cluster[c]) for c in kept],
            "phrases": [int((cl.assign == c).sum()) for c in kept],
            "top_phrases": ["; ".join(p for p, _ in cl.members(int(c))[:5]) for c in kept],
            "keywords": [", ".join(w for w, _ in cl.keywords[c][:8]) for c in kept],
            "cluster": kept.astype(np.int64),
        }
    )


def _answers_record(answers: pd.DataFrame, answers_path: Any, src: dict[str, Any]) -> dict[str, Any]:
    """Where the answers come from (provenance's ``answers``)."""
    path = Path(answers_path) if answers_path else None
    return {
        "path": str(answers_path) if answers_path else None,
        "sha256": sha256_file(path) if path is not None and path.is_file() else None,
        "rows": int(len(answers)),
        "users": int(answers["user"].nunique()),
        **src,
    }


def _phrase_counts(answers: pd.DataFrame, long: pd.DataFrame, cl: Clustering) -> dict[str, int]:
    """How many phrases the answers gave (provenance's ``phrases``)."""
    return {
        "occurrences": int(len(long)),
        "distinct": len(cl.phrases),
        "users_with_phrases": int(long["user"].nunique()),
        "answers_without_usable_phrases": int(answers["user"].nunique() - long["user"].nunique()),
    }


def _clustering_record(
    cl: Clustering, clusterer: str, kappa: int | None, seed: int, rep: FilterReport, users_per_cluster: np.ndarray
) -> dict[str, Any]:
    """How the phrases were clustered and what the filters removed (provenance)."""

    def named(ids: list[int]) -> list[dict[str, Any]]:
        return [{"cluster": c, "label": cl.labels[c], "users": int(users_per_cluster[c])} for c in ids]

    return {
        "encoder": cl.info.get("encoder", {}),
        "clusterer": clusterer,
        "kappa": kappa,
        "seed": seed,
        "clustering": {k: v for k, v in cl.info.items() if k != "encoder"},
        "filters": {**rep.to_dict(), "too_generic": named(rep.too_generic), "single_user": named(rep.single_user)},
    }


def build_interest_graph(
    answers: pd.DataFrame,
    *,
    dataset: Any = None,
    n_users: int | None = None,
    encoder: Any = "tfidf",
    clusterer: str = "kmeans",
    kappa: int | None = 350,
    seed: int = 0,
    max_share: float = 0.2,
    min_users: int = 2,
    unknown_users: str = "error",
    answers_path: str | Path | None = None,
    **cluster_kw: Any,
) -> InterestGraph:
    """Answers -> filtered, labelled user-interest graph (module docstring).

    ``dataset`` (a Dataset) or ``n_users`` gives the user id range and the filters' 1/5 basis;
    without either, the users with answers are the basis. ``cluster_kw`` go to
    :func:`~cikgwb.knowledge.cluster.cluster_phrases` (``representation``, ``n_init``, ...).
    """
    what = str(answers_path or "answers")
    answers = validate_answers(answers, what=what)
    if len(answers) == 0:
        raise ValueError(f"{what}: the answers set is empty (expected at least one user's answer)")
    ds_name = getattr(dataset, "name", None)
    n_users = int(dataset.n_users) if dataset is not None else n_users
    answers, unknown = _known_users(answers, n_users, unknown_users, f"{what} for dataset {ds_name or ''}".strip())
    src = answers_source(answers)
    long = answers_to_phrases(answers)
    if n_users is not None:
        basis_n, basis = n_users, "users of the dataset"
    else:
        basis_n, basis = int(answers["user"].nunique()), "users with answers"

    cl = cluster_phrases(
        long["phrase"].tolist(), encoder=encoder, clusterer=clusterer, kappa=kappa, seed=seed, **cluster_kw
    )
    p2c = cl.phrase_to_cluster()
    raw_edges = np.unique(
        np.column_stack([long["user"].to_numpy(np.int64), long["phrase"].map(p2c).to_numpy(np.int64)]), axis=0
    )
    kept, rep = filter_interests(raw_edges, basis_n, max_share=max_share, min_users=min_users, n_users_basis=basis)
    kept_clusters = np.unique(kept[:, 1])  # cluster ids are size-ordered already
    lut = np.full(cl.n_clusters, -1, dtype=np.int64)  # cluster id -> interest id (-1: filtered out)
    lut[kept_clusters] = np.arange(len(kept_clusters))
    edges = np.column_stack([kept[:, 0], lut[kept[:, 1]]]) if len(kept) else np.zeros((0, 2), np.int64)
    users_per_cluster = np.bincount(raw_edges[:, 1], minlength=cl.n_clusters)
    prov = {
        "interests_source": f"built from {', '.join(src['sources']) or 'unknown'} answers -> "  # any "not an LLM" kept
        f"{cl.info.get('encoder', {}).get('encoder', str(encoder))}+{clusterer} kappa={kappa} seed={seed}; "
        f"{len(kept_clusters)} interests after filters",
        "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "dataset": ds_name,
        "n_users": n_users,
        "answers": _answers_record(answers, answers_path, src),
        "unknown_users": unknown,
        "phrases": _phrase_counts(answers, long, cl),
        **_clustering_record(cl, clusterer, kappa, seed, rep, users_per_cluster),
        "counts": {
            "clusters": cl.n_clusters,
            "interests": int(len(kept_clusters)),
            "edges": int(len(edges)),
            "users_with_interests": int(len(np.unique(edges[:, 0]))),
        },
    }
    phrases = pd.DataFrame(
        {"phrase": cl.phrases, "occurrences": cl.counts, "cluster": cl.assign, "interest_id": lut[cl.assign]}
    )
    return InterestGraph(
        edges=edges.astype(np.int64),
        n_interests=int(len(kept_clusters)),
        labels=_label_table(cl, kept_clusters, users_per_cluster),
        phrases=phrases,
        provenance=prov,
        filters=rep,
        clustering=cl,
    )


# ------------------------------------------------------------------------ reading / applying
def _read_edges(path: Path) -> np.ndarray:
    return read_triples(path, ncol=2)


def committed_graphs(dataset: str) -> list[Path]:
    """Folders holding a ``user_interest_clustered.txt`` under ``<reports>/interests/<dataset>/``."""
    from ..paths import reports_root

    root = reports_root() / "interests" / dataset
    return sorted(p.parent for p in root.rglob(EDGES_FILE)) if root.is_dir() else []


def load_interest_graph(ds_name_or_path: str | Path, data_dir: str | Path | None = None) -> InterestFiles:
    """Read an interest graph: a folder written by :meth:`InterestGraph.save`, a ``user interest``
    file (labels / provenance read from beside it when there), or a dataset name (its released
    ``user_interest_clustered.txt``, the paper's graph: no labels)."""
    p = Path(ds_name_or_path).expanduser()
    if not p.exists():
        try:
            folder = dataset_dir(str(ds_name_or_path), data_dir)
        except UnknownDatasetError:
            raise FileNotFoundError(
                f"{ds_name_or_path}: no such interest-graph file or folder, and not "
                "a dataset name (expected a folder holding "
                f"{EDGES_FILE}, a 'user interest' file, or a dataset name)"
            ) from None
        f = folder / EDGES_FILE
        if not f.is_file():
            raise FileNotFoundError(f"{f}: the dataset {ds_name_or_path!r} has no released interest graph")
        source = f"paper (released interest graph of {ds_name_or_path}; no text labels)"
        names = released_names(str(ds_name_or_path), f)
        if names is None:
            return InterestFiles(_read_edges(f), None, None, source, f)
        # the run's interests_source stays the same string: the names change no number
        return dataclasses.replace(names, edges=_read_edges(f), provenance=None, source=source, path=f)
    f = p / EDGES_FILE if p.is_dir() else p
    if not f.is_file():
        raise FileNotFoundError(f"{p}: folder without {EDGES_FILE} (expected the output of `cikgwb interests cluster`)")
    edges = _read_edges(f)
    labels = top = None
    lab_f = f.parent / LABELS_FILE
    if lab_f.is_file():
        lab = pd.read_csv(lab_f, sep="\t", keep_default_na=False)
        if not {"interest_id", "label"} <= set(lab.columns):
            raise ValueError(f"{lab_f}: expected columns interest_id and label, got {list(lab.columns)}")
        labels = {int(i): str(s) for i, s in zip(lab["interest_id"], lab["label"])}
        if "top_phrases" in lab.columns:
            top = {int(i): str(s) for i, s in zip(lab["interest_id"], lab["top_phrases"])}
    prov = None
    prov_f = f.parent / PROVENANCE_FILE
    if prov_f.is_file():
        prov = json.loads(prov_f.read_text(encoding="utf-8"))
    source = (prov or {}).get("interests_source") or f"interest graph from {f}"
    return InterestFiles(edges, labels, prov, source, f, top)


def apply_interest_graph(ds: Any, path_or_edges: Any, labels: Any = None, source: str | None = None) -> Any:
    """A copy of ``ds`` whose interest graph is replaced.

    ``path_or_edges``: an :class:`InterestGraph`, :class:`InterestFiles`, a path / dataset name
    (:func:`load_interest_graph`) or an int array of ``(user, interest)`` rows. Interest ids are
    remapped to ``0..J-1`` in increasing order (originals in ``interest_ids``); duplicate edges
    merge. ``labels``: a dict ``{original id: label}`` or a list aligned with the sorted ids.
    Users outside the dataset raise ``ValueError``.
    """
    prov = top = methods = names_from = None
    if isinstance(path_or_edges, InterestGraph):
        edges, prov = path_or_edges.edges, path_or_edges.provenance
        top = dict(zip(path_or_edges.labels["interest_id"].tolist(), path_or_edges.labels["top_phrases"].tolist()))
        labels = (
            labels
            if labels is not None
            else dict(zip(path_or_edges.labels["interest_id"].tolist(), path_or_edges.labels["label"].tolist()))
        )
        source = source or path_or_edges.source
    elif isinstance(path_or_edges, InterestFiles | str | Path):
        files = path_or_edges if isinstance(path_or_edges, InterestFiles) else load_interest_graph(path_or_edges)
        edges, prov, top = files.edges, files.provenance, files.top_phrases
        if labels is None:
            labels, methods, names_from = files.labels, files.label_methods, files.names_from
        source = source or files.source
    else:
        edges = np.asarray(path_or_edges)
        if edges.size == 0:
            edges = np.zeros((0, 2), dtype=np.int64)
        if edges.ndim != 2 or edges.shape[1] != 2 or not np.issubdtype(edges.dtype, np.integer):
            raise ValueError(
                f"interest edges: expected an integer array of shape (k, 2), got {edges.dtype} {edges.shape}"
            )
        source = source or "interest edges given in memory"
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if len(edges) and edges.min() < 0:
        raise ValueError(f"interest edges: negative id {int(edges.min())} (expected ids >= 0)")
    check_users(edges[:, 0], ds.n_users, "error", what=f"interest graph ({source}) for dataset {ds.name}")
    edges = np.unique(edges, axis=0) if len(edges) else edges
    ids, inv = np.unique(edges[:, 1], return_inverse=True)
    ui = np.column_stack([edges[:, 0], inv.astype(np.int64)]) if len(edges) else np.zeros((0, 2), np.int64)
    lab_list = None
    if isinstance(labels, dict):
        lab_list = [str(labels.get(int(i), f"interest {int(i)}")) for i in ids]
    elif labels is not None:
        lab_list = [str(x) for x in labels]
        if len(lab_list) != len(ids):
            raise ValueError(
                f"labels: {len(lab_list)} given for {len(ids)} interests (expected one per "
                "interest, in increasing id order)"
            )
    meta = dict(ds.meta)
    meta["interests_source"] = source
    meta["interests_provenance"] = prov
    meta["interest_top_phrases"] = [top.get(int(i)) for i in ids] if top else None
    meta["interest_label_methods"] = [methods.get(int(i)) for i in ids] if methods else None
    meta["interest_names_from"] = names_from
    return dataclasses.replace(
        ds, user_interest=ui, n_interests=int(len(ids)), interest_ids=ids, interest_labels=lab_list, meta=meta
    )
