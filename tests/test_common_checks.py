"""The common checks (issue 35), in the spirit of scikit-learn's ``check_estimator``: one battery
run over every registered model (:func:`cikgwb.models.model_names`), every registered LLM
backend (:data:`cikgwb.knowledge.backends.REGISTRY`) and :class:`cikgwb.config.TrainConfig`, so
that a newly registered model or backend is checked without a line added here.

Models: every setting of a model's ``Config`` changes what the model does (the one-step losses,
its second phase, its epoch info or its scores after two steps; each setting moved from its
synthetic default to another valid value, one at a time); the config round-trips through its
dict, YAML and ``--set key=value`` text forms; a value of the wrong type or out of the declared
range or choices is refused with one line naming the setting; one epoch on the synthetic
dataset writes its metrics. TrainConfig: every field is read by name in a run (reads by generic
code, ``asdict``, ``getattr`` loops, the validator, do not count); the same round-trips and
refusals. Backends: every constructor option changes the built backend, and the attribute
holding it is read by name in a call against a stub (the fake OpenAI server on 127.0.0.1, a
batch output file, the dataset) that gives parsed answers; the options round-trip through YAML;
a negative number is refused, naming the option.

What legitimately changes nothing is listed with its reason (:data:`NEEDS`, :data:`MODEL_SAME`,
:data:`OTHER`, :data:`BACKEND_UNREAD`); nothing else is skipped. Two checks of the checks show
that they fail on a setting nobody reads.
"""

from __future__ import annotations

import dataclasses
import dis
import math
import sys
from pathlib import Path
from typing import ClassVar

import pytest
import torch
import yaml

from cikgwb.config import CHOICES, RANGES, ConfigError, RunConfig, TrainConfig, validate_config
from cikgwb.knowledge.backends import backend_names, backend_options, make_backend
from cikgwb.knowledge.llm_server import LocalServerError
from cikgwb.models import build_model, make_config, model_entry, model_names

CPU = torch.device("cpu")
pytestmark = pytest.mark.usefixtures("one_thread")

# ----------------------------------------------------------------------------- models
#: settings made small so that each check takes milliseconds (the base of every comparison)
TINY = {
    "dim": 8,
    "kge_dim": 8,
    "relation_dim": 8,
    "layer_sizes": (8, 8),
    "kg_batch_size": 512,
    "mae_msize": 32,
    "ideal_rank": 16,
    "k": 20,
}
#: another valid value for a setting whose generic alternative (:func:`_other`) would be no test
OTHER: dict[str, object] = {
    "layer_sizes": (8, 4, 4),
    "entity_num_per_item": 2,  # synthetic's items have at most 5 KG neighbours: 10 -> 5 cuts none
    # training settings
    "ks": (10, 20, 50, 100),
    "selection": ("ndcg@50",),
    "device": "cpu",
    "max_minutes": 30.0,
}
#: (model, setting) -> settings that must hold for it to matter at all (each one with its reason)
NEEDS: dict[tuple[str, str], dict] = {
    # the pre-training's learning rate does nothing without pre-training epochs (off by default)
    ("kgat", "pretrain_mf_lr"): {"pretrain_mf_epochs": 1},
    # the alternating TransE phase's settings do nothing while that phase is off (off on synthetic)
    ("cikgrec", "lr_kg"): {"transe": True},
    ("cikgrec", "l2_reg_kge"): {"transe": True},
    ("cikgrec", "kg_batch_size"): {"transe": True},
}
#: (model, setting) -> why it changes nothing in these checks (none so far)
MODEL_SAME: dict[tuple[str, str], str] = {}


def _tiny(name: str):
    base = make_config(name, "synthetic")
    keys = type(base.model).setting_names()
    return dataclasses.replace(base.model, **{k: v for k, v in TINY.items() if k in keys})


def _valid(name: str, model_cfg=None, train_cfg=None) -> bool:
    """Whether the validator accepts model ``name``'s run with these model / training settings."""
    run = make_config(name, "synthetic")
    run.model = model_cfg or run.model
    run.train = train_cfg or run.train
    try:
        validate_config(run)
    except ConfigError:
        return False
    return True


