"""Loss terms shared by CIKGRec and the baselines."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def bpr_loss(u: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """mean over the batch of -ln sigmoid(u.i - u.i')."""
    return -F.logsigmoid((u * pos).sum(-1) - (u * neg).sum(-1)).mean()


def l2_batch(*embs: torch.Tensor) -> torch.Tensor:
    """1/2 * sum of squared norms / batch size (the L2 term on layer-0 embeddings)."""
    return 0.5 * sum(e.pow(2).sum() for e in embs) / embs[0].shape[0]


def info_nce(anchor: torch.Tensor, candidates: torch.Tensor, target: torch.Tensor, tau: float) -> torch.Tensor:
    """InfoNCE with cosine similarity: mean_b -log softmax(s(a_b, c) / tau)[target_b]."""
    a = F.normalize(anchor, dim=-1)
    c = F.normalize(candidates, dim=-1)
    return F.cross_entropy(a @ c.T / tau, target)


def sce_loss(target: torch.Tensor, pred: torch.Tensor, eta: float) -> torch.Tensor:
    """GraphMAE's scaled cosine error: mean (1 - cos(target, pred))^eta."""
    cos = (F.normalize(target, dim=-1) * F.normalize(pred, dim=-1)).sum(-1)
    return (1 - cos).pow(eta).mean()


def transe_loss(h: torch.Tensor, r: torch.Tensor, t: torch.Tensor, t_neg: torch.Tensor,
                l2_reg: float) -> torch.Tensor:
    """-ln sigmoid(|h+r-t'|^2 - |h+r-t|^2) + l2_reg * mean(1/2 sum of squares), batch means."""
    pos = (h + r - t).pow(2).sum(-1)
    neg = (h + r - t_neg).pow(2).sum(-1)
    reg = 0.5 * (h.pow(2).sum(-1) + r.pow(2).sum(-1) + t.pow(2).sum(-1) + t_neg.pow(2).sum(-1)).mean()
    return -F.logsigmoid(neg - pos).mean() + l2_reg * reg


def mask_rate(epoch: int, alpha: float, omega: float, lam: float, schedule: str) -> float:
    """p_q = min(delta(q), omega); delta_lin = alpha + q (omega - alpha) / Lambda,
    delta_exp = alpha (omega / alpha)^(q / Lambda); ``fixed`` keeps alpha (w/o DMR)."""
    if schedule == "fixed":
        return alpha
    if schedule == "lin":
        d = alpha + epoch * (omega - alpha) / lam
    elif schedule == "exp":
        d = alpha * (omega / alpha) ** (epoch / lam)
    else:
        raise ValueError(f"schedule={schedule!r}: expected exp, lin or fixed")
    return min(d, omega)
