"""The interface every recommender implements for :class:`cikgwb.train.Trainer`."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from ..config import ModelConfig
from ..data.dataset import Dataset


class Recommender(nn.Module):
    """A model trained on (user, positive item, negative item) batches.

    Subclasses implement :meth:`loss` and :meth:`user_item_embeddings` (or override
    :meth:`score_fn`); optional :meth:`after_epoch` runs extra training (e.g. TransE) and
    :meth:`extra_optimizers` returns optimisers the trainer must checkpoint.
    """

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
        return {}

    def main_parameters(self) -> list[torch.nn.Parameter]:
        """What the trainer's Adam updates. With an alternating KG objective (an extra optimiser),
        the KG relation table (a parameter named ``relation``) belongs to that optimiser only,
        as in the authors' code; a model with another split overrides this."""
        if not self.extra_optimizers():
            return list(self.parameters())
        return [p for n, p in self.named_parameters() if n != "relation"]

    def epoch_info(self, epoch: int) -> dict[str, float]:
        """Per-epoch values for the history (e.g. the mask rate)."""
        return {}
