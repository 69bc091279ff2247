"""Strong simple baselines: closed-form or training-free item-item models and the popularity list.

Each is computed once from the binary training matrix ``X`` (users x items: the protocol's
training pairs) and scores a user by her row ``x_u``; nothing is learned by gradient steps, so
the trainer fits them once (``closed_form = True``: :meth:`ClosedForm.fit`), evaluates the
selection split once and tests once (:class:`cikgwb.train.Trainer`)::

    EASE     (Steck, WWW 2019)      B = argmin |X - XB|^2 + l2_reg |B|^2, diag(B) = 0
    ItemKNN  (Sarwar et al. 2001;   W = cosine item-item similarity with shrinkage, the k nearest
              Aiolli 2013)              neighbours of each candidate item kept
    GF-CF    (Shen et al., CIKM     x_u P + ideal_weight * x_u D_I^-1/2 V_K V_K^T D_I^1/2
              2021)                     (normalised item-item filter plus an ideal low-pass part)
    MostPop                         the training-user count of each item, the same for every user

Their settings are chosen per run on the protocol's selection split from the grid in each
``Config.GRID`` (``cikgwb sweep --model M --preset grid --select``: :mod:`cikgwb.sweep`); the
defaults are the usual published values, not tuned. Dense item x item matrices (EASE's ``B``,
GF-CF's ``P``) are float32: 313 MB on book-crossing's 8,853 items. Scoring a batch is a sparse (batch x items)
row block times the fitted item x item operator, so it costs the batch's interactions, not
``batch x items x items``.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg
import torch

from ..config import ModelConfig
from ..data.dataset import Dataset
from ..evaluate import most_popular_scores
from . import register
from .base import Recommender


def interaction_matrix(pairs: np.ndarray, n_users: int, n_items: int) -> sp.csr_matrix:
    """The binary float64 users x items CSR matrix of ``(user, item)`` pairs (duplicates count once)."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    x = sp.csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_users, n_items))
    x.sum_duplicates()
    x.data[:] = 1.0
    return x


def inverse_sqrt(v: np.ndarray) -> np.ndarray:
    """``v ** -1/2`` with 0 where ``v`` is 0 (a user or item without training interactions)."""
    v = np.asarray(v, dtype=np.float64)
    out = np.zeros_like(v)
    np.divide(1.0, np.sqrt(v), out=out, where=v > 0)
    return out


def fingerprint(x: sp.csr_matrix) -> str:
    """A key of a binary CSR matrix's pattern (its shape, ``indptr`` and ``indices``)."""
    h = hashlib.sha1(repr(x.shape).encode())
    for a in (x.indptr, x.indices):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


_SHARED: dict[str, OrderedDict[tuple, Any]] = {}


def shared(kind: str, key: tuple, compute: Callable[[], Any], keep: int = 2) -> Any:
    """``compute()``, kept for the last ``keep`` keys of its ``kind``: a part of a fit that
    depends on the training matrix (``key`` holds its :func:`fingerprint`) and on some settings
    only (GF-CF's filter and SVD, ItemKNN's ranked similarities), shared by the runs of a grid that
    one process trains one after another (``cikgwb sweep --executor batch``). A hit returns what
    the same computation returned, so no run's result depends on what ran before it. The values
    are read, never changed."""
    store = _SHARED.setdefault(kind, OrderedDict())
    if key in store:
        store.move_to_end(key)
        return store[key]
    value = store[key] = compute()
    while len(store) > keep:
        store.popitem(last=False)
    return value


