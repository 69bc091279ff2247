"""The interface every recommender implements for :class:`cikgwb.train.Trainer`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..config import ModelConfig
from ..data.dataset import Dataset


class AlternatingPhase:
    """A second objective trained after every epoch of the main one, with its own Adam (the
    alternating KG phase of CIKGRec's TransE, KGAT's TransR and KGCL's TransE, as in the authors'
    codes). ``params`` are what it updates, in this order; ``owns`` are those of them that only
    this phase updates (the trainer's Adam leaves them out: :meth:`Recommender.main_parameters`).
    """

    def __init__(self, params: Iterable[nn.Parameter], lr: float, owns: Iterable[nn.Parameter] = ()):
        self.optimizer = torch.optim.Adam(list(params), lr=lr)
        self.owns = list(owns)

    def run(self, losses: Iterable[torch.Tensor]) -> float:
        """One Adam step per loss of ``losses`` (a generator: each loss is computed after the
        previous step); returns their mean. Gradients are cleared at the end."""
        opt = self.optimizer
        total, n = 0.0, 0
        for loss in losses:
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, n = total + float(loss.detach()), n + 1
        opt.zero_grad(set_to_none=True)
        return total / max(n, 1)


class Recommender(nn.Module):
    """A model trained on (user, positive item, negative item) batches.

    Subclasses implement :meth:`loss` and :meth:`user_item_embeddings` (or override
    :meth:`score_fn`); optional :meth:`after_epoch` runs extra training (e.g. TransE, through
    an :class:`AlternatingPhase` set as ``self.kg_phase``, whose optimiser
    :meth:`extra_optimizers` hands to the trainer to checkpoint).

    The optimiser groups are the model's declaration: the trainer's Adam updates
    :meth:`main_parameters`, every parameter but those ``kg_phase.owns``.
    """

    kg_phase: AlternatingPhase | None = None

    def __init__(self, ds: Dataset, cfg: ModelConfig, train_pairs: np.ndarray, device: torch.device):
        super().__init__()
        self.cfg = cfg
        self.n_users, self.n_items = ds.n_users, ds.n_items
        self.device_ = device

    def loss(self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, epoch: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def user_item_embeddings(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def score_fn(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """A scorer for the evaluator: embeddings are computed once, then dot products per batch."""
        zu, zi = self.user_item_embeddings()
        return lambda users: zu[users.to(zu.device)] @ zi.T

    def after_epoch(self, epoch: int, generator: torch.Generator) -> dict[str, float]:
        return {}

    def extra_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"kg_optimizer": self.kg_phase.optimizer} if self.kg_phase is not None else {}

    def main_parameters(self) -> list[torch.nn.Parameter]:
        """What the trainer's Adam updates: every parameter, in :meth:`parameters` order, but
        those that the model's alternating phase owns (``kg_phase.owns``, e.g. CIKGRec's TransE
        relation table, as in the authors' code)."""
        owned = {id(p) for p in self.kg_phase.owns} if self.kg_phase is not None else set()
        return [p for p in self.parameters() if id(p) not in owned]

    def epoch_info(self, epoch: int) -> dict[str, float]:
        """Per-epoch values for the history (e.g. the mask rate)."""
        return {}
