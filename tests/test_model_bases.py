"""The shared pieces of the model zoo (issue 19 item 3): one negative sampler, one LightGCN
propagation on one user-item graph, one alternating KG phase, one relational-KG base."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cikgwb.graph import EdgeSets, InteractionGraph, lightgcn, normalized_adjacency, spmm
from cikgwb.models import build_model
from cikgwb.models._backbone import InteractionGraphModel
from cikgwb.models.base import AlternatingPhase
from cikgwb.models.kg_common import RelationalKGModel
from cikgwb.sampling import Membership, PairSampler, rejection_sample, uniform_negatives

try:  # the resolver's home after issue 19 item 1, else the older one
    from cikgwb.models import default_config
except ImportError:  # pragma: no cover
    from cikgwb.config import default_config

CPU = torch.device("cpu")


def _model(name, ds, **over):
    return build_model(name, ds, default_config("synthetic", name, **over).model, ds.train, CPU)


def _old_pair_negatives(pairs, n_items, users, gen):
    """The trainer's negative sampler as it was written before sampling.py (the reference)."""
    keys = torch.sort(pairs[:, 0] * n_items + pairs[:, 1]).values

    def is_train(u, i):
        k = u * n_items + i
        pos = torch.searchsorted(keys, k).clamp_max(len(keys) - 1)
        return keys[pos] == k

    neg = torch.randint(0, n_items, (len(users),), generator=gen)
    bad = is_train(users, neg)
    while bad.any():
        neg[bad] = torch.randint(0, n_items, (int(bad.sum()),), generator=gen)
        bad = is_train(users, neg)
    return neg


