"""Pieces shared by the baselines of ``sgl``, ``simgcl``, ``cke`` and ``cfkg``.

* :func:`check_positive`: a setting that must be positive when another is on (SimGCL's
  noise_eps with CL), checked with an error naming the model, the setting and its value (the
  ranges of single settings are their Config's ``RANGES``, checked by
  :func:`cikgwb.config.validate_config`).
* :func:`drop_nodes`, :func:`layer_sum`: SGL's node dropout and a LightGCN pass whose layers
  use different matrices (SGL's random-walk views).
* :class:`InteractionGraphModel`: the LightGCN backbone of the GNN collaborative-filtering
  baselines on the user-item graph only (nodes: users ``[0, U)``, items ``[U, U + I)``), with
  the BPR loss and the L2 term on layer-0 embeddings.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..config import ModelConfig
from ..data.dataset import Dataset
from ..graph import InteractionGraph, lightgcn
from .base import Recommender
from .losses import bpr_loss, l2_batch


def check_positive(model: str, name: str, value: float) -> float:
    if not value > 0:
        raise ValueError(f"{model}: {name}={value!r}: expected a positive number")
    return value


def drop_nodes(
    edges: torch.Tensor, n_users: int, n_items: int, rate: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """SGL's node dropout: ``round(rate * U)`` users and ``round(rate * I)`` items, drawn without
    replacement, lose every edge; ``edges`` are (user node, item node) rows, items at ``U + i``."""
    if rate <= 0:
        return edges
    keep = torch.ones(n_users + n_items, dtype=torch.bool)
    keep[torch.randperm(n_users, generator=generator)[: round(rate * n_users)]] = False
    keep[n_users + torch.randperm(n_items, generator=generator)[: round(rate * n_items)]] = False
    keep = keep.to(edges.device)
    return edges[keep[edges[:, 0]] & keep[edges[:, 1]]]


def layer_sum(mats: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``x + A_1 x + A_2 A_1 x + ...``: LightGCN's layer sum with one matrix per layer."""
    return lightgcn(mats, x, len(mats), mean=False)


def xavier_blocks(*rows: int, dim: int) -> torch.Tensor:
    """One Xavier-uniform table per block (users, items, ...), stacked, as the authors' codes
    initialise one ``nn.Embedding`` per node type."""
    return torch.cat([nn.init.xavier_uniform_(torch.empty(n, dim)) for n in rows])


class InteractionGraphModel(Recommender):
    """LightGCN on the user-item graph: ``Z = mean_{k=0..L} A^k E`` with ``A = D^-1/2 R D^-1/2``
    of the symmetrised training interactions (no self-loops) and BPR on ``Z``::

        L_rec = mean -ln sigma(z_u.z_i - z_u.z_i') + l2_reg/2 (|e_u|^2 + |e_i|^2 + |e_i'|^2) / B

    The one user-item LightGCN: :class:`~cikgwb.models.cikgrec.LightGCN` as it is, SGL and
    SimGCL with their contrastive terms (KGCL and MCCLK propagate on the same
    :class:`~cikgwb.graph.InteractionGraph`). Subclasses add their own terms; :attr:`opts` is the model's ``Config``
    (its settings are its fields).
    """

    NAME = "model"

    def __init__(self, ds: Dataset, cfg: ModelConfig, train_pairs: np.ndarray, device: torch.device):
        super().__init__(ds, cfg, train_pairs, device)
        self.opts = cfg  # a model's options are its Config's fields
        if cfg.dim < 1 or cfg.n_layers < 0:
            raise ValueError(
                f"{self.NAME}: dim={cfg.dim}, n_layers={cfg.n_layers}: expected dim >= 1 and n_layers >= 0"
            )
        U, I = ds.n_users, ds.n_items
        self.embedding = nn.Parameter(self.initial_embedding(ds))
        self.ui_graph = InteractionGraph(train_pairs, U, I, device, n_nodes=len(self.embedding))
        self.n_nodes = self.ui_graph.n_nodes
        # interaction edges (user node, item node), undirected, unique; kept on the CPU for sampling
        self.edges, self.A = self.ui_graph.edges, self.ui_graph.A
        self.to(device)

    def initial_embedding(self, ds: Dataset) -> torch.Tensor:
        """Layer 0: one Xavier table per node type (users, items), stacked."""
        return xavier_blocks(ds.n_users, ds.n_items, dim=self.cfg.dim)

    def adjacency(self, edges: torch.Tensor) -> torch.Tensor:
        """``D^-1/2 A D^-1/2`` of an edge subset, on the model's device."""
        return self.ui_graph.adjacency(edges)

    def propagate(self, mean: bool = True) -> torch.Tensor:
        return lightgcn(self.A, self.embedding, self.cfg.n_layers, mean=mean)

    def user_item_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.propagate()
        return z[: self.n_users], z[self.n_users : self.n_users + self.n_items]

    def rec_loss(
        self, z: torch.Tensor, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, scale: float = 1.0
    ) -> torch.Tensor:
        """BPR on the rows of ``z * scale`` plus the L2 term on the layer-0 embeddings."""
        U, e0 = self.n_users, self.embedding
        return bpr_loss(z[users] * scale, z[U + pos] * scale, z[U + neg] * scale) + self.cfg.l2_reg * l2_batch(
            e0[users], e0[U + pos], e0[U + neg]
        )
