"""Settings for models and training, with the authors' per-dataset defaults (docs/method.md section 4)."""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml


@dataclass
class ModelConfig:
    """CIKGRec's settings. With every extra off and no KG / interests it is plain LightGCN."""

    model: str = "cikgrec"
    dim: int = 64
    n_layers: int = 3
    l2_reg: float = 1e-5
    cf_weight: float = 1.5               # lambda_1
    interest_recon_weight: float = 0.03  # lambda_2
    gcl_weight: float = 0.01             # lambda_3
    gcl_temp: float = 0.2                # tau
    noise_eps: float = 0.1               # SimGCL eps on view 1
    edge_dropout: float = 0.0
    message_dropout: float = 0.0
    self_loops: bool = True
    mask_alpha: float = 0.05             # alpha: start mask rate
    mask_omega: float = 0.75             # omega: cap
    mask_lambda: float = 150.0           # Lambda
    schedule: str = "exp"                # exp | lin | fixed (w/o DMR: fixed at alpha)
    uir_enc_layers: int = 2
    uir_dec_layers: int = 1
    replace_rate: float = 0.0
    uir_edge_drop: float = 0.0
    sce_eta: float = 2.0
    transe: bool = False
    lr_kg: float = 0.002
    l2_reg_kge: float = 1e-3
    kg_batch_size: int = 4096
    views: str = "paper"                 # paper | authors
    precision: str = "fp32"              # fp32 | bf16: the InfoNCE's matrix products (bf16 is an option, not the paper's maths)
    # switches for the paper's ablations
    use_kg: bool = True
    no_interests: bool = False           # w/o UIK
    no_uir: bool = False                 # w/o UIR
    no_cl: bool = False                  # w/o CL
    # baseline-specific options live here too (free-form)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainConfig:
    lr: float = 8e-4
    batch_size: int = 1024
    max_epochs: int = 2000
    patience: int = 10
    eval_batch_size: int = 1024
    selection: tuple[str, ...] = ("recall@50", "ndcg@50")
    ks: tuple[int, ...] = (20, 50, 100)
    protocol: str = "valid"              # valid | authors (selects on TEST: comparison only)
    seed: int = 0
    split_seed: int = 0
    device: str = "auto"
    max_minutes: float | None = None     # stop gracefully after this wall time
    min_epochs: int = 0                  # no early stop before this many epochs (0: the paper's protocol)
    eval_every: int = 1
    checkpoint_every: int = 1


@dataclass
class RunConfig:
    dataset: str = "synthetic"
    interests: str = "paper"             # paper | none | PATH to a user-interest graph
    name: str | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["train"]["selection"] = list(self.train.selection)
        d["train"]["ks"] = list(self.train.ks)
        return d

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_dict(cls, d: dict[str, Any], validate: bool = True) -> "RunConfig":
        """A config from its dict form (``config.yaml``); unknown keys and bad values raise
        :class:`ConfigError` naming the setting (:func:`validate_config`)."""
        if not isinstance(d, dict):
            raise ConfigError(f"a run config must be a mapping (dataset, interests, name, model, train), "
                              f"got {type(d).__name__}")
        d = dict(d)
        model_d, tr = d.pop("model", None) or {}, dict(d.pop("train", None) or {})
        for section, keys, got in (("model", _MODEL_KEYS, model_d), ("train", _TRAIN_KEYS, tr),
                                   ("", _RUN_KEYS, d)):
            if not isinstance(got, dict):
                raise ConfigError(f"config section {section!r}: expected a mapping, got {type(got).__name__}")
            unknown = sorted(set(got) - keys)
            if unknown:
                where = f"{section}." if section else ""
                raise ConfigError(f"unknown setting {where}{unknown[0]!r} in the config; known "
                                  f"{section or 'top-level'} settings: {sorted(keys)}")
        for k in ("selection", "ks"):
            if isinstance(tr.get(k), list):
                tr[k] = tuple(tr[k])
        cfg = cls(model=ModelConfig(**model_d), train=TrainConfig(**tr), **d)
        if validate:
            validate_config(cfg)
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        return cls.from_dict(yaml.safe_load(Path(path).read_text()))


