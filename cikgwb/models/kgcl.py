"""KGCL (Yang, Huang, Xia, Li, "Knowledge Graph Contrastive Learning for Recommendation",
SIGIR 2022).

Item representations are enriched from the KG with a relation-aware graph attention over at
most ``K`` (10) KG neighbours per item (``N_i``: ``(r, e)`` with the item as head, then with the
item as tail under the inverse relation; the first ``K`` in file order)::

    x_i' = x_i + sum_{(r, e) in N_i} a(i, r, e) e_e,
    a(i, r, e) = softmax_{N_i}( LeakyReLU_0.2( (W [x_i || e_e] + b)^T e_r ) )

(dropout 0.4 on the inputs, on the attention and on the output while training). Users
``[0, U)`` and the KG-enriched items ``U + i`` are propagated by LightGCN on the interaction
graph, ``Z = mean_{k=0..L} A^k [E_u; X']``, ``y_ui = z_u^T z_i``.

KG augmentation with consistency-based structure dropout, once per epoch:

1. two KG views ``G_k^1, G_k^2``: every item-entity edge dropped with probability
   ``kg_p_drop`` (0.5);
2. item KG consistency ``c_i = cos(x_i'(G_k^1), x_i'(G_k^2))``;
3. keep probabilities ``w_i = minmax(exp(c_i))`` floored at 0.3,
   ``p_i = min((1 - ui_p_drop) w_i / mean(w), 0.95)``; each item ``i`` is kept with
   probability ``p_i`` and a dropped item loses all its interactions; two independent draws
   give the interaction views ``G_u^1, G_u^2`` (items with consistent KG knowledge are the
   ones kept);
4. per batch, view ``k`` is LightGCN on ``G_u^k`` with items enriched from ``G_k^k``.

Loss (the authors' sums over the batch, written here per example)::

    L = (1/B) [ sum_b softplus(y_uj - y_ui) + l2_reg * (|e_u|^2 + |e_i|^2 + |e_j|^2) / 2 / B
              + ssl_reg * sum_b (g(z_u^1, z_u^2) + g(z_i^1, z_i^2)) ]

with ``e`` the layer-0 user and item embeddings and ``g`` GRACE's symmetric InfoNCE with
intra- and inter-view negatives over the batch (temperature 0.2). After every epoch a TransE
pass over the items' KG triples (one random triple per head item, negatives a random KG tail
that is not a true tail, L2 1e-3) updates the item, entity and relation embeddings.

Defaults (the authors' ``world.py`` / ``parse.py`` for Yelp2018 and Amazon-book): dim 64,
3 layers, lr 1e-3, l2 (decay) 1e-4, ssl_reg 0.1, tau 0.2, kg_p_drop 0.5, ui_p_drop 0.1, 10
neighbours per item, GAT dropout 0.4, embeddings N(0, 0.1); batch 1024 is this workbench's
protocol (the authors use 2048). Differences: neighbour lists also use triples where the item
is the tail (inverse relation) while the authors' use heads only; an item without KG
neighbours keeps its own embedding (the authors' padding averages a learnt padding vector);
TransE has its own Adam (the authors reuse the main one) and runs even when the KG has fewer
than 4096 head items (their loader drops the incomplete batch, so it would never run on
these datasets); ``transe=false`` skips it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..data.dataset import Dataset
from ..graph import InteractionGraph
from ..sampling import Membership, tail_negatives, triple_keys
from . import register
from .base import AlternatingPhase, Recommender
from .kg_common import Pattern
from .losses import grace_loss, l2_batch, transe_loss


@dataclass
class Config(ModelConfig):
    """KGCL's settings (its authors' defaults; see the module docstring)."""

    dim: int = 64  # embedding size
    n_layers: int = 3  # LightGCN layers of the CF part
    l2_reg: float = 1e-4  # L2 weight of the BPR loss
    gcl_weight: float = 0.1  # weight of the contrastive loss
    gcl_temp: float = 0.2  # temperature of the contrastive loss
    no_cl: bool = False  # w/o CL: no contrastive views or loss
    transe: bool = True  # the alternating TransE phase on the KG
    lr_kg: float = 1e-3  # learning rate of that phase
    l2_reg_kge: float = 1e-3  # L2 weight of the TransE loss
    kg_batch_size: int = 4096  # triples per batch of that phase
    kg_p_drop: float = 0.5  # KG edge dropout of the augmented views
    ui_p_drop: float = 0.1  # user-item edge dropout of the augmented views
    entity_num_per_item: int = 10  # KG neighbours sampled per item
    gat_dropout: float = 0.4  # dropout of the item-entity attention
    leaky_slope: float = 0.2  # LeakyReLU slope of that attention
    init_std: float = 0.1  # std of the normal initialisation

    RANGES: ClassVar[dict[str, tuple]] = {k: (0, True, 1, False) for k in ("kg_p_drop", "ui_p_drop", "gat_dropout")}


#: training settings of KGCL's authors (the model layer) and per-dataset overrides (none)
TRAIN = {"lr": 1e-3}
DATASETS: dict[str, dict] = {}


def item_neighbours(ds: Dataset, k: int) -> np.ndarray:
    """``(m, 3)`` rows ``(item, relation, entity)``: at most ``k`` per item, canonical triples
    with the item as head first (file order), then inverse ones (relation ``r + R``)."""
    R = max(int(ds.n_relations), int(ds.kg[:, 1].max()) + 1 if len(ds.kg) else 0)
    kg = np.asarray(ds.kg, dtype=np.int64).reshape(-1, 3)
    I = ds.n_items
    fwd = kg[kg[:, 0] < I]
    inv = kg[kg[:, 2] < I][:, [2, 1, 0]]
    inv[:, 1] += R
    rows = np.concatenate([fwd, inv])
    _, first = np.unique(rows, axis=0, return_index=True)
    rows = rows[np.sort(first)]  # duplicates removed, order kept
    order = np.argsort(rows[:, 0], kind="stable")
    rows = rows[order]
    start = np.searchsorted(rows[:, 0], rows[:, 0], side="left")
    rank = np.arange(len(rows)) - start
    return rows[rank < k]


@register("kgcl", Config, train=TRAIN, datasets=DATASETS)
class KGCL(Recommender):
    def __init__(self, ds: Dataset, cfg: Config, train_pairs: np.ndarray, device: torch.device):
        super().__init__(ds, cfg, train_pairs, device)
        # its settings are checked by its Config's RANGES (cikgwb.config.validate_config)
        self.kg_p_drop, self.ui_p_drop, self.gat_dropout = cfg.kg_p_drop, cfg.ui_p_drop, cfg.gat_dropout
        self.slope = cfg.leaky_slope
        self.use_cl = not cfg.no_cl and cfg.gcl_weight > 0
        U, I, E = ds.n_users, ds.n_items, ds.n_entities
        self.U = U
        # item-entity edges (the GAT's neighbourhoods), sorted by item
        nb = item_neighbours(ds, cfg.entity_num_per_item)
        nb_t = torch.as_tensor(nb, device=device).reshape(-1, 3)
        self.nb_item, self.nb_rel, self.nb_ent = (nb_t[:, k].contiguous() for k in range(3))
        self.nb_pattern = Pattern(self.nb_item, torch.arange(len(nb_t), device=device), (I, len(nb_t)), presorted=True)
        n_rel = max(2 * max(int(ds.n_relations), 1), int(self.nb_rel.max()) + 1 if len(nb_t) else 1)
        # the user-item graph: users [0, U), items U + i
        self.ui_graph = InteractionGraph(train_pairs, U, I, device)
        self.ui_edges, self.A = self.ui_graph.edges.to(device), self.ui_graph.A
        std, D = cfg.init_std, cfg.dim
        self.user_emb = nn.Parameter(torch.randn(U, D) * std)
        self.item_emb = nn.Parameter(torch.randn(I, D) * std)
        self.entity_emb = nn.Parameter(torch.randn(E, D) * std)
        self.relation_emb = nn.Parameter(torch.randn(n_rel, D) * std)
        self.fc = nn.Linear(2 * D, D)
        # TransE over all item-headed triples (canonical and inverse)
        self.use_transe = bool(cfg.transe) and len(nb_t) > 0
        if self.use_transe:
            all_nb = torch.as_tensor(item_neighbours(ds, 1 << 30), device=device)
            self.tr_h, self.tr_r, self.tr_t = (all_nb[:, k].contiguous() for k in range(3))
            self.tr_heads = torch.unique(self.tr_h)
            self.tr_ptr = torch.searchsorted(self.tr_h, torch.arange(I + 1, device=device))
            self.tr_true = Membership(triple_keys(self.tr_h, self.tr_r, self.tr_t, n_rel, E))
            self.tr_tails = torch.unique(self.tr_t)
            self.n_rel, self.E = n_rel, E
        self.to(device)
        if self.use_transe:
            self.kg_phase = AlternatingPhase([self.item_emb, self.entity_emb, self.relation_emb], cfg.lr_kg)
        self._views_epoch: int | None = None
        self._views: dict[str, object] = {}

    # ------------------------------------------------------------ KG-enriched items
    def item_embeddings(self, kg_mask: torch.Tensor | None = None) -> torch.Tensor:
        """GAT over the items' KG neighbours (the edges where ``kg_mask`` is true)."""
        p = self.gat_dropout if self.training else 0.0
        x = F.dropout(self.item_emb, p, self.training)
        if len(self.nb_item) == 0:
            return F.dropout(x, p, self.training)
        y = F.dropout(self.entity_emb[self.nb_ent], p, self.training)  # per edge, as the authors' (I, K, d)
        pat, item, rel, ye = self.nb_pattern, self.nb_item, self.nb_rel, y
        if kg_mask is not None:  # the pattern's columns keep indexing all edges
            pat, item, rel, ye = pat.subset(kg_mask), item[kg_mask], rel[kg_mask], y[kg_mask]
        D = x.shape[1]
        W, b = self.fc.weight, self.fc.bias
        hx = x @ W[:, :D].T  # item part of W [x || e]
        logits = ((hx[item] + ye @ W[:, D:].T + b) * self.relation_emb[rel]).sum(-1)
        att = pat.softmax(F.leaky_relu(logits, self.slope))
        att = F.dropout(att, p, self.training)
        h = pat.mm(att, y) + x
        return F.dropout(h, p, self.training)

    def propagate(self, A: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ui_graph.propagate(self.user_emb, items, self.cfg.n_layers, A)

    def user_item_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.propagate(self.A, self.item_embeddings())

    # ------------------------------------------------------------ views
    def kg_view(self) -> torch.Tensor:
        return torch.rand(len(self.nb_item), device=self.nb_item.device) >= self.kg_p_drop

    @torch.no_grad()
    def keep_probabilities(self, stability: torch.Tensor) -> torch.Tensor:
        """``p_i = min((1 - ui_p_drop) w_i / mean(w), 0.95)``, ``w = minmax(exp(c))`` floored at 0.3."""
        s = torch.exp(stability)
        w = (s - s.min()) / (s.max() - s.min()).clamp_min(1e-12)
        w = torch.where(w > 0.3, w, torch.full_like(w, 0.3))
        p = (1 - self.ui_p_drop) / w.mean() * w
        return torch.where(p < 0.95, p, torch.full_like(p, 0.95))

    @torch.no_grad()
    def ui_view(self, keep_prob: torch.Tensor) -> torch.Tensor:
        """Interaction edges of the items kept by one Bernoulli draw per item."""
        kept_items = torch.bernoulli(keep_prob).bool()
        return self.ui_edges[kept_items[self.ui_edges[:, 1] - self.U]]

    @torch.no_grad()
    def make_views(self) -> dict[str, object]:
        kg1, kg2 = self.kg_view(), self.kg_view()
        stability = F.cosine_similarity(self.item_embeddings(kg1), self.item_embeddings(kg2), dim=1)
        p = self.keep_probabilities(stability)
        A1 = self.ui_graph.adjacency(self.ui_view(p))
        A2 = self.ui_graph.adjacency(self.ui_view(p))
        return {"kg1": kg1, "kg2": kg2, "A1": A1, "A2": A2, "keep_prob": p}

    # ------------------------------------------------------------ losses
    def loss(self, users, pos, neg, epoch):
        cfg = self.cfg
        B = len(users)
        zu, zi = self.propagate(self.A, self.item_embeddings())
        u, i, j = zu[users], zi[pos], zi[neg]
        l_rec = F.softplus((u * j).sum(-1) - (u * i).sum(-1)).mean()
        l_reg = cfg.l2_reg * l2_batch(self.user_emb[users], self.item_emb[pos], self.item_emb[neg]) / B
        out = {"loss_rec": l_rec, "loss_reg": l_reg}
        total = l_rec + l_reg
        if self.use_cl:
            if self._views_epoch != epoch:
                self._views, self._views_epoch = self.make_views(), epoch
            v = self._views
            u1, i1 = self.propagate(v["A1"], self.item_embeddings(v["kg1"]))
            u2, i2 = self.propagate(v["A2"], self.item_embeddings(v["kg2"]))
            l_cl = grace_loss(u1[users], u2[users], cfg.gcl_temp) + grace_loss(i1[pos], i2[pos], cfg.gcl_temp)
            out["loss_cl"] = l_cl
            total = total + cfg.gcl_weight * l_cl
        out["loss"] = total
        return out

    # ------------------------------------------------------------ TransE
    def after_epoch(self, epoch: int, generator: torch.Generator) -> dict[str, float]:
        if not self.use_transe:
            return {}
        return {"loss_transe": self.kg_phase.run(self.transe_losses(generator))}

    def transe_losses(self, generator: torch.Generator):
        """TransE batches over the item heads in a random order: one random triple per head, a
        random KG tail that is not a true tail of (h, r) as its negative."""
        dev = self.tr_h.device
        heads = self.tr_heads[torch.randperm(len(self.tr_heads), generator=generator).to(dev)]
        bs = self.cfg.kg_batch_size
        for s in range(0, len(heads), bs):
            h = heads[s : s + bs]
            lo, hi = self.tr_ptr[h], self.tr_ptr[h + 1]
            idx = lo + (torch.rand(len(h), generator=generator).to(dev) * (hi - lo)).long().clamp_max(hi - lo - 1)
            r, t = self.tr_r[idx], self.tr_t[idx]
            # a random KG tail, drawn again (at most 20 times) while it is a true tail of (h, r)
            t_neg = tail_negatives(
                h,
                r,
                lambda k: self.tr_tails[torch.randint(0, len(self.tr_tails), (k,), generator=generator).to(dev)],
                self.tr_true,
                self.n_rel,
                self.E,
            )
            yield transe_loss(
                self.item_emb[h], self.relation_emb[r], self.entity_emb[t], self.entity_emb[t_neg], self.cfg.l2_reg_kge
            )
