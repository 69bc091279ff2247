"""A compact, committable artefact of a finished run: everything the explorer
(:mod:`cikgwb.widgets`, ``notebooks/explorer.ipynb``) and Figures 3 and 4 need, without the
checkpoint and without the dataset's files.

``cikgwb artefact RUN_DIR`` (or :func:`write_artefact`) loads the run's ``best.pt`` (the
selected epoch; :func:`cikgwb.runs.load_run` finds it under ``$CIKGWB_CHECKPOINT_DIR`` or in
the run folder), ranks every item for every user exactly as the test evaluation does (training
and validation items masked; ties by item id) and writes ``<run>/explorer.npz`` (compressed, a
few MB on the real datasets). ``scripts/campaign.py --land`` makes it for every run it lands in
``reports/runs`` (the committed, headline runs) while the checkpoint is still there; the explorer
lists a run without one with why (:data:`NO_ARTEFACT`, :func:`missing_artefact`):

=====================  ===================================================================
``top_items``          ``(n_users, top_n)`` item ids, best first (``-1`` pads a short list)
``top_scores``         the model's scores of those items (float16: 3 significant digits)
``test_indptr/items``  each user's test items (CSR), ``test_rank`` the 1-based rank of each
                       in the user's full ranking (0: masked, i.e. also a training item)
``train_indptr/items`` each user's training items (all of ``train.txt``: train + valid)
``ui``                 ``(k, 2)`` user-interest pairs of the run's interest graph
``pu_users``, ``pu_<metric@k>``  per-user test metrics at the selected epoch (from the run's
                       ``test_per_user.npz`` when present, else computed here)
``text``               UTF-8 JSON: ``meta`` (run, dataset, model, protocol, seed, selected
                       epoch, test metrics, interest source, how labels were made), ``titles``
                       (per item), ``item_ids`` (per item, its id in ``item_list.txt``: an
                       untitled book is shown by its ISBN), ``labels`` and ``label_methods``
                       (per interest), ``interest_ids`` (the graph's original ids)
=====================  ===================================================================

Interest labels (:mod:`cikgwb.knowledge.naming`): a graph that carries text labels (an LLM graph
built here, with ``interest_labels.tsv``) gives its own words (method ``text``). The authors'
released graph has cluster ids only: where ``cikgwb interests name`` has named it (committed
``reports/interests/<dataset>/released-names/``), a node's label is the most distinctive phrases of
its members in another set of answers (method ``phrases``, e.g. the local LLM's), else the most
distinctive training items' titles of its members (method ``titles``), e.g. ``titles: Harry Potter
and the Sorcerer's Stone; The Hobbit; ... (item titles of its 37 users; no LLM text)``. The
artefact's ``label_note`` says which, and from what.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_open
from .knowledge import naming
from .run_folder import ARTEFACT_FILE, PER_USER_FILE, find_checkpoint, load_per_user

FORMAT = 1
TOP_N = 100


# ----------------------------------------------------------------------------- item ids
def dataset_item_ids(dataset: str, n_items: int) -> list[str]:
    """Each item's id in the dataset's ``item_list.txt`` (``org_id``: an ISBN on book-crossing),
    or an empty list when the file is not here (the synthetic data) or does not fit."""
    from .data.loader import read_id_map
    from .paths import data_dir

    path = data_dir() / dataset / "item_list.txt"
    if not path.is_file():
        return []
    ids = [org for org, _, _ in read_id_map(path)]
    return ids if len(ids) == n_items else []


def _isbn(code: str) -> bool:
    """Whether ``code`` is a valid ISBN-10 or ISBN-13 (check digit included)."""
    c = code.strip().upper()
    if len(c) == 10 and c[:9].isdigit() and (c[9].isdigit() or c[9] == "X"):
        digits = [int(x) for x in c[:9]] + [10 if c[9] == "X" else int(c[9])]
        return sum((10 - k) * d for k, d in enumerate(digits)) % 11 == 0
    if len(c) == 13 and c.isdigit():
        return sum((3 if k % 2 else 1) * int(d) for k, d in enumerate(c)) % 10 == 0
    return False


def untitled_label(item: int, org_id: str | None) -> str:
    """What an item without a title shows: its ISBN where its original id is one, else that id,
    else its number."""
    if org_id and _isbn(org_id):
        return f"ISBN {org_id} (item {int(item)}; no title in the data)"
    if org_id:
        return f"id {org_id} in item_list.txt (item {int(item)}; no title in the data)"
    return f"(item {int(item)}: no title in the data)"


# ----------------------------------------------------------------------------- interest labels
def title_labels(
    train_indptr: np.ndarray,
    train_items: np.ndarray,
    ui: np.ndarray,
    n_interests: int,
    titles: list[str | None],
    n_titles: int = 3,
    min_members: int = 2,
) -> list[str]:
    """A label per interest from item titles (module docstring, method ``titles``;
    :mod:`cikgwb.knowledge.naming`)."""
    members = naming.membership(ui, n_interests, len(train_indptr) - 1)
    sizes = np.asarray(members.sum(axis=1)).ravel().astype(int)
    picked = naming.title_names(members, train_indptr, train_items, titles, n_titles, min_members)
    return [naming.title_label(p, int(n)) for p, n in zip(picked, sizes)]


def interest_labels(ds: Any, train_indptr: np.ndarray, train_items: np.ndarray) -> tuple[list[str], list[str]]:
    """``(labels, methods)`` per interest of ``ds``: its label where the graph has one (method
    ``text``, or how the names of a released graph were made: ``phrases`` / ``titles``), else a
    title label (method ``titles``)."""
    n = int(ds.n_interests)
    text = list(ds.interest_labels or [])
    given = list(ds.meta.get("interest_label_methods") or [])
    derived = None
    labels, methods = [], []
    for j in range(n):
        t = text[j] if j < len(text) else None
        if t:
            labels.append(str(t))
            methods.append(str(given[j]) if j < len(given) and given[j] else "text")
        else:
            if derived is None:
                derived = title_labels(train_indptr, train_items, ds.user_interest, n, ds.titles)
            labels.append(derived[j])
            methods.append("titles")
    return labels, methods


def label_note(methods: list[str], source: str, named_from: str | None = None) -> str:
    """One line saying how the labels of a run's interests were made."""
    return naming.label_note(methods, source, named_from)


