"""Settings for models and training, with the authors' per-dataset defaults (method.md section 4)."""
from __future__ import annotations

import dataclasses
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
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        d = dict(d)
        model = ModelConfig(**d.pop("model", {}))
        tr = dict(d.pop("train", {}))
        for k in ("selection", "ks"):
            if k in tr:
                tr[k] = tuple(tr[k])
        return cls(model=model, train=TrainConfig(**tr), **d)

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


def _coerce(value: str, current: Any) -> Any:
    if isinstance(current, bool):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true/false, got {value!r}")
    if isinstance(current, int) and not isinstance(current, bool):
        return int(value)
    if isinstance(current, float):
        return float(value)
    if isinstance(current, tuple):
        return tuple(v.strip() for v in value.split(","))
    if current is None:
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


def apply_overrides(cfg: RunConfig, overrides: dict[str, Any] | list[str]) -> RunConfig:
    """Apply ``key=value`` overrides (``--set``) to a config; keys may be bare or dotted."""
    if isinstance(overrides, list):
        pairs = {}
        for item in overrides:
            if "=" not in item:
                raise ValueError(f"--set {item!r}: expected key=value")
            k, v = item.split("=", 1)
            pairs[k.strip()] = v
        overrides = pairs
    for key, value in overrides.items():
        k = key.split(".")[-1]
        if key.startswith("extra.") or key.startswith("model.extra."):
            cfg.model.extra[k] = yaml.safe_load(value) if isinstance(value, str) else value
            continue
        if k in _RUN_KEYS:
            setattr(cfg, k, value)
        elif k in _MODEL_KEYS:
            target = cfg.model
        elif k in _TRAIN_KEYS:
            target = cfg.train
        else:
            raise ValueError(f"unknown setting {key!r}; known: {sorted(_MODEL_KEYS | _TRAIN_KEYS | _RUN_KEYS)}")
        if k not in _RUN_KEYS:
            cur = getattr(target, k)
            setattr(target, k, _coerce(value, cur) if isinstance(value, str) else value)
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