def _other(name: str, cfg, key: str):
    """Another valid value of setting ``key`` of ``cfg`` (model ``name``'s settings or its
    training settings): the other switch position, the next choice, half (or double) a number,
    or the value in :data:`OTHER`."""
    v = getattr(cfg, key)
    mcls = type(cfg)
    choices = {**CHOICES, **getattr(mcls, "CHOICES", {})}.get(key)
    if key in OTHER:
        cands = [OTHER[key]]
    elif isinstance(v, bool):
        cands = [not v]
    elif choices:
        cands = [c for c in choices if c != v]
    elif isinstance(v, int):
        cands = [v // 2, v - 1, v * 2, v + 1]
    elif isinstance(v, float):
        cands = [v / 2, v * 2] if v else [0.1, 1.0]
    else:
        raise AssertionError(f"{name}.{key}={v!r}: no alternative value known; add one to OTHER")
    for c in cands:
        moved = dataclasses.replace(cfg, **{key: c})
        if c != v and _valid(name, *((None, moved) if isinstance(cfg, TrainConfig) else (moved,))):
            return c
    raise AssertionError(f"{name}.{key}={v!r}: none of {cands} is valid; add one to OTHER")


def _behaviour(name: str, ds, cfg) -> list:
    """What a model does: two training steps' loss terms (Adam between them), its second phase,
    its epoch info early and late in the schedule, and its scores of a few users; seeded."""
    torch.manual_seed(0)
    model = build_model(name, ds, cfg, ds.train, CPU)
    users = torch.as_tensor(ds.train[:128, 0])
    if getattr(model, "closed_form", False):
        return [model.score_fn()(users[:16])]
    gen = torch.Generator().manual_seed(0)
    pos = torch.as_tensor(ds.train[:128, 1])
    neg = torch.randint(0, ds.n_items, (128,), generator=gen)
    opt = torch.optim.Adam(model.main_parameters(), lr=0.01)
    out: list = []
    model.train()
    for epoch in (3, 40):  # early and late in a schedule (CIKGRec's mask rate)
        terms = model.loss(users, pos, neg, epoch)
        out.append({k: float(v.detach()) for k, v in terms.items()})
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        opt.step()
    out.append(model.after_epoch(3, gen))
    out.append([model.epoch_info(e) for e in (0, 3, 40, 400)])
    model.eval()
    out.append(model.score_fn()(users[:16]))
    return out


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(_same, a, b))
    return a == b or (isinstance(a, float) and math.isnan(a) and isinstance(b, float) and math.isnan(b))


def _inert_settings(name: str, ds) -> list[str]:
    """The settings of model ``name`` whose change (:func:`_other`, from the tiny base plus what
    :data:`NEEDS` says) changes nothing :func:`_behaviour` sees."""
    base = _tiny(name)
    assert _valid(name, base), f"{name}: the tiny base settings are not valid"
    before: dict[str, list] = {}
    inert = []
    for key in type(base).setting_names():
        if (name, key) in MODEL_SAME:
            continue
        start = dataclasses.replace(base, **NEEDS.get((name, key), {}))
        if repr(start) not in before:
            before[repr(start)] = _behaviour(name, ds, start)
        changed = dataclasses.replace(start, **{key: _other(name, start, key)})
        if _same(before[repr(start)], _behaviour(name, ds, changed)):
            inert.append(f"{key}: {getattr(start, key)!r} -> {getattr(changed, key)!r}")
    return inert


MODELS = model_names()


@pytest.mark.parametrize("name", MODELS)
def test_every_model_setting_changes_what_the_model_does(name, synthetic_ds):
    """A setting the model declares but never reads (or reads and ignores) fails here."""
    inert = _inert_settings(name, synthetic_ds)
    assert not inert, f"{name}: changing these settings changes nothing the model does: {inert}"


