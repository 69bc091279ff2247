"""Inputs checked at the door (issue 20): ``--set`` settings and configs, notebook parameters.

Each bad input must fail with one line naming the setting / parameter and what was expected,
before any data is loaded, any run folder is made or any kernel starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from cikgwb.config import ConfigError, RunConfig, apply_overrides, validate_config
from cikgwb.models import default_config

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- --set
@pytest.mark.parametrize(
    "setting,pattern",
    [
        ("lr=abc", r"^setting lr='abc': expected a number$"),
        ("max_epochs=1.5", r"^setting max_epochs='1.5': expected an integer$"),
        ("patience=", r"^setting patience='': expected an integer$"),
        ("use_kg=maybe", r"^setting use_kg='maybe': expected true or false$"),
        ("ks=10,abc", r"^setting ks='10,abc': expected comma-separated integers"),
        (
            "ks=10,20",
            r"setting selection=recall@50,ndcg@50: 'recall@50' is not a computed metric; expected "
            r"metric@K with metric in recall, ndcg, precision, hit and K in ks=10,20",
        ),
        ("selection=recall@7", r"setting selection=recall@7: 'recall@7' is not a computed metric.*K in ks=20,50,100"),
        ("selection=mrr@20", r"'mrr@20' is not a computed metric"),
        ("max_epochs=0", r"^setting max_epochs=0: expected an integer >= 1$"),
        ("batch_size=0", r"^setting batch_size=0: expected an integer >= 1$"),
        ("eval_batch_size=-5", r"^setting eval_batch_size=-5: expected an integer >= 1$"),
        ("eval_every=0", r"^setting eval_every=0: expected an integer >= 1$"),
        ("eval_every=500", r"^setting eval_every=500: expected <= max_epochs=60"),
        ("dim=0", r"^setting dim=0: expected an integer >= 1$"),
        ("lr=-0.001", r"^setting lr=-0.001: expected a value > 0$"),
        ("lr=nan", r"^setting lr=nan: expected a finite number$"),
        ("lr=inf", r"^setting lr=inf: expected a finite number$"),
        ("edge_dropout=1", r"^setting edge_dropout=1.0: expected a value in \[0, 1\)$"),
        ("mask_alpha=0", r"^setting mask_alpha=0.0: expected a value in \(0, 1\]$"),
        ("gcl_temp=0", r"^setting gcl_temp=0.0: expected a value > 0$"),
        ("patience=0", r"^setting patience=0: expected an integer >= 1$"),
        ("seed=-1", r"^setting seed=-1: expected an integer in \[0, 4294967295\]$"),
        ("max_minutes=0", r"^setting max_minutes=0.0: expected a value or none > 0$"),
        ("protocol=valdi", r"^setting protocol='valdi': expected one of valid, users, authors$"),
        ("schedule=cosine", r"^setting schedule='cosine': expected one of exp, lin, fixed$"),
        ("views=both", r"^setting views='both': expected one of paper, authors$"),
        ("device=gpu", r"^setting device='gpu': expected auto, cpu, cuda, cuda:N or mps$"),
        ("precision=fp16", r"^setting precision='fp16': expected one of fp32, bf16$"),
        ("model=lightgnc", r"^setting model='lightgnc': unknown model 'lightgnc'; known: \[.*'lightgcn'"),
        ("name=../x", r"^setting name='../x': expected a run folder name"),
        ("lerning_rate=0.1", r"^unknown setting 'lerning_rate'; known: \[.*'lr'"),
        ("lr", r"^--set 'lr': expected key=value$"),
    ],
)
def test_bad_set_is_named(setting, pattern):
    with pytest.raises(ConfigError, match=pattern) as err:
        apply_overrides(default_config("synthetic"), [setting])
    assert "\n" not in str(err.value)
    assert isinstance(err.value, ValueError)  # the CLI prints ValueErrors without traceback


def test_set_parses_declared_types():
    cfg = apply_overrides(
        default_config("synthetic"),
        [
            "ks=10,20",
            "selection=recall@10,ndcg@20",
            "max_minutes=2.5",
            "mask_lambda=150.5",
            "train.lr=1e-3",
            "use_kg=off",
            "max_minutes=none",
        ],
    )
    assert cfg.train.ks == (10, 20) and all(type(k) is int for k in cfg.train.ks)
    assert cfg.train.selection == ("recall@10", "ndcg@20")
    assert cfg.train.max_minutes is None
    assert cfg.model.mask_lambda == 150.5  # a float setting whose current value is the int 30
    assert cfg.train.lr == 1e-3 and cfg.model.use_kg is False
    # python values (notebooks, results.train_runs) are checked as well
    with pytest.raises(ConfigError, match=r"setting max_epochs=2.5: expected an integer"):
        apply_overrides(default_config("synthetic"), {"max_epochs": 2.5})
    cfg = apply_overrides(default_config("synthetic"), {"ks": [5, 10], "selection": ["ndcg@5"]})
    assert cfg.train.ks == (5, 10) and cfg.train.selection == ("ndcg@5",)


def test_defaults_of_every_model_and_dataset_validate():
    from cikgwb.models import MODELS, model_class

    model_class("cikgrec")  # imports every model
    for dataset in ("synthetic", "book-crossing", "dbbook2014", "ml1m"):
        for model in sorted(MODELS):
            validate_config(default_config(dataset, model))


def test_defaults_unchanged():
    # validation must not change any default (same maths)
    cfg = default_config("book-crossing")
    assert (cfg.model.n_layers, cfg.model.mask_lambda, cfg.train.lr, cfg.train.ks, cfg.train.selection) == (
        4,
        120,
        8e-4,
        (20, 50, 100),
        ("recall@50", "ndcg@50"),
    )
    assert type(cfg.model.mask_lambda) is int  # as before: written as 120 in config.yaml


def test_every_committed_config_loads_and_validates():
    paths = sorted((REPO / "reports").glob("**/config.yaml"))
    assert len(paths) >= 50
    for p in paths:
        cfg = RunConfig.load(p)
        validate_config(cfg)
        # and round-trips
        assert RunConfig.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()


def test_config_file_errors_name_the_setting(tmp_path):
    cfg = default_config("synthetic")
    d = cfg.to_dict()
    d["train"]["max_epochs"] = 0
    with pytest.raises(ConfigError, match=r"setting max_epochs=0: expected an integer >= 1"):
        RunConfig.from_dict(d)
    d = cfg.to_dict()
    d["train"]["patiense"] = 3
    with pytest.raises(ConfigError, match=r"unknown setting train.'patiense' in the config; known train settings"):
        RunConfig.from_dict(d)
    d = cfg.to_dict()
    d["train"]["ks"] = ["10", "20"]
    with pytest.raises(ConfigError, match=r"setting ks=\('10', '20'\): expected comma-separated integers"):
        RunConfig.from_dict(d)
    p = tmp_path / "config.yaml"
    p.write_text("dataset: synthetic\ntrain:\n  lr: abc\n")
    with pytest.raises(ConfigError, match=r"setting lr='abc': expected a number"):
        RunConfig.load(p)


@pytest.mark.parametrize(
    "sets", [["lr=abc"], ["ks=10,20"], ["max_epochs=0"], ["batch_size=0"], ["selection=recall@7"], ["device=gpu"]]
)
def test_cli_train_rejects_before_data_and_folders(tmp_path, monkeypatch, capsys, sets):
    import cikgwb.data
    import cikgwb.train
    from cikgwb.cli import main

    def no_data(*a, **k):
        raise AssertionError("data loaded before the settings were checked")

    monkeypatch.setattr(cikgwb.data, "load_dataset", no_data)
    monkeypatch.setenv("CIKGWB_REPORTS_DIR", str(tmp_path / "reports"))
    argv = ["train", "--dataset", "synthetic", "--quiet"]
    for s in sets:
        argv += ["--set", s]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cikgwb train: error: setting ") and "\n" not in err, err
    assert sets[0].split("=")[0] in err or "selection" in err
    assert not (tmp_path / "reports").exists()  # nothing left behind


def test_cli_train_device_flag_checked(tmp_path, monkeypatch, capsys):
    import cikgwb.data
    import cikgwb.train
    from cikgwb.cli import main

    monkeypatch.setattr(cikgwb.data, "load_dataset", lambda *a, **k: (_ for _ in ()).throw(AssertionError()))
    monkeypatch.setenv("CIKGWB_REPORTS_DIR", str(tmp_path / "reports"))
    assert main(["train", "--dataset", "synthetic", "--device", "gpu0", "--quiet"]) == 2
    assert "setting device='gpu0'" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()


# ----------------------------------------------------------------------------- notebook parameters
def test_notebook_parameters_unknown_names_and_bad_values():
    from cikgwb.notebooks import NOTEBOOKS, ParameterError, check_parameters

    with pytest.raises(
        ParameterError,
        match=r"^notebook parameter 'protocl' is not a parameter of 07_sparsity; "
        r"did you mean 'protocol'\? \(valid: dataset, metric, models, .*protocol",
    ):
        check_parameters(["07_sparsity"], {"protocl": "authors"})
    with pytest.raises(
        ParameterError,
        match=r"^notebook parameter metric='ndcg@30' \(07_sparsity\): expected one "
        r"of ndcg@50, recall@50",
    ):
        check_parameters(["07_sparsity"], {"metric": "ndcg@30"})
    for params, pattern in (
        ({"protocol": "valdi"}, r"protocol='valdi' \(07_sparsity\): expected one of valid, users, authors"),
        ({"dataset": "bookcrossing"}, r"dataset='bookcrossing' .*expected one of book-crossing, dbbook2014"),
        ({"models": ["kgatt"]}, r"'kgatt' is not one of cfkg, .*kgat,"),
        ({"n_groups": 0}, r"n_groups=0 \(07_sparsity\): expected an integer >= 1"),
        ({"quick": "yes"}, r"quick='yes' \(07_sparsity\): expected true or false"),
    ):
        with pytest.raises(ParameterError, match=pattern):
            check_parameters(["07_sparsity"], params)
    with pytest.raises(
        ParameterError,
        match=r"overrides=\{'lr': 'abc'\} \(05_training\): expected config settings "
        r"\(setting lr='abc': expected a number\)",
    ):
        check_parameters(["05_training"], {"overrides": {"lr": "abc"}})
    with pytest.raises(ParameterError, match=r"ablations=.*'w/o XYZ' is not one of w/o UIK"):
        check_parameters(["05_training"], {"ablations": ["w/o XYZ"]})
    with pytest.raises(ParameterError, match=r"'foo' is not a setting"):
        check_parameters(["09_sensitivity"], {"grid": {"alpha": [0.1], "foo": [1]}})
    # one line per bad value, all notebooks that reject it named together
    with pytest.raises(ParameterError) as err:
        check_parameters(list(NOTEBOOKS), {"quick": 1})
    assert str(err.value).count("quick=1") == 1 and "01_data, 02_prompting" in str(err.value)
    # good values pass, in any notebook that declares them; a name declared by one of several is fine
    check_parameters(
        list(NOTEBOOKS),
        {
            "dataset": "book-crossing",
            "quick": False,
            "protocol": "authors",
            "metric": "recall@50",
            "seeds": [0, 1],
            "k": 50,
            "user": None,
            "overrides": {"mask_alpha": 0.1},
            "models": ["lightgcn", "cikgrec w/o UIK"],
        },
    )


def test_sparsity_metric_choices_are_what_the_runs_hold():
    import csv

    from cikgwb.notebooks import _sparsity_metrics

    files = sorted((REPO / "reports" / "runs").glob("*/sparsity_groups.csv"))
    assert files
    for f in files:
        header = next(csv.reader(f.open()))
        assert set(_sparsity_metrics()) <= set(header), f


@pytest.mark.parametrize(
    "argv,pattern",
    [
        (
            ["--only", "07", "-p", "protocl=authors"],
            r"'protocl' is not a parameter of 07_sparsity; did you mean 'protocol'",
        ),
        (
            ["--only", "07", "-p", "metric=ndcg@30"],
            r"metric='ndcg@30' \(07_sparsity\): expected one of ndcg@50, recall@50",
        ),
        (["--only", "07", "--dataset", "bookcrossing"], r"dataset='bookcrossing'"),
        (["--only", "07", "-p", "protocol"], r"-p 'protocol': expected name=value"),
    ],
)
def test_cli_notebooks_rejects_before_a_kernel_starts(tmp_path, monkeypatch, capsys, argv, pattern):
    import re

    import papermill

    from cikgwb.cli import main

    def no_kernel(*a, **k):
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(papermill, "execute_notebook", no_kernel)
    monkeypatch.setenv("CIKGWB_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("CIKGWB_ROOT", str(REPO))
    assert main(["notebooks", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cikgwb notebooks: error: ") and "\n" not in err and re.search(pattern, err), err
    assert not (tmp_path / "reports").exists()  # nothing written


def test_config_choices_match_the_code_that_uses_them():
    from cikgwb.config import CHOICES, SELECTION_METRICS
    from cikgwb.evaluate import METRICS
    from cikgwb.models.losses import PRECISIONS

    assert set(CHOICES["precision"]) == set(PRECISIONS)
    assert tuple(SELECTION_METRICS) == tuple(METRICS)


def test_every_notebook_accepts_its_own_defaults_and_all_its_parameters_are_read(tmp_path):
    import nbformat

    from cikgwb.notebooks import EXPLORER, NOTEBOOKS, check_parameters, notebook_parameters, read_parameters

    for nb in (*NOTEBOOKS, EXPLORER):
        declared = notebook_parameters(nb)
        assert {"dataset", "quick"} <= set(declared), nb
        check_parameters([nb], {k: v["default"] for k, v in declared.items()})
    # a comment holding '=' (papermill's inspect drops such lines) and a non-literal default
    nbk = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('dataset = "synthetic"  # a name\nk = 20  # URL: &k=N\nroot = str(1)\n')
    cell.metadata["tags"] = ["parameters"]
    nbk.cells = [cell]
    nbformat.write(nbk, tmp_path / "x.ipynb")
    got = read_parameters(tmp_path / "x.ipynb")
    assert got == {
        "dataset": {"default": "synthetic", "help": "a name"},
        "k": {"default": 20, "help": "URL: &k=N"},
        "root": {"default": None, "help": ""},
    }
