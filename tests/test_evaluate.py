"""Tests of cikgwb.evaluate against a slow, obviously-correct pure-Python reference."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from cikgwb.evaluate import (
    EvalResult,
    evaluate,
    group_metrics,
    most_popular_scores,
    random_scores,
    sparsity_groups,
)


# ----------------------------------------------------------------------------- reference
def reference(S: np.ndarray, heldout: sp.csr_matrix, exclude: sp.csr_matrix | None, ks):
    """Per user: sort items by (-score, id), drop excluded, compute the metrics by the book."""
    n_users, n_items = S.shape
    out = {f"{m}@{k}": [math.nan] * n_users for k in ks for m in ("recall", "ndcg", "precision", "hit")}
    tops = {}
    for u in range(n_users):
        held = set(heldout[u].indices.tolist())
        if not held:
            continue
        excl = set(exclude[u].indices.tolist()) if exclude is not None else set()
        ranking = sorted(range(n_items), key=lambda i: (-float(S[u, i]), i))
        ranking = [i for i in ranking if i not in excl]
        tops[u] = ranking
        for k in ks:
            top = ranking[:k]
            hits = [r for r, i in enumerate(top, start=1) if i in held]
            dcg = sum(1.0 / math.log2(r + 1) for r in hits)
            idcg = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(held), k) + 1))
            out[f"recall@{k}"][u] = len(hits) / len(held)
            out[f"ndcg@{k}"][u] = dcg / idcg
            out[f"precision@{k}"][u] = len(hits) / k
            out[f"hit@{k}"][u] = 1.0 if hits else 0.0
    return {k: np.array(v) for k, v in out.items()}, tops


def make_case(seed: int, n_users=53, n_items=40, decimals: int | None = 1):
    rng = np.random.default_rng(seed)
    S = rng.normal(size=(n_users, n_items)).astype(np.float32)
    if decimals is not None:
        S = np.round(S, decimals).astype(np.float32)  # many ties
    S[rng.random(S.shape) < 0.05] = -np.inf  # some unmasked -inf scores
    ex = rng.random((n_users, n_items)) < 0.3
    held = (rng.random((n_users, n_items)) < 0.15) & ~ex
    held[:5] = False  # users without held-out items
    held[5:8] = rng.random((3, n_items)) < 0.6  # more held-out items than K
    ex[8:11] = True  # all items excluded but one
    ex[8:11, 3] = False
    held[8:11] = False
    held[8:11, [3, 7]] = True  # item 7 held out AND excluded
    held[11] = False
    held[11, 0] = True
    ex[11] = False
    S[11] = -np.inf  # all scores -inf, nothing masked
    ex[12] = False
    S[12] = 0.0  # one big tie
    S[12, ::2] = -0.0  # -0.0 equals 0.0
    held[12] = False
    held[12, [0, 1, 39]] = True
    return S, sp.csr_matrix(held.astype(np.float32)), sp.csr_matrix(ex.astype(np.float32))


def fn_of(S):
    T = torch.from_numpy(S)
    return lambda users: T[users]


# ----------------------------------------------------------------------------- agreement
@pytest.mark.parametrize("seed,decimals,batch", [(0, 1, 7), (1, 1, 16), (2, None, 10), (3, 0, 53), (4, None, 1000)])
def test_matches_reference(seed, decimals, batch):
    S, held, ex = make_case(seed, decimals=decimals)
    ks = (1, 5, 20, 45)  # 45 > n_items: padded lists
    ref, tops = reference(S, held, ex, ks)
    res = evaluate(fn_of(S), held, ex, ks=ks, batch_size=batch, return_topk=12)
    assert res.n_users_evaluated == int((np.diff(held.indptr) > 0).sum())
    for key, want in ref.items():
        np.testing.assert_allclose(res.per_user[key], want, rtol=0, atol=1e-9, equal_nan=True, err_msg=key)
        assert res.metrics[key] == pytest.approx(np.nanmean(want), abs=1e-9)
    for u in range(S.shape[0]):
        want = (tops[u][:12] + [-1] * 12)[:12] if u in tops else [-1] * 12
        assert res.topk[u].tolist() == want, u
    # item 7 of users 8..10 is held out and masked: counted, never hit
    both = np.asarray(held.multiply(ex).sum())
    assert res.n_heldout_excluded == int(both) >= 3
    assert np.all(res.per_user["recall@45"][8:11] == 0.5)


def test_fast_path_and_exact_path_agree_on_continuous_scores():
    S, held, ex = make_case(5, n_users=64, n_items=300, decimals=None)
    ref, _ = reference(S, held, ex, (10, 50))
    res = evaluate(fn_of(S), held, ex, ks=(10, 50), batch_size=9)
    for key, want in ref.items():
        np.testing.assert_allclose(res.per_user[key], want, atol=1e-9, equal_nan=True)


def test_tie_rule_lower_id_first_and_masked_never_ranked():
    n_items = 10
    held = np.zeros((2, n_items), dtype=np.float32)
    held[0, 0] = held[1, 9] = 1  # user 0's only held-out item is masked
    held = sp.csr_matrix(held)
    ex = np.zeros((2, n_items), dtype=np.float32)
    ex[0, [0, 2]] = 1
    ex[1, :] = 1
    ex[1, 9] = 0
    S = np.zeros((2, n_items), dtype=np.float32)
    S[1] = -np.inf
    res = evaluate(fn_of(S), held, sp.csr_matrix(ex), ks=(3,), return_topk=4)
    assert res.topk[0].tolist() == [1, 3, 4, 5]
    assert res.topk[1].tolist() == [9, -1, -1, -1]  # the only unmasked item, -inf and all
    assert res.per_user["hit@3"].tolist() == [0.0, 1.0]
    assert res.n_heldout_excluded == 1 and res.n_users_heldout_excluded == 1


def test_hand_computed_toy():
    # one user, scores fall with the id; item 0 masked; held-out {1, 3} -> ranking 1, 2, 3, 4
    S = np.array([[0.9, 0.8, 0.7, 0.6, 0.5]], dtype=np.float32)
    held = sp.csr_matrix(np.array([[0, 1, 0, 1, 0]], dtype=np.float32))
    ex = sp.csr_matrix(np.array([[1, 0, 0, 0, 0]], dtype=np.float32))
    res = evaluate(fn_of(S), held, ex, ks=(2, 3))
    idcg = 1 + 1 / math.log2(3)
    assert res.metrics["recall@2"] == pytest.approx(0.5)
    assert res.metrics["precision@2"] == pytest.approx(0.5)
    assert res.metrics["ndcg@2"] == pytest.approx(1 / idcg)
    assert res.metrics["recall@3"] == pytest.approx(1.0)
    assert res.metrics["precision@3"] == pytest.approx(2 / 3)
    assert res.metrics["ndcg@3"] == pytest.approx((1 + 1 / math.log2(4)) / idcg)
    assert res.metrics["hit@2"] == 1.0
    assert res.score(("recall@3", "ndcg@3")) == pytest.approx(1 + (1.5 / idcg))
    d = res.to_dict()
    assert d["n_users_evaluated"] == 1 and d["ks"] == [2, 3] and "per_user" not in d


def test_users_argument_and_unevaluated_are_nan():
    S, held, ex = make_case(6)
    res = evaluate(fn_of(S), held, ex, ks=(5,), users=[0, 5, 6, 20], return_topk=3)
    evaluated = np.flatnonzero(~np.isnan(res.per_user["recall@5"]))
    assert evaluated.tolist() == [5, 6, 20]  # user 0 has no held-out items
    assert res.n_users_evaluated == 3
    assert (res.topk[0] == -1).all() and (res.topk[1] == -1).all()
    assert np.flatnonzero(res.evaluated).tolist() == [5, 6, 20]


def test_exclude_none_and_device_passthrough():
    S, held, _ = make_case(7)
    ref, _ = reference(S, held, None, (5,))
    res = evaluate(fn_of(S), held, None, ks=(5,), device="cpu")
    np.testing.assert_allclose(res.per_user["ndcg@5"], ref["ndcg@5"], atol=1e-9, equal_nan=True)


def test_input_validation():
    S, held, ex = make_case(8)
    with pytest.raises(ValueError, match="expected"):
        evaluate(lambda u: torch.zeros(len(u), 3), held, ex)
    with pytest.raises(ValueError, match="exclude has shape"):
        evaluate(fn_of(S), held, ex[:, :5])
    with pytest.raises(ValueError, match="ks"):
        evaluate(fn_of(S), held, ex, ks=(0,))
    with pytest.raises(TypeError, match="scipy.sparse"):
        evaluate(fn_of(S), held.toarray(), ex)
    S2 = S.copy()
    S2[20, 3] = np.nan
    with pytest.raises(ValueError, match=r"NaN scores for users \[20\]"):
        evaluate(fn_of(S2), held, ex)
    with pytest.raises(KeyError, match="not computed"):
        evaluate(fn_of(S), held, ex, ks=(5,)).score()


# ----------------------------------------------------------------------------- baselines
def test_most_popular_toy():
    train = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0], [0, 0, 0, 0]], dtype=np.float32))
    fn = most_popular_scores(train)
    assert fn(torch.tensor([0, 3])).tolist() == [[3, 1, 2, 0]] * 2
    held = sp.csr_matrix(np.array([[0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0]], dtype=np.float32))
    res = evaluate(fn, held, train, ks=(1,), return_topk=2)
    # masked popularity rankings: u0 -> 2,3 ; u1 -> 1,3 ; u2 -> 1,3 ; u3 -> 0,2
    assert res.topk.tolist() == [[2, 3], [1, 3], [1, 3], [0, 2]]
    assert res.per_user["recall@1"].tolist() == [1.0, 1.0, 0.0, 1.0]


def test_random_scores_independent_of_batching():
    fn = random_scores(50, seed=3)
    a = fn(torch.arange(10))
    b = torch.cat([fn(torch.tensor([i])) for i in range(10)])
    assert torch.equal(a, b) and a.shape == (10, 50)
    assert 0 <= float(a.min()) and float(a.max()) < 1
    assert not torch.equal(a, random_scores(50, seed=4)(torch.arange(10)))
    assert len(torch.unique(a)) > 490


# ----------------------------------------------------------------------------- sparsity groups
def test_sparsity_groups_equal_totals_toy():
    counts = np.array([10] + [1] * 10 + [5, 2, 2, 2, 2, 2, 5])
    g = sparsity_groups(counts, 4)
    want = {1: 0, 2: 1, 5: 2, 10: 3}
    assert g.tolist() == [want[c] for c in counts]
    assert [int(counts[g == j].sum()) for j in range(4)] == [10, 10, 10, 10]


def test_sparsity_groups_monotone_and_balanced():
    rng = np.random.default_rng(0)
    counts = rng.geometric(0.05, size=5000)
    g = sparsity_groups(counts, 4)
    order = np.argsort(counts, kind="stable")
    assert np.all(np.diff(g[order]) >= 0)  # monotone in the count
    for c in np.unique(counts):  # equal counts share a group
        assert len(np.unique(g[counts == c])) == 1
    totals = np.array([counts[g == j].sum() for j in range(4)])
    largest_value_total = max(c * (counts == c).sum() for c in np.unique(counts))
    assert np.all(np.abs(totals - counts.sum() / 4) <= largest_value_total)
    # one value too heavy to split -> fewer, contiguous groups
    assert sparsity_groups(np.array([1, 100, 100, 100]), 4).tolist() == [0, 1, 1, 1]


def test_group_metrics_frame():
    S, held, ex = make_case(9)
    res = evaluate(fn_of(S), held, ex, ks=(5, 50))
    counts = np.diff(ex.indptr)
    g = sparsity_groups(counts, 3)
    df = group_metrics(res, g, "ndcg@50", train_counts=counts)
    assert isinstance(df, pd.DataFrame)
    assert df["users"].sum() == S.shape[0]
    assert df["users_evaluated"].sum() == res.n_users_evaluated
    assert df["min_count"].is_monotonic_increasing
    for j, row in df.iterrows():
        v = res.per_user["ndcg@50"][(g == j) & res.evaluated]
        assert row["ndcg@50"] == pytest.approx(v.mean())
    with pytest.raises(KeyError):
        group_metrics(res, g, "ndcg@7")
    assert isinstance(res, EvalResult)
