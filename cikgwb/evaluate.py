"""Full-ranking top-K evaluation, per-user metrics and the sparsity groups of Figure 3.

Protocol (docs/method.md section 1): every user with at least one held-out item is ranked against
ALL items; the items in ``exclude`` (train items; train + valid when testing) are masked out
first. With ``H_u`` the user's held-out items, ``hits_K`` the held-out items among the top K
and ``rank`` 1-based:

    Recall@K    = |hits_K| / |H_u|
    Precision@K = |hits_K| / K
    Hit@K       = 1 if |hits_K| > 0 else 0
    NDCG@K      = DCG@K / IDCG@K,  DCG@K = sum_{i in hits_K} 1 / log2(rank_i + 1),
                  IDCG@K = sum_{r=1}^{min(|H_u|, K)} 1 / log2(r + 1)

The reported metric is the mean over the evaluated users. Rules that the formulas leave open:

* Ties: items are ranked by score descending and, among equal scores, by item id ascending.
  The result is deterministic and independent of the batch size and the device. ``-0.0`` and
  ``0.0`` are equal scores; NaN scores are rejected.
* Masked items never enter the top K, not even when every other score is ``-inf`` (an unmasked
  ``-inf`` item still ranks before any masked item). If a user has fewer than K unmasked items,
  the list is padded with ``-1`` (never a hit); Precision@K still divides by K.
* A held-out item that is also in ``exclude`` (the shipped data has test items also listed in
  train) stays in ``|H_u|`` (the denominator of Recall and the length of the ideal DCG) but can
  never be hit. ``EvalResult.n_heldout_excluded`` counts such (user, item) pairs.

Implementation: users are processed in batches; per batch the masks are built from the CSR
``indptr``/``indices`` into a ``(batch, n_items)`` tensor, so memory is bounded by the batch.
Scores are ranked in float32 with ``torch.topk`` (of K + 1); the metrics are computed in
float64. Rows whose K-th score equals the (K+1)-th (a tie across the boundary) or is ``-inf``
are re-ranked exactly with a unique int64 key ``(order-preserving bits of the score) * 2**32 +
(n_items - 1 - item)``, so the tie rule holds in every case; the top-K lists are finally
reordered by the same key so that ties inside the list follow it too.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

__all__ = [
    "EvalResult",
    "ScoreFn",
    "evaluate",
    "split_masks",
    "most_popular_scores",
    "random_scores",
    "sparsity_groups",
    "group_metrics",
]

ScoreFn = Callable[[torch.Tensor], torch.Tensor]
"""``score_fn(user_ids: LongTensor (batch,)) -> Tensor (batch, n_items)``, higher is better."""

METRICS = ("recall", "ndcg", "precision", "hit")
_INT64_MIN = torch.iinfo(torch.int64).min


# ----------------------------------------------------------------------------- result
@dataclass
class EvalResult:
    """What :func:`evaluate` returns.

    ``metrics``: means over the evaluated users, keys ``recall@K``, ``ndcg@K``, ``precision@K``,
    ``hit@K``. ``per_user``: the same keys, float64 arrays of length ``n_users`` with NaN for
    users that were not evaluated. ``topk``: ``(n_users, K)`` int64 item ids in rank order when
    ``return_topk=K`` was asked for, ``-1`` for unevaluated users and padding; else None.
    """

    metrics: dict[str, float]
    per_user: dict[str, np.ndarray]
    n_users_evaluated: int
    seconds: float
    ks: tuple[int, ...] = ()
    n_users: int = 0
    n_items: int = 0
    n_heldout: int = 0  # held-out (user, item) pairs of the evaluated users
    n_heldout_excluded: int = 0  # of those, pairs also in `exclude` (never hittable)
    n_users_heldout_excluded: int = 0  # evaluated users with at least one such pair
    evaluated: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    topk: np.ndarray | None = None

    def score(self, selection: Sequence[str] = ("recall@50", "ndcg@50")) -> float:
        """Model-selection score: the sum of the selected metrics (default Recall@50 + NDCG@50)."""
        if isinstance(selection, str):
            selection = (selection,)
        missing = [m for m in selection if m not in self.metrics]
        if missing:
            raise KeyError(f"selection metrics {missing} were not computed; available: {sorted(self.metrics)}")
        return float(sum(self.metrics[m] for m in selection))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (metrics and counts; the per-user arrays are left out)."""
        return {
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "n_users_evaluated": int(self.n_users_evaluated),
            "n_users": int(self.n_users),
            "n_items": int(self.n_items),
            "ks": [int(k) for k in self.ks],
            "n_heldout": int(self.n_heldout),
            "n_heldout_excluded": int(self.n_heldout_excluded),
            "n_users_heldout_excluded": int(self.n_users_heldout_excluded),
            "seconds": float(self.seconds),
        }


