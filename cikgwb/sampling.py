"""Negative sampling, one way for the trainer and the models.

* :class:`Membership`: a set of int64 keys held sorted, membership by binary search
  (``(user, item)`` pairs as ``user * n_items + item``, KG triples as
  ``(head * n_relations + relation) * n_nodes + tail``).
* :func:`rejection_sample`: candidates from ``draw(n)``, the ones that ``is_positive`` flags
  drawn again, at most ``max_rounds`` times (``None``: until none is flagged). The draws are
  made in one fixed order (all ``n``, then only the flagged ones, round after round), so a run
  is reproducible from its generator's state.
* :class:`PairSampler`: the trainer's batches, shuffled training pairs with one uniform
  negative item per pair that is not a training item of the user.
* :func:`uniform_negatives`: negative tails for KG triples, uniform over the nodes, drawn again
  (at most 20 times) while ``(h, r, t')`` is a true triple (KGAT; KGCL's TransE draws its
  candidates from the KG's tails through :func:`tail_negatives`).
* :func:`uniform_triples`: KG triples drawn uniformly with replacement, each with a uniform
  corrupted tail and no test against the true triples (CKE, CFKG, CIKGRec's TransE).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import torch


class Membership:
    """A set of int64 keys, held sorted; :meth:`contains` tests many keys at once."""

    def __init__(self, keys: torch.Tensor, presorted: bool = False):
        keys = torch.as_tensor(keys, dtype=torch.int64)
        self.keys = keys if presorted else torch.sort(keys).values

    def __len__(self) -> int:
        return len(self.keys)

    def contains(self, keys: torch.Tensor) -> torch.Tensor:
        """A boolean mask: which of ``keys`` are in the set."""
        pos = torch.searchsorted(self.keys, keys).clamp_max(len(self.keys) - 1)
        return self.keys[pos] == keys


def rejection_sample(
    draw: Callable[[int], torch.Tensor],
    is_positive: Callable[[torch.Tensor], torch.Tensor],
    n: int,
    max_rounds: int | None = None,
) -> torch.Tensor:
    """``draw(n)``, then the entries that ``is_positive`` flags drawn again (``draw(k)`` for the
    ``k`` flagged ones, in index order), up to ``max_rounds`` times (``None``: until none is
    flagged; after the last allowed round the result is not tested again)."""
    x = draw(n)
    rounds = 0
    while max_rounds is None or rounds < max_rounds:
        bad = is_positive(x)
        if not bad.any():
            break
        x[bad] = draw(int(bad.sum()))
        rounds += 1
    return x


class PairSampler:
    """Shuffled batches of training pairs with one uniform negative per pair, drawn again until
    it is not a training item of the user (:func:`rejection_sample`)."""

    def __init__(self, pairs: np.ndarray, n_items: int, batch_size: int, device: torch.device):
        self.pairs = torch.as_tensor(pairs, dtype=torch.int64)
        self.n_items = n_items
        self.batch_size = batch_size
        self.device = device
        self.train = Membership(self.pairs[:, 0] * n_items + self.pairs[:, 1])

    @property
    def keys(self) -> torch.Tensor:
        return self.train.keys

    def __len__(self) -> int:
        return math.ceil(len(self.pairs) / self.batch_size)

    def _is_train(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.train.contains(users * self.n_items + items)

    def negatives(self, users: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One item per user, uniform over the items the user has not trained on."""
        return rejection_sample(
            lambda k: torch.randint(0, self.n_items, (k,), generator=generator),
            lambda neg: self._is_train(users, neg),
            len(users),
        )

    def epoch(self, generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        perm = torch.randperm(len(self.pairs), generator=generator)
        for start in range(0, len(perm), self.batch_size):
            b = self.pairs[perm[start : start + self.batch_size]]
            users, pos = b[:, 0], b[:, 1]
            neg = self.negatives(users, generator)
            yield users.to(self.device), pos.to(self.device), neg.to(self.device)


def uniform_triples(
    triples: torch.Tensor, n: int, n_tails: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` rows of ``triples`` (``(m, 3)``: head, relation, tail) drawn uniformly with
    replacement and a corrupted tail uniform over ``[0, n_tails)`` each (not tested against the
    true triples); ``(h, r, t, t_neg)`` on ``triples``' device. ``generator=None``: the global RNG."""
    idx = torch.randint(0, len(triples), (n,), generator=generator).to(triples.device)
    h, r, t = triples[idx].unbind(1)
    t_neg = torch.randint(0, n_tails, (n,), generator=generator).to(triples.device)
    return h, r, t, t_neg


def triple_keys(h: torch.Tensor, r: torch.Tensor, t: torch.Tensor, n_rel: int, n_nodes: int) -> torch.Tensor:
    """``(h * n_rel + r) * n_nodes + t``: one int64 key per triple."""
    return (h * n_rel + r) * n_nodes + t


def uniform_negatives(
    h: torch.Tensor,
    r: torch.Tensor,
    n_nodes: int,
    true_keys: torch.Tensor,
    n_rel: int,
    generator: torch.Generator | None = None,
    max_rounds: int = 20,
) -> torch.Tensor:
    """Tails drawn uniformly from ``[0, n_nodes)``, drawn again while ``(h, r, t)`` is a true triple
    (``true_keys``: sorted :func:`triple_keys`), at most ``max_rounds`` times."""
    return tail_negatives(
        h,
        r,
        lambda k: torch.randint(0, n_nodes, (k,), generator=generator).to(h.device),
        Membership(true_keys, presorted=True),
        n_rel,
        n_nodes,
        max_rounds,
    )


def tail_negatives(
    h: torch.Tensor,
    r: torch.Tensor,
    draw: Callable[[int], torch.Tensor],
    true: Membership,
    n_rel: int,
    n_nodes: int,
    max_rounds: int = 20,
) -> torch.Tensor:
    """Negative tails from ``draw`` for the triples ``(h, r, .)``, drawn again while
    :func:`triple_keys` of ``(h, r, t')`` is in ``true``, at most ``max_rounds`` times."""
    return rejection_sample(draw, lambda t: true.contains(triple_keys(h, r, t, n_rel, n_nodes)), len(h), max_rounds)
