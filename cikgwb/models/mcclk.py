"""MCCLK (Zou, Wei, Mao, Wang, Qiu, Zhu, Cao, "Multi-level Cross-view Contrastive Learning for
Knowledge-aware Recommender System", SIGIR 2022).

Three views of users ``[0, U)`` and entities (items first), all from the same layer-0
embeddings ``e`` (relations: canonical and inverse, ``e_r``):

* global structural view (user-item-entity graph), ``L_g`` (2) layers, each followed by
  message dropout and L2 normalisation, residual sum ``z^g = e + e^(1) + ... + e^(L_g)``::

      e_h^(l) = sum_{(h, r, t)} pi(h, r, t) e_r * e_t^(l-1),
      pi      = softmax_{edges of h}( (|e_h^(l-1) * e_r| |e_t^(l-1) * e_r|)^2 )
      m_u     = mean_{i in N_u} e_i^(l-1),
      e_u^(l) = m_u + (sum_r softmax_r(e_u^(l-1) . e_r) e_r) * m_u

  (the attention and user aggregation of the authors' code; with node dropout 0.5 on the KG
  edges and the user-item entries while training);
* local collaborative view: LightGCN on the user-item graph, ``z^c = mean_{k=0..2} A^k e``;
* local semantic view: an item-item kNN graph ``S = (1 - lambda) S(z^g) + lambda S(e)``
  (``lambda = 0.5``), ``S(x)`` the top-``k`` (10) cosine neighbours of every item, normalised
  ``D^-1/2 S D^-1/2`` by its row sums; ``z_i^s = normalize(S e_I)`` (one layer).

Representations and score: ``z_u^l = z_u^c``, ``z_i^l = z_i^c + z_i^s``,
``y_ui = [z_u^g || z_u^l]^T [z_i^g || z_i^l] = z_u^g . z_i^g + z_u^c . (z_i^c + z_i^s)``.

Multi-level cross-view contrast with projection heads ``f_1, f_2, f_3`` (Linear-ReLU-Linear)
and GRACE's InfoNCE ``g`` (intra- and inter-view negatives, temperature 0.6) over the batch's
(distinct) positive items ``I_b`` and users ``U_b``::

    L_local  = g(f_1(z^s), f_1(z^c))                      over I_b
    L_global = g(f_2(z^g), f_2(z^l)) over I_b + g(f_3(z^g), f_3(z^l)) over U_b
    L = mean -ln sigma(y_ui - y_uj) + l2_reg |[z*]|^2 / 2 / B
        + beta (alpha L_local + (1 - alpha) / 2 L_global)

Defaults (the authors' parser and model code): dim 64, 2 hops, 2 LightGCN layers, 1 semantic
layer, k 10, lambda 0.5, lr 3e-3, l2 1e-5, node dropout 0.5, message dropout 0.1, tau 0.6,
alpha 0.2, beta 0.001. Differences: BPR replaces the code's BCE on labelled pairs (this
workbench's protocol: implicit feedback, sampled negatives); the semantic graph is over items
(the paper's item-item graph; the code builds it over all entities), and by default it is
rebuilt once per epoch from the parameters at the epoch's start (``knn_refresh="epoch"``,
~1.5 s on book-crossing's 8,853 items on this CPU) instead of at every batch
(``"batch"``, the authors' code; ~1.5 s per batch here). Evaluation rebuilds it from the
current parameters.
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
from . import register
from .kg_common import Pattern, ProjectionHead, RelationalAggregator, RelationalKGModel, xavier
from .losses import bpr_loss, grace_loss, l2_batch


@dataclass
class Config(ModelConfig):
    """MCCLK's settings (its authors' defaults; see the module docstring)."""

    dim: int = 64  # embedding size
    n_layers: int = 2  # relational propagation hops of the global view
    l2_reg: float = 1e-5  # L2 weight on the batch's final representations
    node_dropout: float = 0.5  # share of KG edges dropped per batch (user-item entries kept w.p. 1 - rate)
    message_dropout: float = 0.1  # dropout on each hop's output
    gcl_weight: float = 1e-3  # weight of the contrastive loss
    gcl_temp: float = 0.6  # its temperature
    no_cl: bool = False  # w/o CL
    lightgcn_layers: int = 2  # LightGCN layers of the collaborative view
    item_layers: int = 1  # layers of the item-item semantic view
    topk: int = 10  # neighbours per item in the kNN item graph
    knn_lambda: float = 0.5  # mix of the kNN graph and the original
    cl_alpha: float = 0.2  # balance of the local and global contrast
    knn_refresh: str = "epoch"  # rebuild the kNN graph each epoch | batch

    RENAMED: ClassVar[dict[str, str]] = {"edge_dropout": "node_dropout"}  # its name before issue 19
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {"knn_refresh": ("epoch", "batch")}
    RANGES: ClassVar[dict[str, tuple]] = {
        "topk": (1, True, None, False),
        "knn_lambda": (0, True, 1, True),
        "cl_alpha": (0, True, 1, True),
    }


#: training settings of MCCLK's authors (the model layer) and per-dataset overrides (none)
TRAIN = {"lr": 3e-3}
DATASETS: dict[str, dict] = {}

REFRESH = ("epoch", "batch")


@torch.no_grad()
def knn_graph(x: torch.Tensor, k: int, chunk: int = 2048) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The top-``k`` cosine neighbours of every row (itself included), normalised
    ``D^-1/2 S D^-1/2`` with ``D`` the row sums: ``(rows, cols, values)``."""
    n = x.shape[0]
    k = min(k, n)
    xn = F.normalize(x, dim=1)
    vals, cols = [], []
    for s in range(0, n, chunk):
        v, c = (xn[s : s + chunk] @ xn.T).topk(k, dim=1)
        vals.append(v)
        cols.append(c)
    v, c = torch.cat(vals), torch.cat(cols)
    rows = torch.arange(n, device=x.device).repeat_interleave(k)
    c, v = c.reshape(-1), v.reshape(-1)
    d = torch.zeros(n, device=x.device).index_add_(0, rows, v).clamp_min(1e-8).pow(-0.5)
    return rows, c, d[rows] * v * d[c]


