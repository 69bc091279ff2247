"""SGL (Wu et al., "Self-supervised Graph Learning for Recommendation", SIGIR 2021).

LightGCN on the user-item graph plus a contrastive term between two stochastic views of the
graph, both resampled once per epoch (all batches of an epoch share the same two views)::

    L = L_rec + ssl_reg * (L_ssl^user + L_ssl^item)

    L_rec        = BPR on Z = mean_k A^k E  + l2_reg * (1/2 |layer-0 rows|^2) / B   (as LightGCN)
    L_ssl^user   = mean_{u in batch} -log  exp(s(z'_u, z''_u) / tau) / sum_{v in U} exp(s(z'_u, z''_v) / tau)
    L_ssl^item   = the same over the batch's positive items against all items
    z', z''      = LightGCN of E on the two augmented graphs s1(G), s2(G); s = cosine

Augmentations (``aug_type``), each applied with ratio rho = ``ssl_ratio`` to the
interaction graph and re-normalised ``D^-1/2 A D^-1/2``:

    ed  edge dropout: every undirected edge kept with probability 1 - rho; one graph per view
    nd  node dropout: round(rho U) users and round(rho I) items lose all their edges
    rw  random walk: edge dropout drawn independently for every layer of every view

The batch's users (with repetition, as in the authors' code) are the anchors and every user of
view 2 is a candidate ("both_side" mode of the authors' code; items likewise). The authors'
code sums the terms over the batch; the means used here give the same gradients up to one
constant factor, which Adam absorbs.

Defaults (the SGL paper and the authors' ``SGL.ini``): 3 layers, lr 1e-3, l2_reg 1e-4,
ssl_ratio rho 0.1, ssl_temp tau 0.2 (``gcl_temp``), ssl_reg lambda_1 0.1 (``gcl_weight``),
aug_type ED; embedding size 64, Adam and batch 1024 are this workbench's protocol (the authors
use 2048). ``no_cl=True`` leaves plain LightGCN.

Views are drawn from a generator seeded by (a seed drawn at construction from the global torch
RNG, epoch), so a resumed run sees the same views as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..config import ModelConfig
from ..data.dataset import Dataset
from ..graph import drop_edges, lightgcn
from . import register
from ._backbone import InteractionGraphModel, drop_nodes
from .losses import info_nce


@dataclass
class Config(ModelConfig):
    """SGL's settings (its authors' defaults; see the module docstring)."""

    dim: int = 64  # embedding size
    n_layers: int = 3  # LightGCN layers
    l2_reg: float = 1e-4  # L2 weight on the batch's layer-0 embeddings
    gcl_weight: float = 0.1  # weight of the self-supervised InfoNCE (ssl_reg)
    gcl_temp: float = 0.2  # its temperature (ssl_temp)
    no_cl: bool = False  # w/o CL: plain LightGCN
    ssl_ratio: float = 0.1  # share of nodes / edges dropped in each view
    aug_type: str = "ed"  # view augmentation: ed (edge) | nd (node) | rw (random walk)

    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {"aug_type": ("ed", "nd", "rw")}
    RANGES: ClassVar[dict[str, tuple]] = {"ssl_ratio": (0, True, 1, False)}


#: training settings of SGL's authors (the model layer) and per-dataset overrides (none)
TRAIN = {"lr": 1e-3}
DATASETS: dict[str, dict] = {}

AUG_TYPES = ("ed", "nd", "rw")


@register("sgl", Config, train=TRAIN, datasets=DATASETS)
class SGL(InteractionGraphModel):
    NAME = "sgl"

    def __init__(self, ds: Dataset, cfg: Config, train_pairs: np.ndarray, device: torch.device):
        super().__init__(ds, cfg, train_pairs, device)
        # aug_type and ssl_ratio are checked by its Config's CHOICES and RANGES
        self.aug_type, self.ssl_ratio = cfg.aug_type, cfg.ssl_ratio
        self.use_cl = not cfg.no_cl and cfg.gcl_weight > 0
        self._aug_seed = int(torch.randint(0, 2**31 - 1, (1,)))
        self._view_epoch: int | None = None
        self._views: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None

    # ------------------------------------------------------------ augmentation
    def augment(self, generator: torch.Generator) -> list[torch.Tensor]:
        """One augmented view: the normalised matrix of each layer (the same matrix for ed / nd)."""
        L, rho = self.cfg.n_layers, self.ssl_ratio
        if self.aug_type == "rw":
            return [self.adjacency(drop_edges(self.edges, rho, generator)) for _ in range(L)]
        if self.aug_type == "nd":
            kept = drop_nodes(self.edges, self.n_users, self.n_items, rho, generator)
        else:
            kept = drop_edges(self.edges, rho, generator)
        return [self.adjacency(kept)] * L

    def views(self, epoch: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The two views of ``epoch`` (drawn when the epoch changes, then reused)."""
        if self._views is None or self._view_epoch != epoch:
            g = torch.Generator().manual_seed(self._aug_seed * 100_003 + epoch)
            self._views = (self.augment(g), self.augment(g))
            self._view_epoch = epoch
        return self._views

    # ------------------------------------------------------------ loss
    def ssl_loss(self, v1: torch.Tensor, v2: torch.Tensor, users: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """InfoNCE of the batch's users against all users, plus its positive items against all items."""
        U, tau = self.n_users, self.cfg.gcl_temp
        return info_nce(v1[users], v2[:U], users, tau) + info_nce(v1[U + pos], v2[U:], pos, tau)

    def loss(self, users, pos, neg, epoch):
        cfg = self.cfg
        z = self.propagate(mean=False)
        l_rec = self.rec_loss(z, users, pos, neg, scale=1.0 / (cfg.n_layers + 1))
        out = {"loss_rec": l_rec}
        total = l_rec
        if self.use_cl:
            m1, m2 = self.views(epoch)
            # layer sums: the cosine in InfoNCE makes the 1/(L+1) of the mean irrelevant
            v1 = lightgcn(m1, self.embedding, cfg.n_layers, mean=False)
            v2 = lightgcn(m2, self.embedding, cfg.n_layers, mean=False)
            l_ssl = self.ssl_loss(v1, v2, users, pos)
            out["loss_ssl"] = l_ssl
            total = total + cfg.gcl_weight * l_ssl
        out["loss"] = total
        return out