class ClosedForm(Recommender):
    """A recommender computed once from the training matrix ``X`` (:meth:`fit`), no loss.

    Subclasses implement :meth:`_fit` (called once) and :meth:`scores` (a batch of rows of ``X``
    to a dense float array). The fitted operators are plain attributes, not state: a checkpoint
    holds no tensor, and a reloaded model (:func:`cikgwb.runs.load_run`) refits on first use,
    which gives the same operator (every step is deterministic)."""

    closed_form: ClassVar[bool] = True

    def __init__(self, ds: Dataset, cfg: ModelConfig, train_pairs: np.ndarray, device: torch.device):
        super().__init__(ds, cfg, train_pairs, device)
        self.X = interaction_matrix(train_pairs, ds.n_users, ds.n_items)
        self.fit_seconds: float | None = None

    def fit(self) -> float:
        """Compute the model from ``X`` once; returns the seconds the first call took."""
        if self.fit_seconds is None:
            t0 = time.time()
            self._fit()
            self.fit_seconds = time.time() - t0
        return self.fit_seconds

    def _fit(self) -> None:
        raise NotImplementedError

    def scores(self, rows: sp.csr_matrix) -> np.ndarray:
        """Dense scores ``(len(rows), n_items)`` of a block of rows of ``X``."""
        raise NotImplementedError

    def loss(self, users, pos, neg, epoch):
        raise TypeError(f"{type(self).__name__} is closed-form: it has no loss (the trainer calls fit())")

    @torch.no_grad()
    def score_fn(self) -> Callable[[torch.Tensor], torch.Tensor]:
        self.fit()

        def fn(users: torch.Tensor) -> torch.Tensor:
            rows = self.X[users.detach().cpu().numpy()]
            return torch.from_numpy(np.asarray(self.scores(rows), dtype=np.float32)).to(self.device_)

        return fn


# ----------------------------------------------------------------------------- EASE
@dataclass
class EASEConfig(ModelConfig):
    """EASE's setting: the L2 weight (Steck 2019 tunes it per dataset; 500 on ML-20M)."""

    l2_reg: float = 500.0  # lambda, the ridge weight on B; > 0. Grid: 10 .. 5000, log-spaced

    RANGES: ClassVar[dict[str, tuple]] = {"l2_reg": (0, False, None, False)}
    GRID: ClassVar[dict[str, list]] = {"l2_reg": [10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 5000.0]}


@register("ease", EASEConfig)
class EASE(ClosedForm):
    """EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019)::

        B = argmin_B |X - X B|_F^2 + l2_reg |B|_F^2   subject to diag(B) = 0
          : G = X^T X + l2_reg I,  P = G^-1,  B_ij = -P_ij / P_jj (i != j),  B_jj = 0
        score(u, .) = x_u B

    ``G`` is inverted in float64 from its Cholesky factor (LAPACK ``potrf`` / ``potri``: ``G`` is
    symmetric positive definite for ``l2_reg > 0``); ``B`` is kept in float32."""

    def _fit(self) -> None:
        # shared by the runs with the same training matrix and l2_reg (the seeds of the users
        # protocol, which all train on train.txt): one fit per grid point (:func:`shared`)
        key = (fingerprint(self.X), float(self.cfg.l2_reg))
        self.B = shared("ease", key, lambda: ease_weights(self.X, self.cfg.l2_reg))

    def scores(self, rows: sp.csr_matrix) -> np.ndarray:
        return rows.astype(np.float32) @ self.B


