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


class _TiledLogSumExpMatmul(torch.autograd.Function):
    """``logsumexp(a @ c.T, dim=1)`` over column blocks of ``c`` (same maths as
    :class:`_LogSumExpMatmul`, sums taken in another order: equal to float rounding).

    Forward: per block ``S_j = a @ c_j.T`` (B x ``block``, stays in cache), a running row maximum
    ``m`` and a rescaled running sum ``z`` (online logsumexp); ``lse = m + log z``.

    Backward (``d lse_b / d S_bj = softmax(S)_bj``), two ways:

    * ``keep=False``: each block's softmax ``exp(a @ c_j.T - lse)`` is recomputed, so the B x N
      logits are never held (memory O(B d + N d));
    * ``keep=True``: the forward keeps each block's ``P_j = exp(S_j - m_j)`` (B x N in all, as
      the fused version holds) and the backward is two products per block, with the row
      factors ``g exp(m_j - lse)`` applied to the small B x d sides, not to the blocks.

    ``low``: ``None`` or a dtype (``torch.bfloat16``) in which the matrix products are taken
    (and, with ``keep``, the kept blocks stored), with the exponentials, sums and the
    gradients' accumulation in the inputs' dtype."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, c: torch.Tensor, block: int, low, keep: bool) -> torch.Tensor:  # type: ignore[override]
        al, cl = (a, c) if low is None else (a.to(low), c.to(low))
        B, N = a.shape[0], c.shape[0]
        m = torch.full((B, 1), float("-inf"), dtype=a.dtype, device=a.device)
        z = torch.zeros((B, 1), dtype=a.dtype, device=a.device)
        kept: list[torch.Tensor] = []
        for j in range(0, N, block):
            s = al @ cl[j : j + block].T
            if low is not None:
                s = s.to(a.dtype)
            m_new = torch.maximum(m, s.amax(1, keepdim=True))
            z.mul_((m - m_new).exp_())
            z.add_(s.sub_(m_new).exp_().sum(1, keepdim=True))
            m = m_new
            if keep:
                kept += [s if low is None else s.to(low), m]
        lse = m + z.log()
        ctx.save_for_backward(a, c, lse, *kept)
        ctx.block, ctx.low, ctx.keep = block, low, keep
        return lse.squeeze(1)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        a, c, lse, *kept = ctx.saved_tensors
        block, low = ctx.block, ctx.low
        g = g.unsqueeze(1)
        cl = c if low is None else c.to(low)
        grad_a = torch.zeros_like(a)
        grad_c = torch.empty_like(c)
        if ctx.keep:
            for k in range(0, len(kept), 2):
                p, m = kept[k], kept[k + 1]
                j = k // 2 * block
                w = (m - lse).exp_().mul_(g)  # row b of the softmax's block j = P_j[b] exp(m_jb - lse_b)
                aw = a * w
                grad_a.add_((p @ cl[j : j + block]).to(a.dtype).mul_(w))
                grad_c[j : j + block] = p.T @ (aw if low is None else aw.to(low))
            return grad_a, grad_c, None, None, None
        # the per-row factor g_b goes onto a (B x d) and onto the B x d result, not onto the blocks
        ag = a * g
        al, agl = (a, ag) if low is None else (a.to(low), ag.to(low))
        neg_lse = lse.neg()
        for j in range(0, c.shape[0], block):
            s = al @ cl[j : j + block].T
            if low is None:
                p = s.add_(neg_lse).exp_()
                grad_a.addmm_(p, cl[j : j + block])
                torch.mm(p.T, agl, out=grad_c[j : j + block])
            else:
                p = s.to(a.dtype).add_(neg_lse).exp_().to(low)
                grad_a.add_(p @ cl[j : j + block])
                grad_c[j : j + block] = p.T @ agl
        grad_a.mul_(g)
        return grad_a, grad_c, None, None, None


INFO_NCE_BLOCK = 1024  # columns per block of the tiled InfoNCE (B x 1024 floats: 4 MiB at B = 1024)
INFO_NCE_KEEP = True  # keep the blocks' exponentials for the backward (faster; B x N floats held)
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


def info_nce(
    anchor: torch.Tensor,
    candidates: torch.Tensor,
    target: torch.Tensor,
    tau: float,
    precision: str = "fp32",
    block: int | None = None,
    keep: bool | None = None,
) -> torch.Tensor:
    """InfoNCE with cosine similarity: mean_b -log softmax(s(a_b, c) / tau)[target_b]
    = mean_b [logsumexp_j s(a_b, c_j) / tau - s(a_b, c_target_b) / tau].

    The normaliser is tiled over column blocks of ``candidates`` (:class:`_TiledLogSumExpMatmul`;
    ``keep=False``: recomputed per block in the backward, the B x N logits never held; default
    ``INFO_NCE_KEEP``). ``precision="bf16"`` takes its matrix products in bfloat16 (an option,
    not the paper's maths: fp32 is the default); the positive term stays in the inputs' dtype."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}: expected one of {', '.join(PRECISIONS)}")
    a = F.normalize(anchor, dim=-1) / tau  # scale the (small) anchor side, not the logit matrix
    c = F.normalize(candidates, dim=-1)
    lse = _TiledLogSumExpMatmul.apply(
        a, c, int(block or INFO_NCE_BLOCK), PRECISIONS[precision], INFO_NCE_KEEP if keep is None else bool(keep)
    )
    return (lse - (a * c[target]).sum(-1)).mean()


def info_nce_fused(anchor: torch.Tensor, candidates: torch.Tensor, target: torch.Tensor, tau: float) -> torch.Tensor:
    """The previous implementation (one B x N softmax held for the backward): kept as the
    reference that the tiled :func:`info_nce` is tested and benchmarked against."""
    a = F.normalize(anchor, dim=-1) / tau
    c = F.normalize(candidates, dim=-1)
    return (_LogSumExpMatmul.apply(a, c) - (a * c[target]).sum(-1)).mean()


def sce_loss(target: torch.Tensor, pred: torch.Tensor, eta: float) -> torch.Tensor:
    """GraphMAE's scaled cosine error: mean (1 - cos(target, pred))^eta."""
    cos = (F.normalize(target, dim=-1) * F.normalize(pred, dim=-1)).sum(-1)
    return (1 - cos).pow(eta).mean()


def transe_loss(h: torch.Tensor, r: torch.Tensor, t: torch.Tensor, t_neg: torch.Tensor, l2_reg: float) -> torch.Tensor:
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


def transr_loss(
    h_r: torch.Tensor,
    r: torch.Tensor,
    t_r: torch.Tensor,
    t_neg_r: torch.Tensor,
    l2_reg: float = 0.0,
    normalize: bool = True,
) -> torch.Tensor:
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
