"""The seeded splits of docs/method.md section 1: the validation carve-out (a seeded 1/8 of each
user's train.txt items) and the ``users`` protocol's draw of the test users into a selection half
and a report half."""

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


#: the two halves of the ``users`` protocol (docs/method.md section 1b)
TEST_HALVES = ("sel_half", "report_half")


def split_test_users(test_pairs: np.ndarray, n_users: int, seed: int = 0) -> np.ndarray:
    """The ``users`` protocol's draw: a boolean mask over users, True for the selection half.

    The users with at least one test item, in id order, are shuffled by one PCG64 stream seeded
    with ``(seed, 1)`` (a stream of its own: it does not repeat the valid carve-out's draw of the
    same seed); the first ``ceil(n / 2)`` form the selection half, the rest the report half.
    Users without test items are in neither half (False here, and absent from the report half).
    """
    test_pairs = np.asarray(test_pairs, dtype=np.int64).reshape(-1, 2)
    users = np.unique(test_pairs[:, 0])
    order = np.random.Generator(np.random.PCG64([int(seed), 1])).permutation(len(users))
    selection = np.zeros(int(n_users), dtype=bool)
    selection[users[order[: (len(users) + 1) // 2]]] = True
    return selection