def ease_weights(x: sp.csr_matrix, l2_reg: float) -> np.ndarray:
    """EASE's ``B`` (float32, items x items) of the training matrix ``x`` (:class:`EASE`)."""
    g = (x.T @ x).toarray()
    g[np.diag_indices_from(g)] += l2_reg
    c, info = scipy.linalg.lapack.dpotrf(g, lower=True, overwrite_a=True)
    if info == 0:
        c, info = scipy.linalg.lapack.dpotri(c, lower=True, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: X^T X + l2_reg I is not positive definite (LAPACK info {info})")
    p = np.tril(c) + np.tril(c, -1).T  # dpotri fills the lower triangle of the symmetric inverse
    b = p / -np.diag(p)[None, :]
    b[np.diag_indices_from(b)] = 0.0
    return b.astype(np.float32)


# ----------------------------------------------------------------------------- ItemKNN
@dataclass
class ItemKNNConfig(ModelConfig):
    """ItemKNN's settings (RecBole's defaults: k 100, no shrinkage)."""

    k: int = 100  # neighbours kept per candidate item. Grid: 50, 100, 200, 500, 1000, 2000
    shrink: float = 0.0  # shrinkage added to the cosine's denominator; >= 0. Grid: 0, 10, 100

    RANGES: ClassVar[dict[str, tuple]] = {"k": (1, True, None, False), "shrink": (0, True, None, False)}
    # k up to 2000: on dbbook2014 (2,680 items) the selection half still improved from 200 to 500
    GRID: ClassVar[dict[str, list]] = {"k": [50, 100, 200, 500, 1000, 2000], "shrink": [0.0, 10.0, 100.0]}


def cosine_knn(x: sp.csr_matrix, k: int, shrink: float) -> sp.csr_matrix:
    """The items x items ItemKNN weights of :class:`ItemKNN` (its docstring), CSR float64: the
    first ``k`` of each column of :func:`ranked_cosine` (shared by the runs that differ in k)."""
    ranked = shared("itemknn", (fingerprint(x), float(shrink)), lambda: ranked_cosine(x, shrink), keep=3)
    row, col, val, rank = ranked
    keep = (rank < k) & (val != 0)
    n = x.shape[1]
    return sp.csr_matrix((val[keep], (row[keep], col[keep])), shape=(n, n))


def ranked_cosine(x: sp.csr_matrix, shrink: float) -> tuple[np.ndarray, ...]:
    """``(row, col, val, rank)`` of the shrunk cosine similarities ``s_ij`` (i != j) of the
    columns of ``x``, sorted by column, then similarity descending, then item id ascending;
    ``rank`` is the place of the entry in its column (0 = most similar)."""
    gram = (x.T @ x).tocoo()
    norm = np.sqrt(np.asarray(x.power(2).sum(axis=0)).ravel())
    off = gram.row != gram.col
    row, col = gram.row[off], gram.col[off]
    den = norm[row] * norm[col] + shrink
    val = np.divide(gram.data[off], den, out=np.zeros(len(row)), where=den > 0)
    order = np.lexsort((row, -val, col))
    row, col, val = row[order], col[order], val[order]
    return row, col, val, np.arange(len(col)) - np.searchsorted(col, col, side="left")


@register("itemknn", ItemKNNConfig)
class ItemKNN(ClosedForm):
    """Item-based k-nearest neighbours with shrunk cosine similarity (Sarwar et al., WWW 2001;
    the neighbourhood of the candidate item, as RecBole's ItemKNN)::

        s_ij = x_i . x_j / (|x_i| |x_j| + shrink)   (i != j; 0 where the denominator is 0)
        W_ij = s_ij if i is among the k items with the largest s_.j (ties: lower id first), else 0
        score(u, j) = sum_i x_ui W_ij

    with ``x_i`` item i's column of ``X``. ``W`` is sparse (at most k entries per column)."""

    def _fit(self) -> None:
        self.W = cosine_knn(self.X, self.cfg.k, self.cfg.shrink).astype(np.float32)

    def scores(self, rows: sp.csr_matrix) -> np.ndarray:
        return (rows.astype(np.float32) @ self.W).toarray()


# ----------------------------------------------------------------------------- GF-CF
@dataclass
class GFCFConfig(ModelConfig):
    """GF-CF's settings (Shen et al.: rank 256, weight 0.3 on all but Amazon-book, where 0)."""

    ideal_weight: float = 0.3  # weight of the ideal low-pass part; >= 0. Grid: 0, 0.1, 0.3, 0.5, 1, 2, 5
    ideal_rank: int = 256  # singular vectors K in the ideal low-pass part. Grid: 16, 32, 64, 128, 256

    RANGES: ClassVar[dict[str, tuple]] = {"ideal_weight": (0, True, None, False), "ideal_rank": (1, True, None, False)}
    # ranks down to 16: on dbbook2014 the selection half preferred 64 to 128 and 256; weights up to 5:
    # on ml1m it still improved from 0.5 to 1
    GRID: ClassVar[dict[str, list]] = {
        "ideal_weight": [0.0, 0.1, 0.3, 0.5, 1.0, 2.0, 5.0],
        "ideal_rank": [16, 32, 64, 128, 256],
    }


def top_right_singular_vectors(m: sp.csr_matrix, rank: int) -> np.ndarray:
    """``(n_cols, rank')`` orthonormal: the right singular vectors of ``m`` with the ``rank'`` =
    min(rank, min(m.shape)) largest singular values. ARPACK (``svds``) from a fixed start
    vector where rank < min(m.shape) - 1, else a full dense SVD; deterministic either way."""
    small = min(m.shape)
    if rank < small - 1:
        v0 = np.random.default_rng(0).standard_normal(small)
        _, _, vt = scipy.sparse.linalg.svds(m, k=rank, v0=v0, solver="arpack")
        return vt.T
    _, _, vt = np.linalg.svd(m.toarray(), full_matrices=False)
    return vt[:rank].T


@register("gfcf", GFCFConfig)
class GFCF(ClosedForm):
    """GF-CF (Shen et al., "How Powerful is Graph Convolution for Recommendation?", CIKM 2021)::

        R = D_U^-1/2 X D_I^-1/2          (D_U, D_I: user and item degrees in X; 0^-1/2 := 0)
        P = R^T R                        the normalised item-item matrix (linear filter)
        V_K = the K = ideal_rank top right singular vectors of R
        score(u, .) = x_u P + ideal_weight * x_u D_I^-1/2 V_K V_K^T D_I^1/2

    ``ideal_weight = 0`` is the linear filter alone (no SVD is computed). ``P`` is kept dense
    (float32; on ML-1M it is nearly full), the low-pass part as its two (items x K) factors."""

    def _fit(self) -> None:
        du = np.asarray(self.X.sum(axis=1)).ravel()
        di = np.asarray(self.X.sum(axis=0)).ravel()
        r = (sp.diags(inverse_sqrt(du)) @ self.X @ sp.diags(inverse_sqrt(di))).tocsr()
        key = fingerprint(self.X)  # P and V_K shared by the runs of a grid (:func:`shared`)
        # C order: R^T R is CSC, so its dense form is Fortran-ordered, and scipy's sparse @ dense
        # copied the whole P (313 MB on book-crossing) into C order at every scored batch
        self.P = shared("gfcf-P", (key,), lambda: np.ascontiguousarray((r.T @ r).toarray(), dtype=np.float32))
        self.left = self.right = None
        if self.cfg.ideal_weight > 0:
            rank = self.cfg.ideal_rank
            v = shared("gfcf-V", (key, rank), lambda: top_right_singular_vectors(r, rank), keep=5)
            self.left = (inverse_sqrt(di)[:, None] * v).astype(np.float32)  # D_I^-1/2 V_K
            self.right = (v.T * np.sqrt(di)[None, :]).astype(np.float32)  # V_K^T D_I^1/2

    def scores(self, rows: sp.csr_matrix) -> np.ndarray:
        rows = rows.astype(np.float32)
        out = rows @ self.P
        if self.left is not None:
            out += self.cfg.ideal_weight * ((rows @ self.left) @ self.right)
        return out


# ----------------------------------------------------------------------------- MostPop
@dataclass
class MostPopConfig(ModelConfig):
    """MostPop has no setting."""

    GRID: ClassVar[dict[str, list]] = {}


@register("mostpop", MostPopConfig)
class MostPop(ClosedForm):
    """The most-popular list (:func:`cikgwb.evaluate.most_popular_scores`): every user gets
    ``score(u, i) = |{v : x_vi = 1}|``, the number of training users of item i."""

    def _fit(self) -> None:
        self.popular = most_popular_scores(self.X.tocsr(), self.device_)

    @torch.no_grad()
    def score_fn(self) -> Callable[[torch.Tensor], torch.Tensor]:
        self.fit()
        return self.popular
