"""Tiny hand-built datasets for the LLM tests (no files, no loader needed)."""

from __future__ import annotations

import numpy as np

from cikgwb.data.dataset import Dataset


def tiny_dataset(name: str = "synthetic", n_users: int = 6) -> Dataset:
    """Users 0..n-1 with 3-5 training items each, one user (the last) with no titled item.

    Items 0..9 have titles except item 9; item 8 is only ever in valid/test pairs. KG: items
    0-3 are genre "fantasy" (entity 10), items 4-7 genre "cooking" (entity 11), author entity 12
    on items 0, 1.
    """
    titles = [
        "Dragon Sword",
        "Elven Quest",
        "Wizard Throne",
        "Shadow Kingdom",
        "Italian Kitchen",
        "Rustic Bread",
        "Spicy Feast",
        "Homemade Recipes",
        "Leaked Title",
        None,
    ]
    train, valid, test = [], [], []
    for u in range(n_users - 1):
        its = [(u + k) % 8 for k in range(3 + u % 3)]
        train += [(u, i) for i in its]
        valid.append((u, 8))
        test.append((u, (u + 5) % 8))
    train.append((n_users - 1, 9))  # only an untitled item
    test.append((n_users - 1, 8))
    kg = [(i, 0, 10) for i in range(4)] + [(i, 0, 11) for i in range(4, 8)] + [(0, 1, 12), (1, 1, 12)]
    arr = lambda x, c: np.asarray(x, dtype=np.int64).reshape(-1, c)  # noqa: E731
    return Dataset(
        name=name,
        n_users=n_users,
        n_items=10,
        n_entities=13,
        n_relations=2,
        train=arr(train, 2),
        valid=arr(valid, 2),
        test=arr(test, 2),
        kg=arr(kg, 3),
        titles=titles,
        relation_names=["book.book.genre", "book.written_work.author"],
        user_interest=arr([], 2),
        n_interests=0,
        meta={"entity_names": titles + ["fantasy", "cooking", "Ann Baker"]},
    )
