"""The validation carve-out of docs/method.md section 1: a seeded 1/8 of each user's train.txt items."""

from __future__ import annotations

import numpy as np


def n_valid_for(counts: np.ndarray) -> np.ndarray:
    """Validation items per user: round(n/8) (half up), and users with >= 2 items keep >= 1 in train."""
    counts = np.asarray(counts, dtype=np.int64)
    nv = (counts + 4) // 8  # floor(n/8 + 1/2)
    return np.where(counts >= 2, np.minimum(nv, counts - 1), 0)


def split_valid(pairs: np.ndarray, n_users: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split (user, item) pairs into train and valid, both in file order.

    Deterministic across runs and platforms: one PCG64 stream draws a key per pair in file
    order; each user's ``n_valid_for`` pairs with the smallest keys go to valid. Nothing
    depends on hash order or dictionary iteration.
    """
    pairs = np.asarray(pairs, dtype=np.int64)
    if len(pairs) == 0:
        return pairs.copy(), pairs.copy()
    keys = np.random.Generator(np.random.PCG64(seed)).random(len(pairs))
    order = np.lexsort((keys, pairs[:, 0]))  # by user, then key
    users_sorted = pairs[order, 0]
    counts = np.bincount(pairs[:, 0], minlength=n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(pairs)) - starts[users_sorted]
    is_valid_sorted = rank < n_valid_for(counts)[users_sorted]
    is_valid = np.zeros(len(pairs), dtype=bool)
    is_valid[order] = is_valid_sorted
    return pairs[~is_valid], pairs[is_valid]
