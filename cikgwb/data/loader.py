"""Parse the published dataset files into one validated :class:`Dataset`.

Every check at this boundary either raises :class:`DataFormatError`, naming the file, the line
and the value and saying what was expected, or, where the paper's own data really has the
quirk, counts it in ``Dataset.meta["warnings"]`` (items without a title, ml1m items without a
substitute-KG entity).
"""

from __future__ import annotations

import codecs
import io
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np

from .dataset import Dataset
from .download import sha256_file
from .interest_files import EDGES_FILE, PAPER, InterestSource, released_names
from .registry import dataset_dir, get_spec
from .split import split_valid
from .synthetic import attach_truth, ensure_synthetic

log = logging.getLogger(__name__)


#: the warnings the published files give (:func:`load_dataset`'s ``meta["warnings"]``), counted
#: on the pinned files (``cikgwb data stats``): a warning not here, or another count, means the
#: files differ from the published ones
PUBLISHED_WARNINGS: dict[str, dict[str, int]] = {
    "book-crossing": {"items without a title": 253, "duplicate user-interest edges merged": 39},
    "dbbook2014": {"items without a title": 122, "duplicate user-interest edges merged": 1},
    "ml1m": {"items without a title": 297, "ml1m items without a substitute-KG entity": 326},
}


def warning_note(dataset: str, warning: str, count: int) -> str:
    """What ``cikgwb data stats`` says beside a loader warning: whether the published files of
    ``dataset`` have it (:data:`PUBLISHED_WARNINGS`)."""
    if dataset not in PUBLISHED_WARNINGS:  # generated locally (synthetic): no published files
        return "counted"
    published = PUBLISHED_WARNINGS[dataset].get(warning)
    if published is None:
        return "counted; NOT in the published data: these files differ from the published ones"
    if published != count:
        return f"counted; the published data has {published:,}: these files differ from the published ones"
    return "counted; the published data has this"


class DataFormatError(ValueError):
    """A dataset file does not have the expected format; the message names file, line and value."""


INT64_MAX = 2**63 - 1
#: without a list file, ids up to this many times the number of distinct ids (plus the slack
#: below) are accepted; beyond, the id space is not contiguous and the tables built from it
#: (one embedding row per id) would be absurdly large
SPARSE_ID_FACTOR = 2
SPARSE_ID_SLACK = 1000