AUTHORS_DEFAULTS: dict[str, dict[str, Any]] = {
    "book-crossing": dict(n_layers=4, lr=8e-4, l2_reg=5e-5, cf_weight=1.5, interest_recon_weight=0.03,
                          gcl_weight=0.01, gcl_temp=0.15, edge_dropout=0.1, message_dropout=0.0,
                          mask_alpha=0.05, mask_omega=0.65, mask_lambda=120, schedule="exp",
                          uir_enc_layers=3, uir_dec_layers=1, replace_rate=0.0, uir_edge_drop=0.0,
                          sce_eta=2.0, transe=False),
    "dbbook2014": dict(n_layers=3, lr=8e-4, l2_reg=1e-5, cf_weight=1.5, interest_recon_weight=0.03,
                       gcl_weight=0.01, gcl_temp=0.2, edge_dropout=0.0, message_dropout=0.0,
                       mask_alpha=0.05, mask_omega=0.75, mask_lambda=150, schedule="exp",
                       uir_enc_layers=2, uir_dec_layers=1, replace_rate=0.15, uir_edge_drop=0.2,
                       sce_eta=2.0, transe=True, lr_kg=0.002, l2_reg_kge=0.001),
    "ml1m": dict(n_layers=3, lr=5e-4, l2_reg=5e-5, cf_weight=1.8, interest_recon_weight=0.15,
                 gcl_weight=0.03, gcl_temp=0.2, edge_dropout=0.1, message_dropout=0.1,
                 mask_alpha=0.1, mask_omega=0.95, mask_lambda=80, schedule="exp",
                 uir_enc_layers=2, uir_dec_layers=1, replace_rate=0.0, uir_edge_drop=0.0,
                 sce_eta=3.0, transe=False),
    # the embedded default: small graph, short schedule so a quick run shows the mask rate move
    "synthetic": dict(n_layers=2, lr=5e-3, l2_reg=1e-4, cf_weight=1.5, interest_recon_weight=0.03,
                      gcl_weight=0.01, gcl_temp=0.2, edge_dropout=0.0, message_dropout=0.0,
                      mask_alpha=0.05, mask_omega=0.65, mask_lambda=30, schedule="exp",
                      uir_enc_layers=2, uir_dec_layers=1, replace_rate=0.0, uir_edge_drop=0.0,
                      sce_eta=2.0, transe=False),
}

_TRAIN_KEYS = {f.name for f in fields(TrainConfig)}
_MODEL_KEYS = {f.name for f in fields(ModelConfig)}
_RUN_KEYS = {"dataset", "interests", "name"}


class ConfigError(ValueError):
    """A setting has a bad type or value; the message names the setting and what was expected."""


def _field_kind(cls: type, name: str) -> str:
    """The declared type of a dataclass field as text (``int``, ``float | None``, ``tuple[int, ...]``)."""
    return str(next(f.type for f in fields(cls) if f.name == name)).replace("typing.", "")


def _kind_of(key: str) -> tuple[type | None, str]:
    if key in _MODEL_KEYS:
        return ModelConfig, _field_kind(ModelConfig, key)
    if key in _TRAIN_KEYS:
        return TrainConfig, _field_kind(TrainConfig, key)
    return RunConfig, _field_kind(RunConfig, key)


_WHAT = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
         "tuple[int, ...]": "comma-separated integers (e.g. 20,50,100)",
         "tuple[str, ...]": "comma-separated names (e.g. recall@50,ndcg@50)"}


def _expected(kind: str) -> str:
    base = kind.replace(" | None", "")
    what = _WHAT.get(base, base)
    return what + (" or none" if kind.endswith("| None") else "")


def _coerce(value: str, current: Any, key: str | None = None) -> Any:
    """Parse the text of a ``--set key=value`` into the setting's declared type (``key``; without
    it, the type of ``current``). A value that does not parse raises :class:`ConfigError`
    naming the setting and the expected type."""
    if key is not None:
        kind = _kind_of(key)[1]
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


def _normalize(key: str, value: Any) -> Any:
    """A non-text value of the right kind: lists for tuple settings become tuples."""
    if isinstance(value, list) and _kind_of(key)[1].startswith("tuple["):
        return tuple(value)
    return value


