"""KGRec (Yang, Huang, Xia, Huang, "Knowledge Graph Self-Supervised Rationalization for
Recommendation", KDD 2023).

Users ``[0, U)`` and entities (items first) share one embedding table; the KG has canonical
and inverse relations ``e_r``. The encoder is a heterogeneous attentive GCN (``L`` = 2 hops,
message dropout, L2 normalisation, residual sum ``z = e + e^(1) + ... + e^(L)``)::

    e_h^(l) = sum_{(h, r, t)} alpha_k(h, r, t) (e_r * e_t^(l-1))       per head k (2 heads,
    alpha_k = softmax_{edges of h}( (W_Q e_h)_k . ((W_Q e_t)_k * e_r,k) / sqrt(d / 2) )   d/2 dims each)
    e_u^(l) = mean_{i in N_u} e_i^(l-1)

Rationale scores of the KG triples (without gradient, on the edges sampled for the batch)::

    s(h, r, t) = deg(h) * softmax_{edges of h}( mean_k (W_Q e_h)_k . ((W_Q e_t)_k * e_r,k) / sqrt(d / 2) )

Per batch:

1. relation-aware sampling: a random half of each relation's edges (node dropout 0.5) and of
   the user-item entries (kept with probability 1/2, weights scaled by 2);
2. masked rationale reconstruction: with Gumbel noise ``s~ = s + G``, the ``m`` (256) edges
   with the highest ``s~`` plus ``m`` random edges are masked; the encoder runs on the rest, and
   the masked triples are reconstructed with a dot-product decoder::

       L_mae = mean_{(h, r, t) masked} -ln sigma( z_h . (z_t * e_r) )

3. rationale-aware contrast: a KG view keeps the ``1 - rho`` (50%) edges with the highest
   ``s~``; an interaction view keeps ``1 - rho`` of the (sampled) interactions, drawn without
   replacement with probabilities ``softmax(a_i + G)``, ``a_i`` the item's mean rationale score
   (over its edges as head and as tail, 1 where it has none). Items are encoded by a KG-only
   mean aggregator ``x^kg`` and a user-item LightGCN-style aggregator ``x^ui`` (both 2 hops,
   dropout, L2 normalisation, residual sum) and contrasted through two MLP heads over all
   items (``f = exp(cos / tau)``, ``pi`` a random permutation)::

       L_cl = mean_i -log f(h1_i, h2_i) / (2 f(h1_i, h2_i) + f(h1_i, h2_pi(i)) + f(h2_i, h1_pi(i)))

    L = mean -ln sigma(y_ui - y_uj) + l2_reg (|z_u|^2 + |z_i|^2 + |z_j|^2) / 2 / B
        + mae_coef L_mae + cl_coef L_cl

Evaluation encodes with all edges and interactions, without dropout.

Defaults (the authors' parser; no dataset-specific setting exists for ours), but the learning
rate: dim 64, 2 hops, lr 1e-3 (tuned on valid, as the CIKGRec paper allows: at the authors' 1e-4
the valid Recall@50 on book-crossing was 0.029 after 40 epochs, at 1e-3 0.106 after 32; runs
``book-crossing-kgrec-valid-lr1e-4-s0`` and ``-valid-s0``), l2 1e-5, node dropout 0.5, message dropout 0.1, mae_coef 0.1, mask size 256,
cl_coef 0.01 (``gcl_weight``), tau 1.0 (``gcl_temp``), cl drop ratio 0.5. Differences: the
authors' per-relation sampling loop skips the last inverse relation (all its edges are
dropped at every batch); here every relation is sampled at the same rate. Sampling without
replacement uses the equivalent Gumbel-top-k form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..data.dataset import Dataset
from . import register
from .kg_common import (
    Pattern,
    ProjectionHead,
    RelationalAggregator,
    RelationalKGModel,
    gumbel_like,
    xavier,
)
from .losses import bpr_loss, l2_batch


@dataclass
class Config(ModelConfig):
    """KGRec's settings (its authors' defaults; see the module docstring)."""

    dim: int = 64  # embedding size
    n_layers: int = 2  # relational propagation hops
    l2_reg: float = 1e-5  # L2 weight on the batch's final representations
    node_dropout: float = 0.5  # share of KG edges dropped per batch (user-item entries kept w.p. 1 - rate)
    message_dropout: float = 0.1  # dropout on each hop's output
    gcl_weight: float = 0.01  # weight of the contrastive loss
    gcl_temp: float = 1.0  # its temperature
    no_cl: bool = False  # w/o CL
    mae_coef: float = 0.1  # weight of the masked KG autoencoder loss
    mae_msize: int = 256  # triples masked per batch for it
    cl_drop_ratio: float = 0.5  # edge dropout of the contrastive views
    n_heads: int = 2  # attention heads of the rationale scores (divides dim)

    RENAMED: ClassVar[dict[str, str]] = {"edge_dropout": "node_dropout"}  # its name before issue 19
    RANGES: ClassVar[dict[str, tuple]] = {
        "cl_drop_ratio": (0, True, 1, False),
        "n_heads": (1, True, None, False),
    }


#: training settings (the model layer; module docstring) and per-dataset overrides (none)
TRAIN = {"lr": 1e-3}
DATASETS: dict[str, dict] = {}


def relation_aware_sample(rels: torch.Tensor, n_rel: int, keep_rate: float) -> torch.Tensor:
    """A mask keeping ``floor(n_r * keep_rate)`` random edges of every relation ``r``."""
    n = len(rels)
    if n == 0:
        return torch.zeros(0, dtype=torch.bool, device=rels.device)
    key = rels.to(torch.float64) + torch.rand(n, device=rels.device, dtype=torch.float64)
    order = torch.argsort(key)
    counts = torch.bincount(rels, minlength=n_rel)
    start = torch.cumsum(counts, 0) - counts
    r_sorted = rels[order]
    rank = torch.arange(n, device=rels.device) - start[r_sorted]
    quota = torch.floor(counts.to(torch.float64) * keep_rate).long()
    keep = torch.zeros(n, dtype=torch.bool, device=rels.device)
    keep[order] = rank < quota[r_sorted]
    return keep


def contrast_loss(h1: torch.Tensor, h2: torch.Tensor, tau: float, perm: torch.Tensor | None = None) -> torch.Tensor:
    """KGRec's contrast: ``-log f11 / (2 f11 + f(h1, h2[perm]) + f(h2, h1[perm]))`` averaged."""
    if perm is None:
        perm = torch.randperm(len(h1), device=h1.device)
    a, b = F.normalize(h1, dim=1), F.normalize(h2, dim=1)
    pos = (a * b).sum(1) / tau
    n1 = (a * b[perm]).sum(1) / tau
    n2 = (b * a[perm]).sum(1) / tau
    denom = torch.logsumexp(torch.stack([pos + math.log(2.0), n1, n2]), 0)
    return (denom - pos).mean()