# ----------------------------------------------------------------------------- ranking
def rank_all(
    score_fn: Any, n_users: int, n_items: int, exclude: Any, test: Any, top_n: int = TOP_N, batch_size: int = 512
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(top_items, top_scores, test_rank)`` for every user: items ranked by score descending,
    ties by item id ascending, ``exclude`` (CSR) masked as in :func:`cikgwb.evaluate.evaluate`;
    ``test_rank`` aligned with ``test.indices`` (1-based rank; 0 where the test item is masked)."""
    import torch

    top_n = int(min(top_n, n_items))
    top_items = np.full((n_users, top_n), -1, dtype=np.int64)
    top_scores = np.full((n_users, top_n), np.nan, dtype=np.float32)
    test_rank = np.zeros(len(test.indices), dtype=np.int32)
    for start in range(0, n_users, batch_size):
        b = np.arange(start, min(start + batch_size, n_users))
        with torch.no_grad():
            s = score_fn(torch.from_numpy(b.astype(np.int64)))
        s = torch.as_tensor(s).detach().to("cpu", torch.float32).clone()
        if torch.isnan(s).any():
            raise ValueError(f"the model gives NaN scores for users {start}..{b[-1]}")
        rows = np.repeat(np.arange(len(b)), np.diff(exclude.indptr[b[0] : b[-1] + 2]))
        cols = exclude.indices[exclude.indptr[b[0]] : exclude.indptr[b[-1] + 1]]
        masked = torch.zeros_like(s, dtype=torch.bool)
        masked[torch.from_numpy(rows), torch.from_numpy(cols.astype(np.int64))] = True
        # masked items after every unmasked one (even -inf), ties by item id: stable sorts
        order = torch.sort(s, dim=1, descending=True, stable=True).indices
        order = torch.gather(
            order, 1, torch.sort(torch.gather(masked, 1, order).to(torch.int8), dim=1, stable=True).indices
        )
        n_ok = (~masked).sum(1).numpy()
        o = order.numpy()
        pos = np.empty_like(o)
        np.put_along_axis(pos, o, np.arange(n_items)[None, :].repeat(len(b), 0), axis=1)
        sv = s.numpy()
        for r, u in enumerate(b):
            k = min(top_n, int(n_ok[r]))
            top_items[u, :k] = o[r, :k]
            top_scores[u, :k] = sv[r, o[r, :k]]
            lo, hi = test.indptr[u], test.indptr[u + 1]
            if hi > lo:
                items = test.indices[lo:hi]
                rk = pos[r, items] + 1
                rk[masked[r].numpy()[items]] = 0
                test_rank[lo:hi] = rk
    return top_items, top_scores, test_rank


# ----------------------------------------------------------------------------- write / read
def _csr_arrays(m: Any) -> tuple[np.ndarray, np.ndarray]:
    m = m.tocsr()
    m.sort_indices()
    return m.indptr.astype(np.int64), m.indices.astype(np.int64)


def _small_int(a: np.ndarray, hi: int) -> np.ndarray:
    a = np.asarray(a)
    for t in (np.int16, np.int32):
        if hi < np.iinfo(t).max:
            return a.astype(t)
    return a.astype(np.int64)


def write_artefact(
    run_dir: str | Path,
    ds: Any = None,
    device: str = "cpu",
    top_n: int = TOP_N,
    out: str | Path | None = None,
    log: Any = None,
) -> dict[str, Any]:
    """Write ``explorer.npz`` of a finished run (module docstring) from its ``best.pt``.
    Returns ``{"path", "bytes", "seconds", "selected_epoch", "max_abs_diff"}``; the last is the
    largest difference between the per-user test metrics' means and metrics.json's test
    figures (0 up to float rounding). Raises ``FileNotFoundError`` naming what is missing."""
    import torch

    from .runs import load_run, protocol_splits

    t0 = time.time()
    run_dir = Path(run_dir)
    mpath = run_dir / "metrics.json"
    if not mpath.exists():
        raise FileNotFoundError(f"{mpath} not found: {run_dir} is not a finished run (no metrics.json)")
    if isinstance(top_n, bool) or not isinstance(top_n, (int, np.integer)) or not 1 <= top_n <= 1000:
        raise ValueError(f"top_n={top_n!r}: expected an integer 1..1000")
    metrics = json.loads(mpath.read_text())
    cfg, ds, model = load_run(run_dir, ds, device=device)
    ck = find_checkpoint(run_dir, "best.pt")
    epoch = torch.load(ck, map_location="cpu", weights_only=False).get("epoch") if ck else None
    if log:
        log(f"{run_dir.name}: model loaded from {ck} (epoch {epoch}) in {time.time() - t0:.1f} s")
    test, exclude = protocol_splits(cfg.train.protocol).masks(ds, "test")  # every protocol's test split
    test, exclude = test.tocsr(), exclude.tocsr()
    test.sort_indices()
    score_fn = model.score_fn()
    top_items, top_scores, test_rank = rank_all(score_fn, ds.n_users, ds.n_items, exclude, test, top_n)
    pu, pu_source = _per_user_metrics(run_dir, epoch, score_fn, test, exclude, tuple(cfg.train.ks))
    diff = max((abs(float(np.mean(pu[k])) - v) for k, v in metrics.get("test", {}).items() if k in pu), default=0.0)
    tr_ptr, tr_items = _csr_arrays(exclude)
    te_ptr, te_items = _csr_arrays(test)
    labels, methods = interest_labels(ds, tr_ptr, tr_items)
    meta = _meta(run_dir, cfg, ds, metrics, epoch, methods, int(top_items.shape[1]), pu_source, float(diff))
    text = {
        "meta": meta,
        "titles": [t or "" for t in ds.titles],
        "item_ids": dataset_item_ids(cfg.dataset, int(ds.n_items)),
        "labels": labels,
        "label_methods": methods,
        "interest_ids": [int(x) for x in getattr(ds, "interest_ids", np.arange(ds.n_interests))],
    }
    n_items = int(ds.n_items)
    arrays = {
        "top_items": _small_int(top_items, n_items),
        "top_scores": top_scores.astype(np.float16),
        "test_indptr": te_ptr.astype(np.int32),
        "test_items": _small_int(te_items, n_items),
        "test_rank": _small_int(test_rank, n_items + 1),
        "train_indptr": tr_ptr.astype(np.int32),
        "train_items": _small_int(tr_items, n_items),
        "ui": _small_int(np.asarray(ds.user_interest, dtype=np.int64), max(ds.n_users, ds.n_interests) + 1),
        "pu_users": np.asarray(pu["users"]).astype(np.int32),
        **{f"pu_{k}": np.asarray(pu[k]).astype(np.float32) for k in sorted(k for k in pu if "@" in k)},
        "text": np.frombuffer(json.dumps(text, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
    }
    path = Path(out) if out is not None else run_dir / ARTEFACT_FILE
    unchanged = _save(path, arrays, text)
    info = {
        "path": str(path),
        "bytes": path.stat().st_size,
        "seconds": time.time() - t0,
        "selected_epoch": meta["selected_epoch"],
        "max_abs_diff": float(diff),
        "unchanged": unchanged,
    }
    if log:
        log(
            f"{run_dir.name}: {'unchanged' if info['unchanged'] else 'wrote'} {path} ({info['bytes'] / 1e6:.2f} MB) "
            f"in {info['seconds']:.1f} s; per-user metrics {pu_source}, max |mean - metrics.json| = {diff:.2e}; "
            f"labels: {meta['label_note']}"
        )
    return info


def _per_user_metrics(
    run_dir: Path, epoch: int | None, score_fn: Any, test: Any, exclude: Any, ks: tuple[int, ...]
) -> tuple[dict[str, np.ndarray], str]:
    """The per-user test metrics (``users`` and one array per metric) and where they came from: the
    trainer's file when it is of this checkpoint's ``epoch``, else computed now."""
    import torch

    from .evaluate import evaluate

    if (run_dir / PER_USER_FILE).exists():
        pu = load_per_user(run_dir)
        if epoch is None or int(pu.get("epoch", -1)) in (-1, int(epoch)):
            return pu, PER_USER_FILE
    with torch.no_grad():
        res = evaluate(score_fn, test, exclude, ks=ks)
    users = np.flatnonzero(res.evaluated).astype(np.int32)
    pu = {"users": users, **{k: np.asarray(v)[users].astype(np.float32) for k, v in res.per_user.items()}}
    return pu, "computed from best.pt"


def _meta(
    run_dir: Path,
    cfg: Any,
    ds: Any,
    metrics: dict[str, Any],
    epoch: int | None,
    methods: list[str],
    top_n: int,
    pu_source: str,
    diff: float,
) -> dict[str, Any]:
    """The artefact's ``meta`` (module docstring)."""
    source = str(ds.meta.get("interests_source", cfg.interests))
    return {
        "format": FORMAT,
        "run": run_dir.name,
        "dataset": cfg.dataset,
        "model": cfg.model.model,
        "protocol": cfg.train.protocol,
        "views": metrics.get("views"),
        "seed": cfg.train.seed,
        "selected_epoch": metrics.get("selected_epoch", epoch),
        "checkpoint_epoch": epoch,
        "stop_reason": metrics.get("stop_reason"),
        "device": metrics.get("device"),
        "interests": source,
        "interests_config": cfg.interests,
        "kg": metrics.get("kg"),
        "no_interests": not cfg.model.reads_interest_graph(),
        "test": metrics.get("test", {}),
        "top_n": top_n,
        "n_users": int(ds.n_users),
        "n_items": int(ds.n_items),
        "n_interests": int(ds.n_interests),
        "per_user_source": pu_source,
        "per_user_max_abs_diff": diff,
        "label_note": label_note(methods, source, ds.meta.get("interest_names_from")),
        "ranking": "every item ranked for every user, training and validation items (all of train.txt) masked, "
        "ties by item id, as the test evaluation does",
        "made_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "made_by": "cikgwb artefact",
    }


def _save(path: Path, arrays: dict[str, np.ndarray], text: dict[str, Any]) -> bool:
    """Write the artefact atomically unless ``path`` already holds the same content (a committed
    artefact is left untouched when nothing in it would change); True: it was left unchanged."""
    path.parent.mkdir(parents=True, exist_ok=True)
    unchanged = path.is_file() and _same_content(path, arrays, text)
    if not unchanged:
        with atomic_open(path, "wb") as fh:  # a run folder's files are written atomically
            np.savez_compressed(fh, **arrays)
    return unchanged


def _same_content(path: Path, arrays: dict[str, np.ndarray], text: dict[str, Any]) -> bool:
    """Whether the artefact at ``path`` holds these arrays and this text (``made_at`` aside)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if set(z.files) != set(arrays):
                return False
            for k, v in arrays.items():
                if k == "text":
                    continue
                if z[k].dtype != v.dtype or not np.array_equal(z[k], v, equal_nan=v.dtype.kind == "f"):
                    return False
            old = json.loads(bytes(z["text"]).decode("utf-8"))
    except (OSError, ValueError, KeyError):
        return False

    def strip(t: dict[str, Any]) -> dict[str, Any]:
        return {**t, "meta": {k: v for k, v in t["meta"].items() if k != "made_at"}}

    return strip(old) == strip(json.loads(json.dumps(text, ensure_ascii=False)))


def _grouped(pairs: np.ndarray, by: int, n: int) -> list[np.ndarray]:
    """For user-interest ``pairs`` (two columns): for each id ``0..n-1`` of column ``by``, the
    sorted values of the other column paired with it."""
    other = 1 - by
    order = np.lexsort((pairs[:, other], pairs[:, by]))
    p = pairs[order].astype(np.int64)
    b = np.searchsorted(p[:, by], np.arange(n + 1))
    return [p[b[x] : b[x + 1], other] for x in range(n)]


@dataclass
class RunArtefact:
    """A loaded ``explorer.npz`` (:func:`load_artefact`); every lookup the explorer needs."""

    path: Path
    meta: dict[str, Any]
    titles: list[str]
    item_ids: list[str]
    labels: list[str]
    label_methods: list[str]
    interest_ids: list[int]
    top_items: np.ndarray
    top_scores: np.ndarray
    test_indptr: np.ndarray
    test_items: np.ndarray
    test_rank: np.ndarray
    train_indptr: np.ndarray
    train_items: np.ndarray
    ui: np.ndarray
    per_user: dict[str, np.ndarray]
    _members: list[np.ndarray] | None = field(default=None, repr=False)
    _interests: list[np.ndarray] | None = field(default=None, repr=False)
    _holders: Any = field(default=None, repr=False)

    @property
    def n_users(self) -> int:
        return int(self.meta["n_users"])

    @property
    def n_items(self) -> int:
        return int(self.meta["n_items"])

    @property
    def n_interests(self) -> int:
        return int(self.meta["n_interests"])

    def check_user(self, u: Any) -> int:
        if isinstance(u, bool) or not isinstance(u, (int, np.integer)):
            raise TypeError(f"user {u!r}: expected an integer id")
        if not 0 <= int(u) < self.n_users:
            raise ValueError(f"user {u} out of range (expected 0..{self.n_users - 1})")
        return int(u)

    def title(self, i: int) -> str:
        """The item's title, else its ISBN or original id (:func:`untitled_label`)."""
        t = self.titles[int(i)] if 0 <= int(i) < len(self.titles) else ""
        if t:
            return naming.readable(t)
        return untitled_label(int(i), self.item_ids[int(i)] if 0 <= int(i) < len(self.item_ids) else None)

    def train(self, u: int) -> np.ndarray:
        return self.train_items[self.train_indptr[u] : self.train_indptr[u + 1]].astype(np.int64)

    def test(self, u: int) -> np.ndarray:
        return self.test_items[self.test_indptr[u] : self.test_indptr[u + 1]].astype(np.int64)

    def test_ranks(self, u: int) -> np.ndarray:
        return self.test_rank[self.test_indptr[u] : self.test_indptr[u + 1]].astype(np.int64)

    def top(self, u: int, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        items = self.top_items[u].astype(np.int64)
        keep = items >= 0
        items, scores = items[keep], self.top_scores[u][keep].astype(np.float32)
        return (items[:k], scores[:k]) if k else (items, scores)

    def members(self, j: int) -> np.ndarray:
        """Users holding interest ``j`` (sorted)."""
        if self._members is None:
            self._members = _grouped(self.ui, by=1, n=self.n_interests)
        return self._members[int(j)]

    def interests(self, u: int) -> np.ndarray:
        """Interests of user ``u`` (sorted)."""
        if self._interests is None:
            self._interests = _grouped(self.ui, by=0, n=self.n_users)
        return self._interests[int(u)]

    def holders(self, i: int) -> np.ndarray:
        """Users with item ``i`` among their training items (sorted)."""
        if self._holders is None:
            counts = np.diff(self.train_indptr)
            users = np.repeat(np.arange(self.n_users), counts)
            order = np.lexsort((users, self.train_items))
            items = self.train_items[order].astype(np.int64)
            b = np.searchsorted(items, np.arange(self.n_items + 1))
            self._holders = (users[order], b)
        users, b = self._holders
        return users[b[int(i)] : b[int(i) + 1]]

    def short_label(self, j: int) -> str:
        """A figure label of interest ``j``: ``#j (N users): A; B; C`` for a title label, ``#j (N
        users) ~ phrases: ...`` for a name made from phrases, ``#j: text`` for the graph's own label
        (figures say in a note how names and title labels are made)."""
        import re

        lab = self.labels[int(j)]
        m = re.match(r"titles: (.*) \(item titles of its (\d+) users?; no LLM text\)$", lab)
        if m:
            return f"#{int(j)} ({m.group(2)} users): {m.group(1)}"
        if self.label_methods[int(j)] == "phrases":
            return f"#{int(j)} ({len(self.members(int(j)))} users) ~ {lab}"
        return f"#{int(j)}: {lab}"

    def user_metrics(self, u: int) -> dict[str, float]:
        """Per-user test metrics (empty for a user without test items)."""
        users = self.per_user.get("users", np.zeros(0, np.int32))
        hit = np.searchsorted(users, u)
        if hit >= len(users) or users[hit] != u:
            return {}
        return {k: float(v[hit]) for k, v in self.per_user.items() if k != "users"}

    def describe(self) -> str:
        m = self.meta
        t = m.get("test", {})
        r = t.get("recall@50")
        ignores = m.get("no_interests") or m.get("model") != "cikgrec"
        return (
            f"{m['dataset']}: run {m['run']} ({m['model']}, {m['protocol']} protocol, seed {m['seed']}, "
            f"selected epoch {m['selected_epoch']})"
            + (f"; test Recall@50 {r:.4f}" if r is not None else "")
            + ("; this model reads no interest graph (the interests shown are the dataset's)" if ignores else "")
        )


def artefact_path(run: str | Path) -> Path:
    """``run`` itself when it is a file, else ``<run>/explorer.npz``."""
    p = Path(run)
    return p if p.suffix == ".npz" else p / ARTEFACT_FILE


def load_artefact(run: str | Path) -> RunArtefact:
    """Read a run's ``explorer.npz`` (a run folder or the file). ``FileNotFoundError`` says
    which command makes it."""
    path = artefact_path(run)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {missing_artefact(path.parent)}")
    with np.load(path, allow_pickle=False) as z:
        d = {k: z[k] for k in z.files}
    text = json.loads(bytes(d.pop("text")).decode("utf-8"))
    meta = text["meta"]
    if int(meta.get("format", 0)) > FORMAT:
        raise ValueError(f"{path}: artefact format {meta.get('format')} is newer than this cikgwb reads ({FORMAT})")
    pu = {"users": d.pop("pu_users")}
    pu.update({k[3:]: d.pop(k) for k in list(d) if k.startswith("pu_")})
    return RunArtefact(
        path=path,
        meta=meta,
        titles=text["titles"],
        item_ids=list(text.get("item_ids") or []),  # artefacts made before item ids were stored: none
        labels=[naming.readable(x) if x else x for x in text["labels"]],  # titles in labels: as shown elsewhere
        label_methods=text["label_methods"],
        interest_ids=text["interest_ids"],
        top_items=d["top_items"],
        top_scores=d["top_scores"],
        test_indptr=d["test_indptr"],
        test_items=d["test_items"],
        test_rank=d["test_rank"],
        train_indptr=d["train_indptr"],
        train_items=d["train_items"],
        ui=d["ui"],
        per_user=pu,
    )


def _shown_path(p: str | Path) -> str:
    """``p`` relative to the project folder where it lies below it (commands are run from there)."""
    from .paths import project_root

    try:
        return Path(p).resolve().relative_to(project_root().resolve()).as_posix()
    except ValueError:
        return str(p)


def retrain_command(run_dir: str | Path) -> str:
    """The commands that train a committed run again from its ``config.yaml`` (same settings,
    interest graph, protocol and seed; the folder is replaced) and make its artefact."""
    import yaml

    run_dir = Path(run_dir)
    rel = _shown_path(run_dir)
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text()) if (run_dir / "config.yaml").is_file() else {}
    cfg = cfg or {}
    seed = (cfg.get("train") or {}).get("seed")
    stem = run_dir.name[: -len(f"-s{seed}")] if seed is not None and run_dir.name.endswith(f"-s{seed}") else None
    train = f"cikgwb train --config {rel}/config.yaml --interests {cfg.get('interests', 'paper')}"
    train += f" --name {stem} --seeds {seed}" if stem else f" --name {run_dir.name}"
    return f"{train} --overwrite && cikgwb artefact {rel}"


#: what the explorer's run list says of a run without an artefact (the details on opening it:
#: :func:`missing_artefact`, which looks for the checkpoint)
NO_ARTEFACT = "no artefact: made from its checkpoint, not committed"


def missing_artefact(run_dir: str | Path) -> str:
    """Why a finished run has no ``explorer.npz`` and how to make one: its checkpoint is on this
    machine (make the artefact) or gone (train it again); commands use paths from the project
    folder."""
    from .runs import has_checkpoint

    rel = _shown_path(run_dir)
    if has_checkpoint(run_dir):
        return f"no artefact yet; its checkpoint is on this machine: make it with `cikgwb artefact {rel}`"
    return (
        "no artefact: its checkpoint is gone (checkpoints are not committed, and this run's is not on this "
        f"machine); retrain with `{retrain_command(run_dir)}` to make one"
    )


def find_artefacts(roots: list[str | Path]) -> list[dict[str, Any]]:
    """Finished runs under ``roots`` (sub-folders too; :func:`cikgwb.runs.run_index`), each a
    dict of its index row with ``run`` the folder's name, ``artefact`` the explorer.npz path or
    None (then ``missing`` says so: :data:`NO_ARTEFACT`), ``real`` (a downloaded dataset, not a generated one) and ``plain`` (the model at
    its settings' defaults: the name is ``<dataset>-<model>-<protocol>-s<seed>``, no variant or
    override). Runs with an artefact first, then by dataset and name."""
    from .data.registry import REGISTRY
    from .runs import run_index

    idx = run_index(roots, skip_unreadable=True, variants=False)  # no model import: a quick listing
    out = []
    for r in idx.to_dict("records"):
        art = r["artefact"] if isinstance(r["artefact"], str) else None
        spec = REGISTRY.get(str(r["dataset"]))
        out.append(
            {
                **r,
                "run": r["name"],
                "artefact": art,
                "missing": None if art else NO_ARTEFACT,
                "real": bool(spec is not None and spec.real),
                "plain": r["name"] == f"{r['dataset']}-{r['model']}-{r['protocol']}-s{r['seed']}",
            }
        )
    out.sort(key=lambda r: (r["artefact"] is None, str(r["dataset"]), r["run"]))
    return out


def fmt_score(x: float) -> str:
    """A score with 3 significant digits."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{x:.3g}"
