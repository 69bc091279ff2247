"""CFKG (Ai et al., "Learning Heterogeneous Knowledge Base Embeddings for Explainable
Recommendation", Algorithms 2018), in the TransE form used as a baseline since KGAT (Wang et al.,
KDD 2019): users, items and KG entities share one embedding table; "interact" is one more
relation; recommendation is the plausibility of (u, interact, i)::

    d(h, r, t)  = |e_h + e_r - e_t|^2
    score(u, i) = -d(u, interact, i)

    L = L_cf + kg_weight * L_kg
    L_cf = mean -ln sigma(d(u, interact, i') - d(u, interact, i)) + l2_reg * mean 1/2 (|e_u|^2 + |e_r|^2 + |e_i|^2 + |e_i'|^2)
    L_kg = the same over KG triples (h, r, t) with a uniformly drawn corrupted tail t' (any entity),
           weighted by l2_reg_kge

Each training batch of (user, item, negative item) goes with ``kg_batch_size`` KG triples drawn
uniformly with replacement; one Adam step on the sum. Ai et al.'s original objective scores a
triple by the dot product (e_h + e_r) . e_t under a sampled softmax; the distance form is the one
KGAT and the CIKGRec comparison describe ("TransE on the unified graph"). With no KG (or
``use_kg=False``) CFKG is TransE on the interactions alone.

Defaults: l2_reg = l2_reg_kge = 1e-5, KG batch 2048, lr 1e-3 (as for CKE), embedding size 64,
Adam, batch 1024.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..config import ModelConfig
from ..data.dataset import Dataset
from ..sampling import uniform_triples
from . import register
from ._backbone import xavier_blocks
from .base import Recommender
from .cke import item_kg
from .losses import transe_loss


@dataclass
class Config(ModelConfig):
    """CFKG's settings (KGAT's CFKG reference: TransE on the user-item-entity graph)."""

    dim: int = 64  # embedding size of users, entities and relations
    l2_reg: float = 1e-5  # L2 weight of the interaction (buy-relation) TransE loss
    l2_reg_kge: float = 1e-5  # L2 weight of the KG TransE loss
    kg_batch_size: int = 2048  # KG triples per batch of the KG loss
    use_kg: bool = True  # false: the KG loss and triples are left out
    kg_weight: float = 1.0  # weight of the KG loss beside the interaction loss
    inverse_relations: bool = False  # add an inverse of every KG relation


#: training settings of CFKG's reference (the model layer) and per-dataset overrides (none)
TRAIN = {"lr": 1e-3}
DATASETS: dict[str, dict] = {}


@register("cfkg", Config, train=TRAIN, datasets=DATASETS)
class CFKG(Recommender):
    NAME = "cfkg"

    def __init__(self, ds: Dataset, cfg: Config, train_pairs: np.ndarray, device: torch.device):
        super().__init__(ds, cfg, train_pairs, device)
        self.opts = cfg  # its options are its Config's fields (checked by its RANGES)
        U, E = ds.n_users, ds.n_entities
        self.n_entities = E
        self.triples, self.use_kg, R = item_kg(ds, cfg.use_kg, cfg.inverse_relations, cfg.kg_weight)
        self.interact = R  # the id of the "interact" relation
        # nodes: users [0, U), entities [U, U + E) with the items first
        self.embedding = nn.Parameter(xavier_blocks(U, E, dim=cfg.dim))
        self.relation = nn.Parameter(xavier_blocks(R + 1, dim=cfg.dim))
        self.to(device)

    def loss(self, users, pos, neg, epoch):
        e, U = self.embedding, self.n_users
        r = self.relation[self.interact].expand(len(users), -1)
        l_cf = transe_loss(e[users], r, e[U + pos], e[U + neg], self.cfg.l2_reg)
        out = {"loss_cf": l_cf}
        total = l_cf
        if self.use_kg:
            n = self.cfg.kg_batch_size
            h, rel, t, t_neg = uniform_triples(self.triples, n, self.n_entities)
            dev = e.device
            l_kg = transe_loss(
                e[U + h.to(dev)],
                self.relation[rel.to(dev)],
                e[U + t.to(dev)],
                e[U + t_neg.to(dev)],
                self.cfg.l2_reg_kge,
            )
            out["loss_kg"] = l_kg
            total = total + self.opts.kg_weight * l_kg
        out["loss"] = total
        return out

    @torch.no_grad()
    def score_fn(self):
        """score(u, i) = -|e_u + e_interact - e_i|^2, expanded so that a batch is one matrix product."""
        U, I = self.n_users, self.n_items
        emb = self.embedding.detach()
        items = emb[U : U + I]
        item_sq = items.pow(2).sum(-1)
        r = self.relation.detach()[self.interact]

        def fn(users: torch.Tensor) -> torch.Tensor:
            q = emb[users.to(items.device)] + r
            return 2 * q @ items.T - item_sq - q.pow(2).sum(-1, keepdim=True)

        return fn
