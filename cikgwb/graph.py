"""The CIKG: one node index space, its edge sets, the contrastive views and normalised adjacency.

Node index space (``NodeSpace``)::

    users      [0, U)
    items      [U, U + I)            item i      -> node U + i
    entities   [U + I, U + E)        entity e    -> node U + e (items are entities 0..I-1)
    interests  [U + E, U + E + J)    interest j  -> node U + E + j

Edge sets are undirected (stored once as (a, b) node pairs; duplicates merged). Every
propagation matrix is the symmetric normalisation ``D^-1/2 A D^-1/2`` of the symmetrised edge
set (a node without edges gets 0, not inf), built once as a torch sparse CSR matrix and
reused. Relation types are kept for TransE only; propagation ignores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .data.dataset import Dataset


@dataclass(frozen=True)
class NodeSpace:
    n_users: int
    n_items: int
    n_entities: int  # items included
    n_interests: int

    @property
    def n_nodes(self) -> int:
        return self.n_users + self.n_entities + self.n_interests

    @property
    def interest_offset(self) -> int:
        return self.n_users + self.n_entities

    def items(self) -> slice:
        return slice(self.n_users, self.n_users + self.n_items)

    def entities(self) -> slice:
        return slice(self.n_users, self.n_users + self.n_entities)

    def interests(self) -> slice:
        return slice(self.interest_offset, self.n_nodes)


def _undirected(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Unique undirected edges as (lo, hi) rows, self-pairs removed."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    e = np.unique(np.column_stack([lo, hi]).astype(np.int64), axis=0)
    return e[e[:, 0] != e[:, 1]]


def interaction_edges(train_pairs: np.ndarray, n_users: int) -> np.ndarray:
    """The training interactions as unique undirected ``(user node, item node)`` rows, users
    ``[0, U)`` and item ``i`` at node ``U + i``, sorted by user, then item."""
    pairs = np.asarray(train_pairs, dtype=np.int64).reshape(-1, 2)
    return _undirected(pairs[:, 0], n_users + pairs[:, 1])


class EdgeSets:
    """The CIKG's edge sets on one :class:`NodeSpace`, built from a :class:`Dataset`.

    ``train_pairs`` are the interactions used for training (train, or train_full under the
    authors' protocol). ``use_kg`` / ``use_interests`` switch the two knowledge sources off
    (``use_interests=False`` is the paper's w/o UIK: no interest node anywhere).
    """

    def __init__(self, ds: Dataset, train_pairs: np.ndarray, use_kg: bool = True, use_interests: bool = True):
        U, E = ds.n_users, ds.n_entities
        J = ds.n_interests if use_interests else 0
        self.space = NodeSpace(U, ds.n_items, E, J)
        self.interact = interaction_edges(train_pairs, U)
        if use_kg and len(ds.kg):
            self.kg = _undirected(U + ds.kg[:, 0], U + ds.kg[:, 2])
        else:
            self.kg = np.zeros((0, 2), dtype=np.int64)
        if J and len(ds.user_interest):
            self.interest = _undirected(ds.user_interest[:, 0], U + E + ds.user_interest[:, 1])
        else:
            self.interest = np.zeros((0, 2), dtype=np.int64)
        self.train_pairs = train_pairs

    @property
    def cikg(self) -> np.ndarray:
        """All edges of the CIKG (interactions + KG + user-interest), merged."""
        return np.unique(np.concatenate([self.interact, self.kg, self.interest]), axis=0)

    def active_self_loops(self) -> np.ndarray:
        """Self-loops on every user and item with a training interaction (the authors' views)."""
        nodes = np.unique(self.interact.ravel())
        return np.column_stack([nodes, nodes])

    def views(self, kind: str = "paper") -> dict[str, np.ndarray]:
        """Edge sets of the three contrastive views (no self-loops unless ``kind='authors'``).

        paper:   v1 = G_R, v2 = G_R + G_J, v3 = G_R + KG (item-side knowledge on the items)
        authors: v1 = whole CIKG, v2 = G_J + self-loops on active users/items,
                 v3 = KG + the same self-loops (what the authors' code builds; see docs/method.md)
        """
        if kind == "paper":
            return {
                "v1": self.interact,
                "v2": np.concatenate([self.interact, self.interest]),
                "v3": np.concatenate([self.interact, self.kg]),
            }
        if kind == "authors":
            loops = self.active_self_loops()
            return {
                "v1": self.cikg,
                "v2": np.concatenate([self.interest, loops]),
                "v3": np.concatenate([self.kg, loops]),
            }
        raise ValueError(f"views={kind!r}: expected 'paper' or 'authors'")


def _symmetric_entries(edges: torch.Tensor, n_nodes: int, self_loops: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Both directions of each undirected (a, b) row, a row (a, a) once, ``self_loops``: one
    more (a, a) per node: ``(rows, cols)``, unsorted, duplicates kept."""
    loops = edges[:, 0] == edges[:, 1]
    und = edges[~loops]
    rows = torch.cat([und[:, 0], und[:, 1], edges[loops, 0]])
    cols = torch.cat([und[:, 1], und[:, 0], edges[loops, 1]])
    if self_loops:
        ar = torch.arange(n_nodes, device=edges.device)
        rows, cols = torch.cat([rows, ar]), torch.cat([cols, ar])
    return rows, cols


def _normalized_csr(rows: torch.Tensor, cols: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """``D^-1/2 A D^-1/2`` of a binary ``A`` given by its entries, sorted by (row, col) and
    unique, as a float32 CSR tensor. The indices are int32 where they fit: MKL's sparse product
    (LP64) takes them as they are, where int64 ones are converted at every product."""
    counts = torch.bincount(rows, minlength=n_nodes)
    deg = counts.to(torch.float32)
    dinv = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
    return _csr(counts, cols, dinv[rows] * dinv[cols], (n_nodes, n_nodes))


def normalized_adjacency(
    edges: np.ndarray | torch.Tensor, n_nodes: int, self_loops: bool = False, device: torch.device | str | None = None
) -> torch.Tensor:
    """Symmetric-normalised adjacency ``D^-1/2 (A [+ I]) D^-1/2`` as a float32 sparse CSR tensor.

    ``edges`` are undirected (a, b) rows; both directions are added. A row (a, a) is a
    self-loop entered once. Duplicate entries are merged (binary adjacency).
    """
    e = torch.as_tensor(edges, dtype=torch.int64, device=device).reshape(-1, 2)
    rows, cols = _symmetric_entries(e, n_nodes, self_loops)
    key = torch.unique(rows * n_nodes + cols)
    return _normalized_csr(key // n_nodes, key % n_nodes, n_nodes)


class EdgeDropout:
    """``normalized_adjacency(drop_edges(edges, rate), n_nodes, self_loops)``, the same matrix to
    the bit and the same random draw (one ``torch.rand`` per edge), without sorting at every
    call: the symmetric entries are put in CSR order once, with the undirected edge each comes
    from, and a draw keeps the entries of the kept edges (and every added self-loop).

    For edge sets without duplicate entries (unique undirected edges, as the CIKG's); others
    take the general way."""

    def __init__(self, edges: torch.Tensor, n_nodes: int, self_loops: bool = False):
        self.edges, self.n_nodes, self.self_loops = edges, n_nodes, self_loops
        e = edges.reshape(-1, 2)
        loops = e[:, 0] == e[:, 1]
        ids = torch.arange(len(e), device=e.device)
        und_ids = ids[~loops]
        src = torch.cat([und_ids, und_ids, ids[loops]])
        if self_loops:  # id len(e): always kept
            src = torch.cat([src, torch.full((n_nodes,), len(e), device=e.device)])
        rows, cols = _symmetric_entries(e, n_nodes, self_loops)
        key, order = torch.sort(rows * n_nodes + cols)
        self.fast = bool((key[1:] != key[:-1]).all())
        self.rows, self.cols, self.src = key // n_nodes, key % n_nodes, src[order]

    def __call__(self, rate: float, generator: torch.Generator | None = None) -> torch.Tensor:
        if rate <= 0 or not self.fast:
            return normalized_adjacency(drop_edges(self.edges, rate, generator), self.n_nodes, self.self_loops)
        keep = torch.rand(len(self.edges), generator=generator, device=self.edges.device) >= rate
        entry = torch.cat([keep, keep.new_ones(1)])[self.src]
        return _normalized_csr(self.rows[entry], self.cols[entry], self.n_nodes)


class InteractionGraph:
    """The user-item graph of the training interactions, the one every user-item LightGCN
    propagates on (LightGCN's baselines SGL and SimGCL, the collaborative halves of KGCL and
    MCCLK): nodes users ``[0, U)`` and items ``[U, U + I)``, ``edges`` the unique undirected
    (user node, item node) rows (:func:`interaction_edges`, on the CPU) and
    ``A = D^-1/2 R D^-1/2`` of them (no self-loops) on ``device``. ``n_nodes`` larger than
    ``U + I`` adds isolated nodes after the items (LightGCN's rows for the other KG entities)."""

    def __init__(
        self,
        train_pairs: np.ndarray,
        n_users: int,
        n_items: int,
        device: torch.device | str | None = None,
        n_nodes: int | None = None,
    ):
        self.n_users, self.n_items = n_users, n_items
        self.n_nodes = n_users + n_items if n_nodes is None else n_nodes
        if self.n_nodes < n_users + n_items:
            raise ValueError(f"InteractionGraph: n_nodes={n_nodes} < users + items = {n_users + n_items}")
        self.edges = torch.as_tensor(interaction_edges(train_pairs, n_users))
        self.A = normalized_adjacency(self.edges, self.n_nodes, device=device)

    def adjacency(self, edges: torch.Tensor) -> torch.Tensor:
        """``D^-1/2 A D^-1/2`` of an edge subset (a view), on the graph's device."""
        return normalized_adjacency(edges, self.n_nodes, device=self.A.device)

    def propagate(
        self, users: torch.Tensor, items: torch.Tensor, n_layers: int, A: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """LightGCN's mean over layers ``0..n_layers`` of ``[users; items]`` on ``A`` (default:
        the graph), split back into users and items."""
        z = lightgcn(self.A if A is None else A, torch.cat([users, items]), n_layers)
        return z[: self.n_users], z[self.n_users : self.n_users + self.n_items]


def drop_edges(edges: torch.Tensor, rate: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Keep each undirected edge with probability 1 - rate (both directions go together)."""
    if rate <= 0:
        return edges
    keep = torch.rand(len(edges), generator=generator, device=edges.device) >= rate
    return edges[keep]


def sparse_mm(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``A x`` for a sparse CSR ``A`` and a dense ``x``, no autograd. On the CPU, MKL's product
    is written straight into a new tensor: ``torch.sparse.mm`` first fills a zero tensor and
    copies it into its result (two passes over the output before the product) and converts
    int64 indices to int32 at every call. Same MKL call with ``beta = 0`` (the output's old
    contents are never read), same result to the bit."""
    if A.device.type != "cpu" or A.layout != torch.sparse_csr or x.dtype != A.dtype:
        return torch.sparse.mm(A, x)
    out = x.new_empty(A.shape[0], x.shape[1])
    return torch.addmm(out, A, x, beta=0, out=out)


class _SymSpMM(torch.autograd.Function):
    """y = A x for a symmetric sparse A; backward is A g (no transpose, no autograd on A)."""

    @staticmethod
    def forward(ctx, A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.A = A
        return sparse_mm(A, x)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        return None, sparse_mm(ctx.A, g.contiguous())


def spmm(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Sparse (symmetric) times dense with a cheap backward."""
    return _SymSpMM.apply(A, x)


def _csr(crow_counts: torch.Tensor, cols: torch.Tensor, vals: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """CSR from the entries' column indices and values in row order and the rows' entry counts;
    int32 indices where they fit (MKL's sparse product, LP64, takes them as they are, where it
    converts int64 ones at every product)."""
    idx = torch.int32 if max(*shape, len(cols)) < 2**31 - 1 else torch.int64
    crow = torch.zeros(len(crow_counts) + 1, dtype=idx, device=cols.device)
    crow[1:] = crow_counts.cumsum(0)
    return torch.sparse_csr_tensor(crow, cols.to(idx), vals, shape)


class RowSubset:
    """The rows ``rows`` (sorted, distinct node ids) of a symmetric sparse CSR matrix ``A``, for
    a last LightGCN layer whose result is needed on those rows only (a loss that reads a batch's
    rows, or only the users): forward ``A[rows] h``, backward ``A[rows]^T g``, made once when
    first needed. Same numbers to the bit as the whole product read at ``rows`` and its backward
    ``A g`` with ``g`` zero off ``rows``: each row's sum runs over the same entries in the same
    order, less the ones that add exact zeros (``tests/test_graph_fastpaths.py``)."""

    def __init__(self, A: torch.Tensor, rows: torch.Tensor):
        self.rows, self.n = rows, A.shape[1]
        crow = A.crow_indices().long()
        start, self.count = crow[rows], crow[rows + 1] - crow[rows]
        ptr = torch.zeros(len(rows) + 1, dtype=torch.int64, device=rows.device)
        ptr[1:] = self.count.cumsum(0)
        idx = torch.repeat_interleave(start - ptr[:-1], self.count) + torch.arange(int(ptr[-1]), device=rows.device)
        self.A = _csr(self.count, A.col_indices()[idx], A.values()[idx], (len(rows), self.n))
        self._T: torch.Tensor | None = None

    def transposed(self) -> torch.Tensor:
        """``A[rows]^T`` (n x len(rows)) as CSR: entry (j, p) for each entry (p, j), in column order."""
        if self._T is None:
            cols = self.A.col_indices().long()
            order = torch.sort(cols, stable=True).indices  # row p ascending within each column j
            pos = torch.repeat_interleave(torch.arange(len(self.rows), device=cols.device), self.count)
            counts = torch.bincount(cols, minlength=self.n)
            self._T = _csr(counts, pos[order], self.A.values()[order], (self.n, len(self.rows)))
        return self._T


class _RowsSpMM(torch.autograd.Function):
    """y = A[rows] x; backward A[rows]^T g."""

    @staticmethod
    def forward(ctx, sub: RowSubset, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.sub = sub
        return sparse_mm(sub.A, x)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        return None, sparse_mm(ctx.sub.transposed(), g.contiguous())


def simgcl_noise(h: torch.Tensor, eps: float, rows: torch.Tensor | None = None, n_rows: int = 0) -> torch.Tensor:
    """SimGCL's perturbation of one layer's output: ``eps * sign(h) * normalize_rows(U(0,1))``,
    so each row's noise has L2 norm ``eps`` and lies in the orthant of ``h``. ``rows``: ``h``
    holds only these rows of an ``n_rows``-row output; the uniform draw is still made for all
    ``n_rows`` rows (the same random numbers as the whole output takes) and read at ``rows``."""
    u = torch.rand_like(h) if rows is None else torch.rand(n_rows, h.shape[1], dtype=h.dtype, device=h.device)[rows]
    r = torch.nn.functional.normalize(u, dim=-1)
    return r.mul_(torch.sign(h)).mul_(eps)  # (sign(h) r) eps, in place: the same products


def lightgcn(
    A: torch.Tensor | Sequence[torch.Tensor],
    x: torch.Tensor,
    n_layers: int,
    noise_eps: float = 0.0,
    dropout: float = 0.0,
    training: bool = False,
    mean: bool = True,
    layer: "Callable[[torch.Tensor], torch.Tensor] | None" = None,
    layer0: bool = True,
    rows: "torch.Tensor | RowSubset | None" = None,
) -> torch.Tensor:
    """LightGCN: ``mean(x, A x, ..., A^l x)`` (``mean=False``: the sum, i.e. (l+1) times the
    mean, for callers whose loss is scale-invariant or that rescale only the rows they use).
    The one LightGCN propagation of the workbench (CIKGRec, LightGCN, SGL, SimGCL, KGCL, MCCLK).

    ``A`` may be a list with one matrix per layer (SGL's random-walk views). ``noise_eps`` > 0
    adds SimGCL noise after every layer (:func:`simgcl_noise`). ``dropout`` is message dropout
    on each layer's output (training only). ``layer`` replaces the product ``A h`` by another
    propagation step (SimGCL's noisy step; the benchmark's reference uses PyG's LGConv).
    ``layer0=False`` leaves ``x`` out of the sum and the mean (SimGCL's readout).

    ``rows`` (sorted distinct node ids, or a :class:`RowSubset` of the last layer's matrix made
    once for fixed rows): only these rows of the result are returned, and the last layer's
    product is taken on them only; the same numbers, to the bit, as the whole result read at
    ``rows``. With message dropout in training or a ``layer``, the whole result is made and
    read at ``rows``.
    """
    mats = A if isinstance(A, (list, tuple)) else None
    if mats is not None and len(mats) != n_layers:
        raise ValueError(f"lightgcn: {len(mats)} matrices for {n_layers} layers")
    if not layer0 and n_layers < 1:
        raise ValueError("lightgcn: layer0=False needs n_layers >= 1")
    sub = None
    if rows is not None and n_layers >= 1 and layer is None and not (dropout > 0 and training):
        sub = rows if isinstance(rows, RowSubset) else RowSubset(A if mats is None else mats[-1], rows)
    out = x if layer0 else None
    owned = False  # whether ``out`` is a sum made here (then the next layers are added in place)
    h = x
    for k in range(n_layers):
        last = sub is not None and k == n_layers - 1
        if last:  # the result's rows only
            out, owned = (None, False) if out is None else (out[sub.rows], True)
            h = _RowsSpMM.apply(sub, h)
        elif layer is not None:
            h = layer(h)
        else:
            h = spmm(A if mats is None else mats[k], h)
        if noise_eps > 0:
            with torch.no_grad():  # a constant: sign() has no gradient
                noise = simgcl_noise(h, noise_eps, sub.rows, len(x)) if last else simgcl_noise(h, noise_eps)
            h = h + noise
        if dropout > 0 and training:
            h = torch.nn.functional.dropout(h, dropout, training=True)
        if out is None:
            out = h
        elif owned:
            out.add_(h)
        else:
            out, owned = out + h, True
    if rows is not None and sub is None:
        out = out[rows.rows if isinstance(rows, RowSubset) else rows]
    if not mean:
        return out
    return out / (n_layers + 1 if layer0 else n_layers)
