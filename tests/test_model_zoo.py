"""A config per model with one resolver (issue 19 item 1): adding a model is one file; unknown
datasets, models and settings fail before any data is loaded; each model's config holds only
what the model reads; the old flat configs of committed runs still load and compare."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

import cikgwb.models as models
from cikgwb.config import MODEL_CONFIGS, ConfigError, RunConfig
from cikgwb.models import default_config, load_config, make_config, model_names

REPO = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")

pytestmark = pytest.mark.usefixtures("one_thread")

# ----------------------------------------------------------------------------- a new model, one file
TOY = '''
"""A toy matrix factorisation, to show that a model is one file.

    score(u, i) = e_u . e_i
    L = mean -ln sigma(score(u, i) - score(u, i')) + l2_reg (|e_u|^2 + |e_i|^2 + |e_i'|^2) / 2 / B
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config import ModelConfig
from . import register
from .base import Recommender
from .losses import bpr_loss, l2_batch


@dataclass
class Config(ModelConfig):
    dim: int = 16            # embedding size
    l2_reg: float = 1e-4     # L2 weight on the batch's embeddings


@register("toymf", Config, train={"lr": 1e-2}, datasets={"synthetic": {"dim": 8}})
class ToyMF(Recommender):
    def __init__(self, ds, cfg: Config, train_pairs, device):
        super().__init__(ds, cfg, train_pairs, device)
        self.user = nn.Parameter(nn.init.xavier_uniform_(torch.empty(ds.n_users, cfg.dim)))
        self.item = nn.Parameter(nn.init.xavier_uniform_(torch.empty(ds.n_items, cfg.dim)))
        self.to(device)

    def user_item_embeddings(self):
        return self.user, self.item

    def loss(self, users, pos, neg, epoch):
        u, i, j = self.user[users], self.item[pos], self.item[neg]
        loss = bpr_loss(u, i, j) + self.cfg.l2_reg * l2_batch(u, i, j)
        return {"loss": loss, "loss_rec": loss}
'''


@pytest.fixture
def toy_model(tmp_path, monkeypatch):
    """``toymf.py`` dropped into the models package (a second folder on its path), as a new
    model file in ``cikgwb/models/`` is; unregistered afterwards."""
    folder = tmp_path / "more_models"
    folder.mkdir()
    (folder / "toymf.py").write_text(TOY)
    monkeypatch.setattr(models, "__path__", [*models.__path__, str(folder)])
    yield "toymf"
    for reg in (models.MODELS, models.ENTRIES, MODEL_CONFIGS):
        reg.pop("toymf", None)
    sys.modules.pop("cikgwb.models.toymf", None)


def test_a_model_is_one_file_and_trains_through_cikgwb_train(toy_model, tmp_path, monkeypatch, synthetic_dir):
    assert toy_model in model_names()  # found like any model file of the package
    cfg = make_config(toy_model, "synthetic")
    # overall (synthetic's short schedule) -> model (its lr) -> dataset (dim 8 on synthetic)
    assert (cfg.train.max_epochs, cfg.train.lr, cfg.model.dim, cfg.model.l2_reg) == (60, 1e-2, 8, 1e-4)
    assert make_config(toy_model, "book-crossing").model.dim == 16
    monkeypatch.setenv("CIKGWB_DATA_DIR", str(synthetic_dir))
    monkeypatch.setenv("CIKGWB_REPORTS_DIR", str(tmp_path / "reports"))
    from cikgwb.cli import main

    assert (
        main(
            [
                "train",
                "--dataset",
                "synthetic",
                "--model",
                toy_model,
                "--quiet",
                "--device",
                "cpu",
                "--set",
                "max_epochs=2",
                "--set",
                "l2_reg=0.001",
                "--name",
                "toy",
            ]
        )
        == 0
    )
    run = tmp_path / "reports" / "runs" / "toy-s0"
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"] == {"model": "toymf", "dim": 8, "l2_reg": 0.001}  # what the model reads, nothing else
    assert saved["train"]["lr"] == 1e-2
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"] == "toymf" and metrics["epochs_run"] == 2
    assert metrics["interests"].startswith("none (toymf reads no interest graph")
    assert load_config(run / "config.yaml").to_dict() == saved
    with pytest.raises(ConfigError, match=r"unknown setting 'n_layers'; known: \[.*'dim'.*settings of toymf"):
        make_config(toy_model, "synthetic", ["n_layers=2"])


def test_register_refuses_a_setting_its_config_lacks():
    @dataclasses.dataclass
    class C(models.ModelConfig):
        dim: int = 4

    with pytest.raises(TypeError, match=r"datasets\['synthetic'\] sets 'n_layer'"):
        models.register("bad", C, datasets={"synthetic": {"n_layer": 2}})(type("Bad", (), {}))
    with pytest.raises(TypeError, match="must be a ModelConfig dataclass"):
        models.register("bad", dict)
    assert "bad" not in models.MODELS


# ----------------------------------------------------------------------------- at the door
@pytest.mark.parametrize(
    "argv,pattern",
    [
        (
            ["--dataset", "book-crosing"],
            r"unknown dataset 'book-crosing'; known datasets: book-crossing, dbbook2014, ml1m",
        ),
        (["--model", "kgni"], r"setting model='kgni': unknown model 'kgni'; known: \['cfkg', 'cikgrec', .*'kgin'"),
        (
            ["--model", "kgin", "--set", "mask_alpha=0.1"],
            r"unknown setting 'mask_alpha'; known: \[.*'n_factors'.*'node_dropout'.*\] \(the settings of kgin",
        ),
        (["--model", "kgat", "--set", "n_layers=4"], r"unknown setting 'n_layers'; known: \[.*'layer_sizes'"),
    ],
)
def test_unknown_dataset_model_or_setting_fails_before_data(argv, pattern, tmp_path, monkeypatch, capsys):
    import cikgwb.data
    from cikgwb.cli import main

    def no_data(*a, **k):
        raise AssertionError("data loaded before the settings were checked")

    monkeypatch.setattr(cikgwb.data, "load_dataset", no_data)
    monkeypatch.setenv("CIKGWB_REPORTS_DIR", str(tmp_path))
    assert main(["train", "--quiet", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cikgwb train: error: ") and "\n" not in err, err
    assert re.search(pattern, err), err
    assert not (tmp_path / "runs").exists()


def test_make_config_merges_overall_model_dataset_then_overrides():
    # LightGCN: model layer lr 1e-3 and 3 layers; its synthetic overrides 5e-3 and 2; synthetic's own schedule
    real, syn = make_config("lightgcn", "dbbook2014"), make_config("lightgcn", "synthetic")
    assert (real.train.lr, real.model.n_layers, real.train.max_epochs) == (1e-3, 3, 2000)
    assert (syn.train.lr, syn.model.n_layers, syn.train.max_epochs, syn.train.patience) == (5e-3, 2, 60, 10)
    over = make_config("lightgcn", "synthetic", {"lr": 0.01, "max_epochs": 3})
    assert (over.train.lr, over.train.max_epochs, over.model.n_layers) == (0.01, 3, 2)
    # CIKGRec's authors' settings per dataset live beside the model (cikgwb/models/cikgrec.py)
    from cikgwb.models.cikgrec import DATASETS

    bc = make_config("cikgrec", "book-crossing")
    assert all(
        getattr(bc.model, k, None) == v or getattr(bc.train, k, None) == v for k, v in DATASETS["book-crossing"].items()
    )
    # old names and the old extra.* keys still set the renamed / former free-form settings
    kgin = make_config("kgin", "book-crossing", ["edge_dropout=0.3", "extra.n_factors=2"])
    assert (kgin.model.node_dropout, kgin.model.n_factors) == (0.3, 2)
    with pytest.raises(ConfigError, match=r"setting model='kgin': choose the model with --model"):
        make_config("cikgrec", "synthetic", ["model=kgin"])
    with pytest.raises(ConfigError, match=r"setting dataset='ml1m': choose the dataset with --dataset"):
        make_config("cikgrec", "synthetic", ["dataset=ml1m"])


def test_config_module_imports_no_model():
    code = "import sys, cikgwb.config; print(sorted(m for m in sys.modules if m.startswith('cikgwb')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "['cikgwb', 'cikgwb.config']"


def test_sweep_grid_keys_are_the_models():
    from cikgwb.sweep import SweepSpec

    SweepSpec(name="s", grid={"n_factors": [2, 4], "lr": [1e-3]}, model="kgin", dataset="book-crossing")
    with pytest.raises(ValueError, match=r"--grid 'alpha': not a setting of kgin; expected one of its config keys"):
        SweepSpec(name="s", grid={"alpha": [0.1]}, model="kgin")
    with pytest.raises(ValueError, match=r"n_factors=1.5: n_factors takes an integer"):
        SweepSpec(name="s", grid={"n_factors": [1.5]}, model="kgin")


# ----------------------------------------------------------------------------- only what is read
#: settings read only in a configuration other than the default (switches are flipped one by one)
MORE = {"kgat": [{"pretrain_mf_epochs": 1}], "cikgrec": [{"replace_rate": 0.2, "uir_edge_drop": 0.1}]}


def _tracked(cfg, read: set[str]):
    class Tracked(type(cfg)):
        def __getattribute__(self, name):
            if not name.startswith("_"):
                read.add(name)
            return object.__getattribute__(self, name)

    return Tracked(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)})


@pytest.mark.parametrize(
    "name", ["cikgrec", "lightgcn", "cfkg", "cke", "kgat", "kgcl", "kgin", "kgrec", "mcclk", "sgl", "simgcl"]
)
def test_each_setting_of_a_model_is_read_by_it(name, synthetic_ds):
    """config.yaml records only what the model reads: every setting of the model's Config is read
    while the model is built, trains one batch and one epoch's extra phase, and scores."""
    ds = synthetic_ds
    base = make_config(name, "synthetic").model
    variants = (
        [{}]
        + [
            {f.name: not getattr(base, f.name)}
            for f in dataclasses.fields(base)
            if isinstance(getattr(base, f.name), bool)
        ]
        + MORE.get(name, [])
    )
    read: set[str] = set()
    gen = torch.Generator().manual_seed(0)
    users, pos = torch.as_tensor(ds.train[:64, 0]), torch.as_tensor(ds.train[:64, 1])
    neg = torch.randint(0, ds.n_items, (64,), generator=gen)
    for v in variants:
        cfg = dataclasses.replace(base, **v)
        torch.manual_seed(0)
        model = models.build_model(name, ds, _tracked(cfg, read), ds.train, CPU)
        model.train()
        model.loss(users, pos, neg, 3)["loss"].backward()
        model.after_epoch(3, gen)
        model.epoch_info(3)
        model.eval()
        model.score_fn()(users[:4])
    unread = sorted(set(type(base).setting_names()) - read)
    assert not unread, f"{name} never reads {unread}: they must not be in its Config"


# ----------------------------------------------------------------------------- old configs
def _committed_configs() -> list[Path]:
    return sorted((REPO / "reports").glob("**/config.yaml"))


def test_committed_configs_load_and_compare_like_with_like():
    from cikgwb.train import config_differences

    paths = _committed_configs()
    assert len(paths) >= 50
    for p in paths:
        raw = yaml.safe_load(p.read_text())
        cfg = load_config(p)
        assert set(cfg.to_dict()["model"]) == {"model", *type(cfg.model).setting_names()}
        assert config_differences(raw, cfg.to_dict()) == [], p  # a resume of a committed run is accepted
        assert "extra" not in raw["model"], f"{p}: old flat format (scripts/migrate_config_interests.py)"
        assert RunConfig.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()
    # KGIN's node dropout (once recorded as edge_dropout, migrated); KGAT's unread n_layers is gone
    kgin = yaml.safe_load((REPO / "reports/runs/book-crossing-kgin-valid-s0/config.yaml").read_text())
    now = load_config(REPO / "reports/runs/book-crossing-kgin-valid-s0/config.yaml").to_dict()
    assert now["model"]["node_dropout"] == kgin["model"]["node_dropout"] == 0.5 and "edge_dropout" not in now["model"]
    assert now["model"]["n_factors"] == kgin["model"]["n_factors"] == 4
    kgat = load_config(REPO / "reports/runs/book-crossing-kgat-valid-s0/config.yaml").to_dict()["model"]
    assert "n_layers" not in kgat and kgat["layer_sizes"] == [64, 32, 16]
    changed = json.loads(json.dumps(now))
    changed["model"]["node_dropout"] = 0.1
    assert config_differences(kgin, changed) == ["node_dropout: 0.5 in the checkpoint, 0.1 now"]


def test_a_checkpoint_of_the_old_flat_config_is_not_resumed(tmp_path, monkeypatch, synthetic_ds):
    """A checkpoint whose config is the old flat form (as runs started before issue 19 wrote it)
    is refused by a resume, saying so: this code no longer reads that form."""
    from cikgwb.run_folder import RunExistsError, find_checkpoint
    from cikgwb.train import Trainer

    cfg = default_config("synthetic", "kgin", device="cpu", max_epochs=1)
    run_dir = tmp_path / "kgin-old"
    Trainer(cfg, ds=synthetic_ds, run_dir=run_dir, progress=False).fit()
    last = find_checkpoint(run_dir, "last.pt")
    ck = torch.load(last, weights_only=False)
    m = ck["config"]["model"]
    ck["config"]["model"] = {"model": "kgin", "dim": m["dim"], "edge_dropout": m["node_dropout"], "extra": {}}
    torch.save(ck, last)
    with pytest.raises(RunExistsError, match=r"model: the old flat settings \(before issue 19\) in the checkpoint"):
        Trainer(
            dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, max_epochs=2)),
            ds=synthetic_ds,
            run_dir=run_dir,
            progress=False,
        ).fit(resume=True)


@pytest.mark.parametrize(
    "model, setting, message",
    [
        (
            "kgat",
            "layer_sizes=64,0",
            "setting layer_sizes=(64, 0): expected comma-separated integers, at least one, each >= 1",
        ),
        ("mcclk", "topk=0", "setting topk=0: expected an integer >= 1"),
        ("mcclk", "knn_lambda=2", "setting knn_lambda=2.0: expected a value in [0, 1]"),
        ("kgrec", "cl_drop_ratio=1.0", "setting cl_drop_ratio=1.0: expected a value in [0, 1)"),
        ("kgrec", "n_heads=0", "setting n_heads=0: expected an integer >= 1"),
        ("kgcl", "gat_dropout=1", "setting gat_dropout=1.0: expected a value in [0, 1)"),
        ("kgin", "n_layers=0", "setting n_layers=0: expected an integer >= 1"),
        ("sgl", "ssl_ratio=-0.1", "setting ssl_ratio=-0.1: expected a value in [0, 1)"),
    ],
)
def test_model_settings_checked_by_their_config_constraints(model, setting, message):
    """Issue 35: a model's ranges are its Config's declared RANGES, checked by the one validator
    (cikgwb.config.validate_config) before anything is built; the model reads ``cfg.<field>``."""
    from cikgwb.models import make_config

    with pytest.raises(ConfigError) as err:
        make_config(model, "synthetic", [setting])
    assert str(err.value) == message