# ----------------------------------------------------------------------------- validation
def _as_csr(m: Any, name: str, shape: tuple[int, int] | None = None) -> sp.csr_matrix:
    if not sp.issparse(m):
        raise TypeError(f"{name} must be a scipy.sparse matrix (users x items), got {type(m).__name__}")
    m = sp.csr_matrix(m, copy=True)
    if shape is not None and m.shape != shape:
        raise ValueError(f"{name} has shape {m.shape}, expected {shape} (users x items, like heldout)")
    m.sum_duplicates()
    m.eliminate_zeros()
    return m


def _check_ks(ks: Iterable[int]) -> tuple[int, ...]:
    ks = tuple(ks)
    if not ks or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 for k in ks):
        raise ValueError(f"ks must be a non-empty sequence of positive ints, got {ks!r}")
    return tuple(sorted({int(k) for k in ks}))


def _rows(m: sp.csr_matrix, users: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(row-in-batch, item) index tensors of ``m[users]`` without densifying."""
    sub = m[users]
    rows = np.repeat(np.arange(len(users)), np.diff(sub.indptr))
    return (torch.from_numpy(rows).to(device), torch.from_numpy(sub.indices.astype(np.int64)).to(device))


def _dense_mask(m: sp.csr_matrix, users: np.ndarray, n_items: int, device: torch.device) -> torch.Tensor:
    mask = torch.zeros((len(users), n_items), dtype=torch.bool, device=device)
    r, c = _rows(m, users, device)
    mask[r, c] = True
    return mask


# ----------------------------------------------------------------------------- ranking
def _order_key(s: torch.Tensor, idx: torch.Tensor, n_items: int) -> torch.Tensor:
    """Unique int64 key, larger = ranked first: (score desc, item id asc).

    ``s`` is float32 with no NaN and no ``-0.0`` (adding ``0.0`` turns ``-0.0`` into ``0.0``).
    Its bits are read as an int32 that orders like the floats (flip the 31 low bits of
    negatives), shifted up 32 bits, plus ``n_items - 1 - idx`` so that the lower id wins a tie
    (exact for up to 2**32 items).
    """
    k = s.view(torch.int32).to(torch.int64)
    k = torch.where(k < 0, k ^ 0x7FFFFFFF, k)
    return k.mul_(1 << 32).add_(n_items - 1 - idx)


def _topk_exact(s: torch.Tensor, excluded: torch.Tensor, k: int) -> torch.Tensor:
    """Top-k item ids per row by the unique key; masked items get the minimum key (last)."""
    n_items = s.shape[1]
    ar = torch.arange(n_items, device=s.device)
    key = _order_key(s, ar, n_items).masked_fill_(excluded, _INT64_MIN)
    top_key, top = torch.topk(key, k, dim=1, sorted=True)
    return top.masked_fill_(top_key == _INT64_MIN, -1)


def _rank_batch(s: torch.Tensor, excluded: torch.Tensor, k: int) -> torch.Tensor:
    """Top-k item ids (rank order, -1 = padding) of float32 scores ``s`` with masked items.

    Fast path: ``torch.topk`` of ``k + 1`` on the masked float scores. A row is re-ranked
    exactly when its k-th score is ``-inf`` (masked and unmasked items could be confused) or
    equals its (k+1)-th (a tie across the boundary). The lists of the other rows hold the
    right items; they are reordered by the unique key so that ties inside the list go to the
    lower item id.
    """
    n_items = s.shape[1]
    vals, top = torch.topk(s, min(k + 1, n_items), dim=1, sorted=True)
    redo = vals[:, k - 1] == -math.inf
    if k < n_items:
        redo |= vals[:, k] == vals[:, k - 1]
    vals, top = vals[:, :k], top[:, :k]
    order = torch.argsort(_order_key(vals + 0.0, top, n_items), dim=1, descending=True)
    top = torch.gather(top, 1, order)
    rows = torch.nonzero(redo).squeeze(1)
    if len(rows):
        top[rows] = _topk_exact(s[rows] + 0.0, excluded[rows], k)
    return top


# ----------------------------------------------------------------------------- evaluate
def evaluate(
    score_fn: ScoreFn,
    heldout: sp.csr_matrix,
    exclude: sp.csr_matrix | None,
    ks: Sequence[int] = (20, 50, 100),
    batch_size: int = 1024,
    device: str | torch.device | None = None,
    users: Iterable[int] | np.ndarray | None = None,
    return_topk: int | None = None,
) -> EvalResult:
    """Full-ranking Recall/NDCG/Precision/Hit@K (module docstring gives the formulas and rules).

    Parameters
    ----------
    score_fn : callable
        ``score_fn(user_ids) -> scores``: user ids a LongTensor ``(batch,)`` (on ``device`` if
        given, else CPU), scores a tensor ``(batch, n_items)``; it is never modified in place.
    heldout : scipy.sparse matrix (n_users, n_items)
        Ground truth; any stored nonzero is a relevant item.
    exclude : scipy.sparse matrix (n_users, n_items) or None
        Items masked out before ranking (train; train + valid when testing).
    ks : cutoffs K.
    batch_size : users per batch; memory is O(batch_size * n_items).
    device : where ranking runs; None = the device of the scores ``score_fn`` returns.
    users : restrict the evaluation to these user ids (those without held-out items are
        still skipped).
    return_topk : if given, also return each evaluated user's top ``return_topk`` items.
    """
    t0 = time.perf_counter()
    ks = _check_ks(ks)
    heldout = _as_csr(heldout, "heldout")
    n_users, n_items = heldout.shape
    excl = _as_csr(exclude, "exclude", heldout.shape) if exclude is not None else None
    _check_sizes(batch_size, return_topk)
    dev = torch.device(device) if device is not None else None
    n_held = np.diff(heldout.indptr)
    eval_users = _eval_users(n_held, users)
    # held-out items that are also masked: counted in |H_u|, never hittable
    if excl is not None:
        both = np.diff(heldout.multiply(excl).tocsr().indptr)[eval_users]
    else:
        both = np.zeros(len(eval_users), dtype=np.int64)
    kmax = max(max(ks), return_topk or 0)
    topk_out = np.full((n_users, return_topk), -1, dtype=np.int64) if return_topk else None
    hits = _hits(score_fn, heldout, excl, eval_users, kmax, batch_size, dev, topk_out)
    per_user = _per_user_metrics(hits, n_held, eval_users, ks, kmax)
    metrics = {key: (float(np.mean(v[eval_users])) if len(eval_users) else math.nan) for key, v in per_user.items()}
    evaluated = np.zeros(n_users, dtype=bool)
    evaluated[eval_users] = True
    return EvalResult(
        metrics=metrics,
        per_user=per_user,
        n_users_evaluated=int(len(eval_users)),
        seconds=time.perf_counter() - t0,
        ks=ks,
        n_users=n_users,
        n_items=n_items,
        n_heldout=int(n_held[eval_users].sum()),
        n_heldout_excluded=int(both.sum()),
        n_users_heldout_excluded=int((both > 0).sum()),
        evaluated=evaluated,
        topk=topk_out,
    )


def _check_sizes(batch_size: Any, return_topk: Any) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if return_topk is not None and (
        isinstance(return_topk, bool) or not isinstance(return_topk, (int, np.integer)) or return_topk < 1
    ):
        raise ValueError(f"return_topk must be a positive int or None, got {return_topk!r}")


def _eval_users(n_held: np.ndarray, users: Iterable[int] | np.ndarray | None) -> np.ndarray:
    """The users evaluated: those with held-out items, of ``users`` where given."""
    n_users = len(n_held)
    selected = n_held > 0
    if users is not None:
        u = np.asarray(list(users) if not isinstance(users, np.ndarray) else users)
        if u.size and (not np.issubdtype(u.dtype, np.integer) or u.min() < 0 or u.max() >= n_users):
            raise ValueError(
                f"users must be integer ids in [0, {n_users}), got values from {u.min()} to {u.max()} (dtype {u.dtype})"
            )
        restrict = np.zeros(n_users, dtype=bool)
        restrict[u.astype(np.int64)] = True
        selected &= restrict
    return np.flatnonzero(selected)


def _batch_scores(score_fn: ScoreFn, b: np.ndarray, n_items: int, dev: torch.device | None) -> torch.Tensor:
    """``score_fn``'s scores of the users ``b`` as float32 on ``dev`` (None: where they are), checked
    for shape and NaN."""
    ids = torch.from_numpy(b.astype(np.int64))
    if dev is not None:
        ids = ids.to(dev)
    with torch.no_grad():
        raw = score_fn(ids)
    if not isinstance(raw, torch.Tensor):
        raw = torch.as_tensor(np.asarray(raw))
    if raw.shape != (len(b), n_items):
        raise ValueError(
            f"score_fn returned shape {tuple(raw.shape)} for {len(b)} users, "
            f"expected ({len(b)}, {n_items}) (batch, n_items)"
        )
    raw = raw.detach().to(device=dev if dev is not None else raw.device, dtype=torch.float32)
    if not torch.isfinite(raw.sum()) and torch.isnan(raw).any():  # sum: a cheap first test
        bad = b[torch.isnan(raw).any(dim=1).cpu().numpy()]
        raise ValueError(
            f"score_fn returned NaN scores for users {bad[:10].tolist()}"
            f"{' ...' if len(bad) > 10 else ''}; scores must not be NaN"
        )
    return raw


def _hits(
    score_fn: ScoreFn,
    heldout: sp.csr_matrix,
    excl: sp.csr_matrix | None,
    eval_users: np.ndarray,
    kmax: int,
    batch_size: int,
    dev: torch.device | None,
    topk_out: np.ndarray | None,
) -> np.ndarray:
    """``(len(eval_users), kmax)``: whether each user's ranked position holds a held-out item
    (positions beyond ``n_items`` stay False); fills ``topk_out`` (the top items) where given."""
    n_items = heldout.shape[1]
    kk = min(kmax, n_items)  # positions beyond n_items are padding
    hits_all = np.zeros((len(eval_users), kmax), dtype=bool)
    for start in range(0, len(eval_users), batch_size):
        b = eval_users[start : start + batch_size]
        raw = _batch_scores(score_fn, b, n_items, dev)
        d = raw.device
        excluded = (
            _dense_mask(excl, b, n_items, d) if excl is not None else torch.zeros(raw.shape, dtype=torch.bool, device=d)
        )
        s = raw.masked_fill(excluded, -math.inf)  # a new tensor: score_fn's is left alone
        top = _rank_batch(s, excluded, kk)
        rel = _dense_mask(heldout, b, n_items, d)
        hits = torch.gather(rel, 1, top.clamp(min=0)) & (top >= 0)
        hits_all[start : start + len(b), :kk] = hits.cpu().numpy()
        if topk_out is not None:
            m = min(topk_out.shape[1], kk)
            topk_out[b, :m] = top[:, :m].cpu().numpy()
    return hits_all


def _per_user_metrics(
    hits_all: np.ndarray, n_held: np.ndarray, eval_users: np.ndarray, ks: tuple[int, ...], kmax: int
) -> dict[str, np.ndarray]:
    """Each metric@K per user (NaN for the users not evaluated) from the hit positions."""
    disc = 1.0 / np.log2(np.arange(2, kmax + 2, dtype=np.float64))
    idcg_table = np.cumsum(disc)
    per_user = {f"{m}@{k}": np.full(len(n_held), np.nan) for k in ks for m in METRICS}
    nh = n_held[eval_users].astype(np.float64)
    for k in ks:
        h = hits_all[:, :k]
        n_hit = h.sum(axis=1).astype(np.float64)
        dcg = h.astype(np.float64) @ disc[:k]
        idcg = idcg_table[np.minimum(n_held[eval_users], k) - 1]
        per_user[f"recall@{k}"][eval_users] = n_hit / nh
        per_user[f"ndcg@{k}"][eval_users] = dcg / idcg
        per_user[f"precision@{k}"][eval_users] = n_hit / k
        per_user[f"hit@{k}"][eval_users] = (n_hit > 0).astype(np.float64)
    return per_user


def split_masks(dataset: Any, split: str = "valid") -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """``(heldout, exclude)`` of a :class:`~cikgwb.data.Dataset` for ``split``.

    ``valid``: held-out = valid, masked = train. ``test``: held-out = test, masked = train +
    valid (all of train.txt), which is also the authors' protocol's mask. ``sel_half`` /
    ``report_half`` (the ``users`` protocol): held-out = the test items of that half of the test
    users only, masked = all of train.txt.
    """
    if split == "valid":
        return dataset.matrix("valid"), dataset.matrix("train")
    if split in ("test", "sel_half", "report_half"):
        return dataset.matrix(split), dataset.matrix("train_full")
    raise ValueError(f"split must be 'valid', 'test', 'sel_half' or 'report_half', got {split!r}")


# ----------------------------------------------------------------------------- baselines
def most_popular_scores(train: sp.csr_matrix, device: str | torch.device | None = None) -> ScoreFn:
    """Baseline: every user gets score(i) = number of training users of item i."""
    train = _as_csr(train, "train")
    counts = np.bincount(train.indices, minlength=train.shape[1]).astype(np.float32)
    pop = torch.from_numpy(counts)
    if device is not None:
        pop = pop.to(device)

    def score_fn(user_ids: torch.Tensor) -> torch.Tensor:
        return pop.unsqueeze(0).repeat(len(user_ids), 1)

    return score_fn


def random_scores(n_items: int, seed: int = 0) -> ScoreFn:
    """Baseline: uniform [0, 1) scores that depend only on (seed, user, item).

    A splitmix64-style hash of ``(seed, user * n_items + item)``, so a user's scores do not
    depend on the batch they come in.
    """
    if isinstance(n_items, bool) or not isinstance(n_items, (int, np.integer)) or n_items < 1:
        raise ValueError(f"n_items must be a positive int, got {n_items!r}")
    items = np.arange(n_items, dtype=np.uint64)
    mix = np.uint64((int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % (1 << 64))

    def score_fn(user_ids: torch.Tensor) -> torch.Tensor:
        u = user_ids.detach().cpu().numpy().astype(np.uint64)
        with np.errstate(over="ignore"):
            x = u[:, None] * np.uint64(n_items) + items[None, :] + mix
            x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            x = x ^ (x >> np.uint64(31))
        out = torch.from_numpy(((x >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24)))
        return out.to(user_ids.device)

    return score_fn


# ----------------------------------------------------------------------------- sparsity groups
def sparsity_groups(train_counts: np.ndarray, n_groups: int = 4) -> np.ndarray:
    """Group id (0 = sparsest) per user, groups of about equal total training interactions.

    As in KGAT: users sorted by their count ascending, cut into ``n_groups`` groups that each
    hold about ``T / n_groups`` of the ``T`` interactions. Users with equal counts always
    share a group: distinct count ``v`` (holding ``t_v = v * #users with v`` interactions,
    ``C_v`` interactions in smaller counts) goes to group
    ``floor(n_groups * (C_v + t_v / 2) / T)``, i.e. a count that straddles a cut goes to the
    side holding most of its interactions (KGAT's greedy loop always puts it in the earlier
    group). When one count holds much more than ``T / n_groups`` some groups stay empty and
    the ids are renumbered to be contiguous, so there can be fewer than ``n_groups`` groups.
    Users with 0 interactions fall in group 0.
    """
    c = np.asarray(train_counts)
    if c.ndim != 1 or not (np.issubdtype(c.dtype, np.integer) or np.issubdtype(c.dtype, np.floating)):
        raise ValueError(f"train_counts must be a 1-d numeric array, got shape {c.shape}, dtype {c.dtype}")
    if np.any(c < 0) or np.any(c != np.floor(c)):
        raise ValueError("train_counts must hold non-negative integer counts")
    if isinstance(n_groups, bool) or not isinstance(n_groups, (int, np.integer)) or n_groups < 1:
        raise ValueError(f"n_groups must be a positive int, got {n_groups!r}")
    values, inverse, n = np.unique(c.astype(np.int64), return_inverse=True, return_counts=True)
    totals = values * n
    total = totals.sum()
    if total == 0:
        return np.zeros(len(c), dtype=np.int64)
    cum_before = np.concatenate([[0], np.cumsum(totals)[:-1]])
    raw = np.minimum(np.floor(n_groups * (cum_before + totals / 2) / total), n_groups - 1)
    group_of_value = np.unique(raw, return_inverse=True)[1]
    return group_of_value[inverse].astype(np.int64)


def group_metrics(
    result: EvalResult,
    groups: np.ndarray,
    metric: str | Sequence[str] = "ndcg@50",
    train_counts: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per group: number of users, evaluated users, mean metric(s) over the evaluated users.

    With ``train_counts`` (the counts given to :func:`sparsity_groups`) the frame also gives
    each group's range of interaction counts (``min_count``, ``max_count``, a ``range`` label)
    and its total interactions.
    """
    groups = np.asarray(groups)
    metrics = [metric] if isinstance(metric, str) else list(metric)
    if groups.shape != (result.n_users,):
        raise ValueError(f"groups has shape {groups.shape}, expected ({result.n_users},): one id per user")
    for m in metrics:
        if m not in result.per_user:
            raise KeyError(f"metric {m!r} not in the result; available: {sorted(result.per_user)}")
    if train_counts is not None:
        train_counts = np.asarray(train_counts)
        if train_counts.shape != groups.shape:
            raise ValueError(f"train_counts has shape {train_counts.shape}, expected {groups.shape}")
    rows = []
    for g in np.unique(groups):
        sel = groups == g
        row: dict[str, Any] = {"group": int(g)}
        if train_counts is not None:
            lo, hi = int(train_counts[sel].min()), int(train_counts[sel].max())
            row.update(
                min_count=lo,
                max_count=hi,
                range=f"{lo}-{hi}" if lo != hi else f"{lo}",
                interactions=int(train_counts[sel].sum()),
            )
        row["users"] = int(sel.sum())
        row["users_evaluated"] = int((sel & result.evaluated).sum())
        for m in metrics:
            v = result.per_user[m][sel & result.evaluated]
            row[m] = float(v.mean()) if len(v) else math.nan
        rows.append(row)
    return pd.DataFrame(rows).set_index("group")
