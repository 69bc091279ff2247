"""KGAT (Wang, He, Cao, Liu, Chua, "KGAT: Knowledge Graph Attention Network for Recommendation",
KDD 2019).

The collaborative knowledge graph (CKG) joins users and KG entities in one node set (users
``[0, U)``, entity ``e`` at ``U + e``, items are entities ``0..I-1``) with directed edges
``(h, r, t)``: the KG triples and their inverses (relations ``r`` and ``r + R``) and the
training interactions as ``(u, Interact, i)`` and ``(i, Interact^-1, u)`` (relations ``2R``
and ``2R + 1``).

Attentive embedding propagation, layer ``l = 1..L`` (layer sizes 64, 32, 16)::

    e_{N_h}   = sum_{(h, r, t)} pi(h, r, t) e_t                      (a sparse product A e)
    e_h^(l)   = LeakyReLU(W1 (e_h + e_{N_h}) + b1) + LeakyReLU(W2 (e_h * e_{N_h}) + b2)
                (bi-interaction aggregator), then message dropout
    e_h^*     = e_h^(0) || e_h^(1)/|e_h^(1)| || ... || e_h^(L)/|e_h^(L)|      (176 dims)

Knowledge-aware attention (TransR space, relation matrix ``W_r``), softmax over each head's
edges (all relations together), recomputed without gradient after every epoch with ``update_attention=true``::

    pi(h, r, t) = exp((W_r e_t)^T tanh(W_r e_h + e_r)) / sum_{(h, r', t')} exp(...)

Before the first update (by default all along, see Differences) ``A`` is the authors' initial
Laplacian: the sum over relations of the row-normalised adjacency of each relation (``1 / deg_r(h)`` per edge).

Alternating training, one epoch = the CF phase (the trainer's batches) and then the KG phase
(:meth:`after_epoch`, ``|CKG edges| // kg_batch_size + 1`` batches, its own Adam as in the
authors' code)::

    L_CF = mean -ln sigma(y_ui - y_uj) + l2_reg * (|e_u*|^2 + |e_i*|^2 + |e_j*|^2) / 2 / B,
           y_ui = e_u*^T e_i*
    L_KG = mean -ln sigma(g(h, r, t') - g(h, r, t)) + l2_reg_kge * (|W_r e_h|^2 + |e_r|^2
           + |W_r e_t|^2 + |W_r e_t'|^2) / 2 / B_kg,     g(h, r, t) = |W_r e_h + e_r - W_r e_t|^2

KG batches sample distinct heads, one of each head's edges, and a negative tail uniform over all
nodes that is not a true tail for (h, r).

Defaults (the authors' README command, but the learning rate): dim 64, layer sizes [64, 32, 16],
lr 1e-3 (both phases; tuned on valid, as the CIKGRec paper allows: at the authors' 1e-4 the
valid Recall@50 on book-crossing stalled near 0.088 and early-stopped at epoch 53, at 1e-3 it
passed 0.10 by epoch 56; runs ``book-crossing-kgat-valid-lr1e-4-s0`` and
``book-crossing-kgat-valid-attentive-s0``), l2 1e-5 (both), message dropout 0.1, kg batch
2048, TransR dimension 64; embeddings from Xavier by default (the README's command starts
users and items from BPR-MF embeddings, ``--pretrain -1``: ``pretrain_mf_epochs=N`` does
so with N epochs of :func:`~cikgwb.models.kg_common.pretrain_bpr_mf` at ``pretrain_mf_lr``,
default 1e-3; on book-crossing valid, BPR-MF's Recall@50 peaks near 50 epochs at 0.108).

Differences: the authors' TensorFlow graph captures ``A`` at build time, so their attention updates never reach the propagation: it runs on the initial
Laplacian all along, and the paper's Table 1 numbers come from that code. This module does the
same by default (``update_attention=false``); ``true`` recomputes ``A`` from the attention
after every epoch, as the KGAT paper and its PyTorch port describe. On book-crossing (valid,
lr 1e-3) the authors' behaviour scored higher at equal epochs: Recall@50 + NDCG@50 on valid
0.137 against 0.124 at epoch 44 (runs ``book-crossing-kgat-valid-s0`` and
``book-crossing-kgat-valid-attentive-s0``). LeakyReLU slope 0.2 as in TensorFlow.
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
from . import register
from .base import AlternatingPhase, Recommender
from .kg_common import Pattern, pretrain_bpr_mf, project_by_relation, relational_triples, uniform_negatives, xavier
from .losses import bpr_loss, l2_batch, transr_loss


@dataclass
class Config(ModelConfig):
    """KGAT's settings (its authors' defaults; see the module docstring)."""

    dim: int = 64  # layer-0 embedding size of users and entities
    layer_sizes: tuple[int, ...] = (64, 32, 16)  # output size of each propagation layer (their count: the depth)
    kge_dim: int = 64  # TransR relation space size
    message_dropout: float = 0.1  # dropout on each layer's output while training
    leaky_slope: float = 0.2  # LeakyReLU slope of the bi-interaction aggregator
    update_attention: bool = False  # recompute the attention each batch (else after each epoch)
    l2_reg: float = 1e-5  # L2 weight of the BPR loss
    lr_kg: float = 1e-3  # learning rate of the alternating TransR phase
    l2_reg_kge: float = 1e-5  # L2 weight of the TransR loss
    kg_batch_size: int = 2048  # triples per batch of the TransR phase
    pretrain_mf_epochs: int = 0  # BPR-MF epochs to initialise users and items (0: none)
    pretrain_mf_lr: float = 1e-3  # learning rate of that pre-training

    RANGES: ClassVar[dict[str, tuple]] = {
        "layer_sizes": (1, True, None, False),  # each of them; at least one
        "kge_dim": (1, True, None, False),
        "pretrain_mf_epochs": (0, True, None, False),
        "pretrain_mf_lr": (0, False, None, False),
    }


#: training settings of KGAT's authors (the model layer) and per-dataset overrides (none)
TRAIN = {"lr": 1e-3}
DATASETS: dict[str, dict] = {}


def ckg_edges(ds: Dataset, train_pairs: np.ndarray) -> tuple[np.ndarray, int]:
    """KGAT's collaborative KG: ``(m, 3)`` rows ``(head node, relation, tail node)`` with users at
    ``[0, U)`` and entity ``e`` at ``U + e``; returns the rows and the number of relation ids."""
    U = ds.n_users
    kg, R2 = relational_triples(ds, inverse=True)
    pairs = np.unique(np.asarray(train_pairs, dtype=np.int64).reshape(-1, 2), axis=0)
    inter = np.column_stack([pairs[:, 0], np.full(len(pairs), R2), U + pairs[:, 1]])
    inter_inv = np.column_stack([U + pairs[:, 1], np.full(len(pairs), R2 + 1), pairs[:, 0]])
    kg_nodes = np.column_stack([U + kg[:, 0], kg[:, 1], U + kg[:, 2]])
    return np.concatenate([kg_nodes, inter, inter_inv]).astype(np.int64), R2 + 2


class BiInteraction(nn.Module):
    """``LeakyReLU(W1 (e + s) + b1) + LeakyReLU(W2 (e * s) + b2)``."""

    def __init__(self, d_in: int, d_out: int, slope: float = 0.2):
        super().__init__()
        self.W1, self.W2 = nn.Linear(d_in, d_out), nn.Linear(d_in, d_out)
        for lin in (self.W1, self.W2):
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.slope = slope

    def forward(self, ego: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.W1(ego + side), self.slope) + F.leaky_relu(self.W2(ego * side), self.slope)


@register("kgat", Config, train=TRAIN, datasets=DATASETS)
class KGAT(Recommender):
    def __init__(self, ds: Dataset, cfg: Config, train_pairs: np.ndarray, device: torch.device):
        super().__init__(ds, cfg, train_pairs, device)
        # its settings are checked by its Config's RANGES (cikgwb.config.validate_config)
        sizes = list(cfg.layer_sizes)
        self.U, self.N = ds.n_users, ds.n_users + ds.n_entities
        edges, self.n_rel = ckg_edges(ds, train_pairs)
        e = torch.as_tensor(edges, device=device)
        self.A = Pattern(e[:, 0], e[:, 2], (self.N, self.N))
        self.heads, self.rels, self.tails = e[self.A.order, 0], e[self.A.order, 1], e[self.A.order, 2]
        self.rel_index = [torch.nonzero(self.rels == r).squeeze(1) for r in range(self.n_rel)]
        # true triples for negative sampling, and the heads that have edges
        self.true_keys = torch.sort((self.heads * self.n_rel + self.rels) * self.N + self.tails).values
        self.head_nodes = torch.unique(self.heads)
        D, K = cfg.dim, cfg.kge_dim
        self.embedding = nn.Parameter(xavier(self.N, D))
        n_pre = cfg.pretrain_mf_epochs
        if n_pre:  # users and items start from BPR-MF, as the authors' --pretrain -1
            users, items = pretrain_bpr_mf(
                train_pairs,
                ds.n_users,
                ds.n_items,
                D,
                n_pre,
                lr=cfg.pretrain_mf_lr,
                l2_reg=cfg.l2_reg,
                seed=torch.initial_seed(),
            )
            with torch.no_grad():
                self.embedding[: self.U] = users
                self.embedding[self.U : self.U + ds.n_items] = items
        self.relation_embed = nn.Parameter(xavier(self.n_rel, K))
        self.trans_W = nn.Parameter(torch.stack([xavier(D, K) for _ in range(self.n_rel)]))
        dims = [D] + sizes
        self.attentive = cfg.update_attention
        self.layers = nn.ModuleList(BiInteraction(dims[k], dims[k + 1], cfg.leaky_slope) for k in range(len(sizes)))
        self.register_buffer("att", self.initial_laplacian())
        self.to(device)
        self.kg_phase = AlternatingPhase([self.embedding, self.relation_embed, self.trans_W], cfg.lr_kg)

    # ------------------------------------------------------------ attention
    def initial_laplacian(self) -> torch.Tensor:
        """``sum_r D_r^-1 A_r``: ``1 / deg_r(h)`` on every edge."""
        key = self.heads * self.n_rel + self.rels
        _, inv, counts = torch.unique(key, return_inverse=True, return_counts=True)
        return 1.0 / counts[inv].to(torch.float32)

    @torch.no_grad()
    def attention_logits(self) -> torch.Tensor:
        """``(W_r e_t)^T tanh(W_r e_h + e_r)`` for every CKG edge (grouped by relation)."""
        out = torch.empty(self.A.nnz, device=self.embedding.device)
        emb = self.embedding
        for r, idx in enumerate(self.rel_index):
            if len(idx) == 0:
                continue
            W = self.trans_W[r]
            hp = emb[self.heads[idx]] @ W
            tp = emb[self.tails[idx]] @ W
            out[idx] = (tp * torch.tanh(hp + self.relation_embed[r])).sum(-1)
        return out

    @torch.no_grad()
    def update_attention(self) -> None:
        self.att.copy_(self.A.softmax(self.attention_logits()))

    # ------------------------------------------------------------ CF part
    def propagate(self) -> torch.Tensor:
        ego = self.embedding
        outs = [ego]
        p = self.cfg.message_dropout
        for layer in self.layers:
            side = self.A.mm(self.att, ego)
            ego = layer(ego, side)
            ego = F.dropout(ego, p, training=self.training and p > 0)
            outs.append(F.normalize(ego, dim=1))
        return torch.cat(outs, 1)

    def user_item_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.propagate()
        return z[: self.U], z[self.U : self.U + self.n_items]

    def loss(self, users, pos, neg, epoch):
        z = self.propagate()
        U = self.U
        u, i, j = z[users], z[U + pos], z[U + neg]
        l_cf = bpr_loss(u, i, j)
        l_reg = self.cfg.l2_reg * l2_batch(u, i, j)
        return {"loss": l_cf + l_reg, "loss_cf": l_cf, "loss_reg": l_reg}

    # ------------------------------------------------------------ KG part
    def kg_loss(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor, t_neg: torch.Tensor) -> torch.Tensor:
        e = self.embedding
        B = len(h)
        proj = project_by_relation(torch.cat([e[h], e[t], e[t_neg]]), self.trans_W, r.repeat(3))
        h_e, t_e, n_e = proj[:B], proj[B : 2 * B], proj[2 * B :]
        return transr_loss(h_e, self.relation_embed[r], t_e, n_e, self.cfg.l2_reg_kge, normalize=False)

    def sample_kg_batch(self, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        B, dev = self.cfg.kg_batch_size, self.heads.device
        nh = len(self.head_nodes)
        if B <= nh:
            h = self.head_nodes[torch.randperm(nh, generator=generator)[:B].to(dev)]
        else:
            h = self.head_nodes[torch.randint(0, nh, (B,), generator=generator).to(dev)]
        deg = self.A.crow[h + 1] - self.A.crow[h]
        off = (torch.rand(len(h), generator=generator).to(dev) * deg).long().clamp_max(deg - 1)
        idx = self.A.crow[h] + off
        r, t = self.rels[idx], self.tails[idx]
        t_neg = uniform_negatives(h, r, self.N, self.true_keys, self.n_rel, generator)
        return h, r, t, t_neg

    def after_epoch(self, epoch: int, generator: torch.Generator) -> dict[str, float]:
        n_batches = self.A.nnz // self.cfg.kg_batch_size + 1
        loss = self.kg_phase.run(self.kg_loss(*self.sample_kg_batch(generator)) for _ in range(n_batches))
        if self.attentive:
            self.update_attention()
        return {"loss_kg": loss}