def test_pair_sampler_draws_what_the_old_sampler_drew_and_never_a_training_item():
    rng = np.random.default_rng(0)
    n_users, n_items = 30, 12  # dense: most users hold half the items, so redraws happen
    pairs = np.unique(np.column_stack([rng.integers(0, n_users, 200), rng.integers(0, n_items, 200)]), axis=0)
    s = PairSampler(pairs, n_items, 64, CPU)
    users = torch.as_tensor(pairs[:, 0])
    got = s.negatives(users, torch.Generator().manual_seed(3))
    want = _old_pair_negatives(torch.as_tensor(pairs), n_items, users, torch.Generator().manual_seed(3))
    assert torch.equal(got, want)
    train = {(int(u), int(i)) for u, i in pairs}
    assert not any((int(u), int(i)) in train for u, i in zip(users, got))
    batches = list(s.epoch(torch.Generator().manual_seed(1)))
    assert len(batches) == len(s) == -(-len(pairs) // 64) and sum(len(b[0]) for b in batches) == len(pairs)


def test_rejection_sample_stops_after_max_rounds_and_draws_in_a_fixed_order():
    calls = []

    def draw(k):
        calls.append(k)
        return torch.zeros(k, dtype=torch.int64)

    out = rejection_sample(draw, lambda x: x == 0, 5, max_rounds=3)  # every candidate is rejected
    assert calls == [5, 5, 5, 5] and out.tolist() == [0] * 5
    # KG tails: (0, 0, t) is true for t = 0, 1; only 2 is a negative
    true = torch.sort(torch.tensor([0, 1])).values  # keys (h * n_rel + r) * n_nodes + t
    t = uniform_negatives(
        torch.zeros(50, dtype=torch.int64),
        torch.zeros(50, dtype=torch.int64),
        3,
        true,
        1,
        torch.Generator().manual_seed(0),
        max_rounds=50,
    )
    assert (t == 2).all()
    m = Membership(torch.tensor([7, 3, 5]))
    assert m.contains(torch.tensor([3, 4, 7, 9])).tolist() == [True, False, True, False]


def test_lightgcn_takes_one_matrix_per_layer_and_can_leave_layer0_out():
    g = torch.Generator().manual_seed(0)
    edges = torch.tensor([[0, 3], [1, 3], [1, 4], [2, 4]])
    A1, A2 = normalized_adjacency(edges, 5), normalized_adjacency(edges[:3], 5)
    x = torch.rand(5, 4, generator=g)
    h1 = spmm(A1, x)
    h2 = spmm(A2, h1)
    assert torch.equal(lightgcn([A1, A2], x, 2, mean=False), x + h1 + h2)
    assert torch.equal(lightgcn(A1, x, 2, mean=False, layer0=False), h1 + spmm(A1, h1))
    assert torch.allclose(lightgcn(A1, x, 2, layer0=False), (h1 + spmm(A1, h1)) / 2)
    with pytest.raises(ValueError, match="2 matrices for 3 layers"):
        lightgcn([A1, A2], x, 3)


def test_one_interaction_graph_for_every_user_item_lightgcn(synthetic_ds):
    ds = synthetic_ds
    g = InteractionGraph(ds.train, ds.n_users, ds.n_items)
    assert torch.equal(g.edges, torch.as_tensor(EdgeSets(ds, ds.train, use_kg=False, use_interests=False).interact))
    assert g.n_nodes == ds.n_users + ds.n_items
    for name in ("lightgcn", "sgl", "simgcl", "kgcl", "mcclk"):
        m = _model(name, ds)
        A, n = m.ui_graph.A, g.n_nodes + 1  # LightGCN's graph has isolated entity nodes after the items
        assert isinstance(m.ui_graph, InteractionGraph), name
        assert torch.equal(A.crow_indices()[:n], g.A.crow_indices()) and torch.equal(A.values(), g.A.values()), name
        assert torch.equal(A.col_indices(), g.A.col_indices()), name


def test_lightgcn_is_cikgrec_with_every_extra_off(synthetic_ds):
    ds = synthetic_ds
    lc = default_config("synthetic", "lightgcn").model
    torch.manual_seed(0)
    lg = _model("lightgcn", ds)
    torch.manual_seed(0)
    ck = _model(
        "cikgrec",
        ds,
        use_kg=False,
        no_interests=True,
        no_uir=True,
        no_cl=True,
        transe=False,
        self_loops=False,
        edge_dropout=0.0,
        message_dropout=0.0,
        cf_weight=1.0,
        dim=lc.dim,
        n_layers=lc.n_layers,
        l2_reg=lc.l2_reg,
    )
    assert isinstance(lg, InteractionGraphModel) and torch.equal(lg.embedding, ck.embedding)
    g = torch.Generator().manual_seed(0)
    users, pos, neg = next(PairSampler(ds.train, ds.n_items, 256, CPU).epoch(g))
    a, b = lg.loss(users, pos, neg, 0), ck.loss(users, pos, neg, 0)
    assert set(a) == set(b) == {"loss", "loss_rec"} and torch.equal(a["loss"], b["loss"])
    a["loss"].backward()
    b["loss"].backward()
    assert torch.equal(lg.embedding.grad, ck.embedding.grad)
    assert torch.equal(torch.cat(lg.user_item_embeddings()), torch.cat(ck.user_item_embeddings()))


def test_relational_kg_base_and_node_dropout(synthetic_ds):
    torch.manual_seed(0)
    for name in ("kgin", "kgrec", "mcclk"):
        m = _model(name, synthetic_ds)
        assert isinstance(m, RelationalKGModel), name
        assert m.embedding.shape == (synthetic_ds.n_users + synthetic_ds.n_entities, m.cfg.dim)
    m = _model("kgin", synthetic_ds)
    m.node_dropout = 0.5
    m.train()
    kg, inter, w = m.sampled_graphs()
    assert kg.n_edges == int(m.kg.n_edges * 0.5) and 0 < inter.nnz < m.inter.nnz
    assert torch.allclose(w, m.inter_w[torch.isin(torch.arange(m.inter.nnz), inter.order)] * 2)
    m.eval()
    assert m.sampled_graphs()[0] is m.kg
    u, e = m.user_item_embeddings()
    assert u.shape == (synthetic_ds.n_users, m.cfg.dim) and e.shape == (synthetic_ds.n_items, m.cfg.dim)


def test_alternating_phase_owns_its_parameters_and_steps_once_per_loss(synthetic_ds):
    torch.manual_seed(0)
    m = _model("cikgrec", synthetic_ds, transe=True)
    assert isinstance(m.kg_phase, AlternatingPhase) and m.extra_optimizers() == {"kg_optimizer": m.kg_phase.optimizer}
    main = {id(p) for p in m.main_parameters()}
    assert id(m.relation) not in main and id(m.embedding) in main
    assert len(main) == len(list(m.parameters())) - 1
    for name in ("kgat", "kgcl"):  # their phases own nothing: the trainer's Adam updates every parameter
        k = _model(name, synthetic_ds)
        assert "kg_optimizer" in k.extra_optimizers() and len(k.main_parameters()) == len(list(k.parameters()))
    w = torch.nn.Parameter(torch.tensor([1.0]))
    phase = AlternatingPhase([w], lr=0.1)
    mean = phase.run((w - 3.0).pow(2).sum() for _ in range(4))
    assert w.grad is None and float(w) > 1.0 and 0 < mean < 4.0
    assert phase.run(iter(())) == 0.0
