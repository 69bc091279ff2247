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


class _LogSumExpMatmul(torch.autograd.Function):
    """``logsumexp(a @ c.T, dim=1)`` without keeping the logits' graph: the forward turns the
    B x N logit matrix into its softmax in place and saves it, the backward is two matmuls
    with it (d lse / d S = softmax(S)). Same maths as ``F.cross_entropy(a @ c.T, t)``'s
    normaliser; one exponential pass and no dense B x N one-hot gradient instead of two
    (the log-softmax backward recomputes the exponentials). ~13% off InfoNCE on this CPU
    (``bench``-style check: B=1024, N=9,526, d=64)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, c: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        s = a @ c.T
        m = s.amax(1, keepdim=True)
        s.sub_(m).exp_()
        z = s.sum(1, keepdim=True)
        s.div_(z)
        ctx.save_for_backward(s, a, c)
        return (m + z.log()).squeeze(1)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        p, a, c = ctx.saved_tensors
        gs = p * g.unsqueeze(1)
        return gs @ c, gs.T @ a


def info_nce(anchor: torch.Tensor, candidates: torch.Tensor, target: torch.Tensor, tau: float) -> torch.Tensor:
    """InfoNCE with cosine similarity: mean_b -log softmax(s(a_b, c) / tau)[target_b]
    = mean_b [logsumexp_j s(a_b, c_j) / tau - s(a_b, c_target_b) / tau]."""
    a = F.normalize(anchor, dim=-1) / tau  # scale the (small) anchor side, not the logit matrix
    c = F.normalize(candidates, dim=-1)
    return (_LogSumExpMatmul.apply(a, c) - (a * c[target]).sum(-1)).mean()


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


def transr_project(x: torch.Tensor, proj: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
    """TransR's projection into the relation space: row b of the result is ``x_b M_{rel_b}``.

    ``x``: (B, D); ``proj``: (R, D, k) all relations' matrices; ``rel``: (B,) relation ids.
    Computed as one (B, D) x (D, R k) product and a gather, which is much cheaper than
    gathering B matrices of D x k (and scattering their gradients) when R is small.
    """
    R, D, k = proj.shape
    every = (x @ proj.permute(1, 0, 2).reshape(D, R * k)).view(len(x), R, k)
    return every[torch.arange(len(x), device=x.device), rel]


def transr_loss(h_r: torch.Tensor, r: torch.Tensor, t_r: torch.Tensor, t_neg_r: torch.Tensor,
                l2_reg: float = 0.0, normalize: bool = True) -> torch.Tensor:
    """TransR (Lin et al., AAAI 2015) pairwise loss, as CKE uses it for the structural knowledge.

    ``h_r, t_r, t_neg_r``: (B, k) entity rows already projected into their relation's space
    (``x M_r``, see :func:`transr_project`); ``r``: (B, k) relation rows. If ``normalize``, the
    four are scaled to unit L2 norm first (CKE's norm constraints, as its reference
    implementations impose them)::

        f(h, r, t) = |h_r + r - t_r|^2
        loss = mean -ln sigma(f(h, r, t') - f(h, r, t))
               + l2_reg * mean 1/2 (|h_r|^2 + |r|^2 + |t_r|^2 + |t'_r|^2)

    (the L2 term acts on the vectors that enter ``f``; it is constant when they are normalised).
    """
    if normalize:
        h_r, r, t_r, t_neg_r = (F.normalize(x, dim=-1) for x in (h_r, r, t_r, t_neg_r))
    pos = (h_r + r - t_r).pow(2).sum(-1)
    neg = (h_r + r - t_neg_r).pow(2).sum(-1)
    reg = 0.5 * (h_r.pow(2).sum(-1) + r.pow(2).sum(-1) + t_r.pow(2).sum(-1) + t_neg_r.pow(2).sum(-1)).mean()
    return -F.logsigmoid(neg - pos).mean() + l2_reg * reg


def grace_loss(z1: torch.Tensor, z2: torch.Tensor, tau: float, symmetric: bool = True) -> torch.Tensor:
    """GRACE's InfoNCE with inter- and intra-view negatives (Zhu et al., 2020), used by KGCL and
    MCCLK; ``s`` is the cosine similarity and row ``i`` of ``z1`` and ``z2`` the positive pair::

        l(a, b)_i = -log e^{s(a_i, b_i)/tau} / (sum_j e^{s(a_i, b_j)/tau} + sum_{j != i} e^{s(a_i, a_j)/tau})

    returns ``mean_i (l(z1, z2)_i + l(z2, z1)_i) / 2`` (``symmetric=False``: ``mean_i l(z1, z2)_i``),
    computed with log-sum-exp.
    """
    a, b = F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)
    eye = torch.eye(len(a), dtype=torch.bool, device=a.device)

    def one_side(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        between = x @ y.T / tau
        refl = (x @ x.T / tau).masked_fill(eye, float("-inf"))
        return torch.logaddexp(torch.logsumexp(between, 1), torch.logsumexp(refl, 1)) - between.diagonal()

    if not symmetric:
        return one_side(a, b).mean()
    return 0.5 * (one_side(a, b) + one_side(b, a)).mean()
