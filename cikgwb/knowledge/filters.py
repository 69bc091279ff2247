"""Interest filters (docs/method.md section 2, step 3): drop too generic and single-user interests.

An interest held by ``n_j`` distinct users is dropped when

* ``n_j >= max_share * n_users`` (default 1/5 of the users: too generic), or
* ``n_j < min_users`` (default 2: held by a single user, it links nobody).

Both filters look at the same counts (taken before either removes anything), so their order
does not matter; an interest caught by both is reported under "too generic". ``n_users`` is the
number of users of the dataset when one is known, else the number of users with answers; the
report says which.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class FilterReport:
    """What each filter removed (interest ids as given to :func:`filter_interests`)."""

    n_users: int
    n_users_basis: str
    max_share: float
    min_users: int
    threshold_users: float  # max_share * n_users
    interests_before: int
    edges_before: int
    users_before: int
    too_generic: list[int] = field(default_factory=list)
    too_generic_edges: int = 0
    single_user: list[int] = field(default_factory=list)
    single_user_edges: int = 0
    interests_after: int = 0
    edges_after: int = 0
    users_after: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """Readable summary, one line per filter."""
        return [
            f"before: {self.interests_before} interests, {self.edges_before} edges, {self.users_before} users",
            f"too generic (held by >= {self.max_share:g} x {self.n_users} = {self.threshold_users:g} users, "
            f"{self.n_users_basis}): removed {len(self.too_generic)} interests, {self.too_generic_edges} edges",
            f"single user (held by < {self.min_users} users): removed {len(self.single_user)} interests, "
            f"{self.single_user_edges} edges",
            f"after: {self.interests_after} interests, {self.edges_after} edges, {self.users_after} users",
        ]


def filter_interests(
    edges: np.ndarray,
    n_users: int,
    max_share: float = 0.2,
    min_users: int = 2,
    n_users_basis: str = "users of the dataset",
) -> tuple[np.ndarray, FilterReport]:
    """Apply both filters to unique ``(user, interest)`` edges; returns kept edges and the report."""
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if not 0 < max_share <= 1:
        raise ValueError(f"max_share={max_share!r}: expected a share in (0, 1]")
    if min_users < 1:
        raise ValueError(f"min_users={min_users!r}: expected an integer >= 1")
    if n_users < 1:
        raise ValueError(f"n_users={n_users!r}: expected at least one user")
    edges = np.unique(edges, axis=0) if len(edges) else edges
    ids, held = np.unique(edges[:, 1], return_counts=True)
    threshold = max_share * n_users
    generic = ids[held >= threshold]
    single = ids[(held < min_users) & (held < threshold)]
    g_mask = np.isin(edges[:, 1], generic)
    s_mask = np.isin(edges[:, 1], single)
    kept = edges[~(g_mask | s_mask)]
    rep = FilterReport(
        n_users=int(n_users),
        n_users_basis=n_users_basis,
        max_share=float(max_share),
        min_users=int(min_users),
        threshold_users=float(threshold),
        interests_before=int(len(ids)),
        edges_before=int(len(edges)),
        users_before=int(len(np.unique(edges[:, 0]))),
        too_generic=[int(x) for x in generic],
        too_generic_edges=int(g_mask.sum()),
        single_user=[int(x) for x in single],
        single_user_edges=int(s_mask.sum()),
        interests_after=int(len(np.unique(kept[:, 1]))),
        edges_after=int(len(kept)),
        users_after=int(len(np.unique(kept[:, 0]))),
    )
    return kept, rep
