"""What a run is, below the trainer: what it is called, which splits its protocol trains and
selects on, which interest graph it reads, and its resolved configuration with its ready dataset
(:func:`prepare_run`). Every caller (``cikgwb train``, sweeps, the campaign script, the notebooks,
the explorer) goes through these functions; none keeps its own rule. Where finished runs are
(the run index, ``find_run``) and ``run(cfg)`` are the run store's, :mod:`cikgwb.runs`, above
the trainer.

**Names.** ``[quick-]<dataset>-<model>[-<variant>]-<protocol>[-<tag>]-s<seed>``
(:func:`run_stem`, :func:`run_name`): the variant is a CIKGRec ablation's slug (``wo-uik``,
``wo-uir``, ``wo-cl``, ``wo-dmr``, ``lin``; nothing for the full model and the baselines), the
tag an optional free word (``lr1e-4``, ``authorsviews``). ``cikgwb train --name STEM`` gives the
stem; ``-s<seed>`` is always added.

**Protocols** (:data:`PROTOCOLS`): ``valid`` trains on train, selects the epoch on valid and
evaluates test once; ``users`` trains on all of train.txt (the window every released input was
built from, so none can leak into selection), selects on the test items of a seeded half of the
test users and evaluates the other half's once; ``authors`` trains on all of train.txt and
selects on TEST, as the authors' code does (comparison with the paper's Table 1 only).

**Interests** (:class:`cikgwb.data.interest_files.InterestSource`, one meaning for every
command): ``paper`` (also ``default`` or empty) is the dataset's released interest graph;
``none`` is no interest node anywhere (w/o UIK: a run's model gets ``no_interests``, an
inspected dataset an empty interest graph); anything else is the path of a user-interest graph
(a folder written by ``cikgwb interests cluster``, a ``user interest`` file, or a dataset name for
that dataset's released graph). A path that does not exist is refused before any data is loaded.

**Resolved once, then read.** :func:`resolve_config` turns a config into a resolved copy (its
name, its interest source parsed and checked once: ``cfg.source``), :func:`prepare_dataset`
loads the dataset with that source (the loader receives it) and applies a PATH graph;
``runs.run`` and the trainer take a resolved config as it is and change neither.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import freeze
from .data.interest_files import NONE, InterestSource
from .run_folder import GRID_SELECTION_FILE

# the imports of data, models, knowledge and evaluate below are late (inside functions), for the
# start-up time of commands that only name runs (the explorer's listing imports no model); all go down


# ----------------------------------------------------------------------------- protocols
@dataclass(frozen=True)
class Splits:
    """What a protocol trains on, selects the epoch on and tests on (names of
    :class:`~cikgwb.data.Dataset` splits; the masks are :func:`cikgwb.evaluate.split_masks`'s)."""

    protocol: str
    train: str  # the training pairs: "train" or "train_full" (train + valid)
    select: str  # the split the epoch is selected on: "valid" or "test"
    test: str = "test"  # evaluated once at the selected epoch (masked: all of train.txt)

    def train_pairs(self, ds: Any) -> np.ndarray:
        return getattr(ds, self.train)

    def masks(self, ds: Any, split: str | None = None) -> tuple[Any, Any]:
        """``(heldout, exclude)`` of the selection split (or ``split``)."""
        from .evaluate import split_masks

        return split_masks(ds, split or self.select)


PROTOCOLS = {
    "valid": Splits("valid", train="train", select="valid"),
    "authors": Splits("authors", train="train_full", select="test"),
    "users": Splits("users", train="train_full", select="sel_half", test="report_half"),
}
PROTOCOL_NOTES = {
    "valid": "selection on VALID; test evaluated once at the selected epoch",
    "authors": "AUTHORS' PROTOCOL: trained on all of train.txt and selected on TEST "
    "(comparison with the paper's Table 1 only, not a headline figure)",
    "users": "trained on all of train.txt; the test users drawn into two halves (split_seed): the epoch selected "
    "on the SELECTION half's test items, the REPORT half's test items evaluated once (the test metrics)",
}


def protocol_splits(protocol: str) -> Splits:
    """The :class:`Splits` of ``protocol``; a ``ValueError`` names the valid ones."""
    try:
        return PROTOCOLS[protocol]
    except (KeyError, TypeError):
        raise ValueError(f"protocol={protocol!r}: expected one of {', '.join(PROTOCOLS)}") from None


# ----------------------------------------------------------------------------- names
VARIANT_SLUGS = {
    "full": "",
    "w/o UIK": "wo-uik",
    "w/o UIR": "wo-uir",
    "w/o CL": "wo-cl",
    "w/o DMR": "wo-dmr",
    "linear": "lin",
}
VARIANT_OVERRIDES: dict[str, dict[str, Any]] = {
    "full": {},
    "w/o UIK": {"no_interests": True},
    "w/o UIR": {"no_uir": True},
    "w/o CL": {"no_cl": True},
    "w/o DMR": {"schedule": "fixed"},
    "linear": {"schedule": "lin"},
}
_NAME = re.compile(r"^(?P<stem>.+)-s(?P<seed>\d+)$")


def run_stem(
    dataset: str,
    model: str,
    protocol: str = "valid",
    variant: str | None = None,
    tag: str | None = None,
    quick: bool = False,
) -> str:
    """``[quick-]<dataset>-<model>[-<variant slug>]-<protocol>[-<tag>]`` (module docstring)."""
    slug = VARIANT_SLUGS.get(variant or "", "")
    stem = "-".join(x for x in (dataset, model, slug, protocol, tag) if x)
    return f"quick-{stem}" if quick else stem


def run_name(stem: str, seed: int) -> str:
    """``<stem>-s<seed>``: the folder name of one seed of a run."""
    return f"{stem}-s{int(seed)}"


def split_run_name(name: str) -> tuple[str, int | None]:
    """``(stem, seed)`` of a run name (``seed`` None when the name has no ``-s<seed>``)."""
    m = _NAME.match(str(name))
    return (m["stem"], int(m["seed"])) if m else (str(name), None)


def cikgrec_variant(model: dict[str, Any], interests: Any = None) -> str:
    """Table 3 variant of a CIKGRec model config (a dict): ``full``, ``w/o UIK``, ``w/o UIR``,
    ``w/o CL``, ``w/o DMR``, ``linear``, or ``interests <graph>`` for another interest graph;
    a run with other than fp32 arithmetic says so (``full (bf16)``): it is not a seed of the
    fp32 row."""
    variant = _cikgrec_variant(model, interests)
    precision = model.get("precision") or "fp32"
    return variant if precision == "fp32" else f"{variant} ({precision})"


def _cikgrec_variant(model: dict[str, Any], interests: Any = None) -> str:
    src = InterestSource.parse(interests, check=False)
    if model.get("no_interests") or src.kind == "none":
        return "w/o UIK"
    for key, value, variant in (
        ("no_uir", True, "w/o UIR"),
        ("no_cl", True, "w/o CL"),
        ("schedule", "fixed", "w/o DMR"),
        ("schedule", "lin", "linear"),
    ):
        if bool(model.get(key)) if value is True else model.get(key) == value:
            return variant
    if src.kind == "path":  # another interest graph (e.g. kg-summary): not the paper's CIKGRec row
        return f"interests {Path(str(src.spec)).name}"
    return "full"


def default_stem(cfg: Any) -> str:
    """The stem ``cikgwb train`` gives a run without ``--name``: its dataset, model, CIKGRec
    variant (if any) and protocol."""
    variant = cikgrec_variant(cfg.model.__dict__, cfg.interests) if cfg.model.model == "cikgrec" else None
    return run_stem(cfg.dataset, cfg.model.model, cfg.train.protocol, variant)


def name_of(cfg: Any) -> str:
    """A run's name: ``cfg.name`` if set, else :func:`default_stem` and its seed."""
    return cfg.name or run_name(default_stem(cfg), cfg.train.seed)


def baseline_variant(cfg: dict[str, Any]) -> str:
    """``"-"`` for a baseline run with its model's defaults on its dataset (its authors' settings,
    or the value tuned on valid where the docstring says so); otherwise the settings that differ,
    e.g. ``"lr=0.0001"`` for a run kept as the evidence of a tuning step. Such runs are not
    Table 1's row (:func:`cikgwb.models.variant_label`)."""
    from .models import variant_label

    return variant_label(cfg)


def variant_of(cfg: dict[str, Any], run_dir: str | Path | None = None) -> str:
    """Table 3 variant of a run's config dict (:func:`cikgrec_variant`); a baseline's is
    :func:`baseline_variant`, or ``"-"`` (its model's row) where its settings were chosen on the
    selection split from a grid (a :data:`GRID_SELECTION_FILE` in ``run_dir``)."""
    m = cfg.get("model", {})
    if (
        m.get("model", "cikgrec") != "cikgrec"
        and run_dir is not None
        and (Path(run_dir) / GRID_SELECTION_FILE).is_file()
    ):
        return "-"
    if m.get("model", "cikgrec") != "cikgrec":
        return baseline_variant(cfg)
    return cikgrec_variant(m, cfg.get("interests"))


# ----------------------------------------------------------------------------- interests
def interest_source(cfg: Any) -> InterestSource:
    """The interest source of a run config: the resolved one (:func:`resolve_config`), or what its
    ``interests`` names (unchecked) for a config not resolved yet."""
    return cfg.source if cfg.source is not None else InterestSource.parse(cfg.interests, check=False)


def reads_interests(cfg: Any) -> bool:
    """Whether the run's model reads an interest graph at all (not a baseline, LightGCN, w/o UIK)."""
    return cfg.model.reads_interest_graph() and interest_source(cfg).kind != "none"


def interest_source_used(cfg: Any, loaded: str | None) -> str:
    """What a run's metrics.json says about interests: the graph the model read (``loaded``, the
    dataset's ``interests_source``), or that it read none (baselines, LightGCN, w/o UIK)."""
    if not reads_interests(cfg):
        return (
            f"none ({cfg.model.model} reads no interest graph)"
            if cfg.model.model != "cikgrec"
            else "none (w/o UIK: no interest graph)"
        )
    return str(loaded)


def dataset_with_interests(ds: Any, spec: Any) -> Any:
    """A dataset showing the interest graph ``spec`` (for inspection: ``cikgwb graph``, notebook
    04): ``paper`` keeps the released graph (an error where there is none), ``none`` empties it,
    a PATH replaces it."""
    from .knowledge.interest_graph import apply_interest_graph

    src = InterestSource.parse(spec)
    if src.kind == "paper":
        if ds.n_interests == 0:
            raise ValueError(
                f"dataset {ds.name} has no released interest graph; give --interests PATH or --interests none"
            )
        return ds
    if src.kind == "none":
        return apply_interest_graph(ds, np.zeros((0, 2), dtype=np.int64), source="none (no interest graph: w/o UIK)")
    return _apply_path(ds, src)


def _apply_path(ds: Any, src: InterestSource) -> Any:
    from .knowledge.interest_graph import apply_interest_graph

    if ds.meta.get("interests_path") == src.key:  # already applied (a ready dataset)
        return ds
    out = apply_interest_graph(ds, src.spec)
    out.meta["interests_path"] = src.key  # the copy's own meta dict
    return out


# ----------------------------------------------------------------------------- caller resolves
def resolve_config(cfg: Any) -> Any:
    """The resolved run config, made once: a copy of ``cfg`` (which is not changed) with its name
    (:func:`name_of`) and its interest source (``cfg.source``: the ``--interests`` text parsed and
    checked here, once; a missing PATH is refused, naming it). A model that reads no interest
    graph (a baseline, LightGCN, CIKGRec with ``no_interests``) gets ``interests: none``, so that
    its ``config.yaml`` says what the model read, and CIKGRec with ``interests: none`` gets
    ``no_interests`` (w/o UIK is ``interests=none``). Checks the protocol too. A config resolved
    already is returned as it is (no second copy, no second check)."""
    if cfg.source is not None:
        return cfg
    src = InterestSource.parse(cfg.interests)
    protocol_splits(cfg.train.protocol)
    model = copy.deepcopy(cfg.model)
    if src.kind == "none" and hasattr(model, "no_interests"):  # a model that reads interests (CIKGRec)
        model = dataclasses.replace(model, no_interests=True)
    interests = cfg.interests
    if not model.reads_interest_graph():
        interests, src = "none", NONE
    out = dataclasses.replace(
        cfg, name=name_of(cfg), interests=interests, model=model, train=copy.deepcopy(cfg.train), source=src
    )
    return freeze(out)  # read from here on, never changed: an assignment raises


def prepare_dataset(cfg: Any, ds: Any = None) -> Any:
    """The run's dataset with its interest source applied: ``ds`` if given (a PATH graph is
    applied once), else loaded with the source (the released interest file is required only where
    the run reads it; otherwise it is still loaded when present, so the node index space is the
    same)."""
    src = resolve_config(cfg).source
    if ds is None:
        from .data import load_dataset

        ds = load_dataset(cfg.dataset, split_seed=cfg.train.split_seed, interests=src)
    return _apply_path(ds, src) if src.kind == "path" else ds


def prepare_run(cfg: Any, ds: Any = None) -> tuple[Any, Any]:
    """``(resolved config, ready dataset)`` of a run: what the trainer takes."""
    cfg = resolve_config(cfg)
    return cfg, prepare_dataset(cfg, ds)
