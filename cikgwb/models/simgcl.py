"""SimGCL (Yu et al., "Are Graph Augmentations Necessary? Simple Graph Contrastive Learning for
Recommendation", SIGIR 2022).

LightGCN on the user-item graph; the two contrastive views come from the same graph with
random noise added to every layer's output, no graph augmentation::

    E'^(k)  = A E'^(k-1) + Delta'^(k),   Delta = eps * sign(E^(k)) (.) normalize_rows(U(0, 1))
    Z'      = 1/L sum_{k=1..L} E'^(k)                (layer 0 left out, as in the authors' code)
    Z       = the same without noise (the recommendation view)

    L = BPR(Z) + l2_reg/2 (|e_u|^2 + |e_i|^2 + |e_i'|^2)/B + lambda (L_cl^user + L_cl^item)
    L_cl^user = mean_{u in B} -log exp(s(z'_u, z''_u)/tau) / sum_{v in B} exp(s(z'_u, z''_v)/tau)

over the batch's distinct users (items: distinct positive items), s = cosine (in-batch
negatives, as in the paper). The three propagations run as one sparse product of width 3D per
layer (same maths, a third of the passes over the graph).

Defaults: eps 0.1 (``noise_eps``), tau 0.2 (``gcl_temp``), lambda 0.2 (``gcl_weight``; the
value the CIKGRec setting uses for the book datasets), 2 layers, lr 1e-3, l2_reg 1e-4 (the
authors' released configuration, SELFRec ``SimGCL.yaml``); embedding size 64, Adam, batch 1024.
``include_layer0=True`` puts E^(0) back into both means (LightGCN's readout).
``no_cl=True`` leaves the noise-free model (LightGCN without layer 0 in the readout).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..config import ModelConfig
from ..data.dataset import Dataset
from ..graph import lightgcn, simgcl_noise, spmm
from . import register
from ._backbone import InteractionGraphModel, check_positive
from .losses import info_nce


@dataclass
class Config(ModelConfig):
    """SimGCL's settings (its authors' defaults; see the module docstring)."""

    dim: int = 64  # embedding size
    n_layers: int = 2  # LightGCN layers
    l2_reg: float = 1e-4  # L2 weight on the batch's layer-0 embeddings
    gcl_weight: float = 0.2  # weight of the contrastive loss (lambda)
    gcl_temp: float = 0.2  # its temperature
    noise_eps: float = 0.1  # size of the uniform noise added to each layer (eps)
    no_cl: bool = False  # w/o CL: plain LightGCN
    include_layer0: bool = False  # read out layer 0 too (the authors' code does not)


#: training settings of SimGCL's authors (the model layer) and per-dataset overrides (none)
TRAIN = {"lr": 1e-3}
DATASETS: dict[str, dict] = {}


__all__ = ["SimGCL", "simgcl_noise"]


@register("simgcl", Config, train=TRAIN, datasets=DATASETS)
class SimGCL(InteractionGraphModel):
    NAME = "simgcl"

    def __init__(self, ds: Dataset, cfg: Config, train_pairs: np.ndarray, device: torch.device):
        super().__init__(ds, cfg, train_pairs, device)
        if cfg.n_layers < 1 and not cfg.include_layer0:
            raise ValueError(
                "simgcl: n_layers=0 leaves nothing to read out without layer 0; "
                "use n_layers >= 1 or include_layer0=true"
            )
        self.use_cl = not cfg.no_cl and cfg.gcl_weight > 0
        if self.use_cl:
            check_positive("simgcl", "noise_eps", cfg.noise_eps)

    def encode(self, n_noisy: int = 0) -> list[torch.Tensor]:
        """Layer sums (not means) of the clean view and ``n_noisy`` noisy views, in that order."""
        x, D = self.embedding, self.cfg.dim

        def step(h: torch.Tensor) -> torch.Tensor:
            h = spmm(self.A, h)
            if n_noisy:
                with torch.no_grad():  # the noise is a constant: sign() has no gradient
                    noise = simgcl_noise(h[:, D:].reshape(len(h), n_noisy, D), self.cfg.noise_eps)
                h[:, D:] += noise.reshape(len(h), n_noisy * D)
            return h

        # (N, (1 + n_noisy) D): the views side by side, one product per layer
        acc = lightgcn(
            self.A,
            x.repeat(1, 1 + n_noisy),
            self.cfg.n_layers,
            mean=False,
            layer=step,
            layer0=self.cfg.include_layer0,
        )
        return list(acc.split(D, dim=1))

    def n_readout(self) -> int:
        return self.cfg.n_layers + (1 if self.cfg.include_layer0 else 0)

    def user_item_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encode()[0] / self.n_readout()
        return z[: self.n_users], z[self.n_users :]

    def cl_loss(self, v1: torch.Tensor, v2: torch.Tensor, users: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """In-batch InfoNCE over the distinct users and the distinct positive items."""
        U, tau = self.n_users, self.cfg.gcl_temp
        uu, ii = torch.unique(users), U + torch.unique(pos)
        return info_nce(v1[uu], v2[uu], torch.arange(len(uu), device=uu.device), tau) + info_nce(
            v1[ii], v2[ii], torch.arange(len(ii), device=ii.device), tau
        )

    def loss(self, users, pos, neg, epoch):
        cfg = self.cfg
        views = self.encode(2 if self.use_cl else 0)
        l_rec = self.rec_loss(views[0], users, pos, neg, scale=1.0 / self.n_readout())
        out = {"loss_rec": l_rec}
        total = l_rec
        if self.use_cl:
            # layer sums of the noisy views: the cosine makes the 1/L of the mean irrelevant
            l_cl = self.cl_loss(views[1], views[2], users, pos)
            out["loss_cl"] = l_cl
            total = total + cfg.gcl_weight * l_cl
        out["loss"] = total
        return out
