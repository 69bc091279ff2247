"""Recommenders: CIKGRec and the baselines, all sharing ``cikgwb.graph``'s propagation.

A model is one file in this package: its typed settings (a ``Config`` dataclass, a subclass of
:class:`cikgwb.config.ModelConfig`, with commented defaults), its training settings and its
per-dataset overrides beside them, its formula in the class docstring, and the class registered
with all three::

    @dataclass
    class Config(ModelConfig):
        dim: int = 64            # embedding size
        l2_reg: float = 1e-4     # L2 weight on the batch's layer-0 embeddings

    @register("mf", Config, train={"lr": 1e-3}, datasets={"synthetic": {"lr": 5e-3}})
    class MF(Recommender):
        '''Matrix factorisation: score(u, i) = e_u . e_i, BPR loss.'''

:func:`make_config` merges the defaults the way RecBole does (overall -> model -> dataset):
the training defaults (:class:`cikgwb.config.TrainConfig`) and the dataset's own training
defaults (:mod:`cikgwb.data.registry`), then the model's ``Config`` defaults and ``train``
settings, then its ``datasets[dataset]`` overrides, then the user's overrides (``--set``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

from ..config import MODEL_CONFIGS, ConfigError, ModelConfig, RunConfig, apply_overrides, setting_keys, validate_config

MODELS: dict[str, Callable] = {}


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """What a model registers: its class, its ``Config``, its training settings (the model layer)
    and its per-dataset overrides (the dataset layer; model or training settings)."""

    name: str
    cls: type
    config: type[ModelConfig]
    train: dict[str, Any]
    datasets: dict[str, dict[str, Any]]


ENTRIES: dict[str, ModelEntry] = {}


def register(
    name: str,
    config: type[ModelConfig] | None = None,
    *,
    train: dict[str, Any] | None = None,
    datasets: dict[str, dict[str, Any]] | None = None,
):
    """Register a model class under ``name`` with its ``config`` class (a :class:`ModelConfig`
    dataclass), its training settings ``train`` (e.g. its paper's learning rate) and its
    per-dataset overrides ``datasets`` ({dataset: {setting: value}})."""
    if config is None or not (
        isinstance(config, type) and issubclass(config, ModelConfig) and dataclasses.is_dataclass(config)
    ):
        raise TypeError(f"register({name!r}, config): config must be a ModelConfig dataclass, got {config!r}")

    def deco(cls):
        keys = set(config.setting_names())
        from ..config import _TRAIN_KEYS

        for where, d in [("train", train or {})] + [(f"datasets[{k!r}]", v) for k, v in (datasets or {}).items()]:
            bad = sorted(set(d) - keys - _TRAIN_KEYS)
            if bad:
                raise TypeError(
                    f"register({name!r}): {where} sets {bad[0]!r}, which is neither a setting of "
                    f"{config.__name__} nor a training setting"
                )
        MODELS[name] = cls
        MODEL_CONFIGS[name] = config
        ENTRIES[name] = ModelEntry(
            name, cls, config, dict(train or {}), {k: dict(v) for k, v in (datasets or {}).items()}
        )
        cls.Config = config
        return cls

    return deco


_IMPORT_ERRORS: dict[str, str] = {}


def _import_all() -> None:
    """Import every model module; one that fails to import does not take the others down."""
    import importlib
    import pkgutil

    for mod in pkgutil.iter_modules(__path__):
        if mod.name.startswith("_") or mod.name in _IMPORT_ERRORS:
            continue
        try:
            importlib.import_module(f"{__name__}.{mod.name}")
        except Exception as exc:  # noqa: BLE001 - reported when the model is asked for
            _IMPORT_ERRORS[mod.name] = f"{type(exc).__name__}: {exc}"


def model_class(name: str):
    """The registered class for ``name`` (every module in this package registers its models)."""
    if name not in MODELS:
        _import_all()
    if name not in MODELS:
        why = "".join(f"\n  cikgwb.models.{m} failed to import: {e}" for m, e in _IMPORT_ERRORS.items())
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}{why}")
    return MODELS[name]


def model_entry(name: str) -> ModelEntry:
    """What ``name`` registered (:class:`ModelEntry`); an unknown name raises ``ValueError``
    listing the known models."""
    model_class(name)
    return ENTRIES[name]


def model_names() -> list[str]:
    """Every registered model, sorted."""
    _import_all()
    return sorted(MODELS)


def build_model(name: str, *args, **kwargs):
    """Instantiate a registered model by name."""
    return model_class(name)(*args, **kwargs)


def _dataset_spec(dataset: Any):
    from ..data.registry import UnknownDatasetError, get_spec

    try:
        return get_spec(dataset)
    except UnknownDatasetError as exc:
        raise ConfigError(str(exc)) from None


def make_config(
    name: str = "cikgrec",
    dataset: str = "synthetic",
    overrides: dict[str, Any] | list[str] | None = None,
    validate: bool = True,
) -> RunConfig:
    """The run config of model ``name`` on ``dataset``: overall -> model -> dataset -> ``overrides``.

    1. overall: the training defaults (:class:`~cikgwb.config.TrainConfig`) and the dataset's own
       training defaults (``DatasetSpec.train_defaults``, e.g. synthetic's short schedule);
    2. model: the model's ``Config`` defaults and its registered ``train`` settings;
    3. dataset: the model's registered ``datasets[dataset]`` overrides;
    4. ``overrides`` (``--set key=value`` texts or a ``{key: value}`` mapping).

    An unknown dataset, model or setting raises :class:`~cikgwb.config.ConfigError` naming it and
    listing the valid ones, before anything is loaded; the result is validated (``validate=False``:
    by the caller, once, after its own overrides: ``cikgwb train``)."""
    spec = _dataset_spec(dataset)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"setting model={name!r}: expected a model name; known: {model_names()}")
    try:
        entry = model_entry(name)
    except ValueError as exc:
        raise ConfigError(f"setting model={name!r}: {str(exc).splitlines()[0]}") from None
    cfg = RunConfig(dataset=spec.name, model=entry.config(model=name))
    for layer in (getattr(spec, "train_defaults", {}), entry.train, entry.datasets.get(spec.name, {})):
        apply_overrides(cfg, dict(layer), validate=False)
    if overrides:
        apply_overrides(cfg, overrides, validate=False)
    return validate_config(cfg) if validate else cfg


def default_config(dataset: str, model: str = "cikgrec", **overrides: Any) -> RunConfig:
    """``make_config(model, dataset, overrides)`` with the overrides as keywords (the older call)."""
    return make_config(model, dataset, overrides)


def setting_names(name: str) -> list[str]:
    """Every ``--set`` / ``--grid`` key of a run of model ``name``: its settings, training, run."""
    return setting_keys(model_entry(name).config)


def config_from_dict(d: dict[str, Any], validate: bool = True) -> RunConfig:
    """A run config from its dict form (:meth:`RunConfig.from_dict`), with every model registered first."""
    _import_all()
    return RunConfig.from_dict(d, validate=validate)


def load_config(path: str | Path, validate: bool = True) -> RunConfig:
    """A run's ``config.yaml`` as a :class:`~cikgwb.config.RunConfig`;
    a file that is not valid YAML is a :class:`~cikgwb.config.ConfigError` naming it and its line."""
    from ..config import read_yaml

    return config_from_dict(read_yaml(path), validate=validate)


def non_default_settings(cfg: RunConfig) -> dict[str, Any]:
    """The model settings and the model-layer training settings (those its ``train`` or
    ``datasets`` declare, e.g. ``lr``) of ``cfg`` that differ from :func:`make_config`'s
    defaults for its model and dataset: what makes a run a variant of its model's row."""
    import math

    base = make_config(cfg.model.model, cfg.dataset)
    entry = model_entry(cfg.model.model)
    keys = [(cfg.model, base.model, k) for k in type(cfg.model).setting_names()]
    train_keys = dict.fromkeys([*entry.train, *entry.datasets.get(cfg.dataset, {})])
    keys += [(cfg.train, base.train, k) for k in train_keys if k in {f.name for f in dataclasses.fields(cfg.train)}]
    out = {}
    for got_obj, want_obj, k in keys:
        got, want = getattr(got_obj, k), getattr(want_obj, k)
        if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
            same = math.isclose(float(got), want, rel_tol=1e-9)
        else:
            same = got == want or (isinstance(want, (list, tuple)) and list(got) == list(want))
        if not same:
            out[k] = got
    return out


#: the settings every model shared before issue 19 (one flat settings class): a label names them
#: as they are, and a model's own settings as ``extra.<name>``, as the labels always have
SHARED_SETTINGS = frozenset(
    "dim n_layers l2_reg cf_weight interest_recon_weight gcl_weight gcl_temp noise_eps edge_dropout message_dropout "
    "self_loops mask_alpha mask_omega mask_lambda schedule uir_enc_layers uir_dec_layers replace_rate uir_edge_drop "
    "sce_eta transe lr_kg l2_reg_kge kg_batch_size views precision use_kg no_interests no_uir no_cl".split()
)

#: models whose runs are labelled by their ablation switches (Table 3), not by their settings
#: that differ from the defaults (:func:`variant_label`)
ABLATION_LABELLED = ("cikgrec", "lightgcn")


def variant_label(cfg: dict[str, Any]) -> str:
    """``"-"`` for a baseline run (a ``config.yaml`` dict) with its model's
    defaults on its dataset (:func:`make_config`: its authors' settings, or the value tuned on
    valid where the model's docstring says so); otherwise the settings that differ, e.g.
    ``"lr=0.0001"`` for a run kept as the evidence of a tuning step (such runs are not Table 1's
    row). Training settings come first, then the model's; a model option that lived in the old
    configs' ``extra`` is named ``extra.<option>`` as before (``--set`` takes either form).
    CIKGRec and LightGCN runs: ``"-"`` (their variants are the ablation switches)."""
    m = cfg.get("model") or {}
    if m.get("model", "cikgrec") in ABLATION_LABELLED:
        return "-"
    try:
        run = config_from_dict(cfg, validate=False)
        differ = non_default_settings(run)
    except (ValueError, TypeError):
        return "-"
    mcls = type(run.model)
    # only a setting the record states can differ: one it leaves out took the defaults
    recorded = set(cfg.get("train") or {}) | set(m)
    differ = {k: v for k, v in differ.items() if k in recorded}
    old_name = {new: old for old, new in mcls.RENAMED.items()}
    train = [k for k in differ if k not in mcls.setting_names()]
    flat = [k for k in mcls.setting_names() if k in differ and old_name.get(k, k) in SHARED_SETTINGS]
    extra = [k for k in mcls.setting_names() if k in differ and old_name.get(k, k) not in SHARED_SETTINGS]

    def text(k: str, shown: str) -> str:
        v = differ[k]
        return f"{shown}={v:g}" if isinstance(v, float) else f"{shown}={v}"

    return (
        ", ".join(
            [text(k, k) for k in train]
            + [text(k, old_name.get(k, k)) for k in flat]
            + [text(k, f"extra.{k}") for k in extra]
        )
        or "-"
    )
