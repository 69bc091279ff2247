"""The files of a user-interest graph as the data layer reads them: their names, the released
graph's edges and the names made for it (``cikgwb interests name``, committed under
``reports/interests/<dataset>/released-names/``).

The loader reads the released graph with these; :mod:`cikgwb.knowledge.interest_graph` builds,
writes and applies graphs on top of them (it imports this module, never the reverse).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..paths import project_root
from .download import sha256_file

EDGES_FILE = "user_interest_clustered.txt"
LABELS_FILE = "interest_labels.tsv"
PROVENANCE_FILE = "provenance.json"
#: the folder, under ``reports/interests/<dataset>/``, of the names made for the released graph
NAMES_DIR = "released-names"


def released_names_dir(dataset: str, root: str | Path | None = None) -> Path:
    """``<project>/reports/interests/<dataset>/released-names``: the names committed with the
    repository for the dataset's released interest graph (whatever ``$CIKGWB_REPORTS_DIR`` says)."""
    return Path(root if root is not None else project_root()) / "reports" / "interests" / dataset / NAMES_DIR


@dataclass(frozen=True)
class InterestSource:
    """A run's interest source, the one meaning of ``--interests`` (config.yaml's ``interests``):
    ``kind`` ``paper`` (also spelled ``default`` or empty) is the dataset's released graph,
    ``none`` no interest node anywhere (w/o UIK), ``path`` a user-interest graph (a folder written
    by ``cikgwb interests cluster``, a ``user interest`` file, or a dataset name for that
    dataset's released graph). Made once by :meth:`parse`; the loader receives it."""

    kind: str  # paper | none | path
    spec: str  # the text as config.yaml writes it
    path: Path | None = None  # the resolved path of a ``path`` source that exists

    @classmethod
    def parse(cls, spec: Any, check: bool = True) -> "InterestSource":
        """The source an ``--interests`` text names. With ``check`` a PATH must exist (or be a
        dataset name): ``FileNotFoundError`` names it and what is expected."""
        text = "" if spec is None else str(spec).strip()
        if text in ("paper", "default", ""):
            return PAPER
        if text == "none":
            return NONE
        p = Path(text).expanduser()
        if p.exists():
            return cls("path", text, p.resolve())
        if check:
            from .registry import REGISTRY

            if text not in REGISTRY:
                raise FileNotFoundError(
                    f"--interests {text}: no such file or folder ({p.resolve()}); expected paper, none, the path of "
                    "a user-interest graph (a folder written by `cikgwb interests cluster` or a 'user interest' "
                    "file) or a dataset name"
                )
        return cls("path", text)

    @property
    def key(self) -> str:
        """What identifies the graph (the resolved path where there is one)."""
        return str(self.path) if self.path is not None else self.spec


PAPER = InterestSource("paper", "paper")
NONE = InterestSource("none", "none")


@dataclass
class InterestFiles:
    """An interest graph as read from files: raw interest ids, optional labels and provenance."""

    edges: np.ndarray  # (k, 2) (user, interest id as in the file)
    labels: dict[int, str] | None
    provenance: dict[str, Any] | None
    source: str
    path: Path | None = None
    top_phrases: dict[int, str] | None = None
    label_methods: dict[int, str] | None = None  # how each label was made, where not the graph's own text
    names_from: str | None = None  # the answers a released graph's names were made from


def released_names(ds_name: str, edges_file: Path) -> InterestFiles | None:
    """The names made for a dataset's released graph (:mod:`cikgwb.knowledge.naming`, committed
    under ``reports/interests/<ds>/released-names/``), when they name this very file (its sha256);
    ``None`` when there are none, or when they were made for another version of the file (a warning
    names both: the names are for reading only, so a run goes on with title labels)."""
    folder = released_names_dir(ds_name)
    lab_f, prov_f = folder / LABELS_FILE, folder / PROVENANCE_FILE
    if not lab_f.is_file():
        return None
    prov = json.loads(prov_f.read_text(encoding="utf-8")) if prov_f.is_file() else {}
    want = (prov.get("graph") or {}).get("sha256")
    have = sha256_file(edges_file)
    if want != have:
        warnings.warn(
            f"{lab_f}: not used: these names were made for a released graph with sha256 {want}, but "
            f"{edges_file} has sha256 {have}; remake them (`cikgwb interests name --dataset {ds_name} "
            "--answers ...`)",
            stacklevel=2,
        )
        return None
    lab = pd.read_csv(lab_f, sep="\t", keep_default_na=False)
    need = {"interest_id", "label", "method"}
    if not need <= set(lab.columns):
        raise ValueError(f"{lab_f}: expected columns {sorted(need)}, got {list(lab.columns)}")
    ids = [int(i) for i in lab["interest_id"]]
    return InterestFiles(
        np.zeros((0, 2), np.int64),
        dict(zip(ids, lab["label"].astype(str))),
        prov,
        str(prov.get("note") or f"names from {folder}"),
        lab_f,
        dict(zip(ids, lab["top_phrases"].astype(str))) if "top_phrases" in lab.columns else None,
        dict(zip(ids, lab["method"].astype(str))),
        str((prov.get("answers") or {}).get("note") or "") or None,
    )
