"""Training and run settings, the base of the models' settings, and the checks of every setting.

A run's config is a :class:`RunConfig`: the dataset, the interest source, the run's name, the
model's settings (an instance of the model's own ``Config``, a :class:`ModelConfig` subclass
declared in ``cikgwb/models/<model>.py`` with its per-dataset defaults) and the training
settings (:class:`TrainConfig`). The defaults are merged by :func:`cikgwb.models.make_config`
(overall -> model -> dataset -> the user's ``--set``); this module imports no model.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import yaml


class Resolvable:
    """What the run config and its parts (the model's ``Config``, :class:`TrainConfig`) share:
    once :func:`freeze` has marked one resolved (:func:`cikgwb.run_spec.resolve_config`, the one
    constructor of a run's configuration), it is read, never changed: assigning to it raises
    ``dataclasses.FrozenInstanceError``. A changed config is another one, built before it is
    resolved or with ``dataclasses.replace`` (a new, unresolved instance)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__dict__.get("_resolved"):
            raise dataclasses.FrozenInstanceError(
                f"cannot assign {type(self).__name__}.{name}={value!r}: a resolved run config is read, never "
                "changed (build another before resolving it, or with dataclasses.replace)"
            )
        object.__setattr__(self, name, value)


def freeze(cfg: "RunConfig") -> "RunConfig":
    """Mark ``cfg`` and its model and training parts resolved (:class:`Resolvable`); returns it."""
    for part in (cfg, cfg.model, cfg.train):
        object.__setattr__(part, "_resolved", True)
    return cfg


@dataclass
class ModelConfig(Resolvable):
    """The base of every model's settings: its registered name.

    Each model declares a subclass beside its code (``cikgwb/models/<model>.py``: ``Config``)
    with the settings that model reads, typed and with commented defaults, and registers it
    with the model (:func:`cikgwb.models.register`); :func:`cikgwb.models.make_config` merges
    the defaults. ``RENAMED`` maps a setting's name in the old flat configs (one ``ModelConfig``
    for every model, before issue 19) to this model's field, so the old ``--set`` keys keep
    working; ``RANGES`` / ``CHOICES`` add this model's checks to the shared ones below.
    """

    model: str = ""

    RENAMED: ClassVar[dict[str, str]] = {}
    RANGES: ClassVar[dict[str, tuple[float | None, bool, float | None, bool]]] = {}
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __getitem__(self, key: str) -> Any:
        """``cfg["n_factors"]``: a model reads its options by name as by attribute."""
        return getattr(self, key)

    def reads_interest_graph(self) -> bool:
        """Whether this model, so configured, reads a user-interest graph (CIKGRec does)."""
        return False

    @classmethod
    def setting_names(cls) -> list[str]:
        """The settings of this model (its fields but ``model``), in declaration order."""
        return [f.name for f in fields(cls) if f.name != "model"]

    @classmethod
    def canonical(cls, key: str) -> str | None:
        """This model's field for a ``--set`` key: the field itself, an old name (``RENAMED``),
        or ``extra.<field>`` (the old free-form options); None when the model has no such setting."""
        k = key.split(".")[-1]
        k = cls.RENAMED.get(k, k)
        return k if k in cls.setting_names() else None


#: model configs by registered name, filled by :func:`cikgwb.models.register` (this module
#: imports no model: the models register themselves here)
MODEL_CONFIGS: dict[str, type[ModelConfig]] = {}


@dataclass
class TrainConfig(Resolvable):
    lr: float = 8e-4
    batch_size: int = 1024
    max_epochs: int = 2000
    patience: int = 10
    eval_batch_size: int = 1024
    selection: tuple[str, ...] = ("recall@50", "ndcg@50")
    ks: tuple[int, ...] = (20, 50, 100)
    protocol: str = "valid"  # valid | users (test users halved) | authors (selects on TEST: comparison only)
    seed: int = 0
    split_seed: int = 0
    device: str = "auto"
    max_minutes: float | None = None  # stop gracefully after this wall time
    min_epochs: int = 0  # no early stop before this many epochs (0: the paper's protocol)
    # no early stop before this many epochs while the best evaluation is still the first one, i.e.
    # the run has not left its initial plateau (0: off; runs that leave it early are unaffected)
    plateau_epochs: int = 0
    eval_every: int = 1
    checkpoint_every: int = 1  # last.pt every this many epochs, and at the last epoch of a call (resume starts there)

    def floor_epochs(self, best_epoch: int) -> int:
        """The epochs a run must have trained before early stopping may end it: ``min_epochs``, or
        ``plateau_epochs`` when that is larger and the best evaluation (``best_epoch``) is still the
        first one (the model has not left its initial plateau: a large contrastive weight can keep
        the ranking loss near log 2 for dozens of epochs)."""
        still_first = best_epoch <= self.eval_every - 1
        return max(self.min_epochs, self.plateau_epochs if still_first else 0)


@dataclass
class RunConfig(Resolvable):
    dataset: str = "synthetic"
    interests: str = "paper"  # paper | none | PATH to a user-interest graph
    name: str | None = None
    model: ModelConfig = field(default_factory=ModelConfig)  # the model's own Config (see ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    # the resolved interest source (cikgwb.data.interest_files.InterestSource), set once by
    # cikgwb.run_spec.resolve_config: a resolved config is read, never changed. Not a setting:
    # config.yaml writes ``interests``
    source: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("source")
        for sect in ("model", "train"):  # tuples as YAML lists
            d[sect] = {k: list(v) if isinstance(v, tuple) else v for k, v in d[sect].items()}
        return d

    def save(self, path: str | Path) -> None:
        from .atomic import atomic_write_text  # a run folder's files are written atomically

        atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_dict(cls, d: dict[str, Any], validate: bool = True) -> "RunConfig":
        """A config from its dict form (``config.yaml``: the model's own settings; an old flat
        ``model:`` section is refused, naming ``scripts/migrate_config_interests.py``, which
        rewrites it). The model must be
        registered (:data:`MODEL_CONFIGS`; :func:`cikgwb.models.load_config` makes sure);
        unknown keys and bad values raise :class:`ConfigError` naming the setting
        (:func:`validate_config`)."""
        if not isinstance(d, dict):
            raise ConfigError(
                f"a run config must be a mapping (dataset, interests, name, model, train), got {type(d).__name__}"
            )
        d = dict(d)
        model_d, tr = dict(d.pop("model", None) or {}), dict(d.pop("train", None) or {})
        for section, got in (("model", model_d), ("train", tr), ("", d)):
            if not isinstance(got, dict):
                raise ConfigError(f"config section {section!r}: expected a mapping, got {type(got).__name__}")
        name = model_d.get("model", "cikgrec")
        if not isinstance(name, str) or name not in MODEL_CONFIGS:
            raise ConfigError(f"setting model={name!r}: unknown model {name!r}; known: {sorted(MODEL_CONFIGS)}")
        mcls = MODEL_CONFIGS[name]
        model_d["model"] = name
        if "extra" in model_d:  # every config.yaml of the flat form before issue 19 recorded extra
            raise ConfigError(
                f"model section in the old flat format (it has 'extra'): bring the file up to date with "
                f"`python scripts/migrate_config_interests.py --reports-dir DIR` (model {name})"
            )
        for section, keys, got in (
            ("model", set(mcls.setting_names()) | {"model"}, model_d),
            ("train", _TRAIN_KEYS, tr),
            ("", _RUN_KEYS, d),
        ):
            unknown = sorted(set(got) - keys)
            if unknown:
                where = f"{section}." if section else ""
                what = f"{name} settings" if section == "model" else f"{section or 'top-level'} settings"
                raise ConfigError(f"unknown setting {where}{unknown[0]!r} in the config; known {what}: {sorted(keys)}")
        for k in tr:
            tr[k] = _normalize(k, tr[k], TrainConfig)
        for k in model_d:
            model_d[k] = _normalize(k, model_d[k], mcls)
        cfg = cls(model=mcls(**model_d), train=TrainConfig(**tr), **d)
        if validate:
            validate_config(cfg)
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        return cls.from_dict(read_yaml(path))


_TRAIN_KEYS = {f.name for f in fields(TrainConfig)}
_RUN_KEYS = {"dataset", "interests", "name"}


def setting_keys(model_cls: type[ModelConfig]) -> list[str]:
    """Every ``--set`` key of a run of this model: its settings, the training and the run settings."""
    return sorted(set(model_cls.setting_names()) | _TRAIN_KEYS | _RUN_KEYS)


def read_yaml(path: str | Path) -> Any:
    """A YAML file's content; :class:`ConfigError` naming the file and line where it is not
    valid YAML (no traceback for a typo in ``--config``)."""
    try:
        return yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML ({what})") from None


class ConfigError(ValueError):
    """A setting has a bad type or value; the message names the setting and what was expected."""


def _field_kind(cls: type, name: str) -> str:
    """The declared type of a dataclass field as text (``int``, ``float | None``, ``tuple[int, ...]``)."""
    return str(next(f.type for f in fields(cls) if f.name == name)).replace("typing.", "")


def _kind_of(key: str, model_cls: type | None = None) -> tuple[type | None, str]:
    if model_cls is not None and model_cls is not TrainConfig and key in model_cls.setting_names():
        return model_cls, _field_kind(model_cls, key)
    if key in _TRAIN_KEYS:
        return TrainConfig, _field_kind(TrainConfig, key)
    return RunConfig, _field_kind(RunConfig, key)


_WHAT = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "tuple[int, ...]": "comma-separated integers (e.g. 20,50,100)",
    "tuple[str, ...]": "comma-separated names (e.g. recall@50,ndcg@50)",
}


def _expected(kind: str) -> str:
    base = kind.replace(" | None", "")
    what = _WHAT.get(base, base)
    return what + (" or none" if kind.endswith("| None") else "")


def _coerce(value: str, current: Any, key: str | None = None, model_cls: type | None = None) -> Any:
    """Parse the text of a ``--set key=value`` into the setting's declared type (``key``; without
    it, the type of ``current``). A value that does not parse raises :class:`ConfigError`
    naming the setting and the expected type."""
    if key is not None:
        kind = _kind_of(key, model_cls)[1]
    elif isinstance(current, bool):
        kind = "bool"
    elif isinstance(current, int):
        kind = "int"
    elif isinstance(current, float):
        kind = "float"
    elif isinstance(current, tuple):
        kind = "tuple[int, ...]" if current and isinstance(current[0], int) else "tuple[str, ...]"
    elif current is None:
        kind = "yaml"
    else:
        kind = "str"
    name = key or "setting"
    text = value.strip()

    def bad(why: str = "") -> ConfigError:
        return ConfigError(f"setting {name}={value!r}: expected {_expected(kind)}{why}")

    optional = kind.endswith("| None")
    base = kind.replace(" | None", "")
    if optional and text.lower() in ("none", "null", "~"):
        return None
    if base == "bool":
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise bad()
    if base == "int":
        try:
            return int(text)
        except ValueError:
            raise bad() from None
    if base == "float":
        try:
            return float(text)
        except ValueError:
            raise bad() from None
    if base.startswith("tuple["):
        parts = [v.strip() for v in text.strip("[]()").split(",")]
        if not text or any(not p for p in parts):
            raise bad(" (no empty entries)")
        if base == "tuple[int, ...]":
            try:
                return tuple(int(p) for p in parts)
            except ValueError:
                raise bad() from None
        return tuple(p.strip("'\"") for p in parts)
    if base.startswith("dict"):
        try:
            out = yaml.safe_load(value)
        except yaml.YAMLError:
            raise bad() from None
        return out
    if kind == "yaml":
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


def _normalize(key: str, value: Any, cls: type | None = None) -> Any:
    """A non-text value of the right kind: lists for tuple settings become tuples."""
    if isinstance(value, list) and _kind_of(key, cls)[1].startswith("tuple["):
        return tuple(value)
    return value


def apply_overrides(cfg: RunConfig, overrides: dict[str, Any] | list[str], validate: bool = True) -> RunConfig:
    """Apply ``key=value`` overrides (``--set``) to a config; keys may be bare or dotted
    (``train.lr``, ``model.gcl_weight``, ``extra.n_factors``), or a model's old name for a
    setting (``edge_dropout`` for KGIN's ``node_dropout``).

    A key the run's model does not have (nor training nor the run) is refused, naming it and
    listing the valid ones. Text values are parsed into the setting's declared type; then the
    whole config is checked (:func:`validate_config`), so a bad value fails here, naming the
    setting, before any data is loaded or any run folder is made. The model itself
    and the dataset are chosen by :func:`cikgwb.models.make_config` (their defaults differ), not
    changed here."""
    if isinstance(overrides, list):
        pairs = {}
        for item in overrides:
            if "=" not in item:
                raise ConfigError(f"--set {item!r}: expected key=value")
            k, v = item.split("=", 1)
            if not k.strip():
                raise ConfigError(f"--set {item!r}: expected key=value (the key is empty)")
            pairs[k.strip()] = v
        overrides = pairs
    mcls = type(cfg.model)
    for key, value in overrides.items():
        k = key.split(".")[-1]
        if k == "model" and not key.startswith("train."):
            if value != cfg.model.model:
                why = (
                    f"unknown model {value!r}; known: {sorted(MODEL_CONFIGS)}"
                    if value not in MODEL_CONFIGS
                    else "choose the model with --model (make_config), its defaults differ"
                )
                raise ConfigError(f"setting model={value!r}: {why}")
            continue
        if k == "dataset" and key == "dataset" and value != cfg.dataset:
            raise ConfigError(
                f"setting dataset={value!r}: choose the dataset with --dataset (make_config), its defaults differ"
            )
        field_name = mcls.canonical(key) if not key.startswith("train.") else None
        if k in _RUN_KEYS and not key.startswith(("model.", "extra.", "train.")):
            new = value if not isinstance(value, str) or k != "name" else (value or None)
            setattr(cfg, k, new)
            cfg.source = None if k == "interests" else cfg.source  # resolved again (run_spec.resolve_config)
            continue
        if field_name is not None and not key.startswith("train."):
            target, k = cfg.model, field_name
        elif k in _TRAIN_KEYS and not key.startswith(("model.", "extra.")):
            target = cfg.train
        else:
            raise ConfigError(
                f"unknown setting {key!r}; known: {setting_keys(mcls)} "
                f"(the settings of {cfg.model.model or 'the model'}, training and the run)"
            )
        cls = mcls if target is cfg.model else TrainConfig
        new = _coerce(value, getattr(target, k), k, cls) if isinstance(value, str) else _normalize(k, value, cls)
        setattr(target, k, new)
    if validate:
        validate_config(cfg)
    return cfg


# ----------------------------------------------------------------------------- validation
#: allowed values of the settings that are names
CHOICES: dict[str, tuple[str, ...]] = {
    "schedule": ("exp", "lin", "fixed"),
    "views": ("paper", "authors"),
    "protocol": ("valid", "users", "authors"),
    "precision": ("fp32", "bf16"),  # cikgwb.models.losses.PRECISIONS
}
#: ranges: (low, low inclusive, high, high inclusive); None: unbounded on that side
RANGES: dict[str, tuple[float | None, bool, float | None, bool]] = {
    # model settings several models share (a model adds its own in its Config's RANGES)
    "dim": (1, True, None, False),
    "n_layers": (0, True, None, False),
    "l2_reg": (0, True, None, False),
    "cf_weight": (0, True, None, False),
    "interest_recon_weight": (0, True, None, False),
    "gcl_weight": (0, True, None, False),
    "gcl_temp": (0, False, None, False),
    "noise_eps": (0, True, None, False),
    "edge_dropout": (0, True, 1, False),
    "node_dropout": (0, True, 1, False),
    "message_dropout": (0, True, 1, False),
    "mask_alpha": (0, False, 1, True),
    "mask_omega": (0, False, 1, True),
    "mask_lambda": (0, False, None, False),
    "uir_enc_layers": (0, True, None, False),
    "uir_dec_layers": (0, True, None, False),
    "replace_rate": (0, True, 1, True),
    "uir_edge_drop": (0, True, 1, False),
    "sce_eta": (0, False, None, False),
    "lr_kg": (0, False, None, False),
    "l2_reg_kge": (0, True, None, False),
    "kg_batch_size": (1, True, None, False),
    # train
    "lr": (0, False, None, False),
    "batch_size": (1, True, None, False),
    "max_epochs": (1, True, None, False),
    "patience": (1, True, None, False),
    "eval_batch_size": (1, True, None, False),
    "seed": (0, True, 2**32 - 1, True),
    "split_seed": (0, True, 2**32 - 1, True),
    "max_minutes": (0, False, None, False),
    "min_epochs": (0, True, None, False),
    "plateau_epochs": (0, True, None, False),
    "eval_every": (1, True, None, False),
    "checkpoint_every": (1, True, None, False),
}
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
# the metrics evaluate() computes (cikgwb.evaluate.METRICS), without importing torch here
SELECTION_METRICS = ("recall", "ndcg", "precision", "hit")


def _range_text(lo: float | None, lo_in: bool, hi: float | None, hi_in: bool) -> str:
    def num(x: float) -> str:
        return str(x) if isinstance(x, int) else f"{x:g}"

    if hi is None:
        return f"{'>=' if lo_in else '>'} {num(lo)}"
    if lo is None:
        return f"{'<=' if hi_in else '<'} {num(hi)}"
    return f"in {'[' if lo_in else '('}{num(lo)}, {num(hi)}{']' if hi_in else ')'}"


def _type_ok(kind: str, v: Any) -> bool:
    if v is None:
        return kind.endswith("| None")
    base = kind.replace(" | None", "")
    if base == "bool":
        return isinstance(v, bool)
    if base == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if base == "float":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if base == "str":
        return isinstance(v, str)
    if base == "tuple[int, ...]":
        return isinstance(v, tuple) and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
    if base == "tuple[str, ...]":
        return isinstance(v, tuple) and all(isinstance(x, str) for x in v)
    if base.startswith("dict"):
        return isinstance(v, dict)
    return True  # a type this check does not know (a newer field): left to its user


def config_problems(cfg: RunConfig) -> list[str]:
    """Every problem of ``cfg``: types, ranges, names and the settings that depend on each other."""
    probs: list[str] = []
    values: list[tuple[str, str, Any]] = []
    for key in ("dataset", "interests", "name"):
        values.append((key, _field_kind(RunConfig, key), getattr(cfg, key)))
    mcls = type(cfg.model)
    for obj, cls in ((cfg.model, mcls), (cfg.train, TrainConfig)):
        for f in fields(cls):
            values.append((f.name, _field_kind(cls, f.name), getattr(obj, f.name)))
    ranges, choices = {**RANGES, **mcls.RANGES}, {**CHOICES, **mcls.CHOICES}
    typed_ok = set()
    for key, kind, v in values:
        if not _type_ok(kind, v):
            probs.append(f"setting {key}={v!r}: expected {_expected(kind)}")
            continue
        typed_ok.add(key)
        if isinstance(v, float) and not math.isfinite(v):
            probs.append(f"setting {key}={v!r}: expected a finite number")
            continue
        if key in ranges and v is not None:  # a tuple setting's range holds for each value, of which it has one or more
            lo, lo_in, hi, hi_in = ranges[key]
            if (not v if isinstance(v, tuple) else False) or any(
                (lo is not None and (x < lo or (x == lo and not lo_in)))
                or (hi is not None and (x > hi or (x == hi and not hi_in)))
                for x in (v if isinstance(v, tuple) else (v,))
            ):
                what = _expected(kind).replace("a number", "a value")
                if isinstance(v, tuple):
                    what = f"{what.split(' (')[0]}, at least one, each"
                probs.append(f"setting {key}={v!r}: expected {what} {_range_text(lo, lo_in, hi, hi_in)}")
        if key in choices and v not in choices[key]:
            probs.append(f"setting {key}={v!r}: expected one of {', '.join(choices[key])}")
    if "dataset" in typed_ok and not cfg.dataset.strip():
        probs.append("setting dataset='': expected a dataset name")
    if "model" in typed_ok:
        if not cfg.model.model.strip():
            probs.append("setting model='': expected a model name")
    if "device" in typed_ok and not _DEVICE.fullmatch(cfg.train.device):
        probs.append(f"setting device={cfg.train.device!r}: expected auto, cpu, cuda, cuda:N or mps")
    if (
        "name" in typed_ok
        and cfg.name is not None
        and (not cfg.name.strip() or "/" in cfg.name or "\\" in cfg.name or cfg.name in (".", ".."))
    ):
        probs.append(f"setting name={cfg.name!r}: expected a run folder name (no path separators)")
    ks_ok = "ks" in typed_ok
    if ks_ok:
        if not cfg.train.ks:
            probs.append("setting ks=(): expected at least one cutoff K (e.g. 20,50,100)")
            ks_ok = False
        elif any(k < 1 for k in cfg.train.ks):
            probs.append(f"setting ks={','.join(map(str, cfg.train.ks))}: expected positive integers")
            ks_ok = False
        elif len(set(cfg.train.ks)) != len(cfg.train.ks):
            probs.append(f"setting ks={','.join(map(str, cfg.train.ks))}: expected distinct cutoffs")
    if "selection" in typed_ok:
        sel = cfg.train.selection
        valid = [f"{m}@{k}" for m in SELECTION_METRICS for k in (sorted(cfg.train.ks) if ks_ok else [])]
        if not sel:
            probs.append("setting selection=(): expected at least one metric (e.g. recall@50,ndcg@50)")
        for m in sel:
            if ks_ok and m not in valid:
                probs.append(
                    f"setting selection={','.join(sel)}: {m!r} is not a computed metric; expected "
                    f"metric@K with metric in {', '.join(SELECTION_METRICS)} and K in ks="
                    f"{','.join(map(str, cfg.train.ks))}"
                )
                break
    if {"max_epochs", "eval_every"} <= typed_ok and cfg.train.eval_every > cfg.train.max_epochs > 0:
        probs.append(
            f"setting eval_every={cfg.train.eval_every}: expected <= max_epochs={cfg.train.max_epochs} "
            "(otherwise no epoch is ever evaluated and no model is selected)"
        )
    return probs


def validate_config(cfg: RunConfig, check_model: bool = True) -> RunConfig:
    """Check every setting of ``cfg`` (type, range, allowed names, selection metrics among the
    computed metric@K with K in ``ks``, ...) and, with ``check_model``, that the model is
    registered. Raises :class:`ConfigError` (a ``ValueError``) with one line naming each bad
    setting and what was expected; returns ``cfg``."""
    probs = config_problems(cfg)
    name = cfg.model.model
    if check_model and isinstance(name, str) and name.strip():
        if name not in MODEL_CONFIGS:
            probs.append(f"setting model={name!r}: unknown model {name!r}; known: {sorted(MODEL_CONFIGS)}")
        elif type(cfg.model) is not MODEL_CONFIGS[name]:
            probs.append(
                f"setting model={name!r}: the settings are {type(cfg.model).__name__}'s, not "
                f"{MODEL_CONFIGS[name].__name__}'s (build the config with cikgwb.models.make_config)"
            )
    if probs:
        raise ConfigError("; ".join(probs))
    return cfg


def replace(cfg: RunConfig, **kw: Any) -> RunConfig:
    return dataclasses.replace(cfg, **kw)