@register("mcclk", Config, train=TRAIN, datasets=DATASETS)
class MCCLK(RelationalKGModel):
    NAME = "mcclk"

    def __init__(self, ds: Dataset, cfg: Config, train_pairs: np.ndarray, device: torch.device):
        super().__init__(ds, cfg, train_pairs, device)
        # its settings are checked by its Config's CHOICES and RANGES (cikgwb.config.validate_config)
        self.refresh = cfg.knn_refresh
        self.topk, self.lam, self.alpha = cfg.topk, cfg.knn_lambda, cfg.cl_alpha
        self.lgn_layers, self.item_layers = cfg.lightgcn_layers, cfg.item_layers
        self.use_cl = not cfg.no_cl and cfg.gcl_weight > 0
        self.build_graphs(ds, train_pairs, device)
        self.ui_graph = InteractionGraph(train_pairs, self.U, self.n_items, device)
        D = cfg.dim
        self.relation_emb = nn.Parameter(xavier(self.n_rel, D))
        self.f1, self.f2, self.f3 = ProjectionHead(D), ProjectionHead(D), ProjectionHead(D)
        self.to(device)
        self._sem_epoch: int | None = None
        self._sem: tuple[Pattern, torch.Tensor] | None = None

    # ------------------------------------------------------------ global structural view
    @staticmethod
    def kg_attention(kg: RelationalAggregator, ent: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
        """``softmax_h((|e_h * e_r| |e_t * e_r|)^2)``; ``|e * e_r|^2 = (e^2) . (e_r^2)``, so the
        logits come from one ``nodes x relations`` matrix ``M = E^2 (W^2)^T``: ``M_hr M_tr``."""
        M = ent.pow(2) @ rel.pow(2).T
        return kg.softmax(M[kg.heads, kg.rels] * M[kg.tails, kg.rels])

    def global_view(self) -> tuple[torch.Tensor, torch.Tensor]:
        kg, inter, inter_w = self.sampled_graphs()  # node dropout while training
        W = self.relation_emb
        u_res, e_res = self.hops(
            lambda ent: kg.aggregate(ent, W, self.kg_attention(kg, ent, W)),
            lambda user, m_u: m_u + (torch.softmax(user @ W.T, dim=-1) @ W) * m_u,
            inter,
            inter_w,
        )
        return u_res, e_res[: self.n_items]

    # ------------------------------------------------------------ local views
    def collaborative_view(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.ui_graph.propagate(
            self.embedding[: self.U], self.embedding[self.U : self.U + self.n_items], self.lgn_layers
        )

    @torch.no_grad()
    def semantic_graph(self, z_g_items: torch.Tensor) -> tuple[Pattern, torch.Tensor]:
        """``(1 - lambda) S(z^g) + lambda S(e)`` over items as a pattern and its values."""
        r1, c1, v1 = knn_graph(z_g_items.detach(), self.topk)
        r0, c0, v0 = knn_graph(self.embedding[self.U : self.U + self.n_items].detach(), self.topk)
        rows, cols = torch.cat([r1, r0]), torch.cat([c1, c0])
        vals = torch.cat([(1 - self.lam) * v1, self.lam * v0])
        pat = Pattern(rows, cols, (self.n_items, self.n_items))
        return pat, vals[pat.order]

    def semantic_view(self, graph: tuple[Pattern, torch.Tensor]) -> torch.Tensor:
        pat, vals = graph
        h = self.embedding[self.U : self.U + self.n_items]
        for _ in range(self.item_layers):
            h = pat.mm(vals, h)
        return F.normalize(h, dim=1)

    def semantic_for(self, epoch: int | None, z_g_items: torch.Tensor) -> tuple[Pattern, torch.Tensor]:
        if epoch is None or self.refresh == "batch":
            return self.semantic_graph(z_g_items)
        if self._sem_epoch != epoch or self._sem is None:
            was = self.training
            self.eval()
            with torch.no_grad():
                _, zi = self.global_view()
            self.train(was)
            self._sem, self._sem_epoch = self.semantic_graph(zi), epoch
        return self._sem

    def views(self, epoch: int | None = None) -> dict[str, torch.Tensor]:
        ug, ig = self.global_view()
        uc, ic = self.collaborative_view()
        is_ = self.semantic_view(self.semantic_for(epoch, ig))
        return {"ug": ug, "ig": ig, "uc": uc, "ic": ic, "is": is_}

    @staticmethod
    def final(v: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``[z^g || z^c || z^c]`` for users and ``[z^g || z^s || z^c]`` for items."""
        return (torch.cat([v["ug"], v["uc"], v["uc"]], 1), torch.cat([v["ig"], v["is"], v["ic"]], 1))

    def user_item_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.final(self.views(None))

    def loss(self, users, pos, neg, epoch):
        cfg = self.cfg
        v = self.views(epoch)
        zu, zi = self.final(v)
        u, i, j = zu[users], zi[pos], zi[neg]
        l_rec = bpr_loss(u, i, j)
        l_reg = cfg.l2_reg * l2_batch(u, i, j)
        out = {"loss_rec": l_rec, "loss_reg": l_reg}
        total = l_rec + l_reg
        if self.use_cl:
            items, us = torch.unique(pos), torch.unique(users)
            tau = cfg.gcl_temp
            l_local = grace_loss(self.f1(v["is"][items]), self.f1(v["ic"][items]), tau)
            l_global = grace_loss(self.f2(v["ig"][items]), self.f2(v["ic"][items] + v["is"][items]), tau) + grace_loss(
                self.f3(v["ug"][us]), self.f3(v["uc"][us]), tau
            )
            l_cl = self.alpha * l_local + (1 - self.alpha) / 2 * l_global
            out.update(loss_local=l_local, loss_global=l_global)
            total = total + cfg.gcl_weight * l_cl
        out["loss"] = total
        return out