def test_the_setting_check_catches_a_setting_nobody_reads(synthetic_ds, monkeypatch):
    """The check above can fail: a toy model with a setting it never reads is caught."""
    import cikgwb.models as models
    from cikgwb.config import MODEL_CONFIGS, ModelConfig
    from cikgwb.models.base import Recommender
    from cikgwb.models.losses import bpr_loss

    @dataclasses.dataclass
    class ToyConfig(ModelConfig):
        dim: int = 8
        unread: float = 0.5

    class Toy(Recommender):
        def __init__(self, ds, cfg, train_pairs, device):
            super().__init__(ds, cfg, train_pairs, device)
            self.e = torch.nn.Parameter(torch.randn(ds.n_users + ds.n_items, cfg.dim))

        def user_item_embeddings(self):
            return self.e[: self.n_users], self.e[self.n_users :]

        def loss(self, users, pos, neg, epoch):
            zu, zi = self.user_item_embeddings()
            loss = bpr_loss(zu[users], zi[pos], zi[neg])
            return {"loss": loss}

    for reg in (models.MODELS, models.ENTRIES, MODEL_CONFIGS):
        monkeypatch.setitem(reg, "toy-unread", None)
    models.register("toy-unread", ToyConfig)(Toy)
    assert _inert_settings("toy-unread", synthetic_ds) == ["unread: 0.5 -> 0.25"]


def _bad_values(cfg, key: str) -> list:
    """Values of setting ``key`` the validator must refuse: one of the wrong type, and one out of
    its declared range or choices (where it declares one)."""
    v = getattr(cfg, key)
    mcls = type(cfg)
    bad: list = [3] if isinstance(v, str) else ["nonsense"] if not isinstance(v, bool) else ["maybe"]
    lo, lo_in, hi, hi_in = {**RANGES, **getattr(mcls, "RANGES", {})}.get(key, (None, True, None, True))
    num = type(v) if isinstance(v, (int, float)) else float  # max_minutes: none or a number
    if lo is not None:
        bad.append(num(lo - 1) if lo_in else num(lo))
    if hi is not None:
        bad.append(num(hi + 1) if hi_in else num(hi))
    if key in {**CHOICES, **getattr(mcls, "CHOICES", {})}:
        bad.append("nonsense")
    return bad


@pytest.mark.parametrize("name", MODELS)
def test_every_model_config_round_trips_and_refuses_bad_values_by_name(name):
    base = make_config(name, "synthetic")
    moved = make_config(name, "synthetic", {k: _other(name, base.model, k) for k in type(base.model).setting_names()})
    for cfg in (base, moved):
        d = cfg.to_dict()
        again = RunConfig.from_dict(yaml.safe_load(yaml.safe_dump(d, sort_keys=False)))
        assert again == cfg and again.to_dict() == d, name
        # every setting as the text of --set key=value gives the same value back
        texts = [f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in d["model"].items()]
        assert make_config(name, "synthetic", [t for t in texts if not t.startswith("model=")]).model == cfg.model
    for key in type(base.model).setting_names():
        for bad in _bad_values(base.model, key):
            for given in (bad, str(bad)):
                with pytest.raises(ConfigError) as err:
                    make_config(name, "synthetic", {key: given})
                msg = str(err.value)
                assert "\n" not in msg and f"setting {key}=" in msg, (name, key, given, msg)


@pytest.mark.parametrize("name", MODELS)
def test_every_model_trains_one_synthetic_epoch_and_writes_its_metrics(name, synthetic_ds, tmp_path):
    import json

    from cikgwb.runs import run

    cfg = make_config(name, "synthetic", {"max_epochs": 1, "batch_size": 512, "eval_batch_size": 4096, "device": "cpu"})
    cfg.model = _tiny(name)
    res = run(cfg, synthetic_ds, run_dir=tmp_path / "run", progress=False)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["model"] == name and metrics["test"] == res.metrics["test"], name
    assert all(0 <= metrics["test"][f"recall@{k}"] <= 1 for k in cfg.train.ks), metrics["test"]
    assert len(res.history) == 1 and ("loss" in res.history[0]) != getattr(model_entry(name).cls, "closed_form", False)


