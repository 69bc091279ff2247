"""The fast paths of cikgwb/graph.py give the same numbers, to the bit, as the plain ways they
replace (issue 34): the re-normalised adjacency of a random edge subset, MKL's product written
straight into its output, LightGCN's in-place layer sum, constant noise and last-layer row subsets."""

from __future__ import annotations

import numpy as np
import torch

from cikgwb.data import load_dataset
from cikgwb.graph import (
    EdgeDropout,
    EdgeSets,
    RowSubset,
    drop_edges,
    lightgcn,
    normalized_adjacency,
    sparse_mm,
)


def _cikg():
    ds = load_dataset("synthetic")
    es = EdgeSets(ds, ds.train)
    return torch.as_tensor(es.cikg), es.space.n_nodes


def _parts(A: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return A.crow_indices().long(), A.col_indices().long(), A.values()


def _reference_adjacency(edges: torch.Tensor, n: int, self_loops: bool) -> torch.Tensor:
    """The previous construction: coalesced COO with int64 indices, then CSR."""
    e = edges.reshape(-1, 2)
    loops = e[:, 0] == e[:, 1]
    und = e[~loops]
    rows = torch.cat([und[:, 0], und[:, 1], e[loops, 0]])
    cols = torch.cat([und[:, 1], und[:, 0], e[loops, 1]])
    if self_loops:
        rows, cols = torch.cat([rows, torch.arange(n)]), torch.cat([cols, torch.arange(n)])
    key = torch.unique(rows * n + cols)
    rows, cols = key // n, key % n
    deg = torch.bincount(rows, minlength=n).to(torch.float32)
    dinv = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
    coo = torch.sparse_coo_tensor(torch.stack([rows, cols]), dinv[rows] * dinv[cols], (n, n), is_coalesced=True)
    return coo.to_sparse_csr()


def test_normalized_adjacency_equals_the_coo_construction_and_has_int32_indices():
    e, n = _cikg()
    for loops in (False, True):
        A, R = normalized_adjacency(e, n, self_loops=loops), _reference_adjacency(e, n, loops)
        assert A.crow_indices().dtype == torch.int32 and A.col_indices().dtype == torch.int32
        assert all(torch.equal(a, b) for a, b in zip(_parts(A), _parts(R)))


def test_edge_dropout_is_the_renormalised_drop_to_the_bit_with_the_same_draw():
    e, n = _cikg()
    for loops in (False, True):
        fast = EdgeDropout(e, n, self_loops=loops)
        assert fast.fast
        g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
        for rate in (0.1, 0.5):
            A = fast(rate, g1)
            R = normalized_adjacency(drop_edges(e, rate, g2), n, self_loops=loops)
            assert all(torch.equal(a, b) for a, b in zip(_parts(A), _parts(R)))
        assert torch.equal(g1.get_state(), g2.get_state())  # the same random numbers were drawn
    # an edge set with both directions of an edge (duplicate entries) takes the general way
    dup = torch.cat([e[:5], e[:5].flip(1)])
    assert not EdgeDropout(dup, n).fast
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    A, R = EdgeDropout(dup, n)(0.3, g1), normalized_adjacency(drop_edges(dup, 0.3, g2), n)
    assert all(torch.equal(a, b) for a, b in zip(_parts(A), _parts(R)))


def test_sparse_mm_equals_torch_sparse_mm_and_ignores_the_output_buffer():
    e, n = _cikg()
    A = normalized_adjacency(e, n, self_loops=True)
    x = torch.randn(n, 16, generator=torch.Generator().manual_seed(0))
    ref = torch.sparse.mm(_reference_adjacency(e, n, True), x)
    assert torch.equal(sparse_mm(A, x), ref)
    # beta = 0: whatever the new output tensor held (here NaN) is never read
    out = torch.full((n, 16), float("nan"))
    assert torch.equal(torch.addmm(out, A, x, beta=0, out=out), ref)


def test_lightgcn_sum_and_noise_give_the_plain_loop_values_and_gradients():
    e, n = _cikg()
    A = normalized_adjacency(e, n)
    x0 = torch.randn(n, 8, generator=torch.Generator().manual_seed(2))

    def plain(x):  # the loop as it was: out-of-place sums, noise with autograd
        out, h = x, x
        for _ in range(3):
            h = torch.sparse.mm(A, h)
            h = h + torch.sign(h) * torch.nn.functional.normalize(torch.rand_like(h), dim=-1) * 0.1
            out = out + h
        return out

    res = []
    for fn in (plain, lambda x: lightgcn(A, x, 3, noise_eps=0.1, mean=False)):
        x = x0.clone().requires_grad_(True)
        torch.manual_seed(7)
        y = fn(x)
        (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
        res.append((y.detach(), x.grad))
    assert torch.equal(res[0][0], res[1][0])
    assert np.array_equal(res[0][1].numpy(), res[1][1].numpy())


def test_lightgcn_rows_equal_the_whole_result_read_at_those_rows_with_the_same_gradients():
    e, n = _cikg()
    A = normalized_adjacency(e, n, self_loops=True)
    x0 = torch.randn(n, 8, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(4)
    picks = torch.randint(0, n, (300,), generator=g)  # with repeats, as a batch's rows
    rows, inv = torch.unique(picks, return_inverse=True)
    w = torch.randn(300, 8, generator=g)
    for kw in ({}, {"noise_eps": 0.1}, {"layer0": False}, {"n_layers": 1}):
        res = []
        for sub in (None, rows, RowSubset(A, rows)):
            x = x0.clone().requires_grad_(True)
            torch.manual_seed(11)
            L = kw.get("n_layers", 3)
            opts = {k: v for k, v in kw.items() if k != "n_layers"}
            if sub is None:
                y = lightgcn(A, x, L, mean=False, **opts)[picks]
            else:
                y = lightgcn(A, x, L, mean=False, rows=sub, **opts)[inv]
            (y * w).sum().backward()
            res.append((y.detach(), x.grad, torch.rand(1)))  # the last: the random stream after the call
        for y, gx, r in res[1:]:
            assert torch.equal(y, res[0][0]) and torch.equal(gx, res[0][1]) and torch.equal(r, res[0][2]), kw
    # a contiguous range of rows, as v2 (the users) and v3 (the entities) are read
    sub = RowSubset(A, torch.arange(10, n - 5))
    x = x0.clone().requires_grad_(True)
    assert torch.equal(lightgcn(A, x, 2, rows=sub), lightgcn(A, x, 2)[10 : n - 5])
