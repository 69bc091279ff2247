"""The typed in-memory dataset every other part of cikgwb works on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from .split import TEST_HALVES, split_test_users


@dataclass
class Dataset:
    """One recommendation dataset with its item-side KG and user-side interest graph.

    Id spaces (all contiguous, 0-based):
      users       0 .. n_users-1
      items       0 .. n_items-1; item id == entity id (items are the first entities)
      entities    0 .. n_entities-1 (items first, then other KG entities)
      relations   0 .. n_relations-1 (KG relations only; no inverse, no Interact)
      interests   0 .. n_interests-1 (remapped from the files' ids; ``interest_ids`` keeps the originals)

    Pair arrays are int64 ``(n, 2)`` arrays of ``(user, item)`` kept in file order (the order
    matters for LLM histories: "the last 30 in file order").
    """

    name: str
    n_users: int
    n_items: int
    n_entities: int
    n_relations: int
    train: np.ndarray  # (n, 2) train pairs after the validation carve-out
    valid: np.ndarray  # (n, 2) validation pairs (seeded 1/8 of each user's train.txt)
    test: np.ndarray  # (n, 2) test pairs (test.txt)
    kg: np.ndarray  # (m, 3) (head, relation, tail) over entity ids
    titles: list[str | None]  # per item; None where the files give no title
    relation_names: list[str]
    user_interest: np.ndarray  # (k, 2) (user, interest) with contiguous interest ids
    n_interests: int
    interest_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    interest_labels: list[str] | None = None  # readable labels where the source has them
    meta: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- helpers
    @property
    def train_full(self) -> np.ndarray:
        """All of train.txt (train + valid), in file order: the authors' training set."""
        full = self.meta.get("_train_full")
        return full if full is not None else np.concatenate([self.train, self.valid])

    @property
    def split_seed(self) -> int:
        """The seed of the valid carve-out and of the ``users`` protocol's half draw."""
        return int(self.meta.get("split", {}).get("seed", 0))

    def pairs(self, split: str = "train") -> np.ndarray:
        """The ``(user, item)`` pairs of a split: train, valid, test, train_full, or one half of
        the test users (``sel_half``, ``report_half``: :func:`~cikgwb.data.split.split_test_users`
        with :attr:`split_seed`), in file order. An unknown name is a ``ValueError`` naming them."""
        if split in TEST_HALVES:
            selection = split_test_users(self.test, self.n_users, self.split_seed)
            keep = selection[self.test[:, 0]]
            return self.test[keep if split == "sel_half" else ~keep]
        named = {"train": self.train, "valid": self.valid, "test": self.test, "train_full": self.train_full}
        if split not in named:
            raise ValueError(f"split={split!r}: expected one of {', '.join([*named, *TEST_HALVES])}")
        return named[split]

    def matrix(self, split: str = "train") -> sp.csr_matrix:
        """Binary user x item CSR matrix of a split (:meth:`pairs`)."""
        pairs = self.pairs(split)
        m = sp.csr_matrix(
            (np.ones(len(pairs), dtype=np.float32), (pairs[:, 0], pairs[:, 1])), shape=(self.n_users, self.n_items)
        )
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    def user_items(self, split: str = "train") -> list[np.ndarray]:
        """Per user, the items of a split (:meth:`pairs`) in file order."""
        pairs = self.pairs(split)
        order = np.argsort(pairs[:, 0], kind="stable")
        bounds = np.searchsorted(pairs[order, 0], np.arange(self.n_users + 1))
        items = pairs[order, 1]
        return [items[bounds[u] : bounds[u + 1]] for u in range(self.n_users)]

    @property
    def n_interactions(self) -> int:
        return len(self.train) + len(self.valid) + len(self.test)

    def summary(self) -> dict[str, Any]:
        """The paper's Table 2 figures plus interest-graph and split figures."""
        kg_entities = np.unique(self.kg[:, [0, 2]]) if len(self.kg) else np.zeros(0)
        ratings = self.n_interactions
        users_with_interest = len(np.unique(self.user_interest[:, 0])) if len(self.user_interest) else 0
        return {
            "dataset": self.name,
            "users": self.n_users,
            "items": self.n_items,
            "ratings": ratings,
            "density": ratings / (self.n_users * self.n_items),
            "relations": self.n_relations,
            "entities": int(len(kg_entities)),
            "triples": int(len(self.kg)),
            "train pairs": int(len(self.train)),
            "valid pairs": int(len(self.valid)),
            "test pairs": int(len(self.test)),
            "interest edges": int(len(self.user_interest)),
            "interests": int(self.n_interests),
            "users with interests": int(users_with_interest),
            "split": self.meta.get("split", {}),
        }