# ----------------------------------------------------------------------------- TrainConfig
class _ReadTrainConfig(TrainConfig):
    """A TrainConfig that records the fields code reads by name (``tc.lr``); reads by generic
    code (``getattr(tc, k)`` in a loop, ``asdict``, the validator in ``cikgwb/config.py``) do not
    count: they copy or check a setting, they do not use it."""

    reads: ClassVar[set[str]] = set()

    def __getattribute__(self, name: str):
        f = sys._getframe(1)
        by_name = dis.opname[f.f_code.co_code[f.f_lasti]] in ("LOAD_ATTR", "LOAD_METHOD")
        generic = f.f_code.co_filename.endswith(("config.py", "dataclasses.py", "copy.py"))
        if by_name and (not generic or f.f_code.co_name in vars(TrainConfig)):
            _ReadTrainConfig.reads.add(name)
        return object.__getattribute__(self, name)


def test_every_train_setting_is_read_by_a_run(synthetic_ds, tmp_path):
    """A gradient run (lr so small that the second evaluation does not improve: the early-stop
    rule is asked) and a closed-form run on the users protocol read every field of TrainConfig."""
    from cikgwb.runs import run

    _ReadTrainConfig.reads.clear()
    for model, protocol in (("lightgcn", "valid"), ("ease", "users")):
        over = {"max_epochs": 3, "patience": 1, "lr": 1e-12, "batch_size": 2048, "device": "cpu"}
        cfg = make_config(model, "synthetic", over)
        cfg.model = _tiny(model)
        cfg.train = _ReadTrainConfig(**{**dataclasses.asdict(cfg.train), "protocol": protocol})
        run(cfg, synthetic_ds, run_dir=tmp_path / model, progress=False)
    unread = sorted({f.name for f in dataclasses.fields(TrainConfig)} - _ReadTrainConfig.reads)
    assert not unread, f"TrainConfig fields that no run reads: {unread}"


def test_the_train_read_check_counts_reads_by_name_only():
    """The check above can fail: a field only copied by generic code is not a read."""
    tc = _ReadTrainConfig()
    _ReadTrainConfig.reads.clear()
    dataclasses.asdict(tc)
    copied = {k: getattr(tc, k) for k in ("lr", "patience")}
    assert copied and _ReadTrainConfig.reads == set()
    assert tc.patience == 10 and tc.floor_epochs(0) == 0
    assert _ReadTrainConfig.reads == {"patience", "floor_epochs", "min_epochs", "plateau_epochs", "eval_every"}


def test_train_config_round_trips_and_refuses_bad_values_by_name():
    base = make_config("lightgcn", "synthetic")
    keys = [f.name for f in dataclasses.fields(TrainConfig)]
    moved = {k: _other("lightgcn", base.train, k) for k in keys}
    moved["selection"] = ("ndcg@10",)  # with the moved ks
    cfg = make_config("lightgcn", "synthetic", moved)
    assert all(getattr(cfg.train, k) != getattr(base.train, k) for k in keys)
    for c in (base, cfg):
        d = c.to_dict()
        assert RunConfig.from_dict(yaml.safe_load(yaml.safe_dump(d, sort_keys=False))) == c
        texts = [f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in d["train"].items()]
        assert make_config("lightgcn", "synthetic", texts).train == c.train
    for key in keys:
        for bad in _bad_values(base.train, key):
            for given in (bad, str(bad)):
                with pytest.raises(ConfigError) as err:
                    make_config("lightgcn", "synthetic", {key: given})
                msg = str(err.value)
                assert "\n" not in msg and f"setting {key}=" in msg, (key, given, msg)


# ----------------------------------------------------------------------------- LLM backends
class _Hook:
    """A code hook given as an option (a client, a health check, a sleep): callable, recognised
    in a backend's state (:func:`_state`)."""

    def __call__(self, *args, **kwargs):
        return None


