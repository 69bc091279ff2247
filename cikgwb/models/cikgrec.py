"""CIKGRec (Hu et al., AAAI 2025): LightGCN on the CIKG with user interest reconstruction and
cross-domain contrast; with every extra switched off it is LightGCN (He et al., SIGIR 2020).

Total loss per batch (docs/method.md section 3)::

    L = l1 * L_r + l2 * L_u + l3 * L_c            (+ alternating TransE L_t after each epoch)

    L_r = mean -ln sigma(z_u.z_i - z_u.z_i') + l2_reg/2 (|e_u|^2 + |e_i|^2 + |e_i'|^2) / B
          with Z = LightGCN_l(E, CIKG + self-loops)
    L_u = mean_{j masked} (1 - cos(e_j, dec(chi(enc(E~))))_j)^eta,  E~ = E with a fraction
          p_q of interest rows masked, p_q = min(delta(q), omega)
    L_c = InfoNCE(v1_u, v2_U) + InfoNCE(v1_i, v3_I)   over the batch's users / positive items
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..config import ModelConfig
from ..data.dataset import Dataset
from ..graph import EdgeDropout, EdgeSets, RowSubset, lightgcn, normalized_adjacency
from ..sampling import uniform_triples
from . import register
from ._backbone import InteractionGraphModel
from .base import AlternatingPhase, Recommender
from .losses import PRECISIONS, bpr_loss, info_nce, l2_batch, mask_rate, sce_loss, transe_loss


@dataclass
class Config(ModelConfig):
    """CIKGRec's settings (docs/method.md section 4). With every extra off and no KG / interests
    it is plain LightGCN. The defaults below are the model layer; the authors' settings per
    dataset (their scripts) are :data:`DATASETS`."""

    dim: int = 64  # embedding size d
    n_layers: int = 3  # LightGCN layers l on the CIKG
    l2_reg: float = 1e-5  # L2 weight on the batch's layer-0 embeddings
    cf_weight: float = 1.5  # lambda_1: weight of the BPR loss L_r
    interest_recon_weight: float = 0.03  # lambda_2: weight of the interest reconstruction L_u
    gcl_weight: float = 0.01  # lambda_3: weight of the cross-domain contrast L_c
    gcl_temp: float = 0.2  # tau: InfoNCE temperature
    noise_eps: float = 0.1  # SimGCL noise size on contrastive view 1
    edge_dropout: float = 0.0  # share of CIKG edges dropped per batch (main graph)
    message_dropout: float = 0.0  # dropout on each layer's output while training
    self_loops: bool = True  # self-loops in the main graph's normalised adjacency
    mask_alpha: float = 0.05  # alpha: start mask rate of the interest nodes
    mask_omega: float = 0.75  # omega: cap of the mask rate
    mask_lambda: float = 150.0  # Lambda: epochs of the mask-rate schedule
    schedule: str = "exp"  # exp | lin | fixed (w/o DMR: fixed at alpha)
    uir_enc_layers: int = 2  # encoder layers of the interest reconstruction
    uir_dec_layers: int = 1  # decoder layers of the interest reconstruction
    replace_rate: float = 0.0  # share of masked rows replaced by random interest rows
    uir_edge_drop: float = 0.0  # edge dropout of the reconstruction graph
    sce_eta: float = 2.0  # eta: exponent of the scaled cosine error
    transe: bool = False  # the alternating TransE phase on the KG
    lr_kg: float = 0.002  # learning rate of that phase
    l2_reg_kge: float = 1e-3  # L2 weight of the TransE loss
    kg_batch_size: int = 4096  # triples per batch of that phase
    views: str = "paper"  # paper | authors: the contrastive views' graphs
    precision: str = "fp32"  # fp32 | bf16: the InfoNCE's matrix products (bf16 is an option, not the paper's maths)
    # switches for the paper's ablations
    use_kg: bool = True  # false: no item KG in the CIKG
    no_interests: bool = False  # w/o UIK: no interest nodes
    no_uir: bool = False  # w/o UIR: no interest reconstruction
    no_cl: bool = False  # w/o CL: no cross-domain contrast

    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        "schedule": ("exp", "lin", "fixed"),
        "views": ("paper", "authors"),
        "precision": PRECISIONS,
    }

    def reads_interest_graph(self) -> bool:
        return not self.no_interests


#: the authors' settings per dataset (their run scripts; lr is a training setting)
DATASETS: dict[str, dict[str, Any]] = {
    "book-crossing": dict(
        n_layers=4,
        lr=8e-4,
        l2_reg=5e-5,
        cf_weight=1.5,
        interest_recon_weight=0.03,
        gcl_weight=0.01,
        gcl_temp=0.15,
        edge_dropout=0.1,
        message_dropout=0.0,
        mask_alpha=0.05,
        mask_omega=0.65,
        mask_lambda=120,
        schedule="exp",
        uir_enc_layers=3,
        uir_dec_layers=1,
        replace_rate=0.0,
        uir_edge_drop=0.0,
        sce_eta=2.0,
        transe=False,
    ),
    "dbbook2014": dict(
        n_layers=3,
        lr=8e-4,
        l2_reg=1e-5,
        cf_weight=1.5,
        interest_recon_weight=0.03,
        gcl_weight=0.01,
        gcl_temp=0.2,
        edge_dropout=0.0,
        message_dropout=0.0,
        mask_alpha=0.05,
        mask_omega=0.75,
        mask_lambda=150,
        schedule="exp",
        uir_enc_layers=2,
        uir_dec_layers=1,
        replace_rate=0.15,
        uir_edge_drop=0.2,
        sce_eta=2.0,
        transe=True,
        lr_kg=0.002,
        l2_reg_kge=0.001,
    ),
    "ml1m": dict(
        n_layers=3,
        lr=5e-4,
        l2_reg=5e-5,
        cf_weight=1.8,
        interest_recon_weight=0.15,
        gcl_weight=0.03,
        gcl_temp=0.2,
        edge_dropout=0.1,
        message_dropout=0.1,
        mask_alpha=0.1,
        mask_omega=0.95,
        mask_lambda=80,
        schedule="exp",
        uir_enc_layers=2,
        uir_dec_layers=1,
        replace_rate=0.0,
        uir_edge_drop=0.0,
        sce_eta=3.0,
        transe=False,
    ),
    # the embedded default: small graph, short schedule so a quick run shows the mask rate move
    "synthetic": dict(
        n_layers=2,
        lr=5e-3,
        l2_reg=1e-4,
        cf_weight=1.5,
        interest_recon_weight=0.03,
        gcl_weight=0.01,
        gcl_temp=0.2,
        edge_dropout=0.0,
        message_dropout=0.0,
        mask_alpha=0.05,
        mask_omega=0.65,
        mask_lambda=30,
        schedule="exp",
        uir_enc_layers=2,
        uir_dec_layers=1,
        replace_rate=0.0,
        uir_edge_drop=0.0,
        sce_eta=2.0,
        transe=False,
    ),
}


@dataclass
class LightGCNConfig(ModelConfig):
    """LightGCN's settings (the LightGCN paper's, :class:`LightGCN`)."""

    dim: int = 64  # embedding size
    n_layers: int = 3  # LightGCN layers
    l2_reg: float = 1e-4  # L2 weight on the batch's layer-0 embeddings


#: LightGCN's training settings (its paper's learning rate) and per-dataset overrides: on
#: synthetic the quick configuration that CIKGRec uses too
LIGHTGCN_TRAIN = {"lr": 1e-3}
LIGHTGCN_DATASETS: dict[str, dict[str, Any]] = {"synthetic": dict(n_layers=2, lr=5e-3, l2_reg=1e-4)}


@register("cikgrec", Config, datasets=DATASETS)
class CIKGRec(Recommender):
    def __init__(self, ds: Dataset, cfg: Config, train_pairs: np.ndarray, device: torch.device):
        super().__init__(ds, cfg, train_pairs, device)
        if cfg.precision not in PRECISIONS:
            raise ValueError(f"setting precision={cfg.precision!r}: expected one of {', '.join(PRECISIONS)}")
        es = EdgeSets(ds, train_pairs, use_kg=cfg.use_kg, use_interests=not cfg.no_interests)
        self.edges = es
        self.space = s = es.space
        N, D = s.n_nodes, cfg.dim
        self.embedding = nn.Parameter(nn.init.xavier_uniform_(torch.empty(N, D)))
        self.use_uir = (not cfg.no_uir) and s.n_interests > 0 and cfg.interest_recon_weight > 0
        self.use_cl = (not cfg.no_cl) and cfg.gcl_weight > 0
        self.main_edges = torch.as_tensor(es.cikg, device=device)
        self.A = normalized_adjacency(self.main_edges, N, self_loops=cfg.self_loops, device=device)
        self.main_dropout = EdgeDropout(self.main_edges, N, cfg.self_loops) if cfg.edge_dropout > 0 else None
        if self.use_cl:
            self.views = {k: normalized_adjacency(v, N, device=device) for k, v in es.views(cfg.views).items()}
            # the InfoNCE reads v2 at the users and v3 at the items/entities only (their last layer's rows)
            U, E = s.n_users, s.n_entities
            self.view_rows = {
                "v2": RowSubset(self.views["v2"], torch.arange(U, device=device)),
                "v3": RowSubset(self.views["v3"], torch.arange(U, U + E, device=device)),
            }
        if self.use_uir:
            self.mask_token = nn.Parameter(torch.zeros(1, D))
            self.chi = nn.Linear(D, D)  # with bias, Xavier-initialised, as in the authors' code
            nn.init.xavier_uniform_(self.chi.weight)
            self.A_uir = normalized_adjacency(self.main_edges, N, self_loops=True, device=device)
            self.uir_dropout = EdgeDropout(self.main_edges, N, self_loops=True) if cfg.uir_edge_drop > 0 else None
        self.use_transe = cfg.transe and len(ds.kg) > 0 and cfg.use_kg
        if self.use_transe:
            R = max(ds.n_relations, int(ds.kg[:, 1].max()) + 1)
            U = s.n_users
            kg = torch.as_tensor(ds.kg, dtype=torch.int64)
            tp = torch.as_tensor(train_pairs, dtype=torch.int64)
            h, r, t = U + kg[:, 0], kg[:, 1], U + kg[:, 2]
            heads = torch.cat([h, t, tp[:, 0], U + tp[:, 1]])
            rels = torch.cat([r, r + R, torch.full((len(tp),), 2 * R), torch.full((len(tp),), 2 * R + 1)])
            tails = torch.cat([t, h, U + tp[:, 1], tp[:, 0]])
            self.triples = torch.stack([heads, rels, tails], 1).to(device)
            self.relation = nn.Parameter(nn.init.xavier_uniform_(torch.empty(2 * R + 2, D)))
            self.n_neg_nodes = U + s.n_entities  # negatives: users and entities, never interests
        self.to(device)
        if self.use_transe:
            # TransE's phase owns the relation table (the trainer's Adam leaves it out)
            self.kg_phase = AlternatingPhase([self.embedding, self.relation], cfg.lr_kg, owns=[self.relation])

    # ------------------------------------------------------------ graphs
    def main_graph(self) -> torch.Tensor:
        """The CIKG (+ self-loops); with edge dropout, re-normalised from the kept edges."""
        if self.training and self.cfg.edge_dropout > 0:
            return self.main_dropout(self.cfg.edge_dropout)
        return self.A

    def propagate(self, mean: bool = True, rows: torch.Tensor | None = None) -> torch.Tensor:
        """LightGCN on the main graph; ``rows`` (sorted, distinct): only these rows."""
        return lightgcn(
            self.main_graph(),
            self.embedding,
            self.cfg.n_layers,
            dropout=self.cfg.message_dropout,
            training=self.training,
            mean=mean,
            rows=rows,
        )

    def user_item_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.propagate()
        U = self.space.n_users
        return z[:U], z[U : U + self.space.n_items]

    # ------------------------------------------------------------ losses
    def loss(self, users, pos, neg, epoch):
        cfg, U = self.cfg, self.space.n_users
        e0 = self.embedding
        # the layer sum at the batch's rows only (rescaled there), each term gathered on its own
        rows, inv = torch.unique(torch.cat([users, U + pos, U + neg]), return_inverse=True)
        z = self.propagate(mean=False, rows=rows)
        iu, ip, ineg = inv.split([len(users), len(pos), len(neg)])
        c = 1.0 / (cfg.n_layers + 1)
        l_r = bpr_loss(z[iu] * c, z[ip] * c, z[ineg] * c) + cfg.l2_reg * l2_batch(e0[users], e0[U + pos], e0[U + neg])
        out = {"loss_rec": l_r}
        total = cfg.cf_weight * l_r
        if self.use_uir:
            l_u = self.interest_reconstruction(epoch)
            out["loss_uir"] = l_u
            total = total + cfg.interest_recon_weight * l_u
        if self.use_cl:
            l_c = self.contrast(users, pos)
            out["loss_cl"] = l_c
            total = total + cfg.gcl_weight * l_c
        out["loss"] = total
        return out

    def current_mask_rate(self, epoch: int) -> float:
        c = self.cfg
        return mask_rate(epoch, c.mask_alpha, c.mask_omega, c.mask_lambda, c.schedule)

    def interest_reconstruction(self, epoch: int) -> torch.Tensor:
        """GraphMAE-style masked reconstruction of interest-node embeddings."""
        cfg, s = self.cfg, self.space
        J, off = s.n_interests, s.interest_offset
        n_mask = int(math.floor(self.current_mask_rate(epoch) * J))
        if n_mask == 0:
            return self.embedding.sum() * 0.0
        dev = self.embedding.device
        masked = off + torch.randperm(J, device=dev)[:n_mask]
        e0 = self.embedding
        n_noise = int(round(cfg.replace_rate * n_mask)) if cfg.replace_rate > 0 else 0
        token_nodes, noise_nodes = masked[n_noise:], masked[:n_noise]
        x = e0.index_put((token_nodes,), self.mask_token.expand(len(token_nodes), -1))
        if n_noise:
            donors = off + torch.randint(0, J, (n_noise,), device=dev)
            x = x.index_put((noise_nodes,), e0[donors])
        A = self.uir_dropout(cfg.uir_edge_drop) if cfg.uir_edge_drop > 0 else self.A_uir
        # layer sums instead of means: chi and the decoder are linear and the loss is a cosine,
        # so the constant 1/(l+1) factors cancel
        h = self.chi(lightgcn(A, x, cfg.uir_enc_layers, mean=False))
        h = h.index_put((masked,), torch.zeros(len(masked), h.shape[1], device=dev))
        rows, inv = torch.unique(masked, return_inverse=True)  # the decoder's result at the masked rows only
        rec = lightgcn(A, h, cfg.uir_dec_layers, mean=False, rows=rows)
        return sce_loss(e0[masked], rec[inv], cfg.sce_eta)

    def contrast(self, users: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Cross-domain InfoNCE: users v1 vs v2 (all users), items v1 vs v3 (all item/entity nodes)."""
        cfg, U = self.cfg, self.space.n_users
        e0 = self.embedding
        # layer sums: InfoNCE uses cosine similarity, so the 1/(l+1) of the mean cancels.
        # Each view at the rows its InfoNCE reads: v1 at the batch's users and positive items,
        # v2 at all users, v3 at all items/entities (the last layer's product on those rows only)
        rows, inv = torch.unique(torch.cat([users, U + pos]), return_inverse=True)
        iu, ip = inv.split([len(users), len(pos)])
        v1 = lightgcn(self.views["v1"], e0, cfg.n_layers, noise_eps=cfg.noise_eps, mean=False, rows=rows)
        v2 = lightgcn(self.views["v2"], e0, cfg.n_layers, mean=False, rows=self.view_rows["v2"])
        v3 = lightgcn(self.views["v3"], e0, cfg.n_layers, mean=False, rows=self.view_rows["v3"])
        # the batch's users and positive items as they come (repeats included), as the authors do
        l_user = info_nce(v1[iu], v2, users, cfg.gcl_temp, precision=cfg.precision)
        l_item = info_nce(v1[ip], v3, pos, cfg.gcl_temp, precision=cfg.precision)
        return l_user + l_item

    # ------------------------------------------------------------ TransE
    def after_epoch(self, epoch: int, generator: torch.Generator) -> dict[str, float]:
        if not self.use_transe:
            return {}
        return {"loss_transe": self.kg_phase.run(self.transe_losses(generator))}

    def transe_losses(self, generator: torch.Generator):
        """``max(1, |triples| // kg_batch_size)`` TransE batches: triples drawn uniformly with
        replacement, a uniform negative tail over users and entities each."""
        bs = self.cfg.kg_batch_size
        for _ in range(max(1, len(self.triples) // bs)):
            h, r, t, t_neg = uniform_triples(self.triples, bs, self.n_neg_nodes, generator)
            e = self.embedding
            yield transe_loss(e[h], self.relation[r], e[t], e[t_neg], self.cfg.l2_reg_kge)

    def epoch_info(self, epoch: int) -> dict[str, float]:
        return {"mask_rate": self.current_mask_rate(epoch)} if self.use_uir else {}


@register("lightgcn", LightGCNConfig, train=LIGHTGCN_TRAIN, datasets=LIGHTGCN_DATASETS)
class LightGCN(InteractionGraphModel):
    """LightGCN (He et al., SIGIR 2020): ``Z = mean_k A^k E`` on the user-item graph, BPR loss::

        L = mean -ln sigma(z_u.z_i - z_u.z_i') + l2_reg/2 (|e_u|^2 + |e_i|^2 + |e_i'|^2) / B

    The user-item LightGCN that SGL and SimGCL extend (:class:`InteractionGraphModel`), with
    nothing added; CIKGRec with every extra off (no KG, no interests, no UIR, no CL, no
    self-loops) computes the same, to the bit. Its layer-0 table keeps a row for every other KG
    entity (isolated nodes ``U + I ..``: they never change) and one Xavier bound over all rows,
    as when LightGCN ran through CIKGRec's code path, so its runs and checkpoints stay the same.

    Defaults on the real datasets from the LightGCN paper: 3 layers, lr 1e-3, L2 weight 1e-4
    (embedding size 64, Adam; batch 1024 in this workbench's protocol, 2048 in the paper); on
    synthetic the quick configuration that CIKGRec uses too.
    """

    NAME = "lightgcn"

    def initial_embedding(self, ds: Dataset) -> torch.Tensor:
        """One Xavier table over users, items and the other KG entities (CIKGRec's node space
        without interests)."""
        return nn.init.xavier_uniform_(torch.empty(ds.n_users + ds.n_entities, self.cfg.dim))

    def loss(self, users, pos, neg, epoch):
        z = self.propagate(mean=False)  # the layer sum; rescaled on the gathered rows only
        l_rec = self.rec_loss(z, users, pos, neg, scale=1.0 / (self.cfg.n_layers + 1))
        return {"loss_rec": l_rec, "loss": l_rec}