def apply_overrides(cfg: RunConfig, overrides: dict[str, Any] | list[str], validate: bool = True) -> RunConfig:
    """Apply ``key=value`` overrides (``--set``) to a config; keys may be bare or dotted.

    Text values are parsed into the setting's declared type; then the whole config is checked
    (:func:`validate_config`), so a bad value fails here, naming the setting, before any data
    is loaded or any run folder is made."""
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
    for key, value in overrides.items():
        k = key.split(".")[-1]
        if key.startswith("extra.") or key.startswith("model.extra."):
            cfg.model.extra[k] = yaml.safe_load(value) if isinstance(value, str) else value
            continue
        if k in _RUN_KEYS:
            target = cfg
        elif k in _MODEL_KEYS:
            target = cfg.model
        elif k in _TRAIN_KEYS:
            target = cfg.train
        else:
            raise ConfigError(f"unknown setting {key!r}; known: {sorted(_MODEL_KEYS | _TRAIN_KEYS | _RUN_KEYS)}")
        if k in _RUN_KEYS:
            new = value if not isinstance(value, str) or k != "name" else (value or None)
        else:
            new = _coerce(value, getattr(target, k), k) if isinstance(value, str) else _normalize(k, value)
        setattr(target, k, new)
    if validate:
        validate_config(cfg)
    return cfg


