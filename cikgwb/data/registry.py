"""Registry of the datasets cikgwb knows: where each file comes from and its SHA-256.

Every fetchable file is pinned to an upstream repository *and commit*, so the bytes a user
downloads are the bytes the checksums below were measured on. The raw address of a file is
``{RAW_BASE}/<owner>/<repo>/<commit>/<upstream path>``.

Datasets (see ``../shared/data/README.md`` for the formats):

- ``book-crossing``, ``dbbook2014``: the CIKGRec authors' files, complete.
- ``ml1m``: the CIKGRec authors' files except ``kg_final.txt`` (not obtainable), plus a
  substitute item-side KG from RippleNETmod (Satori entities) stored under ``satori-kg/``.
  This is NOT the paper's DBpedia KG; results on ml1m must say so.
- ``synthetic``: generated locally by :mod:`cikgwb.data.synthetic`; nothing to fetch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from ..paths import DATA_ENV, data_dir

#: Base of raw file addresses; tests point it at a local server.
RAW_BASE = "https://raw.githubusercontent.com"

#: Environment variable that overrides the default data folder ``<project>/data`` (:func:`data_root`).
DATA_DIR_ENV = DATA_ENV

CIKGREC_REPO = "laowangzi/CIKGRec"
CIKGREC_COMMIT = "4cd310f605e8857883a508170e6753dcb05c4e98"
RIPPLENET_REPO = "Chris1nexus/RippleNETmod"
RIPPLENET_COMMIT = "970420a2046913d655f41922ed9d76e9ea665cfb"


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset.

    ``path`` is relative to the dataset folder (``<data dir>/<dataset>/<path>``, ``/``-separated);
    ``upstream_path`` is the path inside ``repo`` at ``commit``; ``sha256`` is the lowercase hex
    digest of the exact bytes.
    """

    path: str
    upstream_path: str
    sha256: str
    repo: str
    commit: str

    @property
    def url(self) -> str:
        """Raw download address pinned to the commit."""
        return f"{RAW_BASE.rstrip('/')}/{quote(self.repo)}/{quote(self.commit)}/{quote(self.upstream_path)}"


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: its main upstream ``repo`` at ``commit``, the files to fetch, and what code and
    notebooks need to know about it (instead of testing its name).

    A file may come from another repository (ml1m's substitute KG); each :class:`FileSpec`
    carries its own ``repo`` and ``commit``. ``synthetic`` datasets have no files: they are
    generated locally.

    ``planted_truth``: the dataset knows each user's true interests (the synthetic generator's
    planted topics), so notebooks can score what they recover. ``train_defaults``: training
    settings of every model on it (the overall layer of :func:`cikgwb.models.make_config`,
    e.g. a short schedule on the small synthetic graph). ``quick``: the notebooks' usual mode
    on it (quick runs, few epochs; the real datasets: full). ``kappa``: the notebooks' default
    number of interest clusters.
    """

    name: str
    repo: str | None
    commit: str | None
    files: tuple[FileSpec, ...] = ()
    synthetic: bool = False
    notes: str = ""
    planted_truth: bool = False
    train_defaults: dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    quick: bool = False
    kappa: int = 350

    @property
    def real(self) -> bool:
        """A real dataset (downloaded), not a generated one."""
        return not self.synthetic

    def file(self, path: str) -> FileSpec:
        """The :class:`FileSpec` whose local ``path`` is ``path``."""
        for f in self.files:
            if f.path == path:
                return f
        known = ", ".join(f.path for f in self.files) or "(none)"
        raise KeyError(f"dataset {self.name!r} has no file {path!r}; its files are: {known}")


def _cikgrec(dataset: str, digests: dict[str, str]) -> tuple[FileSpec, ...]:
    return tuple(
        FileSpec(path=p, upstream_path=f"data/{dataset}/{p}", sha256=h, repo=CIKGREC_REPO, commit=CIKGREC_COMMIT)
        for p, h in digests.items()
    )


_BOOK_CROSSING = {
    "entity_list.txt": "06e5439950915e4c3b44dd08c6913b8d7074cac26186732f792a1431f8cb5c31",
    "item_list.txt": "05819ffee8087c972e04075ed4d1ab85c1b06263bed19c45a0e5f6d863b45a1a",
    "kg_final.txt": "a334dbbcc1adf82f02ef5893ed29a46bddbf2d53c4b58bee325241267ae54929",
    "relation_list.txt": "d78b4f8b77396644119a60cedeb93e2c0beeae300160249b74720120f0d0ea33",
    "test.txt": "df09859026ded8f15c52c49c596b94d53831da7cee2af48d891bd0dec46e414f",
    "train.txt": "172cda564f845b764604612bb5e846b76d7c026d235f1bbfca5c58493dfd8237",
    "user_interest_clustered.txt": "893380a074561c85e0c1baa00536f9e47caa689fed29a8f544dfa738103e1f95",
    "user_list.txt": "0074d34e56c041c5ca0b7a69ba3e8c6fdf00cb22ce8d067ef85d58c2c79a5e6d",
}

_DBBOOK2014 = {
    "entity_list.txt": "f637cdb5b49d75cab0aa977c3d6d2ac8b0e81a730f731ef12b0a168e99778ccf",
    "item_list.txt": "93971e659178ba7bbd5fb67dc83965dec8e64159da60a71e0d42c30721b34005",
    "kg_final.txt": "66d939630bf4ccd634fde0107ec9a139daac00d1216c06d25e1b36517b2d2881",
    "relation_list.txt": "05f1ec2fa07a232b442184ef2473dc5c356d536ecf04d3bd021f195fdc198cf3",
    "test.txt": "367246e3d57d14eb75b8a785c84bbb6b483052bf4ba093063777ddaa8faa93ca",
    "train.txt": "b0f05abb83ae5d0191dc150e345b9e6e2b0b312804fc30a267865f89b96432da",
    "user_interest_clustered.txt": "3c15572f9b0ab503b08f53adba1280d42832111cd815675cab0744fc1ebffa2b",
    "user_list.txt": "525de87ab9ae769a241772ab84b9ada824b097b7ac3c6ad1d8519cda359d2b1e",
}

_ML1M = {
    "entity_list.txt": "31aefb4c25c42848ee0e3035c567f0e7f59c85b219a8cec39f11e60ef2ad6ca7",
    "item_list.txt": "ee51a3dc6da681d440ee48d625eb8f78607e182f73227ff8a9e3f60342811344",
    "relation_list.txt": "ec8d176122133fccb5a6fa81e8cc79e05bce738118f1e25ea5b839a0115c28b6",
    "test.txt": "f01e70d5fd23041700f802fb96171c92074e3a79eb063e049ce4afb529ffe416",
    "train.txt": "f68db86d5c194cb6e112f06cd966e20cdc7aebed9b15fc8041eea5a5587435b1",
    "user_interest_clustered.txt": "23ea0c69c7f7c2363339f1ebd0bc406e76ad9c461b66a34576240783b842c1a4",
    "user_list.txt": "58c904c04fff43ec7d19035ca372c6b437d059541d8fc89f61f0485f3a2824a9",
}

_ML1M_SATORI = (
    FileSpec(
        path="satori-kg/kg.txt",
        upstream_path="data/ml1m/kg.txt",
        sha256="2f33ecf9e0769d653965c1a0569cdeca22b5f5c2ce4621e71c94b0a23b576b21",
        repo=RIPPLENET_REPO,
        commit=RIPPLENET_COMMIT,
    ),
    FileSpec(
        path="satori-kg/item_index2entity_id_rehashed.txt",
        upstream_path="data/ml1m/item_index2entity_id_rehashed.txt",
        sha256="00584b4f77ef3f57203f9995a1aca2a130956a612db7c9673c91f65ef732e7cd",
        repo=RIPPLENET_REPO,
        commit=RIPPLENET_COMMIT,
    ),
)

#: All known datasets by name. Tests may add entries (``monkeypatch.setitem``).
REGISTRY: dict[str, DatasetSpec] = {
    "book-crossing": DatasetSpec(
        name="book-crossing",
        repo=CIKGREC_REPO,
        commit=CIKGREC_COMMIT,
        files=_cikgrec("book-crossing", _BOOK_CROSSING),
        notes="CIKGRec authors' files; sizes match the paper's Table 2.",
    ),
    "dbbook2014": DatasetSpec(
        name="dbbook2014",
        repo=CIKGREC_REPO,
        commit=CIKGREC_COMMIT,
        files=_cikgrec("dbbook2014", _DBBOOK2014),
        notes="CIKGRec authors' files; sizes match the paper's Table 2.",
    ),
    "ml1m": DatasetSpec(
        name="ml1m",
        repo=CIKGREC_REPO,
        commit=CIKGREC_COMMIT,
        files=_cikgrec("ml1m", _ML1M) + _ML1M_SATORI,
        notes=(
            "CIKGRec authors' files without kg_final.txt (not obtainable). The item-side KG is a "
            f"substitute from {RIPPLENET_REPO} (Satori entities, 11 relations) under satori-kg/; "
            "it is NOT the paper's DBpedia KG and results on ml1m must say so."
        ),
    ),
    "synthetic": DatasetSpec(
        name="synthetic",
        repo=None,
        commit=None,
        synthetic=True,
        planted_truth=True,
        notes="Generated deterministically by cikgwb.data.synthetic; nothing to download.",
        # a small graph: short runs (CIKGRec's quick schedule: cikgwb/models/cikgrec.py)
        train_defaults={"max_epochs": 60, "patience": 10},
        quick=True,
        kappa=40,
    ),
}


class UnknownDatasetError(KeyError, ValueError):
    """A dataset name the registry does not know (both a ``KeyError`` and a ``ValueError``)."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


def names() -> list[str]:
    """Known dataset names, sorted."""
    return sorted(REGISTRY)


def real_names() -> list[str]:
    """The real (downloaded) datasets, sorted: the paper's tables are over these."""
    return sorted(n for n, s in REGISTRY.items() if s.real)


def get_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` called ``name``; :class:`UnknownDatasetError` names the known ones."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownDatasetError(f"unknown dataset {name!r}; known datasets: {', '.join(names())}") from None


def data_root() -> Path:
    """Folder holding all datasets: :func:`cikgwb.paths.data_dir` (``$CIKGWB_DATA_DIR`` if set
    and non-empty, else ``<project>/data``)."""
    return data_dir()


def dataset_dir(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Folder of dataset ``name``: ``<data_dir or data_root()>/<name>`` (not created here)."""
    spec = get_spec(name)
    root = Path(data_dir).expanduser() if data_dir is not None else data_root()
    return root / spec.name


__all__ = [
    "DATA_DIR_ENV",
    "RAW_BASE",
    "DatasetSpec",
    "FileSpec",
    "REGISTRY",
    "UnknownDatasetError",
    "data_root",
    "dataset_dir",
    "get_spec",
    "names",
    "real_names",
]
