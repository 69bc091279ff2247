"""Parse the published dataset files into one validated :class:`Dataset`.

Every check at this boundary either raises :class:`DataFormatError`, naming the file, the line
and the value and saying what was expected, or, where the paper's own data really has the
quirk, counts it in ``Dataset.meta["warnings"]`` (items without a title, ml1m items without a
substitute-KG entity).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import unquote

import numpy as np

from .dataset import Dataset
from .split import split_valid

log = logging.getLogger(__name__)


class DataFormatError(ValueError):
    """A dataset file does not have the expected format; the message names file, line and value."""


def _read_lines(path: Path) -> list[tuple[int, str]]:
    if not path.exists():
        raise DataFormatError(f"{path}: file not found (expected it in the dataset folder; "
                              f"run `cikgwb data fetch {path.parent.name}`?)")
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                out.append((n, line.rstrip("\n")))
    if not out:
        raise DataFormatError(f"{path}: file is empty (expected at least one line)")
    return out


def _int(tok: str, path: Path, line_no: int, what: str) -> int:
    try:
        v = int(tok)
    except ValueError:
        raise DataFormatError(f"{path}:{line_no}: {what} {tok!r} is not an integer") from None
    if v < 0:
        raise DataFormatError(f"{path}:{line_no}: {what} {v} is negative (ids are 0-based)")
    return v


def read_user_items(path: Path, n_users: int | None, n_items: int | None) -> np.ndarray:
    """Read ``user item item ...`` lines into (user, item) pairs in file order.

    Duplicate pairs and repeated user lines are errors: the published files have none.
    """
    users, items = [], []
    seen_users: dict[int, int] = {}
    for n, line in _read_lines(path):
        toks = line.split()
        u = _int(toks[0], path, n, "user id")
        if n_users is not None and u >= n_users:
            raise DataFormatError(f"{path}:{n}: user id {u} out of range (expected < {n_users} users)")
        if u in seen_users:
            raise DataFormatError(f"{path}:{n}: user {u} appears again (first on line {seen_users[u]});"
                                  " expected one line per user")
        seen_users[u] = n
        its = [_int(t, path, n, "item id") for t in toks[1:]]
        if n_items is not None:
            bad = [i for i in its if i >= n_items]
            if bad:
                raise DataFormatError(f"{path}:{n}: item id {bad[0]} out of range "
                                      f"(expected < {n_items} items)")
        if len(set(its)) != len(its):
            dup = next(i for i in its if its.count(i) > 1)
            raise DataFormatError(f"{path}:{n}: duplicate pair (user {u}, item {dup})")
        users.extend([u] * len(its))
        items.extend(its)
    return np.column_stack([np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)])


def read_triples(path: Path, ncol: int = 3, sep: str | None = None) -> np.ndarray:
    rows = []
    for n, line in _read_lines(path):
        toks = line.split(sep)
        if len(toks) != ncol:
            raise DataFormatError(f"{path}:{n}: expected {ncol} whitespace-separated integers, "
                                  f"got {len(toks)} fields: {line[:80]!r}")
        rows.append([_int(t, path, n, "id") for t in toks])
    return np.asarray(rows, dtype=np.int64).reshape(-1, ncol)


def read_id_map(path: Path) -> list[tuple[str, int, str | None]]:
    """``org_id remap_id [name ...]`` lines after a header -> (org_id, remap_id, name)."""
    lines = _read_lines(path)
    out = []
    for n, line in lines[1:]:
        toks = line.split(None, 2)
        if len(toks) < 2:
            raise DataFormatError(f"{path}:{n}: expected 'org_id remap_id [name]', got {line[:80]!r}")
        rid = _int(toks[1], path, n, "remap id")
        name = toks[2].strip() if len(toks) > 2 else None
        out.append((toks[0], rid, name))
    ids = [r for _, r, _ in out]
    if ids != list(range(len(ids))):
        bad = next(k for k, r in enumerate(ids) if r != k)
        raise DataFormatError(f"{path}:{lines[1 + bad][0]}: remap id {ids[bad]} out of order "
                              f"(expected {bad}: remap ids are 0..n-1 in order)")
    return out


def title_from_name(name: str | None, org_id: str | None = None) -> str | None:
    """A readable title: DBpedia URIs give their last part with '_' read as a space."""
    if name is None or name == "None" or not name.strip():
        return None
    if name.startswith("http://") or name.startswith("https://"):
        name = unquote(name.rstrip("/").rsplit("/", 1)[-1]).replace("_", " ")
    return name.strip() or None


def _ml1m_substitute_kg(root: Path, item_org: list[str], warnings: dict) -> tuple[np.ndarray, int, list[str]]:
    """Map ml1m items through the satori substitute KG (RippleNet's) onto our entity ids."""
    sat = root / "satori-kg"
    i2e = read_triples(sat / "item_index2entity_id_rehashed.txt", ncol=2)
    kg = read_triples(sat / "kg.txt", ncol=3)
    movie_to_item = {int(o): k for k, o in enumerate(item_org) if o.isdigit()}
    sat_to_ent: dict[int, int] = {}
    for movie, sat_e in i2e:
        it = movie_to_item.get(int(movie))
        if it is not None:
            sat_to_ent[int(sat_e)] = it
    warnings["ml1m items without a substitute-KG entity"] = len(item_org) - len(set(sat_to_ent.values()))
    next_id = len(item_org)
    ents = np.unique(kg[:, [0, 2]])
    for e in ents:
        if int(e) not in sat_to_ent:
            sat_to_ent[int(e)] = next_id
            next_id += 1
    lut = np.full(int(ents.max()) + 1, -1, dtype=np.int64)
    for s, e in sat_to_ent.items():
        if s < len(lut):
            lut[s] = e
    mapped = np.column_stack([lut[kg[:, 0]], kg[:, 1], lut[kg[:, 2]]])
    n_rel = int(kg[:, 1].max()) + 1
    return mapped, next_id, [f"satori relation {r}" for r in range(n_rel)]


def load_from_dir(root: str | Path, name: str | None = None, split_seed: int = 0) -> Dataset:
    """Load a dataset folder in the CIKGRec file layout (see ``shared/data/README.md``)."""
    root = Path(root)
    name = name or root.name
    if not root.is_dir():
        raise DataFormatError(f"{root}: dataset folder not found (run `cikgwb data fetch {name}`, "
                              "or set CIKGWB_DATA_DIR to the folder holding it)")
    warnings: dict[str, int] = {}
    item_map = read_id_map(root / "item_list.txt")
    n_items = len(item_map)
    titles = [title_from_name(nm, org) for org, _, nm in item_map]
    warnings["items without a title"] = sum(t is None for t in titles)
    user_file = root / "user_list.txt"
    n_users = len(read_id_map(user_file)) if user_file.exists() else None

    train_full = read_user_items(root / "train.txt", n_users, n_items)
    test = read_user_items(root / "test.txt", n_users, n_items)
    if n_users is None:
        n_users = int(max(train_full[:, 0].max(), test[:, 0].max())) + 1
    train_users = np.unique(train_full[:, 0])
    unknown = np.setdiff1d(np.unique(test[:, 0]), train_users)
    if len(unknown):
        raise DataFormatError(f"{root / 'test.txt'}: user {int(unknown[0])} has test items but no "
                              f"training items ({len(unknown)} such users); expected every test user in train.txt")
    overlap = len(set(map(tuple, train_full.tolist())) & set(map(tuple, test.tolist())))
    if overlap:
        warnings["test pairs also in train.txt"] = overlap

    meta: dict = {"source_dir": str(root)}
    kg_path = root / "kg_final.txt"
    rel_names = [org for org, _, _ in read_id_map(root / "relation_list.txt")] \
        if (root / "relation_list.txt").exists() else []
    entity_names: list[str | None] = []
    if kg_path.exists():
        kg = read_triples(kg_path)
        n_entities = max(int(kg[:, [0, 2]].max()) + 1, n_items)
        ent_file = root / "entity_list.txt"
        if ent_file.exists():
            ents = read_id_map(ent_file)
            n_entities = max(n_entities, len(ents))
            entity_names = [title_from_name(nm if nm is not None else org) for org, _, nm in ents]
        if len(rel_names) and kg[:, 1].max() >= len(rel_names):
            raise DataFormatError(f"{kg_path}: relation id {int(kg[:, 1].max())} out of range "
                                  f"(relation_list.txt has {len(rel_names)})")
        meta["kg"] = "published item-side KG"
    elif (root / "satori-kg").is_dir():
        kg, n_entities, rel_names = _ml1m_substitute_kg(root, [o for o, _, _ in item_map], warnings)
        meta["kg"] = ("SUBSTITUTE: Satori KG from RippleNet (Chris1nexus/RippleNETmod), not the "
                      "paper's DBpedia KG (415,104 triples, 14,377 entities, 20 relations)")
        meta["kg_is_substitute"] = True
    else:
        raise DataFormatError(f"{kg_path}: file not found (expected the item-side KG)")
    if len(kg) and (kg[:, [0, 2]].min() < 0):
        raise DataFormatError(f"{kg_path}: negative entity id")

    n_relations = int(len(np.unique(kg[:, 1]))) if len(kg) else 0
    n_rel_ids = max(len(rel_names), int(kg[:, 1].max()) + 1 if len(kg) else 0)
    if len(rel_names) < n_rel_ids:
        rel_names = rel_names + [f"relation {r}" for r in range(len(rel_names), n_rel_ids)]

    ui_path = root / "user_interest_clustered.txt"
    if ui_path.exists():
        ui = read_triples(ui_path, ncol=2)
        bad = ui[ui[:, 0] >= n_users]
        if len(bad):
            raise DataFormatError(f"{ui_path}: user id {int(bad[0, 0])} out of range (expected < {n_users})")
        n_raw = len(ui)
        ui = np.unique(ui, axis=0)  # duplicate edges merge
        warnings["duplicate user-interest edges merged"] = n_raw - len(ui)
        interest_ids, inv = np.unique(ui[:, 1], return_inverse=True)
        user_interest = np.column_stack([ui[:, 0], inv.astype(np.int64)])
        meta["interests_source"] = "paper (released gpt-3.5-turbo-0125 interest graph; no text labels)"
    else:
        interest_ids = np.zeros(0, dtype=np.int64)
        user_interest = np.zeros((0, 2), dtype=np.int64)
        meta["interests_source"] = "none"

    train, valid = split_valid(train_full, n_users, seed=split_seed)
    meta.update({
        "warnings": {k: v for k, v in warnings.items() if v},
        "entity_names": entity_names or None,
        "_train_full": train_full,
        "split": {"seed": split_seed, "rule": "valid = seeded 1/8 of each user's train.txt items "
                  "(round half up, users with >= 2 items keep >= 1 in train)"},
    })
    for k, v in meta["warnings"].items():
        log.info("%s: %s: %d", name, k, v)
    return Dataset(name=name, n_users=int(n_users), n_items=n_items, n_entities=int(n_entities),
                   n_relations=n_relations, train=train, valid=valid, test=test, kg=kg,
                   titles=titles, relation_names=rel_names, user_interest=user_interest,
                   n_interests=int(len(interest_ids)), interest_ids=interest_ids, meta=meta)


def _first_existing(p: Path) -> Path:
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def load_dataset(name: str, data_dir: str | Path | None = None, split_seed: int = 0) -> Dataset:
    """Load a registered dataset by name (``synthetic`` is generated on first use)."""
    from .registry import dataset_dir, get_spec

    spec = get_spec(name)
    folder = dataset_dir(name, data_dir)
    if getattr(spec, "synthetic", False):
        from .synthetic import ensure_synthetic
        if not os.access(folder if folder.exists() else _first_existing(folder), os.W_OK) \
                and not (folder / "GENERATOR.json").exists():
            # a read-only data dir (e.g. a shared copy of the real data): generate into the cache
            folder = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cikgwb" / name
        ensure_synthetic(folder)
        ds = load_from_dir(folder, name=name, split_seed=split_seed)
        from .synthetic import attach_truth
        return attach_truth(ds, folder)
    return load_from_dir(folder, name=name, split_seed=split_seed)