#: another valid value per backend option (a new option without one fails the battery)
BACKEND_OTHER: dict[str, object] = {
    "model": "other-model",
    "base_url": "http://127.0.0.1:9/v2",
    "api_key": "sk-other",
    "concurrency": 3,
    "timeout": 7.0,
    "max_attempts": 2,
    "backoff_initial": 0.5,
    "backoff_max": 5.0,
    "progress": True,
    "client": _Hook(),
    "health": _Hook(),
    "sleep": _Hook(),
    "dead_after": 1.0,
    "state_path": "other-state.json",
    "poll_interval": 1.0,
    "max_rounds": 2,
    "max_requests": 10,
    "max_bytes": 100_000,
    "completion_window": "1h",
    "path": "other.jsonl",
    "threads": 2,
    "parallel": 2,
    "port": 18_000,
    "n_ctx": 1024,
    "log_dir": "logs",
    "max_phrases": 3,
    "max_df": 0.9,
}
#: (backend, option) -> another valid value where the one above does not fit that backend
BACKEND_OTHER_OF: dict[tuple[str, str], object] = {("local", "model"): "other.gguf"}
#: (backend, option) -> why a call that succeeds does not read it (covered where named)
BACKEND_UNREAD: dict[tuple[str, str], str] = {
    ("chat", "dead_after"): "read only when a server that had answered refuses connections (tests/test_llm_chat.py)",
}
#: backend options that are code hooks, not settings a YAML file can hold
HOOKS = ("client", "health", "sleep")


def _state(x, depth: int = 0):
    """A comparable snapshot of a backend: plain values, containers, and the fields of this
    package's objects (three levels down); a :class:`_Hook` as itself, other objects by type."""
    if x is None or isinstance(x, (bool, int, float, str, Path)):
        return x
    if isinstance(x, _Hook):
        return "hook"
    if isinstance(x, (list, tuple)):
        return [_state(v, depth) for v in x]
    if isinstance(x, dict):
        return {k: _state(v, depth) for k, v in x.items()}
    if type(x).__module__.startswith("cikgwb") and depth < 3 and hasattr(x, "__dict__"):
        return {k: _state(v, depth + 1) for k, v in vars(x).items()}
    return type(x).__qualname__


def _backend_base(name: str, tmp_path, url: str) -> dict:
    """The options of a backend for a call against the stubs: the fake OpenAI server on
    127.0.0.1 (``url``), a batch output file, a fake GGUF file."""
    import json

    from fake_openai import completion

    out = tmp_path / "vllm-output.jsonl"
    body = {"model": "fake-model", "messages": []}
    lines = [
        {"custom_id": str(u), "response": {"status_code": 200, "body": completion(body, "history, travel", u)}}
        for u in range(10)
    ]
    out.write_text("".join(json.dumps(x) + "\n" for x in lines))
    gguf = tmp_path / "fake.gguf"
    gguf.write_bytes(b"GGUF" + bytes(64))
    llm = {"model": "fake-model", "base_url": url, "api_key": "sk-test", "progress": False}
    base = {
        "chat": {**llm, "backoff_initial": 0.01, "backoff_max": 0.01},
        "batch": {**llm, "state_path": str(tmp_path / "state.json"), "poll_interval": 0.0},
        "vllm-batch": {"path": str(out), "model": "fake-model"},
        "local": {"model": str(gguf), "progress": False},
        "kg-summary": {},
    }
    return dict(base.get(name, {}))


def _stub_local_group(backend, url: str) -> None:
    """The local backend's llama.cpp servers replaced by the fake server at ``url``."""
    from types import SimpleNamespace

    g = backend.group
    backend.group = SimpleNamespace(
        start=lambda: None,
        stop=lambda: None,
        servers=[SimpleNamespace(base_url=url, log_path=None)],
        base_urls=[url],
        alias=g.alias,
        death_note=lambda: None,
        provenance=lambda: {"model alias": g.alias},
    )


