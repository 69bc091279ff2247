"""CKE (Zhang et al., "Collaborative Knowledge Base Embedding for Recommender Systems", KDD 2016),
structural-knowledge part only (our data has no item texts or images for its SDAE/CDAE parts).

Matrix factorisation whose item vectors are offset by the items' TransR entity embeddings,
trained jointly with TransR on the item-side KG::

    score(u, i) = e_u . (eta_i + v_i)          eta: item CF offsets, v: entity embeddings (items first)

    L = L_cf + kg_weight * L_kg
    L_cf = mean -ln sigma(score(u, i) - score(u, i')) + l2_reg * mean 1/2 (|e_u|^2 + |eta_i + v_i|^2 + |eta_i' + v_i'|^2)
    L_kg = TransR: f(h, r, t) = |h M_r + r - t M_r|^2 (projected vectors and r unit-normalised),
           mean -ln sigma(f(h, r, t') - f(h, r, t)) + l2_reg_kge * (L2 of the vectors in f)

Each training batch of (user, item, negative item) goes with ``kg_batch_size`` KG triples drawn
uniformly with replacement and one uniformly drawn corrupted tail each (any entity); one Adam
step on the sum, as the KGAT authors' CKE implementation trains it. ``inverse_relations``
adds (t, r + R, h) for every triple. With no KG (or ``use_kg=False``) CKE is BPR-MF.

Defaults (KGAT's CKE reference settings): relation space k = 64, l2_reg = l2_reg_kge = 1e-5,
KG batch 2048; lr 1e-3 (the reference uses 1e-4 with an evaluation every 10 epochs; we
evaluate every epoch with patience 10), embedding size 64, Adam, batch 1024.
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
from .losses import bpr_loss, l2_batch, transr_loss, transr_project


@dataclass
class Config(ModelConfig):
    """CKE's settings (KGAT's CKE reference settings)."""

    dim: int = 64  # embedding size of users, items and entities
    relation_dim: int = 64  # TransR relation space size k
    l2_reg: float = 1e-5  # L2 weight of the BPR loss
    l2_reg_kge: float = 1e-5  # L2 weight of the TransR KG loss
    kg_batch_size: int = 2048  # KG triples per batch of the KG loss
    use_kg: bool = True  # false: the KG loss and triples are left out
    kg_weight: float = 1.0  # weight of the KG loss beside BPR
    inverse_relations: bool = False  # add an inverse of every KG relation
    normalize_kg: bool = True  # L2-normalise the projected KG embeddings (KGAT's CKE)


#: training settings of CKE's reference (the model layer) and per-dataset overrides (none)
TRAIN = {"lr": 1e-3}
DATASETS: dict[str, dict] = {}


def kg_triples(ds: Dataset, inverse: bool) -> torch.Tensor:
    """The KG as an int64 (m, 3) tensor of (head, relation, tail) entity ids, with inverses
    (t, r + R, h) appended if asked; ``R`` covers every relation id in use."""
    kg = torch.as_tensor(np.asarray(ds.kg, dtype=np.int64)).reshape(-1, 3)
    if len(kg) and (kg[:, [0, 2]].min() < 0 or kg[:, [0, 2]].max() >= ds.n_entities or kg[:, 1].min() < 0):
        raise ValueError(
            f"{ds.name}: KG triples must hold entity ids in [0, {ds.n_entities}) and "
            f"relation ids >= 0; got entities [{int(kg[:, [0, 2]].min())}, "
            f"{int(kg[:, [0, 2]].max())}], relations from {int(kg[:, 1].min())}"
        )
    if inverse and len(kg):
        R = n_relations(ds)
        kg = torch.cat([kg, torch.stack([kg[:, 2], kg[:, 1] + R, kg[:, 0]], 1)])
    return kg


def n_relations(ds: Dataset) -> int:
    return max(int(ds.n_relations), int(ds.kg[:, 1].max()) + 1 if len(ds.kg) else 0)


def item_kg(ds: Dataset, use_kg: bool, inverse: bool, kg_weight: float) -> tuple[torch.Tensor, bool, int]:
    """CKE's and CFKG's KG: ``(triples, trained, n_relation_ids)``, the triples (none without
    ``use_kg``), whether the KG term is trained at all (triples and a positive weight) and the
    relation ids with inverses counted. Items must be the first entities."""
    if ds.n_entities < ds.n_items:
        raise ValueError(
            f"{ds.name}: n_entities={ds.n_entities} < n_items={ds.n_items}: items must be the first entities"
        )
    triples = kg_triples(ds, inverse) if use_kg else torch.zeros((0, 3), dtype=torch.int64)
    return triples, len(triples) > 0 and kg_weight > 0, n_relations(ds) * (2 if inverse else 1)


@register("cke", Config, train=TRAIN, datasets=DATASETS)
class CKE(Recommender):
    NAME = "cke"

    def __init__(self, ds: Dataset, cfg: Config, train_pairs: np.ndarray, device: torch.device):
        super().__init__(ds, cfg, train_pairs, device)
        self.opts = cfg  # its options are its Config's fields (checked by its RANGES)
        U, I, E, D = ds.n_users, ds.n_items, ds.n_entities, cfg.dim
        self.n_entities = E
        self.triples, self.use_kg, R = item_kg(ds, cfg.use_kg, cfg.inverse_relations, cfg.kg_weight)
        k = cfg.relation_dim
        self.user = nn.Parameter(xavier_blocks(U, dim=D))
        self.item_cf = nn.Parameter(xavier_blocks(I, dim=D))
        self.entity = nn.Parameter(xavier_blocks(E, dim=D))
        self.relation = nn.Parameter(xavier_blocks(max(R, 1), dim=k))
        self.proj = nn.Parameter(nn.init.xavier_uniform_(torch.empty(max(R, 1), D, k)))
        self.to(device)

    def item_vectors(self, items: torch.Tensor | None = None) -> torch.Tensor:
        """eta_i + v_i for ``items`` (all items if None)."""
        if items is None:
            return self.item_cf + self.entity[: self.n_items]
        return self.item_cf[items] + self.entity[items]

    def user_item_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user, self.item_vectors()

    def sample_kg(self, n: int) -> tuple[torch.Tensor, ...]:
        """``n`` triples drawn uniformly with replacement and a uniform corrupted tail each."""
        h, r, t, t_neg = uniform_triples(self.triples, n, self.n_entities)
        dev = self.user.device
        return h.to(dev), r.to(dev), t.to(dev), t_neg.to(dev)

    def kg_loss(self, h, r, t, t_neg) -> torch.Tensor:
        e, M = self.entity, self.proj
        return transr_loss(
            transr_project(e[h], M, r),
            self.relation[r],
            transr_project(e[t], M, r),
            transr_project(e[t_neg], M, r),
            self.cfg.l2_reg_kge,
            normalize=self.opts.normalize_kg,
        )

    def loss(self, users, pos, neg, epoch):
        u, ip, ineg = self.user[users], self.item_vectors(pos), self.item_vectors(neg)
        l_cf = bpr_loss(u, ip, ineg) + self.cfg.l2_reg * l2_batch(u, ip, ineg)
        out = {"loss_cf": l_cf}
        total = l_cf
        if self.use_kg:
            l_kg = self.kg_loss(*self.sample_kg(self.cfg.kg_batch_size))
            out["loss_kg"] = l_kg
            total = total + self.opts.kg_weight * l_kg
        out["loss"] = total
        return out