# ----------------------------------------------------------------------------- validation
#: allowed values of the settings that are names
CHOICES: dict[str, tuple[str, ...]] = {
    "schedule": ("exp", "lin", "fixed"),
    "views": ("paper", "authors"),
    "protocol": ("valid", "authors"),
    "precision": ("fp32", "bf16"),       # cikgwb.models.losses.PRECISIONS
}
#: ranges: (low, low inclusive, high, high inclusive); None: unbounded on that side
RANGES: dict[str, tuple[float | None, bool, float | None, bool]] = {
    # model
    "dim": (1, True, None, False), "n_layers": (0, True, None, False), "l2_reg": (0, True, None, False),
    "cf_weight": (0, True, None, False), "interest_recon_weight": (0, True, None, False),
    "gcl_weight": (0, True, None, False), "gcl_temp": (0, False, None, False),
    "noise_eps": (0, True, None, False), "edge_dropout": (0, True, 1, False),
    "message_dropout": (0, True, 1, False), "mask_alpha": (0, False, 1, True),
    "mask_omega": (0, False, 1, True), "mask_lambda": (0, False, None, False),
    "uir_enc_layers": (0, True, None, False), "uir_dec_layers": (0, True, None, False),
    "replace_rate": (0, True, 1, True), "uir_edge_drop": (0, True, 1, False),
    "sce_eta": (0, False, None, False), "lr_kg": (0, False, None, False),
    "l2_reg_kge": (0, True, None, False), "kg_batch_size": (1, True, None, False),
    # train
    "lr": (0, False, None, False), "batch_size": (1, True, None, False), "max_epochs": (1, True, None, False),
    "patience": (1, True, None, False), "eval_batch_size": (1, True, None, False),
    "seed": (0, True, 2**32 - 1, True), "split_seed": (0, True, 2**32 - 1, True),
    "max_minutes": (0, False, None, False), "min_epochs": (0, True, None, False),
    "eval_every": (1, True, None, False), "checkpoint_every": (1, True, None, False),
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
    for obj, cls in ((cfg.model, ModelConfig), (cfg.train, TrainConfig)):
        for f in fields(cls):
            values.append((f.name, _field_kind(cls, f.name), getattr(obj, f.name)))
    typed_ok = set()
    for key, kind, v in values:
        if not _type_ok(kind, v):
            probs.append(f"setting {key}={v!r}: expected {_expected(kind)}")
            continue
        typed_ok.add(key)
        if isinstance(v, float) and not math.isfinite(v):
            probs.append(f"setting {key}={v!r}: expected a finite number")
            continue
        if key in RANGES and v is not None:
            lo, lo_in, hi, hi_in = RANGES[key]
            if ((lo is not None and (v < lo or (v == lo and not lo_in)))
                    or (hi is not None and (v > hi or (v == hi and not hi_in)))):
                probs.append(f"setting {key}={v!r}: expected {_expected(kind).replace('a number', 'a value')} "
                             f"{_range_text(lo, lo_in, hi, hi_in)}")
        if key in CHOICES and v not in CHOICES[key]:
            probs.append(f"setting {key}={v!r}: expected one of {', '.join(CHOICES[key])}")
    if "dataset" in typed_ok and not cfg.dataset.strip():
        probs.append("setting dataset='': expected a dataset name")
    if "model" in typed_ok:
        if not cfg.model.model.strip():
            probs.append("setting model='': expected a model name")
    if "device" in typed_ok and not _DEVICE.fullmatch(cfg.train.device):
        probs.append(f"setting device={cfg.train.device!r}: expected auto, cpu, cuda, cuda:N or mps")
    if "name" in typed_ok and cfg.name is not None and (not cfg.name.strip() or "/" in cfg.name
                                                          or "\\" in cfg.name or cfg.name in (".", "..")):
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
                probs.append(f"setting selection={','.join(sel)}: {m!r} is not a computed metric; expected "
                             f"metric@K with metric in {', '.join(SELECTION_METRICS)} and K in ks="
                             f"{','.join(map(str, cfg.train.ks))}")
                break
    if {"max_epochs", "eval_every"} <= typed_ok and cfg.train.eval_every > cfg.train.max_epochs > 0:
        probs.append(f"setting eval_every={cfg.train.eval_every}: expected <= max_epochs={cfg.train.max_epochs} "
                     "(otherwise no epoch is ever evaluated and no model is selected)")
    if "extra" in typed_ok and any(not isinstance(k, str) for k in cfg.model.extra):
        probs.append(f"setting extra={cfg.model.extra!r}: expected names as keys")
    return probs


def validate_config(cfg: RunConfig, check_model: bool = True) -> RunConfig:
    """Check every setting of ``cfg`` (type, range, allowed names, selection metrics among the
    computed metric@K with K in ``ks``, ...) and, with ``check_model``, that the model is
    registered. Raises :class:`ConfigError` (a ``ValueError``) with one line naming each bad
    setting and what was expected; returns ``cfg``."""
    probs = config_problems(cfg)
    if check_model and isinstance(cfg.model.model, str) and cfg.model.model.strip():
        from .models import model_class
        try:
            model_class(cfg.model.model)
        except ValueError as exc:
            probs.append(f"setting model={cfg.model.model!r}: {str(exc).splitlines()[0]}")
    if probs:
        raise ConfigError("; ".join(probs))
    return cfg


# models that take the dataset's CIKGRec settings (LightGCN: with every extra off); every other
# model (a baseline) takes its class's DEFAULTS on top
DATASET_SETTINGS_MODELS = ("cikgrec", "lightgcn")


def default_config(dataset: str, model: str = "cikgrec", **overrides: Any) -> RunConfig:
    """The authors' hyper-parameters for ``dataset`` (synthetic: a quick configuration)."""
    cfg = RunConfig(dataset=dataset)
    cfg.model.model = model
    base = AUTHORS_DEFAULTS.get(dataset, AUTHORS_DEFAULTS["dbbook2014"])
    apply_overrides(cfg, dict(base))
    if dataset == "synthetic":
        cfg.train.max_epochs = 60
        cfg.train.patience = 10
    if model not in DATASET_SETTINGS_MODELS:
        # a baseline: extras of CIKGRec off; the model class's DEFAULTS (its paper's settings) on top
        from .models import model_class
        cls = model_class(model)
        cfg.model.no_uir, cfg.model.no_cl, cfg.model.transe = True, True, False
        apply_overrides(cfg, dict(getattr(cls, "DEFAULTS", {})))
    if model == "lightgcn":
        cfg.model.use_kg = False
        cfg.model.no_interests = True
        cfg.model.no_uir = True
        cfg.model.no_cl = True
        cfg.model.transe = False
        cfg.model.self_loops = False
        cfg.model.edge_dropout = 0.0
        cfg.model.message_dropout = 0.0
        cfg.model.cf_weight = 1.0
        if dataset != "synthetic":  # on synthetic: the quick configuration, as CIKGRec's in the demo
            from .models import model_class
            apply_overrides(cfg, dict(getattr(model_class(model), "DEFAULTS", {})))
    apply_overrides(cfg, overrides)
    return cfg


def replace(cfg: RunConfig, **kw: Any) -> RunConfig:
    return dataclasses.replace(cfg, **kw)