def _read_lines(path: Path) -> list[tuple[int, str]]:
    """The non-blank lines of a UTF-8 text file as ``(line number, text)``.

    A folder, a UTF-16 file, NUL bytes or bytes that are not UTF-8 raise
    :class:`DataFormatError` naming the file (and the line); a UTF-8 byte-order mark is
    dropped; a last line without its newline (the published files all end with one) is logged
    as a warning: the file may have been cut short."""
    if path.is_dir():
        raise DataFormatError(
            f"{path}: is a folder, expected a file (remove it and run `cikgwb data fetch {path.parent.name}`?)"
        )
    if not path.exists():
        raise DataFormatError(
            f"{path}: file not found (expected it in the dataset folder; run `cikgwb data fetch {path.parent.name}`?)"
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataFormatError(
            f"{path}: UTF-16 text (byte-order mark {raw[:2].hex()}); expected UTF-8 "
            "(convert it, e.g. `iconv -f UTF-16 -t UTF-8`)"
        )
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise DataFormatError(f"{path}:{line}: NUL byte (UTF-16 or binary data?); expected UTF-8 text")
    if raw.startswith(codecs.BOM_UTF8):
        log.info("%s: UTF-8 byte-order mark dropped", path)
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataFormatError(
            f"{path}:{line}: byte 0x{raw[exc.start]:02x} is not UTF-8; expected UTF-8 "
            "text (convert it, e.g. `iconv -f LATIN1 -t UTF-8`)"
        ) from None
    out = []
    for n, line in enumerate(io.StringIO(text, newline=None), start=1):  # as open(): universal newlines
        if line.strip():
            out.append((n, line.rstrip("\n")))
    if not out:
        raise DataFormatError(f"{path}: file is empty (expected at least one line)")
    if not raw.endswith((b"\n", b"\r")):
        log.warning(
            "%s:%d: the last line has no newline: the file may be cut short (the published "
            "files end with one; `cikgwb data verify` checks their sha256)",
            path,
            out[-1][0],
        )
    return out


def _int(tok: str, path: Path, line_no: int, what: str) -> int:
    """A non-negative id written in ASCII digits only (no sign, '_' or other digits)."""
    if not (tok.isascii() and tok.isdigit()):
        if tok[:1] == "-" and tok[1:].isascii() and tok[1:].isdigit():
            raise DataFormatError(f"{path}:{line_no}: {what} {tok} is negative (ids are 0-based)")
        raise DataFormatError(f"{path}:{line_no}: {what} {tok!r} is not an integer (expected the digits 0-9 only)")
    v = int(tok)
    if v > INT64_MAX:
        raise DataFormatError(
            f"{path}:{line_no}: {what} {tok} is too large (expected ids below 2**63, "
            "and in practice below the number of ids the files list)"
        )
    return v


def _line_of(path: Path, row: int) -> int:
    """Line number of the ``row``-th non-blank line of ``path`` (for error messages)."""
    return _read_lines(path)[row][0]


def _line_of_user(path: Path, user: int) -> int:
    """Line number of ``user``'s line in a ``user item ...`` file (for error messages)."""
    for n, line in _read_lines(path):
        if line.split()[0] == str(user):
            return n
    return 0


def _check_id_space(
    path: Path, ids: np.ndarray, line_of, n_listed: int | None, n_distinct: int, what: str, listed_in: str | None
) -> None:
    """``ids`` must be below ``n_listed`` (ids a list file defines) or, without a list, not far
    beyond the ``n_distinct`` ids the files hold: DataFormatError naming file and line
    (``line_of(index into ids)``)."""
    if not len(ids):
        return
    k = int(np.argmax(ids))
    top = int(ids[k])
    if n_listed is not None:
        if top < n_listed:
            return
        raise DataFormatError(
            f"{path}:{line_of(k)}: {what} {top:,} out of range (expected < {n_listed:,}, "
            f"the number listed in {listed_in})"
        )
    bound = SPARSE_ID_FACTOR * n_distinct + SPARSE_ID_SLACK
    if top >= bound:
        raise DataFormatError(
            f"{path}:{line_of(k)}: {what} {top:,} is far beyond the {n_distinct:,} distinct "
            f"{what}s of the files (expected ids 0..n-1, contiguous; {top + 1:,} would be "
            "allocated)"
        )


def read_user_items(
    path: Path,
    n_users: int | None,
    n_items: int | None,
    users_from: str = "user_list.txt",
    items_from: str = "item_list.txt",
) -> np.ndarray:
    """Read ``user item item ...`` lines into (user, item) pairs in file order.

    Duplicate pairs and repeated user lines are errors: the published files have none.
    """
    users, items = [], []
    seen_users: dict[int, int] = {}
    for n, line in _read_lines(path):
        toks = line.split()
        u = _int(toks[0], path, n, "user id")
        if n_users is not None and u >= n_users:
            raise DataFormatError(
                f"{path}:{n}: user id {u} out of range (expected < {n_users} users); {users_from} lists {n_users}"
            )
        if u in seen_users:
            raise DataFormatError(
                f"{path}:{n}: user {u} appears again (first on line {seen_users[u]}); expected one line per user"
            )
        seen_users[u] = n
        its = [_int(t, path, n, "item id") for t in toks[1:]]
        if n_items is not None:
            bad = [i for i in its if i >= n_items]
            if bad:
                raise DataFormatError(
                    f"{path}:{n}: item id {bad[0]} out of range "
                    f"(expected < {n_items} items); {items_from} lists {n_items}"
                )
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
            raise DataFormatError(
                f"{path}:{n}: expected {ncol} whitespace-separated integers, got {len(toks)} fields: {line[:80]!r}"
            )
        rows.append([_int(t, path, n, "id") for t in toks])
    return np.asarray(rows, dtype=np.int64).reshape(-1, ncol)


def read_id_map(path: Path) -> list[tuple[str, int, str | None]]:
    """``org_id remap_id [name ...]`` lines after a header -> (org_id, remap_id, name)."""
    lines = _read_lines(path)
    if len(lines) < 2:
        raise DataFormatError(
            f"{path}: only a header line, no entries (expected 'org_id remap_id [name]' lines after the header)"
        )
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
        raise DataFormatError(
            f"{path}:{lines[1 + bad][0]}: remap id {ids[bad]} out of order "
            f"(expected {bad}: remap ids are 0..n-1 in order)"
        )
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
    heads_tails = np.concatenate([kg[:, 0], kg[:, 2]])
    _check_id_space(
        sat / "kg.txt",
        heads_tails,
        lambda k: _line_of(sat / "kg.txt", k % len(kg)),
        None,
        len(np.union1d(ents, i2e[:, 1])),
        "entity id",
        None,
    )
    _check_id_space(
        sat / "kg.txt",
        kg[:, 1],
        lambda k: _line_of(sat / "kg.txt", k),
        None,
        len(np.unique(kg[:, 1])),
        "relation id",
        None,
    )
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


def load_from_dir(
    root: str | Path, name: str | None = None, split_seed: int = 0, interests: InterestSource | None = PAPER
) -> Dataset:
    """Load a dataset folder in the CIKGRec file layout (see ``shared/data/README.md``).

    ``interests`` (the run's resolved :class:`~cikgwb.data.interest_files.InterestSource`): a
    ``paper`` source requires ``user_interest_clustered.txt`` (without it a CIKGRec run would
    silently train without interests while labelled the full model); any other source loads the
    file where it is (the node index space stays the same) and needs it nowhere; ``None`` (not a
    run: ``data stats``, inspection) loads what is there, with a warning where the file is missing."""
    if interests is not None and not isinstance(interests, InterestSource):
        raise TypeError(f"interests={interests!r}: expected an InterestSource (InterestSource.parse) or None")
    root = Path(root)
    name = name or root.name
    if not root.is_dir():
        raise DataFormatError(
            f"{root}: dataset folder not found (run `cikgwb data fetch {name}`, "
            "or set CIKGWB_DATA_DIR to the folder holding it)"
        )
    warnings: dict[str, int] = {}
    meta: dict = {"source_dir": str(root)}
    item_orgs, titles, n_users, train_full, test = _read_interactions(root, warnings)
    kg, n_entities, rel_names, entity_names = _read_kg(root, item_orgs, warnings, meta)
    interest_ids, user_interest, interest_labels = _read_released_interests(
        root, name, n_users, interests, warnings, meta
    )
    train, valid = split_valid(train_full, n_users, seed=split_seed)
    meta.update(
        {
            "warnings": {k: v for k, v in warnings.items() if v},
            "entity_names": entity_names or None,
            "_train_full": train_full,
            "split": {
                "seed": split_seed,
                "rule": "valid = seeded 1/8 of each user's train.txt items "
                "(round half up, users with >= 2 items keep >= 1 in train)",
            },
        }
    )
    for k, v in meta["warnings"].items():
        log.info("%s: %s: %d", name, k, v)
    return Dataset(
        name=name,
        n_users=int(n_users),
        n_items=len(titles),
        n_entities=int(n_entities),
        n_relations=int(len(np.unique(kg[:, 1]))) if len(kg) else 0,
        train=train,
        valid=valid,
        test=test,
        kg=kg,
        titles=titles,
        relation_names=rel_names,
        user_interest=user_interest,
        n_interests=int(len(interest_ids)),
        interest_ids=interest_ids,
        interest_labels=interest_labels,
        meta=meta,
    )


def _read_interactions(root: Path, warnings: dict[str, int]) -> tuple[list, list, int, np.ndarray, np.ndarray]:
    """``(item ids as in item_list.txt, titles, n_users, train_full, test)`` of a dataset folder, every id checked."""
    item_map = read_id_map(root / "item_list.txt")
    n_items = len(item_map)
    titles = [title_from_name(nm, org) for org, _, nm in item_map]
    warnings["items without a title"] = sum(t is None for t in titles)
    user_file = root / "user_list.txt"
    n_users = len(read_id_map(user_file)) if user_file.exists() or user_file.is_symlink() else None

    train_full = read_user_items(root / "train.txt", n_users, n_items)
    test = read_user_items(root / "test.txt", n_users, n_items)
    if n_users is None:
        # no user list: users are 0..max id, as long as the ids are not far beyond those present
        distinct = len(np.union1d(train_full[:, 0], test[:, 0]))
        for f, pairs in (("train.txt", train_full), ("test.txt", test)):

            def line_of(k: int, f: str = f, pairs: np.ndarray = pairs) -> int:
                return _line_of_user(root / f, int(pairs[k, 0]))

            _check_id_space(root / f, pairs[:, 0], line_of, None, distinct, "user id", None)
        n_users = int(max(train_full[:, 0].max(), test[:, 0].max())) + 1
    train_users = np.unique(train_full[:, 0])
    unknown = np.setdiff1d(np.unique(test[:, 0]), train_users)
    if len(unknown):
        raise DataFormatError(
            f"{root / 'test.txt'}: user {int(unknown[0])} has test items but no "
            f"training items ({len(unknown)} such users); expected every test user in train.txt"
        )
    overlap = len(set(map(tuple, train_full.tolist())) & set(map(tuple, test.tolist())))
    if overlap:
        warnings["test pairs also in train.txt"] = overlap
    return [org for org, _, _ in item_map], titles, n_users, train_full, test


def _read_kg(root: Path, item_orgs: list, warnings: dict[str, int], meta: dict) -> tuple[np.ndarray, int, list, list]:
    """``(kg, n_entities, relation names, entity names)``: the published item-side KG, or ml1m's
    substitute (``meta["kg"]`` says which)."""
    kg_path = root / "kg_final.txt"
    rel_names = (
        [org for org, _, _ in read_id_map(root / "relation_list.txt")] if (root / "relation_list.txt").exists() else []
    )
    entity_names: list[str | None] = []
    if kg_path.exists() or kg_path.is_symlink():
        kg, n_entities, entity_names = _read_published_kg(root, kg_path, len(item_orgs), rel_names)
        meta["kg"] = "published item-side KG"
    elif (root / "satori-kg").is_dir():
        kg, n_entities, rel_names = _ml1m_substitute_kg(root, item_orgs, warnings)
        meta["kg"] = (
            "SUBSTITUTE: Satori KG from RippleNet (Chris1nexus/RippleNETmod), not the "
            "paper's DBpedia KG (415,104 triples, 14,377 entities, 20 relations)"
        )
        meta["kg_is_substitute"] = True
    else:
        raise DataFormatError(f"{kg_path}: file not found (expected the item-side KG)")
    if len(kg) and (kg[:, [0, 2]].min() < 0):
        raise DataFormatError(f"{kg_path}: negative entity id")
    n_rel_ids = max(len(rel_names), int(kg[:, 1].max()) + 1 if len(kg) else 0)
    if len(rel_names) < n_rel_ids:
        rel_names = rel_names + [f"relation {r}" for r in range(len(rel_names), n_rel_ids)]
    return kg, n_entities, rel_names, entity_names


def _read_published_kg(root: Path, kg_path: Path, n_items: int, rel_names: list) -> tuple[np.ndarray, int, list]:
    """``kg_final.txt`` with its entity and relation ids checked: ``(kg, n_entities, entity names)``."""
    kg = read_triples(kg_path)
    ent_file = root / "entity_list.txt"
    ents = read_id_map(ent_file) if ent_file.exists() or ent_file.is_symlink() else None
    heads_tails = np.concatenate([kg[:, 0], kg[:, 2]])

    def line_ht(k: int) -> int:
        return _line_of(kg_path, k % len(kg))

    if ents is not None:
        _check_id_space(
            kg_path, heads_tails, line_ht, max(len(ents), n_items), 0, "entity id", f"{ent_file.name} and item_list.txt"
        )
    else:
        distinct = len(np.union1d(np.unique(heads_tails), np.arange(n_items)))
        _check_id_space(kg_path, heads_tails, line_ht, None, distinct, "entity id", None)
    if len(rel_names):
        _check_id_space(
            kg_path, kg[:, 1], lambda k: _line_of(kg_path, k), len(rel_names), 0, "relation id", "relation_list.txt"
        )
    else:
        _check_id_space(
            kg_path, kg[:, 1], lambda k: _line_of(kg_path, k), None, len(np.unique(kg[:, 1])), "relation id", None
        )
    n_entities = max(int(heads_tails.max()) + 1, n_items)
    entity_names: list[str | None] = []
    if ents is not None:
        n_entities = max(n_entities, len(ents))
        entity_names = [title_from_name(nm if nm is not None else org) for org, _, nm in ents]
    return kg, n_entities, entity_names


def _read_released_interests(
    root: Path, name: str, n_users: int, interests: InterestSource | None, warnings: dict[str, int], meta: dict
) -> tuple[np.ndarray, np.ndarray, Any]:
    """``(interest ids, user-interest edges, labels)`` of the released graph (see :func:`load_from_dir`)."""
    ui_path = root / EDGES_FILE
    present = ui_path.exists() or ui_path.is_symlink()
    if not present and interests is not None and interests.kind == "paper":
        raise DataFormatError(
            f"{ui_path}: file not found; without it CIKGRec would train without interests (the w/o UIK "
            f"variant) while labelled the full model. Fetch it (`cikgwb data fetch {name}`), or turn "
            "interests off explicitly (`cikgwb train --interests none`)"
        )
    if not present:
        if interests is None:
            log.warning("%s: file not found: %s loaded without its interest graph", ui_path, name)
        meta["interests_source"] = (
            "none" if interests is not None and interests.kind == "none" else (f"none ({ui_path.name} missing)")
        )
        return np.zeros(0, dtype=np.int64), np.zeros((0, 2), dtype=np.int64), None
    ui = read_triples(ui_path, ncol=2)
    bad = np.flatnonzero(ui[:, 0] >= n_users)
    if len(bad):
        raise DataFormatError(
            f"{ui_path}: user id {int(ui[bad[0], 0])} out of range (expected < {n_users}) "
            f"on line {_line_of(ui_path, int(bad[0]))}"
        )
    n_raw = len(ui)
    ui = np.unique(ui, axis=0)  # duplicate edges merge
    warnings["duplicate user-interest edges merged"] = n_raw - len(ui)
    interest_ids, inv = np.unique(ui[:, 1], return_inverse=True)
    meta["interests_source"] = "paper (released gpt-3.5-turbo-0125 interest graph; no text labels)"
    labels = _released_names(name, ui_path, interest_ids, meta)
    return interest_ids, np.column_stack([ui[:, 0], inv.astype(np.int64)]), labels


def _released_names(name: str, ui_path: Path, interest_ids: np.ndarray, meta: dict[str, Any]) -> list[str] | None:
    """The names ``cikgwb interests name`` made for the released graph, aligned with
    ``interest_ids`` (:mod:`cikgwb.knowledge.naming`); how they were made goes into ``meta``.
    Text only: no number of a run depends on them."""
    names = released_names(name, ui_path)
    if names is None or not names.labels:
        return None
    ids = [int(i) for i in interest_ids]
    meta["interest_label_methods"] = [(names.label_methods or {}).get(i) for i in ids]
    meta["interest_names_from"] = names.names_from
    meta["interest_names_file"] = str(names.path)
    if names.top_phrases:
        meta["interest_top_phrases"] = [names.top_phrases.get(i) or None for i in ids]
    return [names.labels.get(i) for i in ids]


def _first_existing(p: Path) -> Path:
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


#: set to 1 (``cikgwb data stats --strict``, ``cikgwb train --strict``) to fail on a file whose
#: sha256 differs from the pinned one instead of warning
STRICT_ENV = "CIKGWB_STRICT_DATA"
_DIGESTS: dict[tuple[str, int, int], str] = {}


def _strict_default() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def check_pinned(name: str, folder: Path, strict: bool | None = None) -> list[str]:
    """Compare the dataset's present files with their pinned sha256 (:mod:`.registry`).

    Returns one line per file that differs (also logged as a warning); with ``strict`` (default:
    ``$CIKGWB_STRICT_DATA``) a difference raises :class:`DataFormatError`. Missing files are left
    to the loader, which names them when it needs them."""
    strict = _strict_default() if strict is None else strict
    bad = []
    for f in get_spec(name).files:
        path = folder / f.path
        if not path.is_file():
            continue
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        if key not in _DIGESTS:
            _DIGESTS[key] = sha256_file(path)
        if _DIGESTS[key] != f.sha256:
            bad.append(
                f"{path}: sha256 {_DIGESTS[key][:12]}... ({st.st_size:,} bytes) is not the pinned "
                f"{f.sha256[:12]}... of the published file (changed, truncated or another version)"
            )
    if bad and strict:
        raise DataFormatError(
            f"{bad[0]}"
            + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
            + f"; run `cikgwb data fetch {name}` to restore the published files"
        )
    for line in bad:
        log.warning(
            "%s; figures from it are not the paper's data (`cikgwb data fetch %s` restores it; "
            "--strict makes this an error)",
            line,
            name,
        )
    return bad


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    split_seed: int = 0,
    interests: InterestSource | None = PAPER,
    strict: bool | None = None,
) -> Dataset:
    """Load a registered dataset by name (``synthetic`` is generated on first use).

    The published files are checked against their pinned sha256 first (:func:`check_pinned`:
    a warning, an error with ``strict``); ``interests`` as in :func:`load_from_dir`."""
    spec = get_spec(name)
    folder = dataset_dir(name, data_dir)
    if getattr(spec, "synthetic", False):
        if (
            not os.access(folder if folder.exists() else _first_existing(folder), os.W_OK)
            and not (folder / "GENERATOR.json").exists()
        ):
            # a read-only data dir (e.g. a shared copy of the real data): generate into the cache
            folder = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cikgwb" / name
        ensure_synthetic(folder)
        ds = load_from_dir(folder, name=name, split_seed=split_seed, interests=interests)
        return attach_truth(ds, folder)
    if folder.is_dir():
        mismatched = check_pinned(name, folder, strict)
    else:
        mismatched = []
    ds = load_from_dir(folder, name=name, split_seed=split_seed, interests=interests)
    if mismatched:
        ds.meta["checksum_mismatch"] = mismatched
    return ds