@register("kgrec", Config, train=TRAIN, datasets=DATASETS)
class KGRec(RelationalKGModel):
    NAME = "kgrec"

    def __init__(self, ds: Dataset, cfg: Config, train_pairs: np.ndarray, device: torch.device):
        super().__init__(ds, cfg, train_pairs, device)
        # its settings' ranges are checked by its Config's RANGES (cikgwb.config.validate_config)
        self.cl_drop = cfg.cl_drop_ratio
        self.mae_coef, self.mae_msize = cfg.mae_coef, cfg.mae_msize
        self.n_heads = cfg.n_heads
        if cfg.dim % self.n_heads:
            raise ValueError(f"kgrec: n_heads={self.n_heads}: expected a positive divisor of dim={cfg.dim}")
        self.use_cl = not cfg.no_cl and cfg.gcl_weight > 0
        self.build_graphs(ds, train_pairs, device)
        D = cfg.dim
        self.relation_emb = nn.Parameter(xavier(self.n_rel, D))
        self.W_Q = nn.Parameter(xavier(D, D))
        self.mlp1, self.mlp2 = ProjectionHead(D), ProjectionHead(D)
        self.to(device)

    # ------------------------------------------------------------ encoder
    def attention(self, kg: RelationalAggregator, ent: torch.Tensor) -> list[torch.Tensor]:
        """Per head ``k``: ``softmax_h((W_Q e_h)_k . ((W_Q e_t)_k * e_r,k) / sqrt(d_k))``."""
        q = ent @ self.W_Q
        Q = q[kg.pair_head] * self.relation_emb[kg.pair_rel]
        dk = q.shape[1] // self.n_heads
        out = []
        for k in range(self.n_heads):
            sl = slice(k * dk, (k + 1) * dk)
            out.append(kg.softmax(kg.pair_dot(Q[:, sl], q[:, sl]) / math.sqrt(dk)))
        return out

    def kg_attentive(self, kg: RelationalAggregator, ent: torch.Tensor) -> torch.Tensor:
        dk = ent.shape[1] // self.n_heads
        parts = []
        for k, a in enumerate(self.attention(kg, ent)):
            sl = slice(k * dk, (k + 1) * dk)
            parts.append(kg.aggregate(ent[:, sl], self.relation_emb[:, sl], a))
        return torch.cat(parts, 1)

    def encode(
        self, kg: RelationalAggregator, inter: Pattern, inter_w: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.hops(lambda ent: self.kg_attentive(kg, ent), None, inter, inter_w)

    def user_item_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        u, e = self.encode(self.kg, self.inter, self.inter_w)
        return u, e[: self.n_items]

    # ------------------------------------------------------------ rationales
    @torch.no_grad()
    def rationale_scores(self, kg: RelationalAggregator) -> torch.Tensor:
        """``deg(h) * softmax_h(mean_k logits_k)`` per edge of ``kg`` (mean over heads = the full
        dot product / n_heads)."""
        ent = self.embedding[self.U :]
        q = ent @ self.W_Q
        Q = q[kg.pair_head] * self.relation_emb[kg.pair_rel]
        dk = q.shape[1] // self.n_heads
        logits = kg.pair_dot(Q, q) / math.sqrt(dk) / self.n_heads
        deg = kg.head_counts().to(logits.dtype)
        return kg.softmax(logits) * deg[kg.heads]

    def item_mean_scores(self, kg: RelationalAggregator, score: torch.Tensor) -> torch.Tensor:
        """Mean rationale score of each item's edges as head and as tail (1 where none), averaged."""
        E = self.E
        ones = torch.ones_like(score)

        def mean_by(idx):
            s = torch.zeros(E, device=score.device).index_add_(0, idx, score)
            c = torch.zeros(E, device=score.device).index_add_(0, idx, ones)
            m = s / c.clamp_min(1)
            return torch.where(m == 0, torch.ones_like(m), m)

        return (0.5 * mean_by(kg.heads) + 0.5 * mean_by(kg.tails))[: self.n_items]

    # ------------------------------------------------------------ self-supervised views
    def kg_view_encoder(self, kg: RelationalAggregator) -> torch.Tensor:
        """KG-only mean aggregation, residual sum; items' rows."""
        p = self.cfg.message_dropout
        ent = self.embedding[self.U :]
        res, w = ent, kg.mean_weights()
        for _ in range(self.cfg.n_layers):
            ent = F.normalize(F.dropout(kg.aggregate(ent, self.relation_emb, w), p, self.training), dim=1)
            res = res + ent
        return res[: self.n_items]

    def ui_view_encoder(self, inter: Pattern, w: torch.Tensor) -> torch.Tensor:
        """``u <- sum_i w_ui e_i``, ``i <- sum_u w_ui e_u`` (same weights), residual sum of items."""
        p = self.cfg.message_dropout
        user, item = self.embedding[: self.U], self.embedding[self.U : self.U + self.n_items]
        T = inter.transpose()
        pad = item.new_zeros(self.E - self.n_items, item.shape[1])  # the pattern's columns span all entities
        res = item
        for _ in range(self.cfg.n_layers):
            u_new = inter.mm(w, torch.cat([item, pad]))
            i_new = T.mm(w[inter.tperm], user)[: self.n_items]
            user = F.normalize(F.dropout(u_new, p, self.training), dim=1)
            item = F.normalize(F.dropout(i_new, p, self.training), dim=1)
            res = res + item
        return res

    # ------------------------------------------------------------ loss
    def loss(self, users, pos, neg, epoch):
        cfg, dev = self.cfg, self.inter_w.device
        keep = relation_aware_sample(self.kg.rels, self.n_rel, 1 - self.node_dropout)
        kg = self.kg.subset(keep)
        score = self.rationale_scores(kg)
        item_att = self.item_mean_scores(kg, score)
        noisy = score + gumbel_like(score)
        n = kg.n_edges
        m = min(self.mae_msize, n)
        masked = torch.zeros(n, dtype=torch.bool, device=dev)
        if m > 0:
            masked[torch.topk(noisy, m, sorted=False).indices] = True
            masked[torch.randperm(n, device=dev)[:m]] = True
        enc = kg.subset(~masked)
        inter, inter_w = self.sample_interactions()

        zu, ze = self.encode(enc, inter, inter_w)
        u, i, j = zu[users], ze[pos], ze[neg]
        l_rec = bpr_loss(u, i, j)
        l_reg = cfg.l2_reg * l2_batch(u, i, j)
        out = {"loss_rec": l_rec, "loss_reg": l_reg}
        total = l_rec + l_reg
        if self.mae_coef > 0 and m > 0:
            h, r, t = kg.heads[masked], kg.rels[masked], kg.tails[masked]
            l_mae = -F.logsigmoid((ze[t] * self.relation_emb[r] * ze[h]).sum(1)).mean()
            out["loss_mae"] = l_mae
            total = total + self.mae_coef * l_mae
        if self.use_cl:
            keep_kg = torch.ones(n, dtype=torch.bool, device=dev)
            n_drop = int(self.cl_drop * n)
            if n_drop > 0:
                keep_kg[torch.topk(-noisy, n_drop, sorted=False).indices] = False
            k_ui = int((1 - self.cl_drop) * inter.nnz)
            logits = item_att[inter.cols]
            pick = torch.topk(logits + gumbel_like(logits) + gumbel_like(logits), k_ui, sorted=False).indices
            ui_mask = torch.zeros(inter.nnz, dtype=torch.bool, device=dev)
            ui_mask[pick] = True
            x_ui = self.ui_view_encoder(inter.subset(ui_mask), inter_w[ui_mask] / (1 - self.cl_drop))
            x_kg = self.kg_view_encoder(kg.subset(keep_kg))
            l_cl = contrast_loss(self.mlp1(x_ui), self.mlp2(x_kg), cfg.gcl_temp)
            out["loss_cl"] = l_cl
            total = total + cfg.gcl_weight * l_cl
        out["loss"] = total
        return out
