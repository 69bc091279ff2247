"""Per-user histories for the LLM prompt (docs/method.md section 2, step 1).

A user's history is the titles of the items of their TRAINING interactions only (never valid or
test items: that would leak the answer), in file order, items without a title skipped, the last
``max_items`` (30) of what remains.

Choice where the paper is silent: untitled items are skipped *before* the last 30 are taken,
so a user with titled items always gets up to 30 titles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

HISTORY_LEN = 30
SPLITS = ("train", "train_full")


@dataclass(frozen=True)
class History:
    """One user's history: the item ids (file order) and their titles."""

    user: int
    items: tuple[int, ...]
    titles: tuple[str, ...]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split {split!r}: expected one of {SPLITS} (never valid or test items)")


def history_items(ds: Any, max_items: int | None = HISTORY_LEN, split: str = "train") -> list[np.ndarray]:
    """Per user, the last ``max_items`` training items in file order (titled or not)."""
    _check_split(split)
    per_user = ds.user_items(split)
    if max_items is None:
        return per_user
    return [its[-max_items:] if max_items > 0 else its[:0] for its in per_user]


def user_histories(
    ds: Any, max_items: int = HISTORY_LEN, split: str = "train", users: list[int] | np.ndarray | None = None
) -> list[History]:
    """Histories for ``users`` (default: all users, in id order).

    ``split="train"`` uses the training part after the validation carve-out (the default: no
    leak into model selection); ``"train_full"`` uses all of train.txt, as the authors did.
    """
    _check_split(split)
    if max_items < 1:
        raise ValueError(f"max_items must be >= 1, got {max_items}")
    titles = ds.titles
    if len(titles) != ds.n_items:
        raise ValueError(f"ds.titles has {len(titles)} entries, expected n_items = {ds.n_items}")
    per_user = ds.user_items(split)
    if users is None:
        users = range(ds.n_users)
    out = []
    for u in users:
        u = int(u)
        if not 0 <= u < ds.n_users:
            raise ValueError(f"user {u} out of range (dataset {ds.name!r} has {ds.n_users} users)")
        kept = [(int(i), titles[i].strip()) for i in per_user[u] if titles[i] is not None and titles[i].strip()]
        kept = kept[-max_items:]
        out.append(History(user=u, items=tuple(i for i, _ in kept), titles=tuple(t for _, t in kept)))
    return out