class _ReadsOf:
    """Records the attributes of a backend that code reads by name (as :class:`_ReadTrainConfig`)."""

    @staticmethod
    def watch(backend) -> set[str]:
        reads: set[str] = set()
        cls = type(backend)

        def getattribute(self, name):
            f = sys._getframe(1)
            if dis.opname[f.f_code.co_code[f.f_lasti]] in ("LOAD_ATTR", "LOAD_METHOD"):
                reads.add(name)
            return object.__getattribute__(self, name)

        backend.__class__ = type(cls.__name__, (cls,), {"__getattribute__": getattribute})
        return reads


def _call(name: str, backend, tmp_path, url: str):
    """One ``infer_interests`` call with ``backend`` on the tiny dataset: its answers table."""
    from llm_data import tiny_dataset

    from cikgwb.knowledge.infer import infer_interests

    if name == "local":
        _stub_local_group(backend, url)
    return infer_interests(
        tiny_dataset(),
        backend,
        run_dir=tmp_path / f"run-{name}",
        template="few-shot-small",
        max_tokens=16,
        progress=False,
    )


BACKENDS = backend_names()


@pytest.fixture
def fake_llm():
    from fake_openai import FakeOpenAI

    with FakeOpenAI(faults=[("500",)], batch_polls=2) as fake:  # one retry: the retry path runs
        yield fake


@pytest.mark.parametrize("name", BACKENDS)
def test_every_backend_answers_a_stub_call_with_parsed_answers_and_reads_every_option(name, tmp_path, fake_llm):
    """Each option changes the built backend, and what holds it is read by a call (a call that
    succeeds against the stubs: the fake OpenAI server on 127.0.0.1, a file, the dataset)."""
    url = fake_llm.base_url
    base = _backend_base(name, tmp_path, url)
    be = make_backend(name, **base)
    reads = _ReadsOf.watch(be)
    df = _call(name, be, tmp_path, url)
    ok = df[df.reason == "ok"]
    assert len(ok) >= 4 and all(len(p) > 0 for p in ok.phrases), df
    if be.is_llm:  # the user without a titled item is not asked
        assert (df.reason == "no-history").sum() >= 1, df
    ref = _state(make_backend(name, **base))
    unread = []
    for opt in backend_options(name):
        assert opt in BACKEND_OTHER, f"backend {name}: option {opt!r} has no other value in BACKEND_OTHER"
        other = BACKEND_OTHER_OF.get((name, opt), BACKEND_OTHER[opt])
        if isinstance(other, str) and other.endswith((".json", ".jsonl", ".gguf", "logs")):
            other = str(tmp_path / other)  # a file of this test
            if other.endswith((".jsonl", ".gguf")):
                Path(other).write_bytes(Path(base[opt]).read_bytes())
        moved = _state(make_backend(name, **{**base, opt: other}))
        assert moved != ref, f"backend {name}: option {opt}={other!r} changes nothing in the built backend"
        holders = {k for k in moved if moved.get(k) != ref.get(k)}
        if not holders & reads and (name, opt) not in BACKEND_UNREAD:
            unread.append(f"{opt} (held in {sorted(holders)})")
    assert not unread, f"backend {name}: a call never reads these options: {unread}"


@pytest.mark.parametrize("name", BACKENDS)
def test_every_backend_options_round_trip_and_refuse_bad_values_by_name(name, tmp_path):
    """Its options (every one, the code hooks aside) written to YAML and read back build the same
    backend; a negative number for a numeric option is refused with one line naming it."""
    import inspect

    base = _backend_base(name, tmp_path, "http://127.0.0.1:9/v1")
    opts = {
        k: str(v) if isinstance(v, Path) else v
        for k, v in {**backend_options(name), **base}.items()
        if k not in HOOKS and v is not inspect.Parameter.empty
    }
    again = yaml.safe_load(yaml.safe_dump(opts))
    assert again == opts and _state(make_backend(name, **again)) == _state(make_backend(name, **opts)), name
    for k, v in backend_options(name).items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            with pytest.raises((ValueError, LocalServerError)) as err:  # the CLI's one-line errors
                make_backend(name, **{**base, k: -1})
            assert k in str(err.value) and "\n" not in str(err.value), (name, k, str(err.value))
